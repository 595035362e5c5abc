/**
 * Receive benchmark: GoBGP announces N IPv4 prefixes to tern and, in the same run, the same N
 * to BIRD 2. For each receiver: time from session Established until the whole table is in its
 * RIB (tern: Loc-RIB size from /metrics; BIRD: `show route count`), CPU time and peak RSS of
 * the process (from /proc), and the ratios tern/BIRD.
 *
 *   deno run -A bench/bgp_receive.ts [N]     # N defaults to 100,000 (at most 262,143: the
 *                                            # test range 198.18.0.0/15 holds no more prefixes)
 */
import { Bird, GoBgp, Lab, must, Tern, ternConfig } from "../tests/bgp_lab.ts";
import { writeMrt } from "../tests/bgp_mrt.ts";
import {
  birdCount,
  birdSince,
  procUsage,
  ratio,
  ternCount,
  ternEstablishedAt,
  waitCount,
} from "../tests/bgp_bench_lib.ts";

const N = Number(Deno.args[0] ?? 100_000);
const TIMEOUT = 60_000 + N; // ms
const lab = await Lab.create("bgprx", 2);

/** Runs the raw sender in the hub namespace against a receiver started by `startReceiver`. */
async function blast(
  _ns: string,
  receiverAddr: string,
  hubAddr: string,
  startReceiver: () => Promise<
    { pid: number; count: () => Promise<number>; stop: () => Promise<void> }
  >,
) {
  const rx = await startReceiver();
  const proc = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      lab.t,
      Deno.execPath(),
      "run",
      "-A",
      new URL("../tests/bgp_blaster.ts", import.meta.url).pathname,
      receiverAddr,
      "65030",
      hubAddr,
      String(N),
      hubAddr,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  lab.track(proc);
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("established")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("raw sender exited");
    buf += value;
  }
  const t0 = JSON.parse(buf.split("\n").find((l) => l.includes("established"))!).established;
  const t1 = await waitCount(rx.count, N, TIMEOUT, 20);
  const use = await procUsage(rx.pid);
  await rx.stop();
  await proc.stdin.close();
  await proc.status;
  while (!(await reader.read()).done) { /* drain */ }
  return { s: (t1 - t0) / 1000, ...use };
}
const progress = (m: string) => console.error(`[bgp_receive] ${m}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    await lab.destroy();
    Deno.exit(130);
  });
}
const [pt, pb] = lab.peers; // GoBGP runs in the hub namespace lab.t
try {
  const g = new GoBgp(lab, lab.t);
  await g.start(`[global.config]
  as = 65010
  router-id = "${pt.ternV4}"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${pt.v4}"
    peer-as = 65001
  [neighbors.transport.config]
    passive-mode = true
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${pb.v4}"
    peer-as = 65002
  [neighbors.transport.config]
    passive-mode = true
`);
  const mrt = `${lab.dir}/table.mrt`;
  await writeMrt(mrt, N, 65020, "0.0.0.0"); // 0.0.0.0: GoBGP sends itself as next hop
  progress(`injecting ${N} routes into GoBGP`);
  const t0 = performance.now();
  await must([
    "ip",
    "netns",
    "exec",
    lab.t,
    "gobgp",
    "-p",
    "50051",
    "mrt",
    "inject",
    "global",
    mrt,
  ]);
  const injectS = (performance.now() - t0) / 1000;
  await waitCount(
    async () => {
      const r = await g.cli("global", "rib", "summary", "-a", "ipv4");
      return Number(/Destination: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    },
    N,
    60_000,
    200,
  );

  // GoBGP computes a new peer's initial export once and reuses it for the next peer, so the
  // first receiver pays for it: BIRD goes first (the reference), tern second.
  progress("BIRD receiving");
  const bird = new Bird(lab, pb.ns);
  await bird.start(`router id ${pb.v4};
protocol device {}
protocol bgp gobgp {
  local ${pb.v4} as 65002; neighbor ${pb.ternV4} as 65010;
  connect retry time 1;
  ipv4 { import all; export none; };
}
`);
  const birdEnd = await waitCount(() => birdCount(bird), N, TIMEOUT, 50);
  const birdStart = (await birdSince(bird, "gobgp"))!;
  const birdUse = await procUsage(await bird.pid());
  await bird.kill();

  progress("tern receiving");
  const tern = await Tern.start(
    lab,
    ternConfig({
      asn: 65001,
      routerId: pt.v4,
      peers: [{ address: pt.ternV4, asn: 65010, connectRetryTime: 1, families: ["ipv4"] }],
    }),
    "tern",
    pt.ns,
  );
  const samples: string[] = [];
  const ternEnd = await waitCount(
    async () => {
      const c = await ternCount(tern);
      if (Deno.env.get("BGP_BENCH_TRACE")) samples.push(`${Date.now() % 100000}:${c}`);
      return c;
    },
    N,
    TIMEOUT,
    50,
  );
  if (samples.length) progress(`tern samples ${samples.join(" ")}`);
  const ternStart = (await ternEstablishedAt(tern, pt.ternV4))!;
  const ternUse = await procUsage(tern.pid);
  const firstLine = (await Deno.readTextFile(tern.errFile)).split("\n")
    .find((l) => l.includes('"first UPDATE"'));
  const firstMs = firstLine ? JSON.parse(firstLine).afterEstablishedMs : NaN;
  progress(`GoBGP's first UPDATE reached tern ${firstMs} ms after Established`);

  await tern.stop();
  await g.stop();

  progress("raw sender -> tern");
  const rawTern = await blast(pt.ns, pt.v4, pt.ternV4, async () => {
    const t = await Tern.start(
      lab,
      ternConfig({
        asn: 65001,
        routerId: pt.v4,
        peers: [{ address: pt.ternV4, asn: 65030, passive: true, families: ["ipv4"] }],
      }),
      "tern-raw",
      pt.ns,
    );
    return { pid: t.pid, count: () => ternCount(t), stop: async () => void (await t.stop()) };
  });
  progress("raw sender -> BIRD");
  const rawBird = await blast(pb.ns, pb.v4, pb.ternV4, async () => {
    const b = new Bird(lab, pb.ns, "bird-raw");
    await b.start(`router id ${pb.v4};
protocol device {}
protocol bgp raw {
  local ${pb.v4} as 65002; neighbor ${pb.ternV4} as 65030; passive on;
  ipv4 { import all; export none; };
}
`);
    return { pid: await b.pid(), count: () => birdCount(b), stop: () => b.kill() };
  });

  const ternS = (ternEnd - ternStart) / 1000, birdS = (birdEnd - birdStart) / 1000;
  console.log(`Receive ${N} IPv4 prefixes from GoBGP 3.10 (one session, shared attributes)\n`);
  console.log(
    "| receiver | Established -> full table (s) | prefixes/s | CPU (s) | peak RSS (MB) |",
  );
  console.log("|---|---|---|---|---|");
  for (const [name, s, u] of [["tern", ternS, ternUse], ["BIRD 2.0.12", birdS, birdUse]] as const) {
    console.log(
      `| ${name} | ${s.toFixed(2)} | ${Math.round(N / s)} | ${u.cpuS.toFixed(2)} | ${
        u.peakRssMb.toFixed(1)
      } |`,
    );
  }
  console.log(
    `| ratio tern/BIRD | ${ratio(ternS, birdS)} | | ${ratio(ternUse.cpuS, birdUse.cpuS)} | ${
      ratio(ternUse.peakRssMb, birdUse.peakRssMb)
    } |`,
  );
  console.log(
    `\nReceive ${N} IPv4 prefixes from a raw sender (pre-encoded, packed 4096-octet UPDATEs)\n`,
  );
  console.log("| receiver | first byte -> full table (s) | prefixes/s | CPU (s) | peak RSS (MB) |");
  console.log("|---|---|---|---|---|");
  for (const [name, r] of [["tern", rawTern], ["BIRD 2.0.12", rawBird]] as const) {
    console.log(
      `| ${name} | ${r.s.toFixed(2)} | ${Math.round(N / r.s)} | ${r.cpuS.toFixed(2)} | ${
        r.peakRssMb.toFixed(1)
      } |`,
    );
  }
  console.log(
    `| ratio tern/BIRD | ${ratio(rawTern.s, rawBird.s)} | | ${
      ratio(rawTern.cpuS, rawBird.cpuS)
    } | ${ratio(rawTern.peakRssMb, rawBird.peakRssMb)} |`,
  );
  console.log(
    `\n(GoBGP MRT injection of the table took ${injectS.toFixed(2)} s and is not counted;`,
  );
  console.log(" CPU and RSS are whole-process figures, start-up included.)");
} finally {
  await lab.destroy();
}
