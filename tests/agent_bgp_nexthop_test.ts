/**
 * Next-hop choice of learned routes (IPv6 link-local next hops on their session's interface, as
 * FRR's zebra installs them; global ones resolved recursively), pure; and the route installer in
 * a network namespace, with `ip -6 route` as the oracle.
 */
import assert from "node:assert/strict";
import {
  chooseNextHop,
  isLinkLocal,
  nextHopKey,
  sessionInterface,
} from "../actors/agent_bgp/nexthop_resolve.ts";
import { LearnedRoutes, peerSource } from "../actors/agent_bgp/learned.ts";
import { routeInstaller } from "../actors/agent_bgp/route_installer.ts";
import type { BestChange, Route } from "../actors/bgp/rib.ts";
import type { BestPathEvent } from "../actors/bgp/rib_actor.ts";
import type { RouteInfo } from "../actors/netlink/route_codec.ts";
import { routeTable } from "../actors/netlink/route_table.ts";
import { loadNetlinkLibraries } from "../actors/netlink/mod.ts";
import { actor, type ActorRef, ActorSystem, supervisor } from "../runtime/mod.ts";
import { run } from "../actors/sim/exec.ts";

const LEARNED = 186;
// The netlink libraries stay loaded for the process (not a per-test resource).
loadNetlinkLibraries();

function r(dst: string, more: Partial<RouteInfo> = {}): RouteInfo {
  return { dst, table: 254, protocol: 2, type: "unicast", scope: 0, ...more } as RouteInfo;
}

// A node: two uplinks (oif 2 to spine0, oif 3 to spine1), static routes to the spines'
// loopbacks, an IPv6 default route over both, a route learned from BGP.
const TABLE: RouteInfo[] = [
  r("fd00:2:1:1::/64", { oif: 2, protocol: 2 }),
  r("fd00:2:2:1::/64", { oif: 3, protocol: 2 }),
  r("fe80::/64", { oif: 2, protocol: 2 }),
  r("fe80::/64", { oif: 3, protocol: 2 }),
  r("fd00:2::1/128", { gateway: "fd00:2:1:1::1", oif: 2, protocol: 3 }),
  r("fd00:2::2/128", { gateway: "fd00:2:2:1::1", oif: 3, protocol: 3 }),
  r("::/0", {
    protocol: 3,
    nexthops: [{ gateway: "fd00:2:1:1::1", oif: 2 }, { gateway: "fd00:2:2:1::1", oif: 3 }],
  }),
  r("fd00:9::/64", { gateway: "fd00:2:1:1::1", oif: 2, protocol: LEARNED }),
];

Deno.test("agent_bgp next hop: link-local preferred, on the session's interface", () => {
  // BIRD over a session from its loopback: global (its loopback) and the link's link-local.
  assert.deepEqual(
    chooseNextHop(
      { nextHop: "fd00:2::2", linkLocal: "fe80::2", peer: "fd00:2::2" },
      TABLE,
      LEARNED,
    ),
    [{ gateway: "fe80::2", oif: 3 }],
  );
  // A lone link-local next hop (global "::" on the wire): the same.
  assert.deepEqual(
    chooseNextHop({ nextHop: "fe80::1", peer: "fd00:2::1" }, TABLE, LEARNED),
    [{ gateway: "fe80::1", oif: 2 }],
  );
  // A directly connected peer: the connected route's interface.
  assert.deepEqual(
    chooseNextHop(
      { nextHop: "fd00:2:1:1::1", linkLocal: "FE80::a", peer: "fd00:2:1:1::1" },
      TABLE,
      LEARNED,
    ),
    [{ gateway: "FE80::a", oif: 2 }],
  );
});

Deno.test("agent_bgp next hop: global ones resolved recursively, as before", () => {
  assert.deepEqual(
    chooseNextHop({ nextHop: "fd00:2::1", peer: "fd00:2::1" }, TABLE, LEARNED),
    [{ gateway: "fd00:2:1:1::1", oif: 2 }],
  );
  assert.deepEqual(
    chooseNextHop({ nextHop: "fd00:2:2:1::1", peer: "fd00:2::2" }, TABLE, LEARNED),
    [{ gateway: "fd00:2:2:1::1", oif: 3 }],
  );
});

