/**
 * End to end: sart's remaining scenarios, with tern's controller. A ClusterBGP deleted (its
 * BGPPeers go and the spine loses every session it configured; the other spine keeps its own)
 * and recreated (Established again, routes back); a duplicate BGPPeer written by hand (same node,
 * ASN and address as a controller-made one: the existing peer and its session untouched, the
 * duplicate reported with a Warning Event; sart refuses it with a webhook); an agent restarted
 * with `--mode lb` (its LoadBalancer address stays announced, its pod block is withdrawn) and
 * back with `--mode dual` (the pod block is announced again).
 */
import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import type { BGPPeerObject } from "../actors/agent_bgp/desired.ts";
import {
  assignAddress,
  bgpPeerStates,
  birdSessions,
  clientGet,
  createNamespace,
  createPod,
  createService,
  frrSessions,
  peerNameOf,
  restartAgentWithMode,
  run,
  spineNextHops,
  waitFor,
  waitNextHops,
  waitNodeBlock,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

Deno.test("e2e sart scenarios: ClusterBGP deleted, duplicate peer, agent modes", async (t) => {
  await withCluster(async ({ state, client }) => {
    assert.ok(state.controller, "these scenarios need tern's controller");
    await waitSessionsEstablished(state);
    const [n1] = state.plan.nodes;
    const [spine0] = state.plan.spines;
    await createNamespace(client, "sart");
    for (const n of state.plan.nodes) {
      await createPod(client, "sart", `p${n.index}`, { node: n.name, labels: { app: "web" } });
    }
    await waitPodsRunning(client, "sart", ["p1", "p2", "p3"]);
    const block1 = await waitNodeBlock(client, n1.name);
    await waitNextHops(state, block1, [n1.name]);
    const nodes = state.plan.nodes.map((n) => n.name);

    await t.step("a ClusterBGP deleted: its peers and sessions go; recreated: back", async () => {
      const saved = await client.get<KubeObject>(Resources.clusterBGPs, "clusterbgp-spine0");
      const before = [...(await bgpPeerStates(client)).entries()]
        .filter(([, p]) => p.addr === spine0.address).map(([name]) => name);
      assert.equal(before.length, nodes.length, "one spine0 peer per node");
      await client.delete(Resources.clusterBGPs, "clusterbgp-spine0");
      await waitFor("spine0's BGPPeers deleted", async () => {
        const m = await bgpPeerStates(client);
        return before.every((n) => !m.has(n)) ? true : undefined;
      }, 30_000);
      await waitFor("FRR (spine0) sees no session", async () => {
        const f = await frrSessions(state);
        return Object.values(f).every((v) => v !== "Established") ? true : undefined;
      }, 30_000);
      // The other ClusterBGP's sessions stay; the block is still routed by spine1.
      const b = await birdSessions(state);
      for (const n of nodes) assert.match(b[n], /^Established/, `BIRD: ${n} is ${b[n]}`);
      await waitFor("FRR withdrew node-1's block", async () => {
        const r = await run(["ip", "-j", "-n", spine0.ns, "route", "show", "exact", block1]);
        return JSON.parse(r.stdout || "[]").length === 0 ? true : undefined;
      }, 30_000);
      await client.create(Resources.clusterBGPs, {
        apiVersion: saved.apiVersion,
        kind: saved.kind,
        metadata: { name: "clusterbgp-spine0" },
        spec: saved.spec,
      } as KubeObject);
      await waitSessionsEstablished(state);
      await waitNextHops(state, block1, [n1.name]);
      await waitFor("the recreated BGPPeers show Established", async () => {
        const m = await bgpPeerStates(client);
        return before.every((n) => m.get(n)?.state === "Established") ? true : undefined;
      }, 30_000);
    });

    await t.step(
      "a duplicate BGPPeer: the existing one untouched, the duplicate reported",
      async () => {
        const name = await peerNameOf(client, n1.name, spine0.address);
        const orig = await client.get<BGPPeerObject>(Resources.bgpPeers, name);
        await client.create(Resources.bgpPeers, {
          apiVersion: "tern.dev/v1alpha1",
          kind: "BGPPeer",
          metadata: { name: "by-hand-duplicate" },
          spec: { ...orig.spec, clusterBGP: undefined, peerTemplate: undefined },
        } as unknown as KubeObject);
        await waitFor("a DuplicatePeer Event about the duplicate", async () => {
          const { items } = await client.listAll<KubeObject>(Resources.events);
          return items.some((e) => {
              const ev = e as unknown as { reason?: string; involvedObject?: { name?: string } };
              return ev.reason === "DuplicatePeer" &&
                ev.involvedObject?.name === "by-hand-duplicate";
            })
            ? true
            : undefined;
        }, 30_000);
        const dup = await client.get<BGPPeerObject>(Resources.bgpPeers, "by-hand-duplicate");
        assert.equal(dup.metadata.annotations?.["tern.dev/duplicate-of"], name, "marked");
        const now = await client.get<BGPPeerObject>(Resources.bgpPeers, name);
        assert.equal(now.metadata.uid, orig.metadata.uid, "the existing peer is not replaced");
        assert.deepEqual(now.spec, orig.spec, "the existing peer's spec is untouched");
        const f = await frrSessions(state);
        assert.equal(f[n1.name], "Established");
        assert.ok(await client.tryGet(Resources.bgpPeers, "by-hand-duplicate"), "not deleted");
        await client.delete(Resources.bgpPeers, "by-hand-duplicate");
        await waitSessionsEstablished(state);
      },
    );

    await t.step(
      "agent mode lb keeps the LoadBalancer address, drops pod routes; dual: back",
      async () => {
        const ip = "203.0.113.77";
        await createService(client, "sart", "web", "web", "Cluster", ip);
        await assignAddress(state, client, "sart", "web", ip);
        await waitNextHops(state, `${ip}/32`, nodes);
        await restartAgentWithMode(state, n1.name, "lb");
        // The old (dual) session goes with its pod block ...
        await waitNextHops(state, block1, [], 30_000);
        // ... the new one comes up in lb mode (the Service's address via node-1 again) ...
        await waitNextHops(state, `${ip}/32`, nodes, 30_000);
        await waitFor("node-1's spine sessions Established", async () => {
          const m = await bgpPeerStates(client);
          const mine = [...m.values()].filter((p) => p.node === n1.name);
          // Two spines, an IPv4 and an IPv6 session with each.
          return mine.length === 4 && mine.every((p) => p.state === "Established")
            ? true
            : undefined;
        }, 30_000);
        // ... and stays up without the pod block: checked over 3 s, not just while reconnecting.
        for (let i = 0; i < 6; i++) {
          assert.deepEqual(await spineNextHops(state, 0, block1), [], "FRR: no pod block");
          assert.deepEqual(await spineNextHops(state, 1, block1), [], "BIRD: no pod block");
          await new Promise((r) => setTimeout(r, 500));
        }
        await waitFor(
          "the client answered",
          async () => (await clientGet(state, ip)) ? true : undefined,
          20_000,
        );
        await restartAgentWithMode(state, n1.name, "dual");
        await waitNextHops(state, block1, [n1.name], 30_000);
        await waitNextHops(state, `${ip}/32`, nodes, 30_000);
        // Pod networking works again on node-1: a new pod gets an address there.
        await createPod(client, "sart", "p1b", { node: n1.name, labels: { app: "web" } });
        await waitPodsRunning(client, "sart", ["p1b"]);
      },
    );
  });
});
