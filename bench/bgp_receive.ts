/**
 * Receive benchmark: GoBGP announces N IPv4 prefixes to tern and, in the same run, the same N
 * to BIRD 2. For each receiver: time from session Established until the whole table is in its
 * RIB (tern: Loc-RIB size from /metrics; BIRD: `show route count`), CPU time and peak RSS of
 * the process (from /proc), and the ratios tern/BIRD.
 *
 *   deno run -A bench/bgp_receive.ts [N] [--ipv6] [--rounds R] [--raw-only]
 *
 * N defaults to 100,000. IPv4 prefixes come from 198.18.0.0/15, which holds at most 262,143;
 * `--ipv6` sends /48s inside fd00::/8 instead (raw sender only, any N, e.g. 1,000,000).
 * `--rounds R` repeats the raw-sender comparison R times (alternating who goes first) and
 * reports the median of each figure; `--raw-only` skips the GoBGP part. Memory is reported as
 * peak RSS and as (peak RSS - RSS of the idle receiver just before the sender connects) / N.
 */
import { Bird, GoBgp, Lab, must, Tern, ternConfig } from "../tests/bgp_lab.ts";
import { writeMrt } from "../tests/bgp_mrt.ts";
import {
  birdCount,
  birdSince,
  procRss,
  procUsage,
  ratio,
  ternCount,
  ternEstablishedAt,
  timeRawSender,
  waitCount,
} from "../tests/bgp_bench_lib.ts";

const args = [...Deno.args];
const flag = (name: string) => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const option = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} wants a positive integer`);
  return v;
};
const IPV6 = flag("--ipv6"), RAW_ONLY = flag("--raw-only") || IPV6;
const ROUNDS = option("--rounds", 1);
const N = Number(args[0] ?? 100_000);
const FAMILY = IPV6 ? "ipv6" : "ipv4";
const TIMEOUT = 60_000 + N; // ms
const lab = await Lab.create("bgprx", 2);

/** Runs the raw sender in the hub namespace against a receiver started by `startReceiver`. */
async function blast(
  receiverAddr: string,
  hubAddr: string,
  nextHop: string,
  startReceiver: () => Promise<
    { pid: number; count: () => Promise<number>; stop: () => Promise<void> }
  >,
) {
  const rx = await startReceiver();
  await new Promise((r) => setTimeout(r, 500)); // let start-up settle before the baseline
  const idleRssMb = await procRss(rx.pid);
  const idleCpuS = (await procUsage(rx.pid)).cpuS;
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
      nextHop,
      FAMILY,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  lab.track(proc);
  const { t0, t1, use } = await timeRawSender(proc, rx, N, TIMEOUT);
  return { s: (t1 - t0) / 1000, ...use, idleRssMb, tableCpuS: use.cpuS - idleCpuS };
}

/** One raw-sender run against tern. */
const rawTern = () =>
  blast(pt.v4, pt.ternV4, IPV6 ? pt.ternV6 : pt.ternV4, async () => {
    const t = await Tern.start(
      lab,
      ternConfig({
        asn: 65001,
        routerId: pt.v4,
        peers: [{ address: pt.ternV4, asn: 65030, passive: true, families: [FAMILY] }],
      }),
      "tern-raw",
      pt.ns,
    );
    return { pid: t.pid, count: () => ternCount(t), stop: async () => void (await t.stop()) };
  });

/** One raw-sender run against BIRD. */
const rawBird = () =>
  blast(pb.v4, pb.ternV4, IPV6 ? pb.ternV6 : pb.ternV4, async () => {
    const b = new Bird(lab, pb.ns, "bird-raw");
    await b.start(`router id ${pb.v4};
