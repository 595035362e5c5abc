/**
 * The agent's per-peer advertisement targeting, pure part: each BGPAdvertisement's `spec.peers`
 * (BGPPeer names) mapped to the addresses of this node's speaker peers, the speaker
 * configuration carrying them, and the per-peer advertisement states written back (Advertised
 * only towards peers the prefix is really sent to).
 */
import assert from "node:assert/strict";
import {
  adTargetNames,
  advertisementPeerStates,
  advertisementStatesChanged,
  type BGPAdvertisementObject,
  type BGPPeerObject,
  type NodeBGPObject,
  nodeOriginated,
  nodePeers,
  peerKey,
  speakerConfigFor,
} from "../actors/agent_bgp/desired.ts";
import type { PeerStatus } from "../actors/bgp/peer_actor.ts";

const nodeBgp: NodeBGPObject = {
  metadata: { name: "node-1" },
  spec: { asn: 65101, routerId: "198.19.254.11" },
};

function peer(name: string, node: string, addr: string): BGPPeerObject {
  return { metadata: { name }, spec: { node, addr, asn: 65000, families: ["ipv4-unicast"] } };
}

// node-1 has two peers (an FRR spine and a BIRD spine); node-2 has its own.
const peers = [
  peer("frr-node-1", "node-1", "192.0.2.1"),
  peer("bird-node-1", "node-1", "192.0.2.2"),
  peer("frr-node-2", "node-2", "192.0.2.5"),
];
const mine = nodePeers("node-1", peers);

function ad(
  name: string,
  cidr: string,
  targets: string[],
  extra: Partial<BGPAdvertisementObject["spec"]> = {},
): BGPAdvertisementObject {
  return { metadata: { name, namespace: "x" }, spec: { cidr, peers: targets, ...extra } };
}

function session(address: string, state = "Established", families = ["ipv4"]): PeerStatus {
  return { address, state, families } as unknown as PeerStatus;
}

Deno.test("agent_bgp targeting: spec.peers become the addresses of this node's peers", () => {
  const ads = [
    ad("both", "198.18.0.0/25", ["frr-node-1", "bird-node-1", "frr-node-2"]),
    ad("frr-only", "203.0.113.5/32", ["frr-node-1", "frr-node-2"]),
    ad("elsewhere", "203.0.113.6/32", ["frr-node-2"]),
    // Two advertisements of one prefix: the union of their peers.
    ad("agg-a", "198.51.100.0/24", ["bird-node-1"]),
    ad("agg-b", "198.51.100.0/24", ["frr-node-2", "frr-node-1"]),
    ad("pods", "198.18.1.0/25", ["bird-node-1"], { type: "pod" }),
    {
      ...ad("going", "203.0.113.7/32", ["frr-node-1"]),
      metadata: { name: "going", namespace: "x", deletionTimestamp: "2026-11-23T00:00:00Z" },
    },
  ];
  assert.deepEqual(nodeOriginated(mine, ads), [
    { prefix: "198.18.0.0/25", peers: ["192.0.2.1", "192.0.2.2"] },
    { prefix: "198.18.1.0/25", peers: ["192.0.2.2"] },
    { prefix: "198.51.100.0/24", peers: ["192.0.2.1", "192.0.2.2"] },
    { prefix: "203.0.113.5/32", peers: ["192.0.2.1"] },
  ]);
  assert.deepEqual(
    nodeOriginated(mine, ads, ["service"]).map((t) => t.prefix),
    ["198.18.0.0/25", "198.51.100.0/24", "203.0.113.5/32"],
    "another mode's advertisements are left out",
  );
  // The speaker configuration carries the targets; plain prefixes still go everywhere.
  const cfg = speakerConfigFor(nodeBgp, mine, [...nodeOriginated(mine, ads), "198.18.9.0/24"]);
  assert.deepEqual(cfg.prefixes.map((p) => [p.prefix, p.peers]), [
    ["198.18.0.0/25", ["192.0.2.1", "192.0.2.2"]],
    ["198.18.1.0/25", ["192.0.2.2"]],
    ["198.51.100.0/24", ["192.0.2.1", "192.0.2.2"]],
    ["203.0.113.5/32", ["192.0.2.1"]],
    ["198.18.9.0/24", undefined],
  ]);
});

