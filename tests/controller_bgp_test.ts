import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import {
  eventReasons,
  list,
  node,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

const T = "tern.dev/v1alpha1";

Deno.test("controller: ClusterBGP makes NodeBGPs and BGPPeers and follows nodes, labels and specs", async () => {
  const cluster = await startCluster();
  const ctl = await startController(cluster);
  const c = cluster.client;
  const peers = async () =>
    (await list(c, Resources.bgpPeers)).filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => p.metadata.name!).sort();
  const nodeBGPs = async () =>
    (await list(c, Resources.nodeBGPs)).filter((p) => !p.metadata.deletionTimestamp);
  try {
    await c.create(
      Resources.nodes,
      node("a1", "192.0.2.11", { rack: "a", "tern.dev/asn": "65011" }),
    );
    await c.create(
      Resources.nodes,
      node("a2", "192.0.2.12", { rack: "a", "tern.dev/asn": "65012" }),
    );
    await c.create(
      Resources.nodes,
      node("b1", "192.0.2.21", { rack: "b", "tern.dev/asn": "65021" }),
    );
    await c.create(Resources.bgpPeerTemplates, {
      apiVersion: T,
      kind: "BGPPeerTemplate",
      metadata: { name: "spine" },
      spec: { asn: 65100, addr: "192.0.2.250", holdTime: 9, keepaliveTime: 3, groups: ["core"] },
    });
    await c.create(Resources.clusterBGPs, {
      apiVersion: T,
      kind: "ClusterBGP",
      metadata: { name: "rack-a" },
      spec: {
        nodeSelector: { rack: "a" },
        asnSelector: { from: "label" },
        routerIdSelector: { from: "internalAddress" },
        peers: [
          { name: "spine", peerTemplateRef: "spine" },
          {
            name: "v6",
            peerConfig: { asn: 65200, addr: "fd00::1" },
            nodeBGPSelector: { "tern.dev/asn": "65011" },
          },
        ],
      },
    } as KubeObject);
    await waitFor(async () =>
      JSON.stringify(await peers()) === JSON.stringify([
        "rack-a-a1-65200-fd00--1",
        "spine-a1-65100-192.0.2.250",
        "spine-a2-65100-192.0.2.250",
      ]), "peers of rack a");
    const nb = await waitFor(async () => {
      const l = await nodeBGPs();
      return l.length === 2 ? l : undefined;
    }, "two NodeBGPs");
    const a1 = nb.find((n) => n.metadata.name === "a1")!;
    assert.equal(a1.spec.asn, 65011);
    assert.equal(a1.spec.routerId, "192.0.2.11");
    assert.deepEqual(a1.spec.peers.map((p: { name: string }) => p.name).sort(), [
      "rack-a-a1-65200-fd00--1",
      "spine-a1-65100-192.0.2.250",
    ]);
    assert.equal(a1.metadata.ownerReferences?.[0]?.kind, "Node");
    assert.ok((a1.metadata.finalizers ?? []).includes("tern.dev/speaker-peers"));
    assert.equal(a1.metadata.labels?.rack, "a");
    const sp = await c.get(Resources.bgpPeers, "spine-a2-65100-192.0.2.250");
    assert.deepEqual(
      {
        asn: sp.spec.asn,
        addr: sp.spec.addr,
        node: sp.spec.node,
        holdTime: sp.spec.holdTime,
        keepaliveTime: sp.spec.keepaliveTime,
        groups: sp.spec.groups,
        clusterBGP: sp.spec.clusterBGP,
        peerTemplate: sp.spec.peerTemplate,
      },
      {
        asn: 65100,
        addr: "192.0.2.250",
        node: "a2",
        holdTime: 9,
        keepaliveTime: 3,
        groups: ["core"],
        clusterBGP: "rack-a",
        peerTemplate: "spine",
      },
    );
    await waitFor(async () => {
      const cb = await c.get(Resources.clusterBGPs, "rack-a");
      return cb.status?.desiredNodes === 2 && cb.status?.nodes?.length === 2 &&
        cb.status?.conditions?.[0]?.status === "True";
    }, "ClusterBGP status");

    // A template change updates the peers.
    const tmpl = await c.get(Resources.bgpPeerTemplates, "spine");
    await c.replace(Resources.bgpPeerTemplates, {
      ...tmpl,
      spec: { ...tmpl.spec, holdTime: 30, keepaliveTime: 10 },
    });
    await waitFor(
      async () =>
        (await c.get(Resources.bgpPeers, "spine-a2-65100-192.0.2.250")).spec.holdTime === 30,
      "template change applied",
    );

    // A label change moves a node in: b1 joins rack a.
    const b1 = await c.get(Resources.nodes, "b1");
    await c.replace(Resources.nodes, {
      ...b1,
      metadata: { ...b1.metadata, labels: { ...b1.metadata.labels, rack: "a" } },
    });
    await waitFor(async () => (await peers()).includes("spine-b1-65100-192.0.2.250"), "b1 joined");
    // And out again: its peers and NodeBGP go (the finalizer is lifted once its peers are gone).
    const b1b = await c.get(Resources.nodes, "b1");
    await c.replace(Resources.nodes, {
      ...b1b,
      metadata: { ...b1b.metadata, labels: { ...b1b.metadata.labels, rack: "b" } },
    });
    await waitFor(
      async () => !(await peers()).includes("spine-b1-65100-192.0.2.250"),
      "b1's peer removed",
    );
    await waitFor(async () => !(await c.tryGet(Resources.nodeBGPs, "b1")), "b1's NodeBGP removed");

    // A node without its ASN label: condition and Event, the others untouched.
    await c.create(Resources.nodes, node("a3", "192.0.2.13", { rack: "a" }));
    await waitFor(async () => {
      const cb = await c.get(Resources.clusterBGPs, "rack-a");
      return cb.status?.conditions?.[0]?.reason === "MissingAsnLabel" &&
        cb.status?.desiredNodes === 3;
    }, "MissingAsnLabel condition");
    await waitFor(
      async () => (await eventReasons(c, "tern-system", "rack-a")).includes("MissingAsnLabel"),
      "event",
    );
    assert.equal((await nodeBGPs()).length, 2);

    // A second ClusterBGP with inline peers for rack b; a deleted node loses everything.
    await c.create(Resources.clusterBGPs, {
      apiVersion: T,
      kind: "ClusterBGP",
      metadata: { name: "rack-b" },
      spec: {
        nodeSelector: { rack: "b" },
        asnSelector: { from: "asn", asn: 64999 },
        routerIdSelector: { from: "routerId", routerId: "192.0.2.99" },
        peers: [{ name: "tor", peerConfig: { asn: 65300, addr: "192.0.2.254" } }],
      },
    } as KubeObject);
    await waitFor(
      async () => (await peers()).includes("rack-b-b1-65300-192.0.2.254"),
      "rack-b peer",
    );
    assert.equal((await c.get(Resources.nodeBGPs, "b1")).spec.asn, 64999);
    await c.delete(Resources.clusterBGPs, "rack-b");
    await waitFor(
      async () => !(await peers()).includes("rack-b-b1-65300-192.0.2.254"),
      "rack-b removed",
    );
    await c.delete(Resources.nodes, "a2");
    await waitFor(
      async () => !(await peers()).some((p) => p.includes("-a2-")),
      "a2's peers removed",
    );
    await waitFor(async () => !(await c.tryGet(Resources.nodeBGPs, "a2")), "a2's NodeBGP removed");
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});
