/**
 * The simulated cluster's other configurations, so they keep working: tern's nodes with the
 * sim standing in for the controller (pools, block answers, BGP objects, advertisements; the
 * test writes Service addresses), and the reference tools on the nodes (ptp + host-local CNI,
 * GoBGP), the reference side of `bench/e2e_latency.ts`.
 */
import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import type { SimPod } from "../actors/sim/node_sim.ts";
import { podIdentity } from "../actors/sim/node_sim.ts";
import { standinPodSubnet } from "../actors/sim/standin.ts";
import {
  assignAddress,
  clientGet,
  createNamespace,
  createPod,
  createService,
  type E2E,
  inCidr,
  nodeBlocks,
  run,
  waitFor,
  waitNextHops,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

async function podsAndService(e: E2E): Promise<Map<string, SimPod>> {
  const { state, client } = e;
  await waitSessionsEstablished(state);
  await createNamespace(client, "alt");
  await createPod(client, "alt", "a", { labels: { app: "w" }, node: "node-1" });
  await createPod(client, "alt", "b", { labels: { app: "w" }, node: "node-2" });
  const pods = await waitPodsRunning(client, "alt", ["a", "b"]);
  await createService(client, "alt", "w", "w", "Local", "203.0.113.50");
  await assignAddress(state, client, "alt", "w", "203.0.113.50");
  await waitNextHops(state, "203.0.113.50/32", ["node-1", "node-2"]);
  const seen = new Set<string>();
  await waitFor(
    "answers from both pods",
    async () => {
      const r = await clientGet(state, "203.0.113.50");
      if (r) seen.add(r.pod);
      return seen.size === 2 ? true : undefined;
    },
    30_000,
    50,
  );
  return pods;
}

async function crossNodePing(e: E2E, pods: Map<string, SimPod>): Promise<void> {
  const a = pods.get("a")!;
  const ns = podIdentity(`${e.state.prefix}-p1`, a.metadata.uid!).netns;
  const r = await run(["ping", "-c", "1", "-W", "2", pods.get("b")!.status!.podIP!], {
    ns,
    check: false,
  });
  assert.equal(r.code, 0, r.stdout);
}

Deno.test("e2e stand-ins: tern nodes with the sim standing in for the controller", async () => {
  await withCluster(async (e) => {
    assert.equal(e.state.controller, false);
    const pods = await podsAndService(e);
    for (const [name, node] of [["a", "node-1"], ["b", "node-2"]]) {
      const ip = pods.get(name)!.status!.podIP!;
      const blocks = await nodeBlocks(e.client, node, "default-pod-pool");
      assert.ok(blocks.some((b) => inCidr(ip, b)), `${ip} in ${blocks}`);
      for (const b of blocks) await waitNextHops(e.state, b, [node]);
    }
    await crossNodePing(e, pods);
    const { items } = await e.client.listAll(Resources.bgpPeers);
    assert.equal(items.length, 12, "an IPv4 and an IPv6 BGPPeer per node and spine");
  }, { controller: "standin" });
});

Deno.test("e2e stand-ins: the reference tools on the nodes (ptp/host-local, GoBGP)", async () => {
  await withCluster(async (e) => {
    assert.equal(e.state.mode, "standin");
    const pods = await podsAndService(e);
    const n1 = e.state.plan.nodes[0];
    assert.ok(inCidr(pods.get("a")!.status!.podIP!, standinPodSubnet(n1)));
    await waitNextHops(e.state, standinPodSubnet(n1), ["node-1"]);
    await crossNodePing(e, pods);
  }, { mode: "standin" });
});
