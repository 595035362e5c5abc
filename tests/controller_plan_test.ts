import assert from "node:assert/strict";
import {
  mergePlans,
  type NodeInfo,
  nodeInfoOf,
  peerName,
  planClusterBGP,
} from "../actors/controller/bgp_plan.ts";
import {
  announcedPrefix,
  objectNameOf,
  serviceAds,
  targetPeers,
} from "../actors/controller/advertisement_plan.ts";
import { conditionTime, sameConditions, setCondition } from "../actors/controller/conditions.ts";
import { parseControllerFlags, parseDuration } from "../actors/controller/flags.ts";
import { isManaged, serviceRequest } from "../actors/controller/service_view.ts";
import { covers } from "../actors/controller/bgp.ts";
import type { ClusterBGP } from "../actors/crds/cluster_bgp.ts";
import type { BGPPeerTemplate } from "../actors/crds/bgp_peer_template.ts";
import { InvalidFlagError } from "../runtime/mod.ts";
import { BadAnnotationError } from "../actors/ipam/mod.ts";

const cbgp = (name: string, spec: Partial<ClusterBGP["spec"]>, created = "2026-01-01T00:00:00Z") =>
  ({
    apiVersion: "tern.dev/v1alpha1",
    kind: "ClusterBGP",
    metadata: { name, creationTimestamp: created },
    spec: {
      asnSelector: { from: "asn", asn: 64512 },
      routerIdSelector: { from: "internalAddress" },
      ...spec,
    },
  }) as ClusterBGP;

const nodes: NodeInfo[] = [
  { name: "n1", labels: { "tern.dev/asn": "65001", rack: "a" }, internalIPs: ["192.0.2.1"] },
  { name: "n2", labels: { "tern.dev/asn": "bad", rack: "a" }, internalIPs: ["fd00::2"] },
  { name: "n3", labels: { rack: "b", "tern.dev/router-id": "192.0.2.33" }, internalIPs: [] },
];

Deno.test("bgp plan: ASN and router id selectors, templates, inline peers and problems", () => {
  const templates = new Map<string, BGPPeerTemplate>([["tor", {
    apiVersion: "tern.dev/v1alpha1",
    kind: "BGPPeerTemplate",
    metadata: { name: "tor" },
    spec: { asn: 65000, addr: "fd00::ff", groups: [] },
  } as unknown as BGPPeerTemplate]]);
  const plan = planClusterBGP(
    cbgp("c", {
      asnSelector: { from: "label" },
      routerIdSelector: { from: "internalAddress" },
      peers: [
        { name: "tor", peerTemplateRef: "tor" },
        { name: "gone", peerTemplateRef: "missing" },
        {
          name: "x",
          peerConfig: { asn: 65010, addr: "192.0.2.254" },
          nodeBGPSelector: { rack: "b" },
        },
      ],
    }),
    nodes,
    templates,
  );
  assert.equal(plan.desiredNodes, 3);
  assert.deepEqual(plan.nodes.map((n) => [n.node, n.asn, n.routerId]), [[
    "n1",
    65001,
    "192.0.2.1",
  ]]);
  assert.deepEqual(plan.nodes[0]!.peers.map((p) => p.name), ["tor-n1-65000-fd00--ff"]);
  assert.equal(plan.nodes[0]!.peers[0]!.spec.holdTime, 90, "defaults filled in");
  assert.equal(plan.nodes[0]!.peers[0]!.spec.groups, undefined, "empty groups dropped");
  const reasons = plan.problems.map((p) => p.reason).sort();
  assert.deepEqual(reasons, ["InvalidAsnLabel", "MissingAsnLabel", "UnknownTemplate"]);

  const byLabel = planClusterBGP(
    cbgp("d", {
      nodeSelector: { rack: "b" },
      routerIdSelector: { from: "label" },
      peers: [{ name: "x", peerConfig: { asn: 65010, addr: "192.0.2.254" } }],
    }),
    nodes,
    new Map(),
  );
  assert.deepEqual(byLabel.nodes.map((n) => [n.node, n.asn, n.routerId]), [[
    "n3",
    64512,
    "192.0.2.33",
  ]]);
  assert.equal(byLabel.nodes[0]!.peers[0]!.name, "d-n3-65010-192.0.2.254");
  assert.equal(peerName("T", "Node", 1, "FD00::1"), "t-node-1-fd00--1");
});

Deno.test("bgp plan: merging keeps the oldest ClusterBGP's node settings and drops duplicate peers", () => {
  const peer = { name: "p", peerConfig: { asn: 65000, addr: "192.0.2.254" } };
  const a = planClusterBGP(cbgp("a", { peers: [peer] }, "2026-01-01T00:00:00Z"), nodes, new Map());
  const b = planClusterBGP(
    cbgp("b", { asnSelector: { from: "asn", asn: 1 }, peers: [peer] }, "2026-01-02T00:00:00Z"),
    nodes,
    new Map(),
  );
  const c = planClusterBGP(cbgp("c", { peers: [peer] }, "2026-01-03T00:00:00Z"), nodes, new Map());
  const merged = mergePlans([a, b, c]);
  assert.equal(merged.nodes.get("n1")!.asn, 64512);
  assert.deepEqual(merged.nodes.get("n1")!.clusterBGPs, ["a", "c"]);
  assert.equal(merged.conflicts.get("b")![0]!.reason, "NodeConflict");
  assert.equal(merged.conflicts.get("c")![0]!.reason, "DuplicatePeer");
  assert.deepEqual([...merged.peers.keys()], ["a-n1-65000-192.0.2.254"]);
  assert.equal(nodeInfoOf({ metadata: { name: "x" } }).internalIPs.length, 0);
});

