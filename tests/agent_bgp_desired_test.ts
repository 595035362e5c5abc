/**
 * The agent's BGP wiring, pure part: the speaker configuration from NodeBGP, BGPPeers and
 * BGPAdvertisements; BGPPeer statuses from session states; advertisement per-peer states.
 */
import assert from "node:assert/strict";
import {
  advertisementPeerStates,
  type BGPAdvertisementObject,
  type BGPPeerObject,
  type NodeBGPObject,
  nodePeers,
  nodePrefixes,
  peerStatusChanged,
  peerStatusFor,
  speakerConfigFor,
} from "../actors/agent_bgp/desired.ts";
import { ConfigError } from "../actors/bgp/config.ts";
import type { PeerStatus } from "../actors/bgp/peer_actor.ts";
import { desiredAdvertisements } from "../actors/sim/advertiser.ts";
import { makePlan } from "../actors/sim/plan.ts";
import type { SimEndpointSlice, SimService } from "../actors/sim/endpoints.ts";

const nodeBgp: NodeBGPObject = {
  metadata: { name: "node-1" },
  spec: { asn: 65101, routerId: "198.19.254.11" },
};

function peer(name: string, node: string, addr: string, asn: number): BGPPeerObject {
  return {
    metadata: { name },
    spec: { node, addr, asn, holdTime: 9, keepaliveTime: 3, families: ["ipv4-unicast"] },
  };
}

const peers = [
  peer("b", "node-1", "192.0.2.2", 65002),
  peer("a", "node-1", "192.0.2.1", 65001),
  peer("c", "node-2", "192.0.2.1", 65001),
];

function ad(name: string, cidr: string, targets: string[]): BGPAdvertisementObject {
  return { metadata: { name, namespace: "x" }, spec: { cidr, peers: targets } };
}

Deno.test("agent_bgp: the node's peers and the prefixes aimed at them", () => {
  const mine = nodePeers("node-1", peers);
  assert.deepEqual(mine.map((p) => p.metadata.name), ["a", "b"]);
  const ads = [
    ad("one", "198.18.0.0/25", ["a", "b"]),
    ad("two", "203.0.113.5/32", ["c"]),
    ad("three", "203.0.113.6/32", ["b"]),
    { ...ad("gone", "203.0.113.7/32", ["a"]), metadata: { name: "gone", deletionTimestamp: "x" } },
  ];
  assert.deepEqual(nodePrefixes(mine, ads), ["198.18.0.0/25", "203.0.113.6/32"]);
});

Deno.test("agent_bgp: speaker configuration, validated by the speaker's validator", () => {
  const cfg = speakerConfigFor(nodeBgp, nodePeers("node-1", peers), ["198.18.0.0/25"]);
  assert.equal(cfg.asn, 65101);
  assert.equal(cfg.routerId, "198.19.254.11");
  assert.deepEqual(cfg.peers.map((p) => [p.address, p.asn, p.holdTime, p.families]), [
    ["192.0.2.1", 65001, 9, ["ipv4"]],
    ["192.0.2.2", 65002, 9, ["ipv4"]],
  ]);
  assert.deepEqual(cfg.prefixes.map((p) => p.prefix), ["198.18.0.0/25"]);
  const bad = { ...nodeBgp, spec: { asn: 65101, routerId: "0.0.0.0" } };
  assert.throws(() => speakerConfigFor(bad, [], []), ConfigError);
  const badPeer = peer("z", "node-1", "192.0.2.9", 65009);
  badPeer.spec.holdTime = 2;
  assert.throws(() => speakerConfigFor(nodeBgp, [badPeer], []), /holdTime/);
});

Deno.test("agent_bgp: speaker.multipath of the NodeBGP relaxes ECMP across peer ASes", () => {
  const mine = nodePeers("node-1", peers);
  const plain = speakerConfigFor(nodeBgp, mine, []);
  assert.deepEqual([plain.multipath, plain.multipathRelax], [true, false]);
  const off = speakerConfigFor(
    { ...nodeBgp, spec: { ...nodeBgp.spec, speaker: { multipath: false } } },
    mine,
    [],
  );
  assert.deepEqual([off.multipath, off.multipathRelax], [true, false]);
  const on = speakerConfigFor(
    { ...nodeBgp, spec: { ...nodeBgp.spec, speaker: { multipath: true } } },
    mine,
    [],
  );
  assert.deepEqual([on.multipath, on.multipathRelax], [true, true]);
});

function session(state: string, extra: Partial<PeerStatus> = {}): PeerStatus {
  return {
    address: "192.0.2.1",
    asn: 65001,
    state,
    uptimeSeconds: state === "Established" ? 10 : 0,
    type: "ebgp",
    passive: false,
    multihop: 1,
    families: ["ipv4"],
    prefixesReceived: 4,
    prefixesSent: 2,
    messagesReceived: 1,
    messagesSent: 1,
    connectRetryCounter: 3,
    establishedCount: 1,
    peerGracefulRestart: false,
    ...extra,
  } as PeerStatus;
}