Deno.test("agent_bgp next hop: no single session interface falls back or fails", () => {
  // The peer is reached only by the default route (ECMP, two interfaces): the global next hop is
  // resolved recursively instead; without a global one, nothing.
  assert.equal(sessionInterface("fd00:77::1", TABLE, LEARNED), undefined);
  assert.deepEqual(
    chooseNextHop(
      { nextHop: "fd00:2::1", linkLocal: "fe80::1", peer: "fd00:77::1" },
      TABLE,
      LEARNED,
    ),
    [{ gateway: "fd00:2:1:1::1", oif: 2 }],
  );
  assert.equal(
    chooseNextHop({ nextHop: "fe80::1", peer: "fd00:77::1" }, TABLE, LEARNED),
    null,
  );
  // Nor through a route learned from BGP itself.
  assert.equal(sessionInterface("fd00:9::1", TABLE, LEARNED), undefined);
  assert.equal(chooseNextHop({ nextHop: "::", peer: "fd00:2::1" }, TABLE, LEARNED), null);
});

Deno.test("agent_bgp next hop: keys and the link-local test", () => {
  assert.ok(isLinkLocal("fe80::1") && isLinkLocal("FEBF::1") && !isLinkLocal("fec0::1"));
  assert.ok(!isLinkLocal("fd00::1") && !isLinkLocal("192.0.2.1"));
  assert.equal(nextHopKey({ nextHop: "192.0.2.1", peer: "192.0.2.1" }), "192.0.2.1");
  assert.notEqual(
    nextHopKey({ nextHop: "fd00:2::2", linkLocal: "fe80::2", peer: "fd00:2::2" }),
    nextHopKey({ nextHop: "fd00:2::2", linkLocal: "fe80::2", peer: "fd00:2::3" }),
  );
});

function path(peer: string, nextHop: string, linkLocalNextHop?: string): Route {
  return {
    source: { peer, asn: 65001, bgpId: "192.0.2.1", ibgp: false, local: false },
    attrs: {} as Route["attrs"],
    nextHop,
    ...(linkLocalNextHop ? { linkLocalNextHop } : {}),
    stale: false,
  };
}
function change(prefix: string, paths: Route[]): BestChange {
  return { prefix, family: "ipv6", best: paths[0] ?? null, paths };
}

Deno.test("agent_bgp learned: the resolver sees link-local next hops and their peer", () => {
  const seen: string[] = [];
  const l = new LearnedRoutes((_nh, p) => {
    seen.push(nextHopKey(p));
    return chooseNextHop(p, TABLE, LEARNED);
  });
  const plan = l.apply([
    change("fd00:10::40/122", [
      path("fd00:2::1", "fd00:2::1"),
      path("fd00:2::2", "fd00:2::2", "fe80::2"),
    ]),
    change("fd00:10::80/122", [path("fd00:2::1", "fe80::1")]),
  ], false);
  assert.equal(plan.skipped, 0);
  assert.deepEqual(plan.set.get(peerSource("fd00:2::1")), [
    { dst: "fd00:10::40/122", nexthops: [{ gateway: "fd00:2:1:1::1", oif: 2 }] },
    { dst: "fd00:10::80/122", nexthops: [{ gateway: "fe80::1", oif: 2 }] },
  ]);
  assert.deepEqual(plan.set.get(peerSource("fd00:2::2")), [
    { dst: "fd00:10::40/122", nexthops: [{ gateway: "fe80::2", oif: 3 }] },
  ]);
  assert.ok(seen.includes("fd00:2::2|fe80::2|fd00:2::2"));
  // Without a resolver a link-local next hop has no interface: skipped, as before.
  const bare = new LearnedRoutes();
  const p2 = bare.apply([change("fd00:10::80/122", [path("fd00:2::1", "fe80::1")])], false);
  assert.equal(p2.skipped, 1);
  assert.equal(p2.set.size, 0);
});

// ---- kernel: the installer in a namespace, `ip -6 route` as the oracle ----------------------

type Hop = { gateway?: string; dev?: string };
type Ip6Route = {
  dst: string;
  protocol?: string;
  gateway?: string;
  dev?: string;
  nexthops?: Hop[];
};

async function ip6Route(ns: string, dst: string): Promise<Ip6Route | undefined> {
  const out = await run(["ip", "-n", ns, "-6", "-j", "route", "show", "exact", dst], {
    check: false,
  });
  return (JSON.parse(out.stdout || "[]") as Ip6Route[])[0];
}