Deno.test("advertisement plan: aggregation, names, targets by node and group", () => {
  assert.equal(announcedPrefix("198.51.100.77", 24), "198.51.100.0/24");
  assert.equal(announcedPrefix("198.51.100.77", undefined), "198.51.100.77/32");
  assert.equal(announcedPrefix("fd00::1:2", 112), "fd00::1:0/112");
  const ads = serviceAds(
    { namespace: "ns", name: "web", uid: "u" },
    [{ ip: "198.51.100.1", aggregationLength: 24 }, { ip: "198.51.100.2", aggregationLength: 24 }, {
      ip: "fd00::5",
    }],
    { nodes: ["n1"], groups: ["g"] },
  );
  assert.deepEqual(ads.map((a) => [a.name, a.cidr, a.family]), [
    ["web-198-51-100-0-24", "198.51.100.0/24", "ipv4"],
    ["web-fd00--5-128", "fd00::5/128", "ipv6"],
  ]);
  const peers = [
    { name: "a", node: "n1", groups: ["g"] },
    { name: "b", node: "n1", groups: ["other"] },
    { name: "c", node: "n2", groups: [] },
    { name: "d", node: "n1", groups: [] },
  ];
  assert.deepEqual(targetPeers(ads[0]!, peers), ["a", "d"]);
  assert.deepEqual(targetPeers({ ...ads[0]!, nodes: "all", groups: undefined }, peers), [
    "a",
    "b",
    "c",
    "d",
  ]);
  assert.equal(objectNameOf("x".repeat(300), "tail").length, 253);
});

Deno.test("service view: class policy and requests; bad annotations are typed errors", () => {
  const svc = (spec: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
    metadata: { name: "s", namespace: "ns", annotations },
    spec: { type: "LoadBalancer", ...spec },
  });
  const policy = { lbClass: "tern.dev/bgp", handleClassless: true };
  assert.equal(isManaged(svc({}), policy), true);
  assert.equal(isManaged(svc({}), { ...policy, handleClassless: false }), false);
  assert.equal(
    isManaged(svc({ loadBalancerClass: "tern.dev/bgp" }), { ...policy, handleClassless: false }),
    true,
  );
  assert.equal(isManaged(svc({ loadBalancerClass: "other" }), policy), false);
  assert.equal(isManaged(svc({ type: "ClusterIP" }), policy), false);
  const req = serviceRequest(
    svc({
      ipFamilies: ["IPv6", "IPv4"],
      ipFamilyPolicy: "PreferDualStack",
      externalTrafficPolicy: "Local",
      selector: { b: "2", a: "1" },
      ports: [{ port: 53, protocol: "UDP" }],
    }, { "tern.dev/addresspool": "x, y", "tern.dev/allow-shared-ip": "k" }),
    { team: "t" },
  );
  assert.deepEqual(req.families, [6, 4]);
  assert.equal(req.familyPolicy, "PreferDualStack");
  assert.deepEqual(req.pools, ["x", "y"]);
  assert.equal(req.selectorKey, "a=1,b=2");
  assert.equal(req.trafficPolicy, "Local");
  assert.throws(
    () => serviceRequest(svc({}, { "tern.dev/loadBalancerIPs": "1.2.3" }), {}),
    BadAnnotationError,
  );
  assert.throws(
    () => serviceRequest(svc({}, { "tern.dev/peer-groups": "A B" }), {}),
    BadAnnotationError,
  );
});

Deno.test("conditions keep their transition time while the status holds; covers compares subsets", () => {
  const t1 = conditionTime(0), t2 = conditionTime(60_000);
  const a = setCondition([], { type: "Ready", status: "True", reason: "R", message: "m" }, t1);
  const b = setCondition(a, { type: "Ready", status: "True", reason: "R2", message: "m2" }, t2);
  assert.equal(b[0]!.lastTransitionTime, t1);
  const c = setCondition(b, { type: "Ready", status: "False", reason: "R", message: "m" }, t2);
  assert.equal(c[0]!.lastTransitionTime, t2);
  assert.equal(sameConditions(a, b), false);
  assert.equal(sameConditions(a, [...a]), true);
  assert.equal(covers({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } }), true);
  assert.equal(covers({ a: [1, 2] }, { a: [1] }), false);
});

Deno.test("controller flags: defaults, durations and typed errors", () => {
  const f = parseControllerFlags([]);
  assert.equal(f.namespace, "tern-system");
  assert.equal(f.lbClass, "tern.dev/bgp");
  assert.equal(f.handleClassless, true);
  assert.equal(f.repair, false);
  const g = parseControllerFlags([
    "--kubeconfig=/k",
    "--namespace",
    "ns",
    "--lease-duration",
    "20s",
    "--handle-classless=false",
    "--repair",
    "--lb-class",
    "example.com/lb",
  ]);
  assert.deepEqual(
    [g.kubeconfig, g.namespace, g.leaseDurationMs, g.handleClassless, g.repair, g.lbClass],
    ["/k", "ns", 20_000, false, true, "example.com/lb"],
  );
  assert.equal(parseDuration("--x", "1500ms"), 1500);
  assert.equal(parseDuration("--x", "2m"), 120_000);
  assert.throws(() => parseControllerFlags(["--lease-duration", "soon"]), InvalidFlagError);
  assert.throws(() => parseControllerFlags(["--nope"]), InvalidFlagError);
  assert.throws(() => parseControllerFlags(["--handle-classless=maybe"]), InvalidFlagError);
});
