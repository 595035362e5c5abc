/** The Loc-RIB decision process (RFC 4271 9.1), ECMP, graceful restart marking, export rules. */
import assert from "node:assert/strict";
import { ConfigError, validateConfig } from "../actors/bgp/config.ts";
import type { PathAttributes } from "../actors/bgp/path_attributes.ts";
import {
  type BestChange,
  exportRoute,
  hasLoop,
  Rib,
  type Route,
  type RouteSource,
} from "../actors/bgp/rib.ts";

function src(peer: string, asn: number, bgpId: string, ibgp = false): RouteSource {
  return { peer, asn, bgpId, ibgp, local: false };
}
const A = src("192.0.2.1", 65001, "192.0.2.1");
const B = src("192.0.2.2", 65002, "192.0.2.2");
const C = src("192.0.2.3", 65001, "192.0.2.3");
const I = src("192.0.2.4", 65000, "192.0.2.4", true);
const LOCAL: RouteSource = {
  peer: "local",
  asn: 65000,
  bgpId: "192.0.2.9",
  ibgp: false,
  local: true,
};

/** A route with the prefix it is meant for (the RIB keys routes by prefix). */
type Routed = Route & { readonly prefix: string };
function route(source: RouteSource, attrs: PathAttributes, prefix = "198.51.100.0/24"): Routed {
  return { prefix, source, attrs, nextHop: source.peer, stale: false };
}
const up = (rib: Rib, r: Routed, ch: BestChange[]) => rib.upsert(r.prefix, r, ch);
const path = (...asns: number[]) => [{ type: 2, asns }];

function bestOf(routes: Routed[], multipath = false): [Route | undefined, BestChange[]] {
  const rib = new Rib({ multipath });
  const changes: BestChange[] = [];
  for (const r of routes) up(rib, r, changes);
  return [rib.best("198.51.100.0/24"), changes];
}

Deno.test("decision: each step of 9.1.2.2 decides in order", () => {
  // a) highest LOCAL_PREF beats a shorter path
  let r1 = route(I, { origin: 0, asPath: path(1, 2, 3), localPref: 200 });
  let r2 = route(A, { origin: 0, asPath: path(65001) });
  assert.equal(bestOf([r2, r1])[0], r1);
  // b) shortest AS_PATH (an AS_SET counts one)
  r1 = route(A, { origin: 2, asPath: [{ type: 2, asns: [65001] }, { type: 1, asns: [7, 8, 9] }] });
  r2 = route(B, { origin: 0, asPath: path(65002, 5, 6) });
  assert.equal(bestOf([r2, r1])[0], r1);
  // c) lowest ORIGIN
  r1 = route(A, { origin: 1, asPath: path(65001) });
  r2 = route(B, { origin: 0, asPath: path(65002) });
  assert.equal(bestOf([r1, r2])[0], r2);
  // d) MED only among the same neighbour AS
  r1 = route(A, { origin: 0, asPath: path(65001), med: 50 });
  r2 = route(C, { origin: 0, asPath: path(65001), med: 10 });
  assert.equal(bestOf([r1, r2])[0], r2);
  const r3 = route(B, { origin: 0, asPath: path(65002), med: 0 });
  const r4 = route(A, { origin: 0, asPath: path(65001), med: 99 });
  // different neighbour AS: MED ignored, falls to router id (A 192.0.2.1 < B 192.0.2.2)
  assert.equal(bestOf([r3, r4])[0], r4);
  // e) eBGP over iBGP
  r1 = route(I, { origin: 0, asPath: path(65001), localPref: 100 });
  r2 = route(B, { origin: 0, asPath: path(65002) });
  assert.equal(bestOf([r1, r2])[0], r2);
  // f) lowest router id, g) lowest peer address
  r1 = route(B, { origin: 0, asPath: path(65002) });
  r2 = route(C, { origin: 0, asPath: path(65003) });
  assert.equal(bestOf([r2, r1])[0], r1);
  const twin = src("192.0.2.7", 65002, "192.0.2.2");
  r2 = route(twin, { origin: 0, asPath: path(65002) });
  assert.equal(bestOf([r2, r1])[0], r1);
  // Locally originated routes win.
  const l = route(LOCAL, { origin: 2, asPath: [] });
  assert.equal(bestOf([r1, l])[0], l);
});

