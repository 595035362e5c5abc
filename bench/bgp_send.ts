/**
 * Send benchmark: tern originates N IPv4 prefixes toward BIRD 2; time from BIRD's session
 * Established until BIRD holds them all. The reference in the same run: GoBGP 3.10 sending the
 * same N prefixes (injected from MRT beforehand) to the same BIRD.
 *
 *   deno run -A bench/bgp_send.ts [N]     # default 100,000 (at most 262,143)
 */
import { Bird, GoBgp, Lab, must, Tern } from "../tests/bgp_lab.ts";
import { prefixes, writeMrt } from "../tests/bgp_mrt.ts";
import { birdCount, birdSince, procUsage, ratio, waitCount } from "../tests/bgp_bench_lib.ts";

const N = Number(Deno.args[0] ?? 100_000);
const TIMEOUT = 60_000 + N;
const lab = await Lab.create("bgptx", 1);
const p = lab.peers[0];
const progress = (m: string) => console.error(`[bgp_send] ${m}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    await lab.destroy();
    Deno.exit(130);
  });
}

const birdConf = (peerAsn: number) =>
  `router id ${p.v4};
protocol device {}
protocol bgp up {
  local ${p.v4} as 65002; neighbor ${p.ternV4} as ${peerAsn}; passive on;
  ipv4 { import all; export none; };
}
`;

async function measureBird(name: string, peerAsn: number, startSender: () => Promise<void>) {
  const bird = new Bird(lab, p.ns, name);
  await bird.start(birdConf(peerAsn));
  await startSender();
  const end = await waitCount(() => birdCount(bird), N, TIMEOUT, 20);
  const start = (await birdSince(bird, "up"))!;
  const birdUse = await procUsage(await bird.pid());
  await bird.kill();
  return { s: (end - start) / 1000, birdUse };
}

try {
  progress(`tern originating ${N} prefixes`);
  const list: { prefix: string }[] = [];
  for (const x of prefixes(N)) list.push({ prefix: x.text });
  let tern: Tern | null = null;
  const ternRun = await measureBird("bird-tern", 65001, async () => {
    tern = await Tern.start(
      lab,
      JSON.stringify({
        asn: 65001,
        routerId: p.ternV4,
        listen: false,
        api: { address: "127.0.0.1", port: 0 },
        peers: [{ address: p.v4, asn: 65002, connectRetryTime: 1, families: ["ipv4"] }],
        prefixes: list,
      }),
    );
  });
  const t = tern as Tern | null;
  const ternUse = t ? await procUsage(t.pid) : { cpuS: NaN, peakRssMb: NaN };
  await t?.stop();

  progress("GoBGP originating the same prefixes");
  const g = new GoBgp(lab, lab.t);
  await g.start(`[global.config]
  as = 65010
  router-id = "${p.ternV4}"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${p.v4}"
    peer-as = 65002
  [neighbors.timers.config]
    connect-retry = 1
`);
  const mrt = `${lab.dir}/table.mrt`;
  await writeMrt(mrt, N, 65020, "0.0.0.0");
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
  await waitCount(
    async () => {
      const r = await g.cli("global", "rib", "summary", "-a", "ipv4");
      return Number(/Destination: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    },
    N,
    60_000,
    200,
  );
  const gobgpPid = Number((await must(["ip", "netns", "pids", lab.t])).trim().split("\n").pop());
  const cpuBefore = (await procUsage(gobgpPid)).cpuS;
  const goRun = await measureBird("bird-gobgp", 65010, () => Promise.resolve());
  const goUse = await procUsage(gobgpPid);
  await g.stop();

  console.log(`Send ${N} IPv4 prefixes to BIRD 2.0.12 (one session, shared attributes)\n`);
  console.log(
    "| sender | BIRD Established -> BIRD holds all (s) | prefixes/s | sender CPU (s) | sender peak RSS (MB) |",
  );
  console.log("|---|---|---|---|---|");
  console.log(
    `| tern | ${ternRun.s.toFixed(2)} | ${Math.round(N / ternRun.s)} | ${
      ternUse.cpuS.toFixed(2)
    } | ${ternUse.peakRssMb.toFixed(1)} |`,
  );
  console.log(
    `| GoBGP 3.10 | ${goRun.s.toFixed(2)} | ${Math.round(N / goRun.s)} | ${
      (goUse.cpuS - cpuBefore).toFixed(2)
    } (session only) | ${goUse.peakRssMb.toFixed(1)} |`,
  );
  console.log(`| ratio tern/GoBGP | ${ratio(ternRun.s, goRun.s)} | | | |`);
  console.log("\n(tern's CPU and RSS are whole-process figures: start-up and reading the");
  console.log(" configuration with N prefixes included.)");
} finally {
  await lab.destroy();
}
