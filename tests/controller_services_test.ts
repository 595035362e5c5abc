import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import { SERVICE_CONDITION } from "../actors/controller/mod.ts";
import {
  eventReasons,
  ingress,
  lbService,
  list,
  node,
  pool,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

type Ad = KubeObject & {
  spec: { cidr: string; type: string; family: string; peers?: string[]; groups?: string[] };
};

Deno.test("controller: LoadBalancer Services (sart's scenarios) checked object by object", async () => {
  const cluster = await startCluster();
  // A check every second with repair on: churn must not look like an inconsistency.
  const ctl = await startController(cluster, { checkMs: 1000, repair: true });
  const c = cluster.client;
  const getSvc = (name: string, ns = "default") => c.get(Resources.services, name, ns);
  const addressOf = (name: string, ns = "default", n = 1) =>
    waitFor(async () => {
      const a = ingress(await getSvc(name, ns));
      return a.length === n ? a : undefined;
    }, `${ns}/${name} to get ${n} address(es)`);
  const ads = async (ns = "default") =>
    (await list<Ad>(c, Resources.bgpAdvertisements, ns)).filter((a) =>
      !a.metadata.deletionTimestamp
    );
  try {
    for (let i = 1; i <= 3; i++) await c.create(Resources.nodes, node(`n${i}`, `192.0.2.${i}`));
    // Peers: one per node from a ClusterBGP, with groups on a template.
    await c.create(Resources.bgpPeerTemplates, {
      apiVersion: "tern.dev/v1alpha1",
      kind: "BGPPeerTemplate",
      metadata: { name: "tor" },
      spec: { asn: 65000, addr: "192.0.2.254", groups: ["tor"] },
    });
    await c.create(Resources.clusterBGPs, {
      apiVersion: "tern.dev/v1alpha1",
      kind: "ClusterBGP",
      metadata: { name: "all" },
      spec: {
        asnSelector: { from: "asn", asn: 64512 },
        routerIdSelector: { from: "internalAddress" },
        peers: [{ name: "tor", peerTemplateRef: "tor" }],
      },
    });
    const peerName = (n: string) => `tor-${n}-65000-192.0.2.254`;
    await waitFor(async () => (await list(c, Resources.bgpPeers)).length === 3, "3 peers");

    await c.create(
      Resources.addressPools,
      pool("lb-auto", {
        type: "service",
        cidrs: ["203.0.113.0/28", "fd00:1::/124"],
        autoAssign: true,
      }),
    );
    await c.create(
      Resources.addressPools,
      pool("lb-two", { type: "service", cidrs: ["198.51.100.0/28"], aggregationLength: 24 }),
    );

    // Auto pool.
    await c.create(Resources.services, lbService("default", "auto"));
    assert.deepEqual(await addressOf("auto"), ["203.0.113.0"]);
    // Annotated pool.
    await c.create(
      Resources.services,
      lbService("default", "named", { annotations: { "tern.dev/addresspool": "lb-two" } }),
    );
    assert.deepEqual(await addressOf("named"), ["198.51.100.0"]);
    // Exact addresses spanning pools, dual-stack.
    await c.create(
      Resources.services,
      lbService("default", "exact", {
        annotations: { "tern.dev/loadBalancerIPs": "198.51.100.9,fd00:1::9" },
        families: ["IPv4", "IPv6"],
        familyPolicy: "RequireDualStack",
      }),
    );
    assert.deepEqual(await addressOf("exact", "default", 2), ["198.51.100.9", "fd00:1::9"]);
    // Dual-stack from the auto pool, IPv6 first.
    await c.create(
      Resources.services,
      lbService("default", "dual", {
        families: ["IPv6", "IPv4"],
        familyPolicy: "RequireDualStack",
      }),
    );
    assert.deepEqual(await addressOf("dual", "default", 2), ["fd00:1::", "203.0.113.1"]);
    // Sharing: same key, ports that do not clash.
    await c.create(
      Resources.services,
      lbService("default", "share-a", {
        annotations: { "tern.dev/allow-shared-ip": "k1" },
        ports: [80],
      }),
    );
    await c.create(
      Resources.services,
      lbService("default", "share-b", {
        annotations: { "tern.dev/allow-shared-ip": "k1" },
        ports: [443],
      }),
    );
    const [sa] = await addressOf("share-a");
    const [sb] = await addressOf("share-b");
    assert.equal(sa, sb);
    assert.equal(sa, "203.0.113.2");
    // Another class is left alone.
    await c.create(
      Resources.services,
      lbService("default", "foreign", { lbClass: "example.com/lb" }),
    );
    // tern's class is handled.
    await c.create(
      Resources.services,
      lbService("default", "classed", { lbClass: "tern.dev/bgp" }),
    );
    assert.deepEqual(await addressOf("classed"), ["203.0.113.3"]);
    assert.deepEqual(ingress(await getSvc("foreign")), []);

    // Condition and Event on the Service.
    const auto = await getSvc("auto");
    const cond = (auto.status?.conditions ?? []).find((x: { type: string }) =>
      x.type === SERVICE_CONDITION
    );
    assert.equal(cond?.status, "True");
    await waitFor(
      async () => (await eventReasons(c, "default", "auto")).includes("IPAllocated"),
      "IPAllocated event",
    );

    // Advertisements: Cluster policy → every node's peers; aggregation → covering prefix.
    await waitFor(async () => {
      const all = await ads();
      const byCidr = new Map(all.map((a) => [a.spec.cidr, a]));
      const a = byCidr.get("203.0.113.0/32");
      const n = byCidr.get("198.51.100.0/24");
      const v6 = byCidr.get("fd00:1::9/128");
      return a && n && v6 &&
        JSON.stringify(a.spec.peers) ===
          JSON.stringify(["n1", "n2", "n3"].map(peerName)) &&
        a.spec.family === "ipv4" && v6.spec.family === "ipv6" &&
        (a.metadata.finalizers ?? []).includes("tern.dev/withdraw");
    }, "advertisements of the Cluster Services");

    // Local policy: only nodes with ready endpoints, retargeted as they move.
    await c.create(Resources.services, lbService("default", "local", { policy: "Local" }));
    const [local] = await addressOf("local");
    const slice = (nodeName: string) => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "local-abc",
        namespace: "default",
        labels: { "kubernetes.io/service-name": "local" },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: ["198.18.0.5"], nodeName, conditions: { ready: true } }],
      ports: [{ port: 80, protocol: "TCP" }],
    } as unknown as KubeObject);
    const localAd = async () =>
      (await ads()).find((a) => a.spec.cidr === `${local}/32`)?.spec.peers ?? [];
    await waitFor(
      async () =>
        (await localAd()).length === 0 && (await ads()).some((a) => a.spec.cidr === `${local}/32`),
      "Local ad with no endpoints",
    );
    await c.create(Resources.endpointSlices, slice("n2"));
    await waitFor(
      async () => JSON.stringify(await localAd()) === JSON.stringify([peerName("n2")]),
      "Local ad aimed at n2",
    );
    const cur = await c.get(Resources.endpointSlices, "local-abc", "default");
    await c.replace(
      Resources.endpointSlices,
      {
        ...cur,
        endpoints: (slice("n3") as unknown as { endpoints: unknown }).endpoints,
      } as KubeObject,
    );
    await waitFor(
      async () => JSON.stringify(await localAd()) === JSON.stringify([peerName("n3")]),
      "Local ad retargeted to n3",
    );

    // Peer groups limit the targets.
    await c.create(
      Resources.services,
      lbService("default", "grouped", { annotations: { "tern.dev/peer-groups": "nowhere" } }),
    );
    const [g] = await addressOf("grouped");
    await waitFor(async () => {
      const ad = (await ads()).find((a) => a.spec.cidr === `${g}/32`);
      return ad && JSON.stringify(ad.spec.groups) === '["nowhere"]' && ad.spec.peers?.length === 0;
    }, "grouped ad without matching peers");

    // Deleting a Service frees its address; nobody else moves; its ads go.
    const before = new Map<string, string[]>();
    for (const n of ["auto", "named", "exact", "dual", "share-a", "share-b", "classed", "local"]) {
      before.set(n, ingress(await getSvc(n)));
    }
    await c.delete(Resources.services, "auto", { namespace: "default" });
    await waitFor(
      async () => !(await ads()).some((a) => a.spec.cidr === "203.0.113.0/32"),
      "auto's ad gone",
    );
    await c.create(Resources.services, lbService("default", "after"));
    assert.deepEqual(await addressOf("after"), ["203.0.113.0"]);
    for (const [n, a] of before) {
      if (n === "auto") continue;
      assert.deepEqual(ingress(await getSvc(n)), a, `${n} kept its address`);
    }

    // No longer a LoadBalancer: address released and status cleared.
    const named = await getSvc("named");
    await c.replace(Resources.services, { ...named, spec: { ...named.spec, type: "ClusterIP" } });
    await waitFor(async () => ingress(await getSvc("named")).length === 0, "named released");
    // And back at once (its actor may still be finishing): served again.
    const named2 = await getSvc("named");
    await c.replace(Resources.services, {
      ...named2,
      spec: { ...named2.spec, type: "LoadBalancer" },
    });
    await waitFor(
      async () => ingress(await getSvc("named"))[0] === "198.51.100.0",
      "named served again",
    );
    // Pool annotation change re-allocates from the new pool.
    const share = await getSvc("share-b");
    await c.replace(Resources.services, {
      ...share,
      metadata: {
        ...share.metadata,
        annotations: { "tern.dev/addresspool": "lb-two" },
      },
    });
    await waitFor(
      async () => ingress(await getSvc("share-b"))[0] === "198.51.100.1",
      "share-b moved to lb-two (lowest free)",
    );

    const events = await list<KubeObject & { reason: string }>(c, Resources.events, "default");
    const bad = events.filter((e) =>
      /^(LeakedAddress|UnknownAddress|DoubleAllocation)$/.test(e.reason)
    ).map((e) => e.reason);
    assert.deepEqual(bad, [], "the periodic check found nothing wrong");
    // Pool status reports usage.
    await waitFor(async () => {
      const p = await c.get(Resources.addressPools, "lb-auto");
      return p.status?.capacity?.ipv4 === "16" && p.status?.capacity?.ipv6 === "16" &&
        Number(p.status?.allocated?.ipv4) >= 5 &&
        (p.metadata.finalizers ?? []).includes("tern.dev/pool-in-use");
    }, "lb-auto status");
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});
