/**
 * End-to-end latencies in the simulated cluster, tern side by side with the reference tools in
 * the same harness (same fabric, FRR and BIRD spines, API server, node simulator and Service data
 * path): tern's agent (CNI) and speaker on each node, versus the reference CNI plugins
 * (`ptp` + `host-local`) and GoBGP.
 *
 * - Service created → its LoadBalancer address answers HTTP from the client (median, p99). The
 *   address is written by this script right after creation (the controller role is not on main
 *   yet), so this measures EndpointSlices + announcement + BGP + spines' FIB + data path.
 * - Node failure (uplinks black-holed) → both spines withdraw its routes (hold time 9 s).
 * - Pod created → reachable over HTTP from a pod on another node.
 *
 *   deno run -A bench/e2e_latency.ts [--services 200] [--pods 30] [--failures 3]
 */
import {
  assignAddress,
  clientGet,
  createNamespace,
  createPod,
  createService,
  run,
  spineNextHops,
  waitFor,
  waitPodsRunning,
  waitSessionsEstablished,
} from "../tests/e2e_helpers.ts";
import { clusterClient, clusterUp, type SimMode } from "../actors/sim/cluster.ts";
import { randomPrefix } from "../actors/sim/plan.ts";
import { isolateNode, restoreNode, teardown } from "../actors/sim/topology.ts";
import { podIdentity } from "../actors/sim/node_sim.ts";
import { Resources } from "../actors/kube/mod.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}
const SERVICES = arg("services", 200);
const PODS = arg("pods", 30);
const FAILURES = arg("failures", 3);

interface Result {
  svcMs: number[];
  failMs: number[];
  podMs: number[];
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function measure(mode: SimMode): Promise<Result> {
  const prefix = randomPrefix("bench");
  const state = await clusterUp({ prefix, mode });
  const client = clusterClient(state);
  const res: Result = { svcMs: [], failMs: [], podMs: [] };
  try {
    await waitSessionsEstablished(state);
    await createNamespace(client, "bench");
    await createPod(client, "bench", "web", { labels: { app: "web" }, node: "node-1" });
    await createPod(client, "bench", "probe", { node: "node-1" });
    await waitPodsRunning(client, "bench", ["web", "probe"]);

    // 1. Service → reachable.
    for (let i = 0; i < SERVICES; i++) {
      const ip = `203.0.113.${(i % 250) + 1}`;
      const t0 = performance.now();
      await createService(client, "bench", `s${i}`, "web", "Cluster", ip);
      await assignAddress(state, client, "bench", `s${i}`, ip);
      // Short probes: a SYN sent before the path is complete is retried at once rather than
      // after TCP's 1 s SYN retransmission.
      await waitFor(`${ip} answers`, () => clientGet(state, ip, 80, 0.2), 30_000, 10);
      res.svcMs.push(performance.now() - t0);
      if (i % 250 === 249) {
        // Addresses wrap after 250: free them before reuse.
        for (let j = i - 249; j <= i; j++) {
          await client.delete(Resources.services, `s${j}`, { namespace: "bench" });
        }
      }
    }

    // 2. Pod → reachable from a pod on another node.
    const probe = await client.get<{ metadata: { uid?: string } }>(
      Resources.pods,
      "probe",
      "bench",
    );
    const probeNs = podIdentity(`${prefix}-p1`, probe.metadata.uid!).netns;
    for (let i = 0; i < PODS; i++) {
      const t0 = performance.now();
      await createPod(client, "bench", `p${i}`, { node: i % 2 ? "node-2" : "node-3" });
      const pods = await waitPodsRunning(client, "bench", [`p${i}`], 30_000);
      const ip = pods.get(`p${i}`)!.status!.podIP!;
      await waitFor(
        `pod ${ip} reachable`,
        async () => {
          const r = await run(["curl", "-s", "-m", "0.2", `http://${ip}:8080/`], {
            ns: probeNs,
            check: false,
          });
          return r.code === 0 ? true : undefined;
        },
        30_000,
        20,
      );
      res.podMs.push(performance.now() - t0);
    }

    // 3. Node failure → spines withdraw its routes (the Cluster address of s0 via node-3).
    const vip = `203.0.113.1/32`;
    for (let i = 0; i < FAILURES; i++) {
      await waitFor(
        "node-3 back",
        async () => {
          const a = await spineNextHops(state, 0, vip);
          const b = await spineNextHops(state, 1, vip);
          return a.includes("node-3") && b.includes("node-3") ? true : undefined;
        },
        60_000,
        100,
      );
      const t0 = performance.now();
      await isolateNode(state.plan, "node-3");
      try {
        await waitFor(
          "node-3 withdrawn",
          async () => {
            const a = await spineNextHops(state, 0, vip);
            const b = await spineNextHops(state, 1, vip);
            return !a.includes("node-3") && !b.includes("node-3") ? true : undefined;
          },
          60_000,
          50,
        );
        res.failMs.push(performance.now() - t0);
      } finally {
        await restoreNode(state.plan, "node-3");
      }
    }
  } finally {
    client.close();
    await teardown(prefix);
  }
  return res;
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

console.log(
  `simulated cluster, 3 nodes, FRR + BIRD spines; ${SERVICES} Services, ${PODS} pods, ${FAILURES} node failures`,
);
const tern = await measure("tern");
const ref = await measure("standin");
const rows: Array<[string, number, number]> = [
  ["Service → reachable, median", pct(tern.svcMs, 50), pct(ref.svcMs, 50)],
  ["Service → reachable, p99", pct(tern.svcMs, 99), pct(ref.svcMs, 99)],
  ["pod → reachable from another node, median", pct(tern.podMs, 50), pct(ref.podMs, 50)],
  ["pod → reachable from another node, p99", pct(tern.podMs, 99), pct(ref.podMs, 99)],
  ["node failure → spines withdraw, median", pct(tern.failMs, 50), pct(ref.failMs, 50)],
];
console.log(
  `\n| ${"metric".padEnd(44)} | ${"tern".padStart(9)} | ${"reference".padStart(9)} | ratio |`,
);
console.log(`|${"-".repeat(46)}|${"-".repeat(11)}|${"-".repeat(11)}|-------|`);
for (const [name, t, r] of rows) {
  console.log(
    `| ${name.padEnd(44)} | ${fmt(t).padStart(9)} | ${fmt(r).padStart(9)} | ${
      (t / r).toFixed(2).padStart(5)
    } |`,
  );
}
console.log(
  "\nreference = the same harness with the reference CNI plugins (ptp + host-local) and GoBGP " +
    "on each node instead of tern's agent and speaker; ratio = tern / reference (lower is better).",
);
