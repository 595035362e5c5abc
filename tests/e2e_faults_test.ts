/**
 * End to end: faults, and convergence after each with nothing lost and nothing given twice.
 * - a node's BGP speaker (the agent's BGP wiring process) killed: the spines withdraw its
 *   routes, then it comes back, configured again from its objects;
 * - a node failed (its uplinks black-holed): the spines withdraw its routes within the hold time;
 * - a node's agent killed and restarted: pod addresses unchanged, new pods get fresh addresses;
 * - each spine restarted: sessions and routes come back;
 * - the API server's watches dropped and its history expired: new pods and Services converge;
 * - the node simulator (the "kubelet") restarted: pods adopted, not re-added, still answering.
 */
import assert from "node:assert/strict";
import { restartProc, stopProc } from "../actors/sim/processes.ts";
import { isolateNode, restoreNode, startSpine, stopSpine } from "../actors/sim/topology.ts";
import { Resources } from "../actors/kube/mod.ts";
import type { SimPod } from "../actors/sim/node_sim.ts";
import {
  assignAddress,
  clientGet,
  createNamespace,
  createPod,
  createService,
  waitFor,
  waitNextHops,
  waitNodeBlock,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";
import type { E2E } from "./e2e_helpers.ts";

const ALL = ["node-1", "node-2", "node-3"];
const VIP = "203.0.113.20";

async function podIPs(e: E2E): Promise<Map<string, string>> {
  const { items } = await e.client.listAll<SimPod>(Resources.pods, { namespace: "faults" });
  return new Map(items.map((p) => [p.metadata.name!, p.status?.podIP ?? ""]));
}

function assertUnique(ips: Map<string, string>): void {
  const seen = new Map<string, string>();
  for (const [pod, ip] of ips) {
    assert.ok(ip, `${pod} has no address`);
    assert.ok(!seen.has(ip), `${ip} given to both ${seen.get(ip)} and ${pod}`);
    seen.set(ip, pod);
  }
}

async function reachable(e: E2E): Promise<void> {
  await waitFor(`${VIP} answers`, () => clientGet(e.state, VIP), 30_000, 200);
}

Deno.test("e2e faults: speaker, node, agent, spines, API watches, kubelet", async (t) => {
  await withCluster(async (e) => {
    const { state, client } = e;
    await waitSessionsEstablished(state);
    await createNamespace(client, "faults");
    const names: string[] = [];
    for (const n of state.plan.nodes) {
      for (const k of [1, 2]) {
        const name = `p${n.index}-${k}`;
        names.push(name);
        await createPod(client, "faults", name, { labels: { app: "f" }, node: n.name });
      }
    }
    await waitPodsRunning(client, "faults", names);
    await createService(client, "faults", "svc", "f", "Cluster", VIP);
    await assignAddress(state, client, "faults", "svc", VIP);
    await waitNextHops(state, `${VIP}/32`, ALL);
    const before = await podIPs(e);
    assertUnique(before);

    await t.step("speaker killed: spines withdraw the node's routes; restarted: back", async () => {
      const block1 = await waitNodeBlock(client, "node-1");
      await stopProc(state.runDir, "agent-node-1", true);
      await waitNextHops(state, `${VIP}/32`, ["node-2", "node-3"], 20_000);
      await waitNextHops(state, block1, [], 20_000);
      await reachable(e);
      await restartProc(state.runDir, "agent-node-1");
      await waitNextHops(state, `${VIP}/32`, ALL, 30_000);
      await waitNextHops(state, block1, ["node-1"], 30_000);
      await waitSessionsEstablished(state);
    });

    await t.step(
      "node failed (uplinks black-holed): withdrawn within the hold time, then back",
      async () => {
        await isolateNode(state.plan, "node-2");
        try {
          // Hold time 9 s; allow scheduling slack on a loaded machine.
          await waitNextHops(state, `${VIP}/32`, ["node-1", "node-3"], 20_000);
          await reachable(e);
        } finally {
          await restoreNode(state.plan, "node-2");
        }
        await waitNextHops(state, `${VIP}/32`, ALL, 40_000);
      },
    );

    await t.step("agent killed and restarted: addresses unchanged, nothing twice", async () => {
      await stopProc(state.runDir, "agent-node-1", true);
      await restartProc(state.runDir, "agent-node-1");
      await createPod(client, "faults", "p1-3", { labels: { app: "f" }, node: "node-1" });
      await waitPodsRunning(client, "faults", ["p1-3"]);
      const after = await podIPs(e);
      for (const [pod, ip] of before) assert.equal(after.get(pod), ip, `${pod} changed address`);
      assertUnique(after);
      await reachable(e);
    });

    await t.step("each spine restarted: sessions and routes come back", async () => {
      for (const spine of state.plan.spines) {
        await stopSpine(state.runDir, spine);
        await reachable(e); // the other spine carries the traffic
        await startSpine(state.plan, state.runDir, spine);
        await waitSessionsEstablished(state);
        await waitNextHops(state, `${VIP}/32`, ALL, 30_000);
      }
    });

    await t.step(
      "API watches dropped and history expired: new pods and Services converge",
      async () => {
        for (const action of ["closeWatches", "expireHistory", "closeWatches"]) {
          const r = await fetch(`${state.apiUrl}/tern/faults`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ action }),
          });
          assert.ok(r.ok, `fault ${action}: ${r.status}`);
          await r.body?.cancel();
        }
        await createPod(client, "faults", "p3-3", { labels: { app: "g" }, node: "node-3" });
        await createService(client, "faults", "svc-g", "g", "Local", "203.0.113.21");
        await assignAddress(state, client, "faults", "svc-g", "203.0.113.21");
        await waitPodsRunning(client, "faults", ["p3-3"]);
        await waitNextHops(state, "203.0.113.21/32", ["node-3"]);
        const a = await waitFor("svc-g answers", () => clientGet(state, "203.0.113.21"), 20_000);
        assert.equal(a.pod, "faults/p3-3");
        assertUnique(await podIPs(e));
      },
    );

    await t.step("node simulator restarted: pods adopted with their addresses", async () => {
      const ips = await podIPs(e);
      await restartProc(state.runDir, "sim-runner");
      await waitFor("runner ready", async () => {
        const r = await fetch(`http://${state.plan.mgmt.address}:9102/readyz`).catch(() =>
          undefined
        );
        await r?.body?.cancel();
        return r?.ok ? true : undefined;
      }, 30_000);
      await createPod(client, "faults", "p2-3", { labels: { app: "f" }, node: "node-2" });
      await waitPodsRunning(client, "faults", ["p2-3"]);
      const after = await podIPs(e);
      for (const [pod, ip] of ips) assert.equal(after.get(pod), ip, `${pod} changed address`);
      assertUnique(after);
      const a = await waitFor(
        "svc-g answers again",
        () => clientGet(state, "203.0.113.21"),
        20_000,
      );
      assert.equal(a.pod, "faults/p3-3");
      await reachable(e);
    });
  });
});