Deno.test("agent_bgp targeting: Advertised only towards peers the prefix is sent to", () => {
  const sessions = new Map([
    ["192.0.2.1", session("192.0.2.1")],
    ["192.0.2.2", session("192.0.2.2")],
  ]);
  const a = ad("frr-only", "203.0.113.5/32", ["frr-node-1", "frr-node-2"]);
  const sentTo = (...addrs: string[]) => new Map([["203.0.113.5/32", new Set(addrs)]]);
  // Sent to FRR only: BIRD's session is up but does not get it, and is not named.
  assert.deepEqual(advertisementPeerStates(a, mine, sessions, sentTo("192.0.2.1")), {
    "frr-node-1": "Advertised",
  });
  // The speaker not configured yet for it: NotAdvertised.
  assert.deepEqual(advertisementPeerStates(a, mine, sessions, new Map()), {
    "frr-node-1": "NotAdvertised",
  });
  // Retargeted to BIRD: the old entry of FRR is removed once nothing is sent to it (null in a
  // merge patch), BIRD shows Advertised.
  const moved: BGPAdvertisementObject = {
    ...ad("frr-only", "203.0.113.5/32", ["bird-node-1"]),
    status: { peers: { "frr-node-1": "Advertised", "frr-node-2": "Advertised" } },
  };
  const states = advertisementPeerStates(moved, mine, sessions, sentTo("192.0.2.2"));
  assert.deepEqual(states, { "frr-node-1": null, "bird-node-1": "Advertised" });
  assert.equal(advertisementStatesChanged(moved.status?.peers, states), true);
  // ...but kept while the speaker still sends it there (not reconfigured yet).
  assert.deepEqual(
    advertisementPeerStates(moved, mine, sessions, sentTo("192.0.2.1", "192.0.2.2")),
    { "bird-node-1": "Advertised" },
  );
  // Another node's entries are never touched; a written state is not rewritten.
  const written = {
    ...moved,
    status: { peers: { "frr-node-2": "Advertised", "bird-node-1": "Advertised" } },
  };
  const again = advertisementPeerStates(written, mine, sessions, sentTo("192.0.2.2"));
  assert.deepEqual(again, { "bird-node-1": "Advertised" });
  assert.equal(advertisementStatesChanged(written.status.peers, again), false);
  // A session down, or one without the prefix's family: NotAdvertised.
  const down = new Map([["192.0.2.2", session("192.0.2.2", "Active")]]);
  assert.deepEqual(advertisementPeerStates(moved, mine, down, sentTo("192.0.2.2")), {
    "frr-node-1": null,
    "bird-node-1": "NotAdvertised",
  });
  const v6 = ad("six", "fd00:10::/122", ["bird-node-1"]);
  assert.deepEqual(
    advertisementPeerStates(
      v6,
      mine,
      sessions,
      new Map([["fd00:10::/122", new Set(["192.0.2.2"])]]),
    ),
    { "bird-node-1": "NotAdvertised" },
  );
  // Being deleted: Withdrawn once no longer sent.
  const going: BGPAdvertisementObject = {
    ...a,
    metadata: { ...a.metadata, deletionTimestamp: "2026-11-23T00:00:00Z" },
  };
  assert.deepEqual(advertisementPeerStates(going, mine, sessions, new Map()), {
    "frr-node-1": "Withdrawn",
  });
  assert.deepEqual(advertisementPeerStates(going, mine, sessions, sentTo("192.0.2.1")), {
    "frr-node-1": "Advertised",
  }, "still sent: still Advertised");
  assert.equal(advertisementStatesChanged(undefined, { x: null }), false, "nothing to remove");
  // A BGPPeer address written non-canonically still finds its session and export (the
  // speaker keys peers by canonical address).
  const v6peer = peer("v6", "node-1", "FD00:0:0::9");
  const v6ad = ad("v6ad", "fd00:20::/64", ["v6"]);
  assert.equal(peerKey("FD00:0:0::9"), "fd00::9");
  assert.deepEqual(
    advertisementPeerStates(
      v6ad,
      [v6peer],
      new Map([["fd00::9", session("fd00::9", "Established", ["ipv6"])]]),
      new Map([["fd00:20::/64", new Set(["fd00::9"])]]),
    ),
    { v6: "Advertised" },
  );
});