Deno.test("decision: the MED rule is applied per neighbour AS (non-transitive case)", () => {
  // Classic MED non-transitivity: X(AS1,med 10), Y(AS1,med 5), Z(AS2): Y eliminates X.
  const X = route(src("192.0.2.10", 1, "192.0.2.10"), { origin: 0, asPath: path(1), med: 10 });
  const Y = route(src("192.0.2.30", 1, "192.0.2.30"), { origin: 0, asPath: path(1), med: 5 });
  const Z = route(src("192.0.2.20", 2, "192.0.2.20"), { origin: 0, asPath: path(2) });
  for (const order of [[X, Y, Z], [Z, Y, X], [Y, X, Z]]) {
    assert.equal(bestOf(order)[0], Z, "Z has the lowest router id among Y and Z");
  }
});

Deno.test("ECMP: equal paths form a multipath set; changes are reported", () => {
  const r1 = route(A, { origin: 0, asPath: path(65001) });
  const r2 = route(C, { origin: 0, asPath: path(65001) });
  const r3 = route(B, { origin: 0, asPath: path(65002, 1) });
  const rib = new Rib({ multipath: true });
  const ch: BestChange[] = [];
  for (const r of [r1, r2, r3]) up(rib, r, ch);
  assert.deepEqual(rib.view("198.51.100.0/24").paths, [r1, r2]);
  ch.length = 0;
  rib.remove(A.peer, "198.51.100.0/24", ch);
  assert.deepEqual(ch.map((c) => c.paths), [[r2]]);
  rib.remove(C.peer, "198.51.100.0/24", ch);
  rib.remove(B.peer, "198.51.100.0/24", ch);
  assert.equal(ch[ch.length - 1].best, null);
  assert.equal(rib.size, 0);
});

Deno.test("ECMP relax: equal-length paths from different neighbour ASes share the set", () => {
  const a = route(A, { origin: 0, asPath: path(65001, 7) });
  const b = route(B, { origin: 0, asPath: path(65002, 7) });
  const longer = route(C, { origin: 0, asPath: path(65001, 8, 7) });
  // Without the relaxation: one neighbour AS only (the best path's).
  const strict = new Rib({ multipath: true });
  const relaxed = new Rib({ multipath: true, multipathRelax: true });
  const ch: BestChange[] = [];
  for (const r of [a, b, longer]) {
    up(strict, r, ch);
    up(relaxed, r, ch);
  }
  assert.deepEqual(strict.view("198.51.100.0/24").paths, [a]);
  assert.deepEqual(relaxed.view("198.51.100.0/24").paths, [a, b], "best first, then B");
  // Withdrawing the best path: the set shrinks, and the change says so.
  ch.length = 0;
  relaxed.remove(A.peer, "198.51.100.0/24", ch);
  assert.deepEqual(ch.map((c) => c.paths), [[b]]);
  // Relaxed still means equal up to the tie breakers: origin and LOCAL_PREF still decide.
  const worseOrigin = route(A, { origin: 1, asPath: path(65001, 7) });
  up(relaxed, worseOrigin, ch);
  assert.deepEqual(relaxed.view("198.51.100.0/24").paths, [b]);
  const lowerPref = route(A, { origin: 0, asPath: path(65001, 7), localPref: 50 });
  up(relaxed, lowerPref, ch);
  assert.deepEqual(relaxed.view("198.51.100.0/24").paths, [b]);
  // Off without multipath: the relaxation alone builds no set.
  const single = new Rib({ multipathRelax: true });
  for (const r of [a, b]) up(single, r, ch);
  assert.deepEqual(single.view("198.51.100.0/24").paths, [a]);
});

Deno.test("ECMP relax: a path beaten on MED within its own AS stays out of the set", () => {
  // B2 (AS 65002, lowest id) is best; A (AS 65001, MED 5) loses to C (AS 65001, MED 0) at step
  // c, so only C joins the set though MED is never compared across ASes.
  const B2 = src("192.0.2.5", 65002, "192.0.2.0");
  const b = route(B2, { origin: 0, asPath: path(65002), med: 9 });
  const a = route(A, { origin: 0, asPath: path(65001), med: 5 });
  const c = route(C, { origin: 0, asPath: path(65001), med: 0 });
  const rib = new Rib({ multipath: true, multipathRelax: true });
  const ch: BestChange[] = [];
  for (const r of [a, b, c]) up(rib, r, ch);
  assert.deepEqual(rib.view("198.51.100.0/24").paths, [b, c]);
  // An iBGP path equal otherwise stays out while eBGP paths are there.
  up(rib, route(I, { origin: 0, asPath: path(65003), localPref: 100 }), ch);
  assert.deepEqual(rib.view("198.51.100.0/24").paths, [b, c]);
});