function hops(rt: Ip6Route | undefined): string[] {
  if (!rt) return [];
  const l = rt.nexthops ?? [{ gateway: rt.gateway, dev: rt.dev }];
  return l.map((h) => `${h.gateway} ${h.dev}`).sort();
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await f();
    if (last !== undefined) return last;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: "agent_bgp installer: link-local next hops installed with their interface (ip -6 route)",
  sanitizeOps: true,
  sanitizeResources: true,
  fn: async () => {
    const tag = crypto.randomUUID().slice(0, 6);
    const ns = `tn-nh-${tag}`, peerNs = `tn-nhp-${tag}`;
    const system = new ActorSystem({ name: "nh" });
    try {
      await run(["ip", "netns", "add", ns]);
      await run(["ip", "netns", "add", peerNs]);
      for (const n of [ns, peerNs]) {
        await run(["sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0"], { ns: n });
        await run(["ip", "-n", n, "link", "set", "lo", "up"]);
      }
      // Two uplinks to one "spine" namespace: up0 and up1, each with a /64 and a link-local.
      for (const i of [0, 1]) {
        await run([
          "ip",
          "-n",
          ns,
          "link",
          "add",
          `up${i}`,
          "type",
          "veth",
          "peer",
          "name",
          `dn${i}`,
          "netns",
          peerNs,
        ]);
        await run(["ip", "-n", ns, "addr", "add", `fd00:91:${i}::2/64`, "dev", `up${i}`, "nodad"]);
        await run(["ip", "-n", peerNs, "addr", "add", `fd00:91:${i}::1/64`, "dev", `dn${i}`]);
        await run(["ip", "-n", ns, "link", "set", `up${i}`, "up"]);
        await run(["ip", "-n", peerNs, "link", "set", `dn${i}`, "up"]);
        await run([
          "ip",
          "-n",
          ns,
          "-6",
          "route",
          "add",
          `fd00:92::${i + 1}/128`,
          "via",
          `fd00:91:${i}::1`,
          "dev",
          `up${i}`,
        ]);
      }
      const ll = async (dev: string) => {
        const out = await run(["ip", "-n", peerNs, "-6", "-j", "addr", "show", "dev", dev]);
        const a = (JSON.parse(out.stdout) as Array<{ addr_info: { local: string }[] }>)[0]
          .addr_info.find((x) => x.local.startsWith("fe80"));
        return a?.local;
      };
      const ll0 = await until("link-local address dn0", () => ll("dn0"));
      const ll1 = await until("link-local address dn1", () => ll("dn1"));

      // A stand-in RIB at the path the installer subscribes to: it sends one table.
      let subscriber: ActorRef<BestPathEvent> | undefined;
      const rib = actor<{ type: "subscribe"; ref: ActorRef<BestPathEvent> }>("fake-rib", () => ({
        receive(msg) {
          subscriber = msg.ref;
        },
      }));
      await system.start(supervisor("nh", {
        strategy: "one_for_one",
        children: [
          { id: "rib", def: rib },
          {
            id: "routes",
            def: routeTable({ netns: `/run/netns/${ns}`, protocol: LEARNED, retainStaleMs: 0 }),
          },
          {
            id: "installer",
            def: routeInstaller({
              ribPath: "/nh/rib",
              routesPath: "/nh/routes",
              pollMs: 50,
              resolve: { learnedProtocol: LEARNED, netns: `/run/netns/${ns}`, refreshMs: 500 },
            }),
          },
        ],
      }));
      const sub = await until("the installer's subscription", () => Promise.resolve(subscriber));
      // Peer 1 (reached over up0) sends global + link-local; peer 2 (over up1) a lone
      // link-local; a third prefix only a global next hop (recursive, as before).
      sub.tell({
        type: "bestPaths",
        changes: [
          change("fd00:93::/64", [
            path("fd00:92::1", "fd00:92::1", ll0),
            path("fd00:92::2", ll1),
          ]),
          change("fd00:94::/64", [path("fd00:92::2", "fd00:92::2")]),
        ],
      });
      const both = await until("fd00:93::/64 over both link-locals", async () => {
        const rt = await ip6Route(ns, "fd00:93::/64");
        return hops(rt).length === 2 ? rt : undefined;
      });
      assert.deepEqual(hops(both), [`${ll0} up0`, `${ll1} up1`].sort());
      const g = await until("fd00:94::/64", () => ip6Route(ns, "fd00:94::/64"));
      assert.deepEqual(hops(g), ["fd00:91:1::1 up1"]);
      // Peer 1's path goes: only the link-local over up1 is left.
      sub.tell({
        type: "bestPaths",
        changes: [change("fd00:93::/64", [path("fd00:92::2", ll1)])],
      });
      const one = await until("fd00:93::/64 over up1 only", async () => {
        const rt = await ip6Route(ns, "fd00:93::/64");
        return hops(rt).length === 1 ? rt : undefined;
      });
      assert.deepEqual(hops(one), [`${ll1} up1`]);
    } finally {
      await system.shutdown();
      await run(["ip", "netns", "del", ns], { check: false });
      await run(["ip", "netns", "del", peerNs], { check: false });
    }
  },
});
