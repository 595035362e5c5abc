/**
 * A node joining and leaving a second ClusterBGP's inline peer (the edge router), tern side by
 * side with a reference in the same harness (fabric, spines, edge router running GoBGP):
 *
 * - tern: the node's label set → tern's controller makes its BGPPeer (and updates its NodeBGP) →
 *   the node's agent configures its speaker live → session with the edge → the node's pod block
 *   held by the edge via the node. Label removed → peer deleted → session closed → block gone.
 * - reference: the stand-in GoBGP on the node driven directly by its CLI (`gobgp neighbor add` /
 *   `del`), as a script configuring a speaker would: no API server, no controller.
 *
 * Both are timed from the triggering call to the edge router's RIB (`gobgp global rib`, polled
 * every 20 ms) showing (or no longer showing) the prefix via the node. Each join starts once the
 * edge accepts the node again (GoBGP holds a neighbor Idle for about 5 s after a session ends).
 *
 *   deno run -A bench/e2e_inline_peers.ts [--cycles 8]
 */
import {
  createNamespace,
  createPod,
  run,
  waitFor,
  waitNodeBlock,
  waitPodsRunning,
  waitSessionsEstablished,
} from "../tests/e2e_helpers.ts";
import {
  clusterClient,
  type ClusterState,
  clusterUp,
  type SimMode,
} from "../actors/sim/cluster.ts";
import {
  EDGE_ADDRESS,
  EDGE_ASN,
  edgeClusterBgp,
  edgeRib,
  edgeSessions,
} from "../actors/sim/edge_router.ts";
import { randomPrefix } from "../actors/sim/plan.ts";
import { GOBGP_API_PORT } from "../actors/sim/standin.ts";
import { teardown } from "../actors/sim/topology.ts";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}
const CYCLES = arg("cycles", 8);
const LABEL = "tern.dev/edge";

interface Result {
  joinMs: number[];
  leaveMs: number[];
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** Time from `act` to the edge holding `prefix` via `node` (or not at all when `held` is false). */
async function timeEdge(
  s: ClusterState,
  prefix: string,
  node: string,
  held: boolean,
  act: () => Promise<unknown>,
): Promise<number> {
  const t0 = performance.now();
  await act();
  await waitFor(
    `${prefix} ${held ? "held" : "gone"} at the edge`,
    async () => {
      const via = (await edgeRib(s.plan, s.edge!)).get(prefix) ?? [];
      return via.includes(node) === held ? true : undefined;
    },
    60_000,
    20,
  );
  return performance.now() - t0;
}

async function measure(mode: SimMode): Promise<Result> {
  const prefix = randomPrefix("bench");
  const state = await clusterUp({ prefix, mode, edge: true });
  const client = clusterClient(state);
  const res: Result = { joinMs: [], leaveMs: [] };
  const node = state.plan.nodes[2];
  try {
    await waitSessionsEstablished(state);
    let announced: string;
    let join: () => Promise<unknown>;
    let leave: () => Promise<unknown>;
    if (mode === "tern") {
      await createNamespace(client, "bench");
      await createPod(client, "bench", "p", { node: node.name });
      await waitPodsRunning(client, "bench", ["p"]);
      announced = await waitNodeBlock(client, node.name);
      await client.create(
        Resources.clusterBGPs,
        edgeClusterBgp("clusterbgp-edge-bench", LABEL),
      );
      const label = (on: boolean) =>
        client.mergePatch<KubeObject>(Resources.nodes, node.name, {
          metadata: { labels: { [LABEL]: on ? "on" : null } },
        });
      join = () => label(true);
      leave = () => label(false);
    } else {
      // The stand-in speaker announces one prefix of its own; the script adds the edge peer.
      announced = `198.18.${220 + node.index}.0/24`;
      const cli = (...args: string[]) =>
        run(["gobgp", "-p", String(GOBGP_API_PORT), ...args], { ns: node.ns });
      await cli("global", "rib", "add", announced);
      join = () => cli("neighbor", "add", EDGE_ADDRESS, "as", String(EDGE_ASN));
      leave = () => cli("neighbor", "del", EDGE_ADDRESS);
    }
    // One warm-up cycle, not counted.
    await timeEdge(state, announced, node.name, true, join);
    await timeEdge(state, announced, node.name, false, leave);
    for (let i = 0; i < CYCLES; i++) {
      // GoBGP (the edge) stays Idle for a few seconds after a session ends and refuses
      // connections meanwhile: each join starts once it accepts again, so the figure is the
      // node's side, not the edge's hold-down.
      await waitFor(
        "the edge accepting the node again",
        async () => {
          return (await edgeSessions(state.plan, state.edge!))[node.name] === "Active"
            ? true
            : undefined;
        },
        60_000,
        50,
      );
      res.joinMs.push(await timeEdge(state, announced, node.name, true, join));
      res.leaveMs.push(await timeEdge(state, announced, node.name, false, leave));
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
  `simulated cluster, 3 nodes, FRR + BIRD spines, GoBGP edge router; ${CYCLES} join/leave cycles of node-3`,
);
const tern = await measure("tern");
const ref = await measure("standin");
const rows: Array<[string, number, number]> = [
  ["node joins → edge holds its prefix, median", pct(tern.joinMs, 50), pct(ref.joinMs, 50)],
  ["node joins → edge holds its prefix, max", pct(tern.joinMs, 100), pct(ref.joinMs, 100)],
  ["node leaves → edge drops its prefix, median", pct(tern.leaveMs, 50), pct(ref.leaveMs, 50)],
  ["node leaves → edge drops its prefix, max", pct(tern.leaveMs, 100), pct(ref.leaveMs, 100)],
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
  "\ntern = a Node label change through tern's controller, BGPPeer and agent; reference = the " +
    "node's GoBGP configured directly by its CLI (no API server, no controller). Same harness, " +
    "same edge router; ratio = tern / reference (lower is better).",
);