Deno.test("ECMP relax: speaker configuration multipath true, false or relax", () => {
  const base = { asn: 65000, routerId: "192.0.2.9" };
  const mode = (multipath?: unknown) => {
    const c = validateConfig(multipath === undefined ? base : { ...base, multipath });
    return [c.multipath, c.multipathRelax];
  };
  assert.deepEqual(mode(), [false, false]);
  assert.deepEqual(mode(false), [false, false]);
  assert.deepEqual(mode(true), [true, false]);
  assert.deepEqual(mode("relax"), [true, true]);
  assert.throws(
    () => mode("yes"),
    (e) => e instanceof ConfigError && /multipath/.test(e.message) && /"yes"/.test(e.message),
  );
});

Deno.test("graceful restart: stale routes lose to fresh ones and are swept", () => {
  const rib = new Rib();
  const ch: BestChange[] = [];
  up(rib, route(A, { origin: 0, asPath: path(65001) }, "198.51.100.0/24"), ch);
  up(rib, route(A, { origin: 0, asPath: path(65001) }, "203.0.113.0/24"), ch);
  up(rib, route(B, { origin: 0, asPath: path(65002, 9, 9) }, "203.0.113.0/24"), ch);
  assert.equal(rib.best("203.0.113.0/24")?.source, A);
  ch.length = 0;
  assert.equal(rib.markStale(A.peer, ch), 2);
  assert.equal(rib.best("203.0.113.0/24")?.source, B, "a stale path loses");
  assert.equal(rib.best("198.51.100.0/24")?.stale, true, "but is kept");
  up(rib, route(A, { origin: 0, asPath: path(65001) }, "203.0.113.0/24"), ch);
  assert.equal(rib.best("203.0.113.0/24")?.source, A);
  assert.equal(rib.sweepStale(A.peer, ch), 1);
  assert.equal(rib.best("198.51.100.0/24"), undefined);
  rib.dropPeer(A.peer, ch);
  assert.equal(rib.best("203.0.113.0/24")?.source, B);
});

Deno.test("export: rules toward eBGP and iBGP peers", () => {
  const base = {
    localAsn: 65000,
    nextHop4: "192.0.2.100",
    nextHop6: "fd00::100",
    families: ["ipv4", "ipv6"] as const,
  };
  const ebgp = { ...base, peer: "192.0.2.2", ibgp: false, families: [...base.families] };
  const ibgp = { ...base, peer: "192.0.2.5", ibgp: true, families: [...base.families] };
  const learned = route(A, { origin: 0, asPath: path(65001), med: 5, communities: [1] });
  assert.deepEqual(exportRoute(learned, ebgp, "ipv4")?.attrs, {
    origin: 0,
    asPath: [{ type: 2, asns: [65000, 65001] }],
    nextHop: "192.0.2.100",
    communities: [1],
  });
  assert.deepEqual(exportRoute(learned, ibgp, "ipv4")?.attrs, {
    origin: 0,
    asPath: [{ type: 2, asns: [65001] }],
    nextHop: "192.0.2.100",
    med: 5,
    localPref: 100,
    communities: [1],
  });
  assert.equal(
    exportRoute(learned, { ...ebgp, peer: A.peer }, "ipv4"),
    null,
    "never back to the source",
  );
  const fromIbgp = route(I, { origin: 0, asPath: path(65001), localPref: 300 });
  assert.equal(exportRoute(fromIbgp, ibgp, "ipv4"), null, "iBGP-learned not to iBGP");
  assert.ok(exportRoute(fromIbgp, ebgp, "ipv4"));
  const local = route(LOCAL, {
    origin: 0,
    asPath: [],
    med: 7,
    localPref: 150,
    largeCommunities: [[1, 2, 3]],
  }, "fd00:1::/64");
  assert.deepEqual(exportRoute(local, ebgp, "ipv6"), {
    attrs: {
      origin: 0,
      asPath: [{ type: 2, asns: [65000] }],
      med: 7,
      largeCommunities: [[1, 2, 3]],
    },
    nextHop: "fd00::100",
  });
  assert.deepEqual(exportRoute(local, ibgp, "ipv6")?.attrs, {
    origin: 0,
    asPath: [],
    med: 7,
    localPref: 150,
    largeCommunities: [[1, 2, 3]],
  });
  assert.equal(
    exportRoute(local, { ...ebgp, families: ["ipv4"] }, "ipv6"),
    null,
    "family not negotiated",
  );
  assert.equal(hasLoop(path(1, 65000), 65000), true);
  assert.equal(hasLoop(path(1, 2), 65000), false);
});
