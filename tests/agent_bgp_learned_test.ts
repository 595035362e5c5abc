import assert from "node:assert/strict";
import { LearnedRoutes, peerSource } from "../actors/agent_bgp/learned.ts";
import { nodePrefixes } from "../actors/agent_bgp/desired.ts";
import type { BGPAdvertisementObject, BGPPeerObject } from "../actors/agent_bgp/desired.ts";
import { AgentConfigError, parseAgentFlags } from "../actors/agent/config.ts";
import type { BestChange, Route } from "../actors/bgp/rib.ts";
import { resolveNextHop } from "../actors/agent_bgp/nexthop_resolve.ts";
import type { RouteInfo } from "../actors/netlink/route_codec.ts";

function route(peer: string, nextHop: string, local = false): Route {
  return {
    source: { peer, asn: 65010, bgpId: peer, ibgp: false, local },
    attrs: {} as Route["attrs"],
    nextHop,
    stale: false,
  };
}
function change(prefix: string, paths: Route[]): BestChange {
  return { prefix, family: prefix.includes(":") ? "ipv6" : "ipv4", best: paths[0] ?? null, paths };
}

const A = "198.51.100.2", B = "198.51.100.6";

Deno.test("agent_bgp learned: one source per peer, withdrawal removes only that next hop", () => {
  const l = new LearnedRoutes();
  const p0 = l.apply([change("203.0.113.0/24", [route(A, A), route(B, B)])], true);
  assert.deepEqual(
    [...p0.replace!].sort(),
    [
      [peerSource(A), [{ dst: "203.0.113.0/24", nexthops: [{ gateway: A }] }]],
      [peerSource(B), [{ dst: "203.0.113.0/24", nexthops: [{ gateway: B }] }]],
    ],
  );
  const p1 = l.apply([change("203.0.113.0/24", [route(A, A)])], false);
  assert.deepEqual([...p1.withdraw], [[peerSource(B), ["203.0.113.0/24"]]]);
  assert.equal(p1.set.size, 0);
  const p2 = l.apply([change("203.0.113.0/24", [])], false);
  assert.deepEqual([...p2.withdraw], [[peerSource(A), ["203.0.113.0/24"]]]);
  assert.equal(l.size, 0);
  // A new next hop from the same peer replaces its contribution.
  l.apply([change("198.18.0.0/16", [route(A, A)])], false);
  const p3 = l.apply([change("198.18.0.0/16", [route(A, "198.51.100.9")])], false);
  assert.deepEqual([...p3.set], [[peerSource(A), [{
    dst: "198.18.0.0/16",
    nexthops: [{ gateway: "198.51.100.9" }],
  }]]]);
  assert.equal(p3.withdraw.size, 0);
});

Deno.test("agent_bgp learned: local paths and link-local next hops are not installed", () => {
  const l = new LearnedRoutes();
  const p = l.apply([
    change("203.0.113.0/24", [route("local", "0.0.0.0", true)]),
    change("fd00:1::/64", [route("fd00::2", "fe80::1")]),
  ], false);
  assert.equal(p.set.size, 0);
  assert.equal(p.skipped, 1);
  assert.equal(l.size, 0);
});

Deno.test("agent_bgp learned: a full table empties sources it no longer mentions", () => {
  const l = new LearnedRoutes();
  l.apply([change("203.0.113.0/24", [route(A, A), route(B, B)])], false);
  const p = l.apply([change("198.18.0.0/15", [route(A, A)])], true);
  assert.deepEqual(p.replace!.get(peerSource(B)), []);
  assert.deepEqual(p.replace!.get(peerSource(A)), [{
    dst: "198.18.0.0/15",
    nexthops: [{ gateway: A }],
  }]);
  assert.deepEqual([...l.clear()].sort(), [[peerSource(A), []], [peerSource(B), []]]);
});

