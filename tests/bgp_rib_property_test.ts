/**
 * The single-map RIB (routes shared between prefixes, per-peer counts kept apart) against a
 * plain model: one Map per peer, the Loc-RIB recomputed from scratch with `rank`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type BestChange, multipathSet, rank, Rib, type Route } from "../actors/bgp/rib.ts";
import type { RouteSource } from "../actors/bgp/rib.ts";

const PEERS: RouteSource[] = [
  { peer: "192.0.2.1", asn: 65001, bgpId: "192.0.2.1", ibgp: false, local: false },
  { peer: "192.0.2.2", asn: 65002, bgpId: "192.0.2.2", ibgp: false, local: false },
  { peer: "192.0.2.3", asn: 65001, bgpId: "192.0.2.3", ibgp: false, local: false },
  { peer: "192.0.2.4", asn: 65000, bgpId: "192.0.2.4", ibgp: true, local: false },
];
const PREFIXES = ["198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "fd00:1::/64"];

type Op =
  | { op: "announce"; peer: number; prefixes: number[]; lp: number; len: number; med: number }
  | { op: "withdraw"; peer: number; prefix: number }
  | { op: "stale"; peer: number }
  | { op: "sweep"; peer: number; v6: boolean | null }
  | { op: "drop"; peer: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("announce" as const),
    peer: fc.nat(3),
    prefixes: fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 4 }),
    lp: fc.constantFrom(100, 200),
    len: fc.nat(2),
    med: fc.nat(1),
  }),
  fc.record({ op: fc.constant("withdraw" as const), peer: fc.nat(3), prefix: fc.nat(3) }),
  fc.record({ op: fc.constant("stale" as const), peer: fc.nat(3) }),
  fc.record({
    op: fc.constant("sweep" as const),
    peer: fc.nat(3),
    v6: fc.constantFrom(null, true, false),
  }),
  fc.record({ op: fc.constant("drop" as const), peer: fc.nat(3) }),
);

function check(multipath: boolean) {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const rib = new Rib({ multipath });
      const model = new Map<string, Map<string, Route>>(); // peer -> prefix -> route
      const changes: BestChange[] = [];
      const bestOf = (prefix: string) => {
        const c: Route[] = [];
        for (const m of model.values()) {
          const r = m.get(prefix);
          if (r) c.push(r);
        }
        return rank(c, { multipath });
      };
      for (const o of ops) {
        const src = PEERS[o.peer];
        const mine = model.get(src.peer) ?? new Map<string, Route>();
        model.set(src.peer, mine);
        const fam = (p: string) => p.includes(":");
        if (o.op === "announce") {
          // One Route object for all prefixes of the "UPDATE", as the peer actor builds it.
          const r: Route = {
            source: src,
            attrs: {
              origin: 0,
              asPath: [{ type: 2, asns: [src.asn, ...new Array(o.len).fill(64512)] }],
              localPref: o.lp,
              med: o.med,
            },
            nextHop: src.peer,
            stale: false,
          };
          for (const i of o.prefixes) {
            rib.upsert(PREFIXES[i], r, changes);
            mine.set(PREFIXES[i], r);
          }
        } else if (o.op === "withdraw") {
          rib.remove(src.peer, PREFIXES[o.prefix], changes);
          mine.delete(PREFIXES[o.prefix]);
        } else if (o.op === "stale") {
          assert.equal(rib.markStale(src.peer, changes), mine.size);
          for (const r of mine.values()) r.stale = true;
        } else if (o.op === "sweep") {
          let n = 0;
          for (const [p, r] of [...mine]) {
            if (r.stale && (o.v6 === null || fam(p) === o.v6)) {
              mine.delete(p);
              n++;
            }
          }
          const family = o.v6 === null ? undefined : o.v6 ? "ipv6" : "ipv4";
          assert.equal(rib.sweepStale(src.peer, changes, family), n);
        } else {
          rib.dropPeer(src.peer, changes);
          mine.clear();
        }
        // Compare every observable.
        let size = 0;
        for (const prefix of PREFIXES) {
          const ranked = bestOf(prefix);
          if (ranked.length) size++;
          assert.equal(rib.best(prefix), ranked[0], `best of ${prefix}`);
          // Routes behind the contenders may come in any order (ranking is only partial there).
          const byPeer = (x: readonly Route[]) =>
            [...x].sort((p, q) => p.source.peer < q.source.peer ? -1 : 1);
          assert.deepEqual(byPeer(rib.candidates(prefix)), byPeer(ranked), `paths of ${prefix}`);
          assert.deepEqual(rib.view(prefix).paths, multipathSet(ranked, { multipath }));
        }
        assert.equal(rib.size, size);
        for (const s of PEERS) {
          const m = model.get(s.peer);
          assert.equal(rib.peerCount(s.peer), m?.size ?? 0, `count of ${s.peer}`);
          let stale = 0;
          for (const r of m?.values() ?? []) if (r.stale) stale++;
          assert.equal(rib.peerStaleCount(s.peer), stale, `stale count of ${s.peer}`);
          assert.equal(new Set(rib.peerRoutes(s.peer)).size <= (m?.size ?? 0), true);
          for (const [p, r] of m ?? []) assert.equal(rib.route(s.peer, p), r);
        }
      }
      // The last change recorded for each prefix is its current best.
      const last = new Map<string, BestChange>();
      for (const c of changes) last.set(c.prefix, c);
      for (const [p, c] of last) assert.equal(c.best, rib.best(p) ?? null, `last change of ${p}`);
    }),
    { numRuns: 300 },
  );
}

Deno.test("RIB property: single best path matches a from-scratch model", () => check(false));
Deno.test("RIB property: ECMP sets match a from-scratch model", () => check(true));