Deno.test("agent_bgp: an advertisement's path attributes reach the speaker configuration", () => {
  const withAttrs = (
    name: string,
    attributes: NonNullable<BGPAdvertisementObject["spec"]["attributes"]>,
    peerNames: string[],
  ): BGPAdvertisementObject => ({
    metadata: { name },
    spec: { cidr: "203.0.113.7/32", type: "service", family: "ipv4", peers: peerNames, attributes },
  });
  const ads = [
    withAttrs("b", { communities: ["65001:200"], localPref: 200 }, ["bird-node-1"]),
    withAttrs("a", { communities: ["65001:100"], largeCommunities: ["65101:1:2"] }, ["frr-node-1"]),
    // Another node's peer only: not originated here, its attributes do not count.
    withAttrs("c", { communities: ["65001:999"], localPref: 50 }, ["frr-node-2"]),
  ];
  const originated = nodeOriginated(mine, ads);
  assert.deepEqual(originated, [{
    prefix: "203.0.113.7/32",
    peers: ["192.0.2.1", "192.0.2.2"],
    communities: ["65001:100", "65001:200"],
    largeCommunities: ["65101:1:2"],
    localPref: 200,
  }]);
  const config = speakerConfigFor(nodeBgp, mine, originated);
  const p = config.prefixes[0];
  assert.deepEqual(p.communities, [65001 * 65536 + 100, 65001 * 65536 + 200]);
  assert.deepEqual(p.largeCommunities, [[65101, 1, 2]]);
  assert.equal(p.localPref, 200);
  assert.deepEqual(p.peers, ["192.0.2.1", "192.0.2.2"]);
  // Without attributes nothing is added.
  const plain = nodeOriginated(mine, [withAttrs("d", {}, ["frr-node-1"])]);
  assert.deepEqual(plain, [{ prefix: "203.0.113.7/32", peers: ["192.0.2.1"] }]);
});

Deno.test("agent_bgp targeting: a hand-written advertisement without peers goes to every peer of its family, narrowed by groups", () => {
  const grouped = (name: string, node: string, addr: string, groups: string[]): BGPPeerObject => ({
    metadata: { name },
    spec: { node, addr, asn: 65000, groups },
  });
  const all = nodePeers("node-1", [
    grouped("frr-node-1", "node-1", "192.0.2.1", ["to-frr"]),
    grouped("bird-node-1", "node-1", "192.0.2.2", ["to-bird"]),
    grouped("frr6-node-1", "node-1", "fd00:2::1", ["to-frr"]),
    grouped("frr-node-2", "node-2", "192.0.2.5", ["to-frr"]),
  ]);
  const handWritten = ad("everyone", "203.0.113.9/32", []);
  delete handWritten.spec.peers;
  const grp = ad("frr-group", "203.0.113.10/32", [], { groups: ["to-frr"] });
  const v6 = ad("v6", "fd00:203::9/128", []);
  const selected = ad("selected", "203.0.113.11/32", [], { nodeSelector: { matchLabels: {} } });
  const nobody = ad("nobody", "203.0.113.13/32", []); // an explicit empty list
  for (const a of [grp, v6, selected]) delete a.spec.peers;
  const controllers = {
    ...ad("ctl", "203.0.113.12/32", []),
    metadata: {
      name: "ctl",
      namespace: "x",
      labels: { "app.kubernetes.io/managed-by": "tern-controller" },
    },
  };
  assert.deepEqual([...adTargetNames(handWritten, all)].sort(), ["bird-node-1", "frr-node-1"]);
  assert.deepEqual([...adTargetNames(grp, all)], ["frr-node-1"]);
  assert.deepEqual([...adTargetNames(v6, all)], ["frr6-node-1"]);
  assert.deepEqual([...adTargetNames(selected, all)], [], "nodeSelector: left to the controller");
  assert.deepEqual([...adTargetNames(controllers, all)], [], "the controller's empty list: nobody");
  assert.deepEqual([...adTargetNames(nobody, all)], [], "peers: [] is nobody");
  assert.deepEqual(
    nodeOriginated(all, [handWritten, grp, v6, selected, controllers, nobody]).map((t) => [
      t.prefix,
      t.peers,
    ]),
    [
      ["203.0.113.10/32", ["192.0.2.1"]],
      ["203.0.113.9/32", ["192.0.2.1", "192.0.2.2"]],
      ["fd00:203::9/128", ["fd00:2::1"]],
    ],
  );
  // Its status names the peers it is aimed at.
  const states = advertisementPeerStates(grp, all, new Map(), new Map());
  assert.deepEqual(states, { "frr-node-1": "NotAdvertised" });
});
