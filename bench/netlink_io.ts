/**
 * Why the binding makes synchronous, never-waiting FFI calls on a non-blocking socket instead of
 * `nonblocking: true` FFI calls: request round trips measured both ways, side by side with
 * `ip -batch` doing the same requests, plus how long the event loop is held while 100,000 routes
 * are installed in one batch.
 *
 *   deno run -A bench/netlink_io.ts [REQUESTS=20000] [ROUTES=100000]
 */
import {
  linkIndex,
  loadNetlinkLibraries,
  MessageWriter,
  NetlinkSocket,
  withNetns,
  writeRouteRequest,
} from "../actors/netlink/mod.ts";
import { NLM_F, RTM } from "../actors/netlink/constants.ts";
import { writeGetLink } from "../actors/netlink/link_codec.ts";
import { parseMessages } from "../actors/netlink/message.ts";

const REQUESTS = Number(Deno.args[0] ?? 20_000);
const ROUTES = Number(Deno.args[1] ?? 100_000);

async function sh(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

loadNetlinkLibraries();
const ns = `tn-nl-io-${crypto.randomUUID().slice(0, 6)}`;
await sh("ip", ["netns", "add", ns]);
const path = `/run/netns/${ns}`;
const rows: string[] = [];
try {
  await sh("ip", ["-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb"]);
  await sh("ip", ["-n", ns, "link", "set", "va", "up"]);
  await sh("ip", ["-n", ns, "link", "set", "vb", "up"]);
  await sh("ip", ["-n", ns, "addr", "add", "192.0.2.1/24", "dev", "va"]);

  // 1. synchronous calls on the non-blocking socket (what the binding does)
  const sock = NetlinkSocket.open({ netns: path });
  const lo = await linkIndex(sock, "lo");
  let t0 = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    sock.requestSync((w, seq) => writeGetLink(w, 0, seq, { index: lo }));
  }
  const syncUs = (performance.now() - t0) * 1000 / REQUESTS;

  // 2. the same round trip with `nonblocking: true` FFI calls on a blocking socket
  const nb = Deno.dlopen("libmnl.so.0", {
    mnl_socket_open: { parameters: ["i32"], result: "pointer" },
    mnl_socket_bind: { parameters: ["pointer", "u32", "i32"], result: "i32" },
    mnl_socket_close: { parameters: ["pointer"], result: "i32" },
    mnl_socket_sendto: {
      parameters: ["pointer", "buffer", "usize"],
      result: "isize",
      nonblocking: true,
    },
    mnl_socket_recvfrom: {
      parameters: ["pointer", "buffer", "usize"],
      result: "isize",
      nonblocking: true,
    },
  });
  const nl = withNetns(path, () => nb.symbols.mnl_socket_open(0));
  if (!nl || nb.symbols.mnl_socket_bind(nl, 0, 0) < 0) throw new Error("cannot open socket");
  const w = new MessageWriter();
  const buf = new Uint8Array(65536);
  t0 = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    w.reset();
    writeGetLink(w, NLM_F.ACK, i + 1, { index: lo });
    const req = w.bytes().slice();
    await nb.symbols.mnl_socket_sendto(nl, req, BigInt(req.length));
    let acked = false;
    while (!acked) {
      const n = Number(await nb.symbols.mnl_socket_recvfrom(nl, buf, 65536n));
      if (n < 0) throw new Error("recv failed");
      acked = parseMessages(buf.subarray(0, n)).some((m) => m.type === 2);
    }
  }
  const asyncUs = (performance.now() - t0) * 1000 / REQUESTS;
  nb.symbols.mnl_socket_close(nl);
  nb.close();

  // 3. iproute2 doing the same requests from one batch file (one process)
  const file = await Deno.makeTempFile({ prefix: "tn-nl-io-", suffix: ".batch" });
  await Deno.writeTextFile(file, "link show dev lo\n".repeat(REQUESTS));
  t0 = performance.now();
  await sh("ip", ["-n", ns, "-batch", file]);
  const ipUs = (performance.now() - t0) * 1000 / REQUESTS;
  await Deno.remove(file);

  // 4. event-loop stall while ROUTES routes go in as one batch
  const add = new MessageWriter(1 << 23);
  for (let i = 0; i < ROUTES; i++) {
    writeRouteRequest(add, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, sock.nextSeq(), {
      dst: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`,
      gateway: "192.0.2.2",
      protocol: 211,
    });
  }
  let last = performance.now();
  const gaps: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 1);
  t0 = performance.now();
  last = t0;
  const res = await sock.batch(add);
  const batchMs = performance.now() - t0;
  clearInterval(timer);
  gaps.push(performance.now() - last);
  gaps.sort((a, b) => a - b);
  const pct = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))];
  sock.close();
  if (res.failed) throw new Error(`${res.failed} routes refused`);

  rows.push(
    `Round trip of one RTM_GETLINK request with ACK, ${
      REQUESTS.toLocaleString("en-US")
    } in a row:\n`,
    "| way                                             | µs per request | ratio to `ip -batch` |",
    "| ----------------------------------------------- | -------------- | -------------------- |",
    `| tern: synchronous calls, non-blocking socket    | ${syncUs.toFixed(1)} | ${
      (ipUs / syncUs).toFixed(2)
    } |`,
    `| \`nonblocking: true\` FFI calls (blocking pool) | ${asyncUs.toFixed(1)} | ${
      (ipUs / asyncUs).toFixed(2)
    } |`,
    `| \`ip -batch\` (\`link show dev lo\`, reference)  | ${ipUs.toFixed(1)} | 1.00 |`,
    "",
    `Event loop while ${ROUTES.toLocaleString("en-US")} routes go in as one batch ` +
      `(${res.sends} sends, ${batchMs.toFixed(0)} ms): a 1 ms interval ran ${gaps.length} times; ` +
      `gaps between its runs: median ${pct(0.5).toFixed(1)} ms, p90 ${pct(0.9).toFixed(1)} ms, ` +
      `longest ${gaps[gaps.length - 1].toFixed(1)} ms.`,
  );
} finally {
  await sh("ip", ["netns", "del", ns]);
}
console.log(rows.join("\n"));