Deno.test("agent_bgp: BGPPeer status follows the session; stable while nothing changes", () => {
  const now = new Date("2026-11-23T07:00:00Z");
  const p = peer("a", "node-1", "192.0.2.1", 65001);
  const up = peerStatusFor(p, session("Established"), now);
  assert.equal(up.sessionState, "Established");
  assert.equal(up.establishedSince, "2026-11-23T06:59:50.000Z");
  assert.equal(up.prefixesReceived, 4);
  assert.equal(up.prefixesAdvertised, 2);
  assert.equal(up.backoff, 0);
  assert.equal(up.conditions![0].status, "True");
  p.status = up;
  const later = peerStatusFor(p, session("Established"), new Date("2026-11-23T07:00:05Z"));
  assert.equal(peerStatusChanged(p.status, later), false, "an unchanged session rewrites nothing");
  const down = peerStatusFor(p, session("Active", { lastError: "connection refused" }), now);
  assert.equal(down.sessionState, "Active");
  assert.equal(down.establishedSince, undefined);
  assert.equal(down.backoff, 3);
  assert.equal(down.lastError, "connection refused");
  assert.equal(down.conditions![0].status, "False");
  assert.match(down.conditions![0].message!, /Active: connection refused/);
  assert.equal(peerStatusFor(p, undefined, now).sessionState, "Idle");
});

/** `prefix` originated towards both of node-1's peers. */
const sentTo = (prefix: string) => new Map([[prefix, new Set(["192.0.2.1", "192.0.2.2"])]]);

Deno.test("agent_bgp: advertisement state per targeted peer of this node", () => {
  const mine = nodePeers("node-1", peers);
  const sessions = new Map([["192.0.2.1", session("Established")], [
    "192.0.2.2",
    session("Active"),
  ]]);
  const a = ad("one", "198.18.0.0/25", ["a", "b", "c"]);
  assert.deepEqual(advertisementPeerStates(a, mine, sessions, sentTo("198.18.0.0/25")), {
    a: "Advertised",
    b: "NotAdvertised",
  });
  const v6 = ad("six", "fd00:10::/122", ["a"]);
  assert.deepEqual(
    advertisementPeerStates(v6, mine, sessions, sentTo("fd00:10::/122")),
    { a: "NotAdvertised" },
    "an IPv4-only session does not carry an IPv6 prefix",
  );
  assert.deepEqual(advertisementPeerStates(a, mine, sessions, new Map()), {
    a: "NotAdvertised",
    b: "NotAdvertised",
  });
});

Deno.test("sim advertiser: pod blocks to their node's peers, Cluster to all, Local to endpoints", () => {
  const plan = makePlan({ prefix: "tn-e2e-adv001", nodes: 3 });
  const ps = plan.nodes.flatMap((n) => [
    peer(`s0-${n.name}`, n.name, "192.0.2.1", 65001),
    peer(`s1-${n.name}`, n.name, "192.0.2.2", 65002),
  ]);
  const svc = (name: string, policy: string, ip: string): SimService => ({
    metadata: { name, namespace: "ns" },
    spec: { type: "LoadBalancer", externalTrafficPolicy: policy, selector: { a: "b" } },
    status: { loadBalancer: { ingress: [{ ip }] } },
  });
  const slice: SimEndpointSlice = {
    metadata: { name: "loc-sim", namespace: "ns", labels: { "kubernetes.io/service-name": "loc" } },
    addressType: "IPv4",
    endpoints: [
      {
        addresses: ["198.18.1.1"],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: "node-2",
      },
      {
        addresses: ["198.18.2.1"],
        conditions: { ready: false, serving: false, terminating: false },
        nodeName: "node-3",
      },
    ],
    ports: [],
  };
  const want = desiredAdvertisements(
    plan,
    (n) => [`198.18.${n.index - 1}.0/25`],
    ps,
    [svc("clu", "Cluster", "203.0.113.5"), svc("loc", "Local", "203.0.113.6")],
    [slice],
  );
  const by = new Map(want.map((d) => [d.cidr, d]));
  assert.deepEqual(by.get("198.18.0.0/25")?.peers, ["s0-node-1", "s1-node-1"]);
  assert.equal(by.get("198.18.0.0/25")?.namespace, "tern-system");
  assert.equal(by.get("203.0.113.5/32")?.peers.length, 6);
  assert.deepEqual(by.get("203.0.113.6/32")?.peers, ["s0-node-2", "s1-node-2"]);
  assert.equal(by.get("203.0.113.6/32")?.namespace, "ns");
});

Deno.test("agent_bgp: a duplicate peer never makes the node's speaker configuration invalid", () => {
  const peer = (name: string, created: string, annotations?: Record<string, string>) => ({
    metadata: { name, creationTimestamp: created, ...(annotations ? { annotations } : {}) },
    spec: { node: "node-1", asn: 65001, addr: "192.0.2.1" },
  });
  const kept = peer("spine0-node-1", "2026-11-23T08:00:00Z");
  const marked = peer("hand-made", "2026-11-23T08:01:00Z", {
    "tern.dev/duplicate-of": "spine0-node-1",
  });
  const unmarked = peer("a-hand-made", "2026-11-23T08:02:00Z");
  const other = {
    ...peer("spine1-node-1", "2026-11-23T08:00:00Z"),
    spec: { node: "node-1", asn: 65002, addr: "192.0.2.2" },
  };
  // deno-lint-ignore no-explicit-any
  const names = nodePeers("node-1", [marked, unmarked, kept, other] as any).map((p) =>
    p.metadata.name
  );
  assert.deepEqual(names, ["spine0-node-1", "spine1-node-1"]);
});
