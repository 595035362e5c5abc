import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import { ANNOTATION_DUPLICATE_OF, duplicatePeers } from "../actors/controller/bgp_plan.ts";
import {
  eventReasons,
  node,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

const T = "tern.dev/v1alpha1";

Deno.test("duplicatePeers: the planned peer is kept, else the oldest; deleting ones ignored", () => {
  const base = { node: "n1", asn: 65100, addr: "192.0.2.250" };
  const d = duplicatePeers([
    { name: "hand-old", ...base, creationTimestamp: "2026-01-01T00:00:00Z" },
    { name: "planned", ...base, creationTimestamp: "2026-02-01T00:00:00Z" },
    { name: "hand-new", ...base, creationTimestamp: "2026-03-01T00:00:00Z" },
    { name: "gone", ...base, deleting: true },
    { name: "other-asn", ...base, asn: 65101 },
    { name: "other-node", ...base, node: "n2" },
  ], new Set(["planned"]));
  assert.deepEqual([...d.entries()].sort(), [["hand-new", "planned"], ["hand-old", "planned"]]);
  const e = duplicatePeers([
    { name: "b", ...base, creationTimestamp: "2026-01-01T00:00:00Z" },
    { name: "a", ...base, creationTimestamp: "2026-01-01T00:00:00Z" },
    { name: "c", ...base, addr: "192.0.2.251" },
    { name: "z", ...base, creationTimestamp: "2025-01-01T00:00:00Z" },
  ], new Set());
  assert.deepEqual([...e.entries()].sort(), [["a", "z"], ["b", "z"]]);
  assert.equal(duplicatePeers([], new Set()).size, 0);
});

Deno.test("controller: a hand-made duplicate BGPPeer is marked and reported, the original untouched", async () => {
  const cluster = await startCluster();
  const ctl = await startController(cluster);
  const c = cluster.client;
  try {
    await c.create(Resources.nodes, node("a1", "192.0.2.11", { "tern.dev/asn": "65011" }));
    await c.create(Resources.clusterBGPs, {
      apiVersion: T,
      kind: "ClusterBGP",
      metadata: { name: "all" },
      spec: {
        asnSelector: { from: "label" },
        routerIdSelector: { from: "internalAddress" },
        peers: [{ name: "spine", peerConfig: { asn: 65100, addr: "192.0.2.250" } }],
      },
    } as KubeObject);
    const kept = "all-a1-65100-192.0.2.250";
    const orig = await waitFor(() => c.tryGet<KubeObject>(Resources.bgpPeers, kept), "the peer");
    await c.create(Resources.bgpPeers, {
      apiVersion: T,
      kind: "BGPPeer",
      metadata: { name: "by-hand" },
      spec: { node: "a1", asn: 65100, addr: "192.0.2.250", holdTime: 30 },
    } as KubeObject);
    const marked = await waitFor(async () => {
      const p = await c.get<KubeObject>(Resources.bgpPeers, "by-hand");
      return p.metadata.annotations?.[ANNOTATION_DUPLICATE_OF] === kept ? p : undefined;
    }, "the duplicate marked");
    assert.equal((marked.spec as { holdTime: number }).holdTime, 30, "its spec left alone");
    await waitFor(
      async () => (await eventReasons(c, "tern-system", "by-hand")).includes("DuplicatePeer"),
      "a DuplicatePeer event",
    );
    const now = await c.get<KubeObject>(Resources.bgpPeers, kept);
    assert.equal(now.metadata.uid, orig.metadata.uid);
    assert.deepEqual(now.spec, orig.spec);
    assert.equal(now.metadata.annotations?.[ANNOTATION_DUPLICATE_OF], undefined);
    assert.ok((await eventReasons(c, "tern-system", kept)).every((r) => r !== "DuplicatePeer"));
    // The ClusterBGP deleted: its peer goes, the hand-made one stays and is no longer a duplicate.
    await c.delete(Resources.clusterBGPs, "all");
    await waitFor(async () => !(await c.tryGet(Resources.bgpPeers, kept)), "the kept peer gone");
    await waitFor(async () => {
      const p = await c.get<KubeObject>(Resources.bgpPeers, "by-hand");
      return p.metadata.annotations?.[ANNOTATION_DUPLICATE_OF] === undefined ? true : undefined;
    }, "the mark removed");
    assert.ok(await c.tryGet(Resources.bgpPeers, "by-hand"), "a hand-made peer is never deleted");
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});
