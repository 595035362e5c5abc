/**
 * The pod's process: a tiny HTTP server inside the pod's network namespace, answering every
 * request with the pod's name and the address it was reached at, as JSON:
 * `{"pod":"ns/name","node":"node-1","ip":"198.18.0.2"}`.
 *
 * Rather than one process per pod (about 30 MB each), the node simulator opens the listening
 * socket inside the pod's namespace (the JS thread enters it with `setns(2)` for the synchronous
 * `Deno.listen` call) and serves it from its own process: a socket keeps the namespace it was
 * created in.
 * @module
 */
import { netnsPath, withNetns } from "../netlink/mod.ts";

/** A running pod server. */
export interface PodServer {
  readonly port: number;
  close(): void;
}

/** Port every simulated pod listens on (the samples' `targetPort`). */
export const POD_PORT = 8080;

const enc = new TextEncoder();

/** Starts a pod's HTTP server in the named namespace (listening on all its addresses). */
export function startPodServer(
  netns: string,
  pod: { namespace: string; name: string; node: string },
  port = POD_PORT,
): PodServer {
  // "::" takes IPv4 too (v4-mapped; the namespace's bindv6only is 0): every IPv4 and IPv6 address.
  const listener = withNetns(netnsPath(netns), () => Deno.listen({ hostname: "::", port }));
  const conns = new Set<Deno.Conn>();
  let closed = false;
  (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        serve(conn, pod).finally(() => conns.delete(conn));
      }
    } catch { /* listener closed */ }
  })();
  return {
    port,
    close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch { /* already */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already */ }
      }
    },
  };
}

/** An IPv4 address as itself rather than v4-mapped (`::ffff:192.0.2.1` → `192.0.2.1`). */
export function unmapped(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1] : addr;
}

async function serve(
  conn: Deno.Conn,
  pod: { namespace: string; name: string; node: string },
): Promise<void> {
  try {
    const buf = new Uint8Array(8192);
    let got = "";
    const deadline = setTimeout(() => conn.close(), 5_000);
    try {
      while (!got.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        got += new TextDecoder().decode(buf.subarray(0, n));
        if (got.length > 65_536) return;
      }
    } finally {
      clearTimeout(deadline);
    }
    const local = conn.localAddr as Deno.NetAddr;
    const body = JSON.stringify({
      pod: `${pod.namespace}/${pod.name}`,
      node: pod.node,
      ip: unmapped(local.hostname),
    }) + "\n";
    const head = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${
      enc.encode(body).length
    }\r\nconnection: close\r\n\r\n`;
    const out = enc.encode(head + body);
    let off = 0;
    while (off < out.length) off += await conn.write(out.subarray(off));
  } catch {
    /* peer went away */
  } finally {
    try {
      conn.close();
    } catch { /* already */ }
  }
}
