/**
 * End to end: the agent's BGP wiring follows its objects live (sart's peer and advertisement
 * scenarios): a BGPPeer deleted and recreated (the session goes, the spine loses the node's
 * routes, then both come back); a hand-written BGPAdvertisement, its targets replaced (the
 * routes move to the new node), then deleted; a NodeBGP deleted (the speaker stops) and recreated.
 */
import assert from "node:assert/strict";
import { bgpPeerName } from "../actors/sim/cluster.ts";
import { Resources } from "../actors/kube/mod.ts";
import type { BGPPeerObject, NodeBGPObject } from "../actors/agent_bgp/desired.ts";
import {
  bgpPeerStates,
  createNamespace,
  createPod,
  frrSessions,
  spineNextHops,
  waitFor,
  waitNextHops,
  waitNodeBlock,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

Deno.test("e2e BGP objects: peers, advertisements and NodeBGPs changed live", async (t) => {
  await withCluster(async ({ state, client }) => {
    await waitSessionsEstablished(state);
    const [n1, n2] = state.plan.nodes;
    const [spine0, spine1] = state.plan.spines;
    // Pods on node-1 and node-2, so that each holds a pod block to advertise.
    await createNamespace(client, "objs");
    await createPod(client, "objs", "p1", { node: n1.name });
    await createPod(client, "objs", "p2", { node: n2.name });
    await waitPodsRunning(client, "objs", ["p1", "p2"]);
    const block1 = await waitNodeBlock(client, n1.name);
    const block2 = await waitNodeBlock(client, n2.name);
    await waitNextHops(state, block1, [n1.name]);

    await t.step("a BGPPeer deleted: its session goes; recreated: back", async () => {
      const name = bgpPeerName(spine0, n1);
      const saved = await client.get<BGPPeerObject>(Resources.bgpPeers, name);
      await client.delete(Resources.bgpPeers, name);
      await waitFor("FRR loses node-1", async () => {
        const s = await frrSessions(state);
        return s["node-1"] !== "Established" ? true : undefined;
      }, 20_000);
      // The FRR spine no longer routes node-1's block; BIRD still does.
      await waitFor(
        "FRR withdrew node-1's block",
        async () => (await spineNextHops(state, 0, block1)).length === 0 ? true : undefined,
        20_000,
      );
      assert.deepEqual(await spineNextHops(state, 1, block1), ["node-1"]);
      await client.create(Resources.bgpPeers, {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPPeer",
        metadata: { name, labels: saved.metadata.labels },
        spec: saved.spec,
      });
      await waitSessionsEstablished(state);
      await waitNextHops(state, block1, ["node-1"]);
      await waitFor("the recreated BGPPeer shows Established", async () => {
        const m = await bgpPeerStates(client);
        return m.get(name)?.state === "Established" ? true : undefined;
      }, 20_000);
    });

    await t.step(
      "a hand-written advertisement: targets replaced (node-2 → node-3), deleted",
      async () => {
        // Per-peer export is not in tern's speaker yet: a node originates what is aimed at any of
        // its peers to all of them, so targets select nodes here.
        const ns = "tern-system";
        const n3 = state.plan.nodes[2];
        await client.create(Resources.bgpAdvertisements, {
          apiVersion: "tern.dev/v1alpha1",
          kind: "BGPAdvertisement",
          metadata: { name: "aggregate", namespace: ns },
          spec: {
            cidr: "198.51.100.0/24",
            type: "service",
            family: "ipv4",
            peers: [bgpPeerName(spine1, n2)],
          },
        });
        await waitNextHops(state, "198.51.100.0/24", ["node-2"]);
        await waitFor("per-peer status", async () => {
          const a = await client.get<
            { status?: { peers?: Record<string, string> } } & { metadata: { name?: string } }
          >(Resources.bgpAdvertisements, "aggregate", ns);
          return a.status?.peers?.[bgpPeerName(spine1, n2)] === "Advertised" ? true : undefined;
        }, 20_000);
        await client.mergePatch(Resources.bgpAdvertisements, "aggregate", {
          spec: { peers: [bgpPeerName(spine0, n3), bgpPeerName(spine1, n3)] },
        }, { namespace: ns });
        await waitNextHops(state, "198.51.100.0/24", ["node-3"]);
        await client.delete(Resources.bgpAdvertisements, "aggregate", { namespace: ns });
        await waitNextHops(state, "198.51.100.0/24", []);
      },
    );

    await t.step("a NodeBGP deleted: the node's speaker stops; recreated: back", async () => {
      const saved = await client.get<NodeBGPObject>(Resources.nodeBGPs, n2.name);
      await client.delete(Resources.nodeBGPs, n2.name);
      await waitNextHops(state, block2, [], 30_000);
      await client.create(Resources.nodeBGPs, {
        apiVersion: "tern.dev/v1alpha1",
        kind: "NodeBGP",
        metadata: { name: n2.name, labels: saved.metadata.labels },
        spec: saved.spec,
      });
      await waitSessionsEstablished(state);
      await waitNextHops(state, block2, ["node-2"]);
    });
  });
});
