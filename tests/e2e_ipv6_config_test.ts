/**
 * The simulated cluster's IPv6 parts, pure (and checked by the tools themselves where they can
 * be): the IPv6 address plan, the spines' IPv6 sessions (FRR's `bgpd -C`, BIRD's `bird -p`),
 * per-family EndpointSlices, the kube-proxy stand-in's `ip6` rules (`nft -c`), the stand-in
 * advertiser's per-family targets, and the pod server's answer for IPv4-mapped addresses.
 */
import assert from "node:assert/strict";
import { assertSpinesAccept } from "./e2e_spine_check.ts";
import { makePlan } from "../actors/sim/plan.ts";
import {
  birdConfig,
  birdProtocolName6,
  frrConfig,
  nodeAddress6Towards,
} from "../actors/sim/spine_config.ts";
import {
  desiredSlice,
  desiredSlices,
  serviceFamilies,
  type SimService,
} from "../actors/sim/endpoints.ts";
import type { SimPod } from "../actors/sim/node_sim.ts";
import { nodeRules, nodeRuleset } from "../actors/sim/service_path.ts";
import { desiredAdvertisements } from "../actors/sim/advertiser.ts";
import { unmapped } from "../actors/sim/pod_server.ts";
import { bgpPeerName } from "../actors/sim/cluster.ts";
import type { BGPPeerObject } from "../actors/agent_bgp/desired.ts";
import { targetPeers } from "../actors/controller/advertisement_plan.ts";
import { run } from "../actors/sim/exec.ts";
import { gobgpConfig } from "../actors/sim/standin.ts";

Deno.test("ipv6 plan: loopbacks and links in fd00::/8, unique, one /64 per link", () => {
  const plan = makePlan({ prefix: "tn-e2e-v6p001", nodes: 30 });
  assert.deepEqual(plan.spines.map((s) => s.address6), ["fd00:2::1", "fd00:2::2"]);
  const links = [...plan.nodes.flatMap((n) => n.uplinks), ...plan.client.uplinks];
  const addrs = [
    ...plan.spines.map((s) => s.address6),
    ...links.flatMap((l) => [l.v6.a, l.v6.b]),
  ];
  assert.equal(new Set(addrs).size, addrs.length, "an IPv6 address is used twice");
  for (const a of addrs) assert.match(a, /^fd00:/, `${a} outside fd00::/8`);
  for (const l of links) {
    assert.equal(l.v6.prefixLength, 64);
    // Both ends on one /64: the same first four groups.
    assert.equal(l.v6.a.replace(/::1$/, ""), l.v6.b.replace(/::2$/, ""));
  }
  assert.equal(plan.nodes[29].uplinks[1].v6.b, "fd00:2:2:1e::2");
  assert.equal(plan.client.uplinks[0].v6.b, "fd00:2:1:ff::2");
});