protocol device {}
protocol bgp raw {
  local ${pb.v4} as 65002; neighbor ${pb.ternV4} as 65030; passive on;
  ${FAMILY} { import all; export none; };
}
`);
    return {
      pid: await b.pid(),
      count: () => birdCount(b, IPV6 ? "master6" : "master4"),
      stop: () => b.kill(),
    };
  });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const progress = (m: string) => console.error(`[bgp_receive] ${m}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    await lab.destroy();
    Deno.exit(130);
  });
}
const [pt, pb] = lab.peers; // GoBGP runs in the hub namespace lab.t

/** The GoBGP part: GoBGP 3.10 sends the table to BIRD, then to tern. */
async function viaGoBgp() {
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
    `\n(GoBGP MRT injection of the table took ${injectS.toFixed(2)} s and is not counted;`,
  );
  console.log(" CPU and RSS are whole-process figures, start-up included.)");
}

try {
  if (!RAW_ONLY) await viaGoBgp();
  type Run = Awaited<ReturnType<typeof rawTern>>;
  const runs: { tern: Run; bird: Run }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate who goes first: the machine is shared and its load drifts.
    let t: Run, b: Run;
    if (r % 2 === 0) {
      progress(`round ${r + 1}/${ROUNDS}: raw sender -> tern, then BIRD`);
      t = await rawTern();
      b = await rawBird();
    } else {
      progress(`round ${r + 1}/${ROUNDS}: raw sender -> BIRD, then tern`);
      b = await rawBird();
      t = await rawTern();
    }
    runs.push({ tern: t, bird: b });
    progress(
      `round ${r + 1}: tern ${t.s.toFixed(2)} s ${t.cpuS.toFixed(2)} s CPU ${
        t.peakRssMb.toFixed(1)
      } MB (idle ${t.idleRssMb.toFixed(1)}); BIRD ${b.s.toFixed(2)} s ${b.cpuS.toFixed(2)} s CPU ${
        b.peakRssMb.toFixed(1)
      } MB (idle ${b.idleRssMb.toFixed(1)})`,
    );
  }
  const med = (who: "tern" | "bird", f: (r: Run) => number) => median(runs.map((x) => f(x[who])));
  const perPrefix = (r: Run) => ((r.peakRssMb - r.idleRssMb) * 1024 * 1024) / N;
  const rows = (["tern", "bird"] as const).map((who) => ({
    name: who === "tern" ? "tern" : "BIRD 2.0.12",
    s: med(who, (r) => r.s),
    cpu: med(who, (r) => r.cpuS),
    tableCpu: med(who, (r) => r.tableCpuS),
    rss: med(who, (r) => r.peakRssMb),
    idle: med(who, (r) => r.idleRssMb),
    per: med(who, perPrefix),
  }));
  console.log(
    `\nReceive ${N} ${FAMILY === "ipv4" ? "IPv4" : "IPv6"} prefixes from a raw sender ` +
      `(pre-encoded, packed 4096-octet UPDATEs), median of ${ROUNDS} round(s)\n`,
  );
  console.log(
    "| receiver | first byte -> full table (s) | prefixes/s | CPU (s) | CPU after start-up (s) | " +
      "peak RSS (MB) | idle RSS (MB) | (peak - idle) / prefix (B) |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.s.toFixed(2)} | ${Math.round(N / r.s)} | ${r.cpu.toFixed(2)} | ${
        r.tableCpu.toFixed(2)
      } | ${r.rss.toFixed(1)} | ${r.idle.toFixed(1)} | ${Math.round(r.per)} |`,
    );
  }
  const [t, b] = rows;
  console.log(
    `| ratio tern/BIRD | ${ratio(t.s, b.s)} | | ${ratio(t.cpu, b.cpu)} | ${
      ratio(t.tableCpu, b.tableCpu)
    } | ${ratio(t.rss, b.rss)} | | ${ratio(t.per, b.per)} |`,
  );
  console.log(
    '\n(CPU and peak RSS are whole-process figures, start-up included; "after start-up" and' +
      ' "idle" are taken 0.5 s after the receiver started, before the sender connects.)',
  );
} finally {
  await lab.destroy();
}
