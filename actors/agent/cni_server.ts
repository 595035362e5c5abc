/**
 * The CNI server actor: listens on the agent's Unix socket (mode 0600) and answers the plugin's
 * requests (see `actors/cni/protocol.ts`). Each connection is served on its own; the work is done
 * by the {@linkcode AttachmentService}, which serialises per container id only. The listener
 * belongs to one incarnation: a restart listens again.
 *
 * @module
 */

import { actor } from "../../runtime/mod.ts";
import { CNI_ERROR, CniError } from "../cni/errors.ts";
import {
  type AgentResponse,
  decodeRequest,
  encodeMessage,
  errorResponse,
  LineReader,
  ProtocolError,
} from "../cni/protocol.ts";
import type { ServiceFactory } from "./attachments.ts";

/** Messages of the CNI server. */
export type CniServerMsg = { type: "listener_failed"; error: string };

/** Options of {@linkcode cniServer}. */
export interface CniServerOptions {
  socket: string;
  /** Builds the request handling (given the actor's lookup and log). */
  service: ServiceFactory;
  /** How long a connection may take to send its request (default 10 s). */
  readTimeoutMs?: number;
}

/** How long a connection may take to send its request. */
const READ_TIMEOUT_MS = 10_000;

async function readLine(conn: Deno.UnixConn): Promise<string | undefined> {
  const reader = new LineReader();
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return undefined;
    const lines = reader.push(buf.subarray(0, n));
    if (lines.length) return lines[0];
  }
}

/** The CNI server actor. */
export function cniServer(o: CniServerOptions) {
  return actor<CniServerMsg>("cni-server", (ctx) => {
    const service = o.service((p) => ctx.lookup(p), ctx.log);
    const dir = o.socket.slice(0, o.socket.lastIndexOf("/")) || "/";
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    try {
      Deno.removeSync(o.socket);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const listener = Deno.listen({ transport: "unix", path: o.socket });
    Deno.chmodSync(o.socket, 0o600);
    const requests = ctx.metrics.counter("tern_agent_cni_requests_total", "CNI requests served");
    const seconds = ctx.metrics.histogram(
      "tern_agent_cni_request_seconds",
      "Time to answer a CNI request",
    );
    const conns = new Set<Deno.UnixConn>();
    let served = 0;
    let failed = 0;
    let closing = false;
    ctx.log.info("CNI socket listening", { socket: o.socket });

    const serve = async (conn: Deno.UnixConn) => {
      conns.add(conn);
      const t0 = performance.now();
      // A client that connects and says nothing is cut off (the plugin sends at once).
      const idle = setTimeout(() => {
        try {
          conn.close();
        } catch { /* closed */ }
      }, o.readTimeoutMs ?? READ_TIMEOUT_MS);
      let op = "unknown";
      let res: AgentResponse;
      try {
        const line = await readLine(conn);
        clearTimeout(idle);
        if (line === undefined) return;
        try {
          const req = decodeRequest(line);
          op = req.op;
          res = await service.handle(req);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          res = errorResponse(new CniError(CNI_ERROR.DECODE_FAILURE, "Bad request", e.message));
        }
        const bytes = encodeMessage(res);
        let off = 0;
        while (off < bytes.length) off += await conn.write(bytes.subarray(off));
        served++;
        if (!res.ok) failed++;
        requests.inc({ op, result: res.ok ? "ok" : String(res.error.code) });
        seconds.observe((performance.now() - t0) / 1000, { op });
      } catch (e) {
        if (!closing) ctx.log.warn("CNI connection failed", { op, error: String(e) });
      } finally {
        clearTimeout(idle);
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      }
    };

    (async () => {
      try {
        for await (const conn of listener) void serve(conn);
      } catch (e) {
        if (!closing) ctx.self.tell({ type: "listener_failed", error: String(e) });
      }
    })();

    return {
      receive(msg) {
        throw new Error(`CNI listener failed: ${msg.error}`);
      },
      stop() {
        closing = true;
        try {
          listener.close();
        } catch { /* closed */ }
        for (const c of conns) {
          try {
            c.close();
          } catch { /* closed */ }
        }
        try {
          Deno.removeSync(o.socket);
        } catch { /* gone */ }
      },
      inspect: () => ({ socket: o.socket, served, failed, inFlight: conns.size }),
    };
  });
}