Deno.test("ipv6 spine configs: an IPv6 session per node, IPv6 unicast only; FRR and BIRD accept", async () => {
  const plan = makePlan({ prefix: "tn-e2e-v6c001", nodes: 3 });
  const dir = await Deno.makeTempDir({ prefix: "tn-e2e-v6cfg-" });
  try {
    const frr = frrConfig(plan, plan.spines[0], `${dir}/frr.log`);
    const af = (name: string) =>
      frr.slice(frr.indexOf(` address-family ${name} unicast`)).split(" exit-address-family")[0];
    for (const n of plan.nodes) {
      const v6 = nodeAddress6Towards(n, 0);
      assert.match(frr, new RegExp(`^ neighbor ${v6} remote-as ${n.asn}$`, "m"));
      assert.match(frr, new RegExp(`^ neighbor ${v6} update-source fd00:2::1$`, "m"));
      assert.match(frr, new RegExp(`^ neighbor ${v6} filter-list node-originated in$`, "m"));
      assert.match(af("ipv6"), new RegExp(`^  neighbor ${v6} activate$`, "m"));
      assert.match(af("ipv4"), new RegExp(`^  no neighbor ${v6} activate$`, "m"));
      assert.doesNotMatch(af("ipv6"), new RegExp(`neighbor ${n.uplinks[0].b.address} `));
    }
    assert.match(af("ipv6"), /^ {2}maximum-paths 16$/m);
    const bird = birdConfig(plan, plan.spines[1], `${dir}/bird.log`);
    assert.equal(bird.match(/protocol bgp node6_\d+ from tern_node6/g)?.length, 3);
    assert.equal(birdProtocolName6(plan.nodes[0]), "node6_1");
    assert.match(bird, /neighbor fd00:2:2:1::2 as 65101;/);
    assert.match(bird, /template bgp tern_node6 \{\n {2}local fd00:2::2 as 65002;/);
    assert.match(bird, /ipv6 \{ import where bgp_path\.len = 1; export where source = RTS_BGP;/);
    assert.match(bird, /protocol kernel kernel6 \{\n {2}ipv6 \{ import none;/);
    await assertSpinesAccept(dir, plan, frr, bird);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function pod(name: string, node: string, ips: string[]): SimPod {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}`, labels: { app: "web" } },
    spec: { nodeName: node },
    status: {
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

function svc(name: string, spec: Partial<NonNullable<SimService["spec"]>>, ips: string[]) {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}` },
    spec: {
      type: "LoadBalancer",
      selector: { app: "web" },
      externalTrafficPolicy: "Cluster",
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
      ...spec,
    },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  } as SimService;
}

const PODS = [
  pod("a", "node-1", ["198.18.0.1", "fd00:10::1"]),
  pod("b", "node-2", ["198.18.0.65", "fd00:10::41"]),
  pod("c", "node-3", ["198.18.0.129"]), // no IPv6 address: not an IPv6 endpoint
];

Deno.test("ipv6 endpoints: one slice per family of the Service", () => {
  const dual = svc("dual", { ipFamilyPolicy: "RequireDualStack" }, []);
  assert.deepEqual(serviceFamilies(dual), ["IPv4", "IPv6"]);
  assert.deepEqual(serviceFamilies(svc("s", {}, [])), ["IPv4"]);
  assert.deepEqual(serviceFamilies(svc("s", { ipFamilies: ["IPv6"] }, [])), ["IPv6"]);
  assert.deepEqual(
    serviceFamilies(svc("s", { ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv4"] }, [])),
    ["IPv4"],
  );
  const slices = desiredSlices(dual, PODS);
  assert.deepEqual(slices.map((s) => [s.metadata.name, s.addressType]), [
    ["dual-sim", "IPv4"],
    ["dual-sim-v6", "IPv6"],
  ]);
  assert.deepEqual(slices[1].endpoints.map((e) => [e.addresses, e.nodeName]), [
    [["fd00:10::1"], "node-1"],
    [["fd00:10::41"], "node-2"],
  ]);
  // The IPv4 slice is as it was.
  assert.deepEqual(slices[0], desiredSlice(dual, PODS));
});

Deno.test("ipv6 service path: ip6 DNAT to the IPv6 endpoints; nft accepts", async () => {
  const services = [
    svc("dual", { ipFamilyPolicy: "RequireDualStack" }, ["203.0.113.9", "fd00:203::9"]),
    svc("one", { ipFamilies: ["IPv6"] }, ["fd00:203::a"]),
  ];
  const slices = services.flatMap((s) => desiredSlices(s, PODS));
  slices[2].endpoints = slices[2].endpoints.slice(0, 1);
  const rules = nodeRules("node-1", services, slices);
  assert.deepEqual(rules, [
    "ip daddr 203.0.113.9 tcp dport 80 meta mark set 0x4000 dnat ip to numgen random mod 3 map { 0 : 198.18.0.1 . 8080, 1 : 198.18.0.129 . 8080, 2 : 198.18.0.65 . 8080 }",
    "ip6 daddr fd00:203::9 tcp dport 80 meta mark set 0x4000 dnat ip6 to numgen random mod 2 map { 0 : fd00:10::1 . 8080, 1 : fd00:10::41 . 8080 }",
    "ip6 daddr fd00:203::a tcp dport 80 meta mark set 0x4000 dnat ip6 to [fd00:10::1]:8080",
  ]);
  const text = nodeRuleset(rules);
  assert.match(text, /table ip6 tern_sim_lb \{[^]*ip6 daddr fd00:203::9/);
  assert.doesNotMatch(text.split("table ip6")[0], /ip6 daddr/);
  const ns = `tn-e2e-nft6${crypto.randomUUID().slice(0, 6)}`;
  await run(["ip", "netns", "add", ns]);
  try {
    const r = await run(["nft", "-c", "-f", "-"], { ns, stdin: text, check: false });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await run(["ip", "netns", "del", ns]);
  }
});

Deno.test("ipv6 advertisements: a prefix goes to the peers of its family", () => {
  const plan = makePlan({ prefix: "tn-e2e-v6a001", nodes: 1 });
  const n = plan.nodes[0];
  const peers: BGPPeerObject[] = plan.spines.flatMap((s) =>
    [false, true].map((v6) => ({
      metadata: { name: bgpPeerName(s, n, v6) },
      spec: { node: n.name, asn: s.asn, addr: v6 ? s.address6 : s.address },
    }))
  );
  assert.equal(bgpPeerName(plan.spines[0], n, true), "spine0-ipv6-node-1-65001-fd00-2--1");
  const ads = desiredAdvertisements(
    plan,
    () => ["198.18.0.0/26", "fd00:10::/122"],
    peers,
    [svc("dual", {}, ["203.0.113.9", "fd00:203::9"])],
    [],
  );
  assert.deepEqual(ads.map((a) => [a.name, a.cidr, a.peers]), [
    ["pod-198-18-0-0-26", "198.18.0.0/26", [
      "spine0-node-1-65001-192.0.2.1",
      "spine1-node-1-65002-192.0.2.2",
    ]],
    ["pod-fd00-10---122", "fd00:10::/122", [
      "spine0-ipv6-node-1-65001-fd00-2--1",
      "spine1-ipv6-node-1-65002-fd00-2--2",
    ]],
    ["lb-dual-203-0-113-9", "203.0.113.9/32", [
      "spine0-node-1-65001-192.0.2.1",
      "spine1-node-1-65002-192.0.2.2",
    ]],
    ["lb-dual-fd00-203--9", "fd00:203::9/128", [
      "spine0-ipv6-node-1-65001-fd00-2--1",
      "spine1-ipv6-node-1-65002-fd00-2--2",
    ]],
  ]);
  // The controller's targeting does the same.
  const targets = [
    { name: "v4", node: "n", groups: [], families: ["ipv4" as const] },
    { name: "v6", node: "n", groups: [], families: ["ipv6" as const] },
    { name: "any", node: "n", groups: [] },
  ];
  const ad = {
    namespace: "ns",
    name: "x",
    owner: { apiVersion: "v1", kind: "Service", name: "s", uid: "u" },
    type: "service" as const,
    nodes: "all" as const,
  };
  assert.deepEqual(
    targetPeers({ ...ad, cidr: "fd00:203::9/128", family: "ipv6" }, targets),
    ["any", "v6"],
  );
  assert.deepEqual(
    targetPeers({ ...ad, cidr: "203.0.113.9/32", family: "ipv4" }, targets),
    ["any", "v4"],
  );
});

Deno.test("ipv6 pod server: IPv4-mapped local addresses answered as IPv4", () => {
  assert.equal(unmapped("::ffff:198.18.0.1"), "198.18.0.1");
  assert.equal(unmapped("::FFFF:198.18.0.1"), "198.18.0.1");
  assert.equal(unmapped("fd00:10::1"), "fd00:10::1");
  assert.equal(unmapped("198.18.0.1"), "198.18.0.1");
});

Deno.test("ipv6 stand-in speaker: GoBGP has an IPv6 session with each spine", () => {
  const plan = makePlan({ prefix: "tn-e2e-v6g001", nodes: 2 });
  const g = gobgpConfig(plan, plan.nodes[1]);
  assert.equal(g.match(/\[\[neighbors\]\]/g)?.length, 4);
  assert.match(
    g,
    /neighbor-address = "fd00:2::1"[^]*?local-address = "fd00:2:1:2::2"[^]*?afi-safi-name = "ipv6-unicast"/,
  );
  assert.match(
    g,
    /neighbor-address = "fd00:2::2"[^]*?local-address = "fd00:2:2:2::2"[^]*?afi-safi-name = "ipv6-unicast"/,
  );
  assert.match(g, /neighbor-address = "192\.0\.2\.1"[^]*?afi-safi-name = "ipv4-unicast"/);
});
