/**
 * End to end: the agent's BGP wiring follows its objects live (sart's peer and advertisement
 * scenarios). A BGPPeer deleted: recreated by the controller (or, without it, by the test), the
 * session comes back; a hand-written BGPAdvertisement, its targets replaced (the routes move to
 * the new node), then deleted; a NodeBGP deleted (kept by its finalizer while the node has peers,
 * with the controller; else recreated by the test); with the controller, a node's
 * label change moves it out of the ClusterBGPs (its sessions and routes go) and back.
 */
import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import type { BGPPeerObject, NodeBGPObject } from "../actors/agent_bgp/desired.ts";
import {
  bgpPeerStates,
  birdSessions,
  createNamespace,
  createPod,
  frrSessions,
  peerNameOf,
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
    const [n1, n2, n3] = state.plan.nodes;
    const [spine0, spine1] = state.plan.spines;
    // Pods on every node, so that each holds a pod block to advertise.
    await createNamespace(client, "objs");
    for (const n of state.plan.nodes) {
      await createPod(client, "objs", `p${n.index}`, { node: n.name });
    }
    await waitPodsRunning(client, "objs", ["p1", "p2", "p3"]);
    const block1 = await waitNodeBlock(client, n1.name);
    const block2 = await waitNodeBlock(client, n2.name);
    const block3 = await waitNodeBlock(client, n3.name);
    await waitNextHops(state, block1, [n1.name]);

    await t.step(
      "a BGPPeer deleted: the session goes, the peer comes back, so does the session",
      async () => {
        const name = await peerNameOf(client, n1.name, spine0.address);
        const saved = await client.get<BGPPeerObject>(Resources.bgpPeers, name);
        await client.delete(Resources.bgpPeers, name);
        if (state.controller) {
          // The controller recreates it from the ClusterBGP.
          await waitFor("the BGPPeer recreated by the controller", async () => {
            const p = await client.tryGet<BGPPeerObject>(Resources.bgpPeers, name);
            return p && p.metadata.uid !== saved.metadata.uid ? true : undefined;
          }, 30_000);
        } else {
          await waitFor("FRR loses node-1", async () => {
            const s = await frrSessions(state);
            return s["node-1"] !== "Established" ? true : undefined;
          }, 20_000);
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
        }
        await waitSessionsEstablished(state);
        await waitNextHops(state, block1, ["node-1"]);
        await waitFor("the recreated BGPPeer shows Established", async () => {
          const m = await bgpPeerStates(client);
          return m.get(name)?.state === "Established" ? true : undefined;
        }, 20_000);
      },
    );

    await t.step(
      "a hand-written advertisement: targets replaced (node-2 → node-3), deleted",
      async () => {
        // Targets name sessions (each node sends the prefix only to the peers named): naming
        // both of a node's peers selects the node on both spines. Single sessions are
        // tests/e2e_peer_targeting_test.ts's.
        const ns = "tern-system";
        await client.create(Resources.bgpAdvertisements, {
          apiVersion: "tern.dev/v1alpha1",
          kind: "BGPAdvertisement",
          metadata: { name: "aggregate", namespace: ns },
          spec: {
            cidr: "198.51.100.0/24",
            type: "service",
            family: "ipv4",
            peers: [
              await peerNameOf(client, n2.name, spine0.address),
              await peerNameOf(client, n2.name, spine1.address),
            ],
          },
        });
        await waitNextHops(state, "198.51.100.0/24", ["node-2"]);
        const target = await peerNameOf(client, n2.name, spine1.address);
        await waitFor("per-peer status", async () => {
          const a = await client.get<
            { status?: { peers?: Record<string, string> } } & { metadata: { name?: string } }
          >(Resources.bgpAdvertisements, "aggregate", ns);
          return a.status?.peers?.[target] === "Advertised" ? true : undefined;
        }, 20_000);
        await client.mergePatch(Resources.bgpAdvertisements, "aggregate", {
          spec: {
            peers: [
              await peerNameOf(client, n3.name, spine0.address),
              await peerNameOf(client, n3.name, spine1.address),
            ],
          },
        }, { namespace: ns });
        await waitNextHops(state, "198.51.100.0/24", ["node-3"]);
        await client.delete(Resources.bgpAdvertisements, "aggregate", { namespace: ns });
        await waitNextHops(state, "198.51.100.0/24", []);
      },
    );

    await t.step(
      "a NodeBGP deleted: kept while it has peers (controller) or recreated",
      async () => {
        const saved = await client.get<NodeBGPObject>(Resources.nodeBGPs, n2.name);
        await client.delete(Resources.nodeBGPs, n2.name);
        if (!state.controller) {
          await waitNextHops(state, block2, [], 30_000);
          await client.create(Resources.nodeBGPs, {
            apiVersion: "tern.dev/v1alpha1",
            kind: "NodeBGP",
            metadata: { name: n2.name, labels: saved.metadata.labels },
            spec: saved.spec,
          });
        } else {
          // With the controller, a NodeBGP whose node still has peers is kept (its finalizer) and
          // the node's sessions stay up.
          const nb = await client.get<NodeBGPObject>(Resources.nodeBGPs, n2.name);
          assert.ok(nb.metadata.deletionTimestamp, "marked for deletion");
          assert.equal(nb.metadata.uid, saved.metadata.uid);
          assert.ok((nb.metadata.finalizers ?? []).includes("tern.dev/speaker-peers"));
        }
        await waitSessionsEstablished(state);
        await waitNextHops(state, block2, ["node-2"]);
      },
    );

    await t.step("a node's label moves it out of the ClusterBGPs and back", async () => {
      if (!state.controller) return; // ClusterBGP selection is the controller's
      await client.mergePatch(Resources.nodes, n3.name, { metadata: { labels: { bgp: "b" } } });
      await waitFor("node-3's sessions gone on both spines", async () => {
        const f = await frrSessions(state);
        const b = await birdSessions(state);
        return f["node-3"] !== "Established" && !b["node-3"].startsWith("Established")
          ? true
          : undefined;
      }, 30_000);
      await waitNextHops(state, block3, [], 30_000);
      await client.mergePatch(Resources.nodes, n3.name, { metadata: { labels: { bgp: "a" } } });
      await waitSessionsEstablished(state);
      await waitNextHops(state, block3, ["node-3"]);
    });
  });
});
