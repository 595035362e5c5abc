/**
 * Receive benchmark over TCP-MD5: a raw sender (this script with `--sender`, on the libc
 * transport) announces N IPv4 prefixes in full 4096-octet UPDATEs to tern and, in the same run,
 * to BIRD 2, each with and without a TCP-MD5 key (RFC 2385). A tern peer with `password` runs on
 * the libc transport (`actors/bgp/ffi_socket.ts`), one without on Deno's sockets, so the table
 * shows the cost of that transport plus the signatures next to BIRD's cost of the signatures.
 * Time from the sender's Established to the whole table in the receiver's RIB, CPU time of the
 * receiver process, medians over rounds; ratios tern/BIRD and md5/plain.
 *
 *   deno run -A bench/bgp_socket_receive.ts [N] [--rounds R]
 */
import { encodeKeepalive } from "../actors/bgp/notification.ts";
import { encodeEndOfRib, packAnnouncement } from "../actors/bgp/update_message.ts";
import { connectFfi } from "../actors/bgp/ffi_socket.ts";
import { prefixes } from "../tests/bgp_mrt.ts";
import { Bird, Lab, Tern, ternConfig } from "../tests/bgp_lab.ts";
import {
  birdCount,
  procUsage,
  ratio,
  rawEstablish,
  ternCount,
  timeRawSender,
  writeAll,
} from "../tests/bgp_bench_lib.ts";

const KEY = "bench-md5-key";

/** Sender mode: `--sender HOST N NEXTHOP ROUTER_ID [KEY]`. */
async function sender(host: string, n: number, nextHop: string, routerId: string, key?: string) {
  const asn = 65030;
  const updates = packAnnouncement({
    family: "ipv4",
    attributes: { origin: 0, asPath: [{ type: 2, asns: [asn, 64512] }], nextHop },
    prefixes: [...prefixes(n)].map((p) => p.text),
  }, { as4: true, maxLength: 4096 });
  const parts = [...updates, encodeEndOfRib("ipv4")];
  const blob = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    blob.set(p, o);
    o += p.length;
  }
  const conn = await connectFfi({ hostname: host, port: 179, password: key, timeoutMs: 10_000 });
  conn.setNoDelay(true);
  await rawEstablish(conn, { asn, routerId, afi: 1 });
  console.log(JSON.stringify({ established: Date.now() }));
  await writeAll(conn, blob);
  const ka = setInterval(() => writeAll(conn, encodeKeepalive()).catch(() => {}), 20_000);
  const buf = new Uint8Array(65536);
  const drain = (async () => {
    try {
      while ((await conn.read(buf)) !== null) { /* discard */ }
    } catch { /* closed */ }
  })();
  for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
  clearInterval(ka);
  conn.close();
  await drain;
}

if (Deno.args[0] === "--sender") {
  const [, host, n, nextHop, routerId, key] = Deno.args;
  await sender(host, Number(n), nextHop, routerId, key);
  Deno.exit(0);
}

const args = [...Deno.args];
const ri = args.indexOf("--rounds");
const ROUNDS = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 1;
const N = Number(args[0] ?? 100_000);
const TIMEOUT = 60_000 + N;
const lab = await Lab.create("bgpsrx", 2);
const [pt, pb] = lab.peers;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    await lab.destroy();
    Deno.exit(130);
  });
}

interface Receiver {
  pid: number;
  count: () => Promise<number>;
  stop: () => Promise<void>;
}

async function blast(addr: string, hub: string, key: string | undefined, rx: Receiver) {
  await new Promise((r) => setTimeout(r, 300));
  const idleCpuS = (await procUsage(rx.pid)).cpuS;
  const proc = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      lab.t,
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--sender",
      addr,
      String(N),
      hub,
      hub,
      ...(key ? [key] : []),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  lab.track(proc);
  const { t0, t1, use } = await timeRawSender(proc, rx, N, TIMEOUT);
  return { s: (t1 - t0) / 1000, cpuS: use.cpuS - idleCpuS };
}

let runNo = 0;
async function tern(md5: boolean) {
  const name = `tern-${runNo++}`;
  const t = await Tern.start(
    lab,
    ternConfig({
      asn: 65001,
      routerId: pt.v4,
      peers: [{
        address: pt.ternV4,
        asn: 65030,
        passive: true,
        families: ["ipv4"],
        ...(md5 ? { password: KEY } : {}),
      }],
    }),
    name,
    pt.ns,
  );
  return blast(pt.v4, pt.ternV4, md5 ? KEY : undefined, {
    pid: t.pid,
    count: () => ternCount(t),
    stop: async () => void (await t.stop()),
  });
}

async function bird(md5: boolean) {
  const b = new Bird(lab, pb.ns, `bird-${runNo++}`);
  await b.start(`router id ${pb.v4};
protocol device {}
protocol bgp raw {
  local ${pb.v4} as 65002; neighbor ${pb.ternV4} as 65030; passive on;
  ${md5 ? `password "${KEY}";` : ""}
  ipv4 { import all; export none; };
}
`);
  return blast(pb.v4, pb.ternV4, md5 ? KEY : undefined, {
    pid: await b.pid(),
    count: () => birdCount(b),
    stop: () => b.kill(),
  });
}

type Key = "tern" | "ternMd5" | "bird" | "birdMd5";
const res: Record<Key, { s: number; cpuS: number }[]> = {
  tern: [],
  ternMd5: [],
  bird: [],
  birdMd5: [],
};
try {
  for (let r = 0; r < ROUNDS; r++) {
    const order: Key[] = r % 2 === 0
      ? ["birdMd5", "ternMd5", "bird", "tern"]
      : ["ternMd5", "birdMd5", "tern", "bird"];
    for (const k of order) {
      console.error(`[bgp_socket_receive] round ${r + 1}: ${k}`);
      res[k].push(
        await (k.startsWith("tern") ? tern(k.endsWith("Md5")) : bird(k.endsWith("Md5"))),
      );
    }
  }
} finally {
  await lab.destroy();
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const m = (k: Key) => ({
  s: median(res[k].map((x) => x.s)),
  cpu: median(res[k].map((x) => x.cpuS)),
});
const [t, tm, b, bm] = [m("tern"), m("ternMd5"), m("bird"), m("birdMd5")];
console.log(`receive ${N} IPv4 prefixes from a raw sender, median of ${ROUNDS} round(s)`);
console.log("| receiver                      | seconds | CPU s |");
console.log("| ----------------------------- | ------: | ----: |");
for (
  const [name, x] of [
    ["tern, Deno sockets", t],
    ["tern, password (libc, MD5)", tm],
    ["BIRD 2", b],
    ["BIRD 2, password (MD5)", bm],
  ] as const
) {
  console.log(
    `| ${name.padEnd(29)} | ${x.s.toFixed(2).padStart(7)} | ${x.cpu.toFixed(2).padStart(5)} |`,
  );
}
console.log(
  `tern/BIRD with MD5: time ${ratio(tm.s, bm.s)}, CPU ${ratio(tm.cpu, bm.cpu)}; ` +
    `without: time ${ratio(t.s, b.s)}, CPU ${ratio(t.cpu, b.cpu)}`,
);
console.log(
  `md5/plain: tern time ${ratio(tm.s, t.s)}, CPU ${ratio(tm.cpu, t.cpu)}; ` +
    `BIRD time ${ratio(bm.s, b.s)}, CPU ${ratio(bm.cpu, b.cpu)}`,
);