Deno.test("agent_bgp mode: flags and the advertisement types of each mode", () => {
  assert.equal(parseAgentFlags([], "n1").mode, "dual");
  assert.equal(parseAgentFlags(["--mode", "cni"], "n1").mode, "cni");
  assert.equal(parseAgentFlags(["--mode=lb", "--in-cluster"], "n1").mode, "lb");
  assert.equal(parseAgentFlags(["--bgp-route-protocol", "200"], "n1").bgpRouteProtocol, 200);
  assert.throws(
    () => parseAgentFlags(["--mode", "both"], "n1"),
    (e: unknown) =>
      e instanceof AgentConfigError && e.code === "invalid_agent_flag" &&
      e.message.includes('"both"'),
  );
  assert.throws(() => parseAgentFlags(["--mode", "lb"], "n1"), AgentConfigError);
  assert.throws(() => parseAgentFlags(["--mode", "lb", "--in-cluster", "--no-bgp"], "n1"));
  assert.equal(parseAgentFlags(["--in-cluster"], "n1").bgp, true);
  assert.equal(parseAgentFlags(["--in-cluster", "--no-bgp"], "n1").bgp, false);
  assert.throws(() => parseAgentFlags(["--bgp-route-protocol", "0"], "n1"), AgentConfigError);
  const peers = [{
    metadata: { name: "p" },
    spec: { node: "n1", asn: 1, addr: A },
  }] as BGPPeerObject[];
  const ad = (name: string, cidr: string, type?: string) =>
    ({
      metadata: { name, namespace: "kube-system" },
      spec: { cidr, type, peers: ["p"] },
    }) as BGPAdvertisementObject;
  const ads = [
    ad("pod", "198.18.0.0/24", "pod"),
    ad("lb", "203.0.113.7/32", "service"),
    ad("x", "198.18.9.0/24"),
  ];
  assert.deepEqual(nodePrefixes(peers, ads), ["198.18.0.0/24", "198.18.9.0/24", "203.0.113.7/32"]);
  assert.deepEqual(nodePrefixes(peers, ads, ["pod"]), ["198.18.0.0/24", "198.18.9.0/24"]);
  assert.deepEqual(nodePrefixes(peers, ads, ["service"]), ["198.18.9.0/24", "203.0.113.7/32"]);
});

const R = (dst: string, extra: Partial<RouteInfo> = {}): RouteInfo => ({
  family: dst.includes(":") ? 10 : 2,
  dst,
  table: 254,
  protocol: 4,
  scope: 0,
  type: "unicast",
  flags: 0,
  ...extra,
});

Deno.test("agent_bgp resolve: connected, recursive, ECMP; never via default or learned routes", () => {
  const table = [
    R("0.0.0.0/0", { gateway: "192.0.2.64", oif: 3 }),
    R("192.0.2.64/31", { protocol: 2, scope: 253, oif: 3 }),
    R("192.0.2.1/32", { gateway: "192.0.2.64", oif: 3 }),
    R("192.0.2.0/24", {
      nexthops: [{ gateway: "192.0.2.64", oif: 3 }, { gateway: "192.0.2.128", oif: 4 }],
    }),
    R("198.51.100.0/24", { protocol: 186, gateway: "192.0.2.64", oif: 3 }),
    R("203.0.113.0/24", { type: "blackhole" }),
  ];
  assert.deepEqual(resolveNextHop("192.0.2.65", table, 186), [{ gateway: "192.0.2.65", oif: 3 }]);
  assert.deepEqual(resolveNextHop("192.0.2.1", table, 186), [{ gateway: "192.0.2.64", oif: 3 }]);
  assert.deepEqual(resolveNextHop("192.0.2.2", table, 186), [
    { gateway: "192.0.2.64", oif: 3 },
    { gateway: "192.0.2.128", oif: 4 },
  ]);
  assert.equal(resolveNextHop("198.51.100.7", table, 186), null); // only default and learned
  assert.equal(resolveNextHop("203.0.113.1", table, 186), null); // blackhole
  assert.equal(resolveNextHop("not-an-address", table, 186), null);
});

Deno.test("agent_bgp learned: unresolved next hops are stated once they resolve", () => {
  let table: RouteInfo[] = [];
  const l = new LearnedRoutes((nh) => resolveNextHop(nh, table, 186));
  const p0 = l.apply([change("203.0.113.0/24", [route("192.0.2.1", "192.0.2.1")])], false);
  assert.equal(p0.set.size, 0);
  assert.equal(p0.unresolved, 1);
  table = [R("192.0.2.1/32", { gateway: "192.0.2.64", oif: 3 })];
  const p1 = l.reresolve();
  assert.deepEqual([...p1.set], [[peerSource("192.0.2.1"), [{
    dst: "203.0.113.0/24",
    nexthops: [{ gateway: "192.0.2.64", oif: 3 }],
  }]]]);
  assert.equal(l.reresolve().set.size, 0); // nothing changed: nothing stated again
  table = [];
  assert.deepEqual([...l.reresolve().withdraw], [[peerSource("192.0.2.1"), ["203.0.113.0/24"]]]);
});
