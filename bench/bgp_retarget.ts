/**
 * Retarget benchmark: a speaker with two peers (BIRD 2 receivers) originates N IPv4 prefixes to
 * the first peer only, then a configuration reload moves all of them to the second peer. Timed
 * from the reload until the second receiver holds all N and the first none; the sessions must
 * stay up (no reset). tern: `peers:` on each originated prefix, SIGHUP. The reference in the same
 * run: BIRD 2 as the sender, the same N routes as static routes exported through per-protocol
 * export filters, swapped by `birdc configure` (BIRD re-exports without a session reset).
 *
 *   deno run -A bench/bgp_retarget.ts [N] [moves]    # default 10,000 prefixes, 3 moves each
 */
import { Bird, Lab, run, Tern } from "../tests/bgp_lab.ts";
import { prefixes } from "../tests/bgp_mrt.ts";
import { birdCount, ratio } from "../tests/bgp_bench_lib.ts";

const N = Number(Deno.args[0] ?? 10_000);
const MOVES = Number(Deno.args[1] ?? 3);
const TIMEOUT = 60_000 + N;
const lab = await Lab.create("bgprt", 2);
const [p0, p1] = lab.peers;
const progress = (m: string) => console.error(`[bgp_retarget] ${m}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    await lab.destroy();
    Deno.exit(130);
  });
}

const list = [...prefixes(N)].map((x) => x.text);

/** A passive BIRD receiver in a peer namespace. */
const receiverConf = (p: typeof p0) =>
  `router id ${p.v4};
protocol device {}
protocol bgp up {
  local ${p.v4} as 65002; neighbor ${p.ternV4} as 65001; passive on;
  hold time 90; keepalive time 30;
  ipv4 { import all; export none; };
}
`;

/** A move, in seconds from the reload: the new peer holds all N, the old one none, both. */
interface Move {
  gained: number;
  lost: number;
  done: number;
}

/** Polls until `to` holds N and `from` none. */
async function waitMoved(from: Bird, to: Bird, t0: number): Promise<Move> {
  const deadline = t0 + TIMEOUT;
  let gained = 0, lost = 0;
  for (;;) {
    const [a, b] = [await birdCount(from).catch(() => -1), await birdCount(to).catch(() => -1)];
    const now = (Date.now() - t0) / 1000;
    if (b === N && !gained) gained = now;
    if (a === 0 && !lost) lost = now;
    if (gained && lost) return { gained, lost, done: Math.max(gained, lost) };
    if (Date.now() > deadline) throw new Error(`after ${TIMEOUT} ms: from ${a}, to ${b} of ${N}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `since` field of a BIRD protocol line (changes when the session is reset). */
async function since(b: Bird): Promise<string> {
  const out = await b.cmd("show", "protocols", "up");
  return out.split("\n").find((l) => l.startsWith("up "))?.trim().split(/\s+/)[4] ?? "";
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(
  name: string,
  start: (
    first: number,
  ) => Promise<{ reload: (to: number) => Promise<void>; stop: () => Promise<void> }>,
): Promise<Move[]> {
  const r = [new Bird(lab, p0.ns, `rx0-${name}`), new Bird(lab, p1.ns, `rx1-${name}`)];
  await r[0].start(receiverConf(p0));
  await r[1].start(receiverConf(p1));
  let sender: Awaited<ReturnType<typeof start>> | undefined;
  const times: Move[] = [];
  try {
    sender = await start(0);
    await waitMoved(r[1], r[0], Date.now());
    const before = [await since(r[0]), await since(r[1])];
    let at = 0;
    for (let i = 0; i < MOVES; i++) {
      const to = 1 - at;
      const t0 = Date.now();
      await sender!.reload(to);
      times.push(await waitMoved(r[at], r[to], t0));
      at = to;
      const m = times.at(-1)!;
      progress(`${name}: move ${i + 1}: gained ${m.gained} s, lost ${m.lost} s`);
    }
    const after = [await since(r[0]), await since(r[1])];
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      throw new Error(`${name}: a session was reset (${before} -> ${after})`);
    }
  } finally {
    await sender?.stop();
    await r[0].kill();
    await r[1].kill();
  }
  return times;
}

try {
  progress(`tern: ${N} prefixes, ${MOVES} moves`);
  const ternConf = (to: number) =>
    JSON.stringify({
      asn: 65001,
      routerId: p0.ternV4,
      listen: false,
      api: { address: "127.0.0.1", port: 0 },
      peers: [p0, p1].map((p) => ({
        address: p.v4,
        asn: 65002,
        connectRetryTime: 1,
        families: ["ipv4"],
      })),
      prefixes: list.map((prefix) => ({ prefix, peers: [[p0, p1][to].v4] })),
    });
  const ternTimes = await measure("tern", async (first) => {
    const tern = await Tern.start(lab, ternConf(first));
    return {
      async reload(to) {
        await Deno.writeTextFile(`${lab.dir}/tern.yaml`, ternConf(to));
        // Reading and applying the file is part of the time, as for BIRD.
        tern.signal("SIGHUP");
      },
      async stop() {
        await tern.stop();
      },
    };
  });

  progress(`BIRD: ${N} static routes, ${MOVES} moves`);
  const statics = list.map((p) => `  route ${p} blackhole;`).join("\n");
  const birdConf = (to: number) =>
    `router id ${p0.ternV4};
protocol device {}
protocol static originated { ipv4;
${statics}
}
${
      [p0, p1].map((p, i) =>
        `protocol bgp to${i} {
  local ${p.ternV4} as 65001; neighbor ${p.v4} as 65002; connect retry time 1;
  hold time 90; keepalive time 30;
  ipv4 { import none; export ${i === to ? "where source = RTS_STATIC" : "none"}; };
}`
      ).join("\n")
    }
`;
  const birdTimes = await measure("bird", async (first) => {
    const b = new Bird(lab, lab.t, "sender");
    await b.start(birdConf(first));
    return {
      async reload(to) {
        await Deno.writeTextFile(`${lab.dir}/sender.conf`, birdConf(to));
        const r = await run(["birdc", "-s", b.sock, "configure"]);
        if (!/Reconfigured/.test(r.stdout)) throw new Error(`birdc configure: ${r.stdout}`);
      },
      stop: () => b.kill(),
    };
  });

  const med = (ms: Move[], k: keyof Move) => median(ms.map((m) => m[k]));
  const row = (name: string, ms: Move[]) =>
    `| ${name} | ${med(ms, "done").toFixed(3)} | ${med(ms, "gained").toFixed(3)} | ${
      med(ms, "lost").toFixed(3)
    } | ${ms.map((m) => m.done.toFixed(3)).join(", ")} | ${Math.round(N / med(ms, "done"))} |`;
  console.log(
    `Move ${N} originated IPv4 prefixes from one peer to the other by a configuration reload`,
  );
  console.log(`(two BIRD 2.0.12 receivers; median of ${MOVES} moves; no session reset)\n`);
  console.log(
    "| sender | reload -> moved (s) | new peer holds all (s) | old peer holds none (s) | each move (s) | prefixes/s |",
  );
  console.log("|---|---|---|---|---|---|");
  console.log(row("tern (SIGHUP, `peers:` per prefix)", ternTimes));
  console.log(row("BIRD 2 (birdc configure, export filters)", birdTimes));
  console.log(
    `| ratio tern/BIRD | ${ratio(med(ternTimes, "done"), med(birdTimes, "done"))} | ${
      ratio(med(ternTimes, "gained"), med(birdTimes, "gained"))
    } | ${ratio(med(ternTimes, "lost"), med(birdTimes, "lost"))} | | |`,
  );
} finally {
  await lab.destroy();
}
