/**
 * The routing information bases as pure data structures: Adj-RIB-In per peer, the Loc-RIB with
 * the decision process of RFC 4271 9.1, ECMP multipath sets, graceful restart stale marking
 * (RFC 4724 4.2) and the export rules that build each peer's Adj-RIB-Out. The RIB actor owns
 * one instance and does the messaging.
 * @module
 */
import { SegmentType } from "./constants.ts";
import type { AsPathSegment, PathAttributes } from "./path_attributes.ts";
import type { Family } from "./prefix.ts";

/** Where a route came from. Shared by all routes of one session (one object per peer). */
export interface RouteSource {
  /** Peer key (its address), or `local` for originated routes. */
  readonly peer: string;
  /** Peer ASN (our own ASN for local routes). */
  readonly asn: number;
  /** Peer BGP identifier. */
  readonly bgpId: string;
  /** iBGP session. */
  readonly ibgp: boolean;
  /** Locally originated. */
  readonly local: boolean;
}

/**
 * A path, as held in the RIB for each prefix it reaches. It carries no prefix: all prefixes of
 * one UPDATE share one Route object (the Loc-RIB key says which prefix), so a table load costs
 * one object per UPDATE, not per prefix.
 */
export interface Route {
  /** Origin of the route. */
  readonly source: RouteSource;
  /** Attributes (interned: routes with equal attributes share one object). */
  readonly attrs: PathAttributes;
  /** Effective next hop (NEXT_HOP, or the MP_REACH next hop). */
  readonly nextHop: string;
  /** IPv6: the link-local next hop sent besides a global one (32-octet MP_REACH next hop). */
  readonly linkLocalNextHop?: string;
  /** Retained over a graceful restart of its peer, awaiting refresh (set for all of the peer's
   * routes at once, so sharing the object between prefixes is safe). */
  stale: boolean;
}

/** A best-path change of one prefix, as streamed to subscribers. */
export interface BestChange {
  /** Prefix. */
  readonly prefix: string;
  /** Family of the prefix. */
  readonly family: Family;
  /** The new best route, or null when the prefix is gone. */
  readonly best: Route | null;
  /** Equal-cost paths (best first) when multipath is on; `[best]` otherwise. */
  readonly paths: readonly Route[];
}

/** Decision process settings. */
export interface DecisionOptions {
  /** LOCAL_PREF assumed for routes without one (eBGP-learned). Default 100. */
  readonly defaultLocalPref?: number;
  /** Build ECMP sets of equally good paths. */
  readonly multipath?: boolean;
  /**
   * With `multipath`: paths from different neighbouring ASes are ECMP candidates too when they
   * are equal up to the tie breakers (same AS-path length, origin, ...), as FRR's
   * `bgp bestpath as-path multipath-relax`. Off: only paths from the best path's neighbouring AS.
   */
  readonly multipathRelax?: boolean;
}

/** Number of ASes in a path as the decision process counts it (AS_SET counts 1). */
export function asPathLength(path: readonly AsPathSegment[] | undefined): number {
  if (!path) return 0;
  let n = 0;
  for (const s of path) {
    if (s.type === SegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === SegmentType.AS_SET) n += 1;
  }
  return n;
}

/** The neighbouring AS of a route (first AS of the path; 0 for local routes). */
export function neighborAs(r: Route): number {
  const first = r.attrs.asPath?.[0];
  if (!first || first.type !== SegmentType.AS_SEQUENCE) return 0;
  return first.asns[0];
}

function ipKey(addr: string): string {
  // Comparable key for "lowest address": IPv4 before IPv6, numeric order inside a family.
  if (!addr.includes(":")) {
    return "4" + addr.split(".").map((x) => Number(x).toString(16).padStart(2, "0")).join("");
  }
  return "6" + addr;
}

/**
 * Compares two routes by RFC 4271 9.1.2.2 steps a-f (plus local origin first). Negative when
 * `a` is better. Returns 0 when they are equal up to the tie breakers (ECMP candidates).
 * The MED step only applies to routes from the same neighbouring AS.
 */
export function comparePreference(a: Route, b: Route, defaultLocalPref = 100): number {
  if (a.source.local !== b.source.local) return a.source.local ? -1 : 1;
  if (a.stale !== b.stale) return a.stale ? 1 : -1;
  const lpA = a.attrs.localPref ?? defaultLocalPref, lpB = b.attrs.localPref ?? defaultLocalPref;
  if (lpA !== lpB) return lpB - lpA;
  const lenA = asPathLength(a.attrs.asPath), lenB = asPathLength(b.attrs.asPath);
  if (lenA !== lenB) return lenA - lenB;
  const oA = a.attrs.origin ?? 2, oB = b.attrs.origin ?? 2;
  if (oA !== oB) return oA - oB;
  if (neighborAs(a) === neighborAs(b)) {
    const mA = a.attrs.med ?? 0, mB = b.attrs.med ?? 0;
    if (mA !== mB) return mA - mB;
  }
  if (a.source.ibgp !== b.source.ibgp) return a.source.ibgp ? 1 : -1;
  return 0;
}

/** The tie breakers of 9.1.2.2 f-g: lowest BGP identifier (ORIGINATOR_ID), lowest address. */
export function compareTieBreak(a: Route, b: Route): number {
  const idA = ipKey(a.attrs.originatorId ?? a.source.bgpId);
  const idB = ipKey(b.attrs.originatorId ?? b.source.bgpId);
  if (idA !== idB) return idA < idB ? -1 : 1;
  const pA = ipKey(a.source.peer), pB = ipKey(b.source.peer);
  return pA < pB ? -1 : pA > pB ? 1 : 0;
}

/**
 * Orders candidates best first. The MED rule is not transitive, so it is applied as RFC 4271
 * 9.1.2.2 (c) says: within each neighbouring AS only the lowest MED stays in contention; then
 * the remaining routes are ordered by the other criteria.
 */
export function rank(routes: readonly Route[], opts: DecisionOptions = {}): Route[] {
  const lp = opts.defaultLocalPref ?? 100;
  if (routes.length < 2) return [...routes];
  // Steps a-b-c and local/stale preferences first.
  const pre = (a: Route, b: Route) => {
    if (a.source.local !== b.source.local) return a.source.local ? -1 : 1;
    if (a.stale !== b.stale) return a.stale ? 1 : -1;
    const d = (b.attrs.localPref ?? lp) - (a.attrs.localPref ?? lp);
    if (d) return d;
    const l = asPathLength(a.attrs.asPath) - asPathLength(b.attrs.asPath);
    if (l) return l;
    return (a.attrs.origin ?? 2) - (b.attrs.origin ?? 2);
  };
  const sorted = [...routes].sort(pre);
  const top = sorted.filter((r) => pre(r, sorted[0]) === 0);
  const rest = sorted.filter((r) => pre(r, sorted[0]) !== 0);
  const minMed = new Map<number, number>();
  for (const r of top) {
    const as = neighborAs(r), m = r.attrs.med ?? 0;
    if (!minMed.has(as) || m < minMed.get(as)!) minMed.set(as, m);
  }
  const inMed = top.filter((r) => (r.attrs.med ?? 0) === minMed.get(neighborAs(r)));
  const outMed = top.filter((r) => (r.attrs.med ?? 0) !== minMed.get(neighborAs(r)));
  const finalCmp = (a: Route, b: Route) => {
    if (a.source.ibgp !== b.source.ibgp) return a.source.ibgp ? 1 : -1;
    return compareTieBreak(a, b);
  };
  inMed.sort(finalCmp);
  outMed.sort((a, b) => comparePreference(a, b, lp) || compareTieBreak(a, b));
  return [...inMed, ...outMed, ...rest];
}

/**
 * The ECMP set: routes equal to the best one up to the tie breakers, from the best route's
 * neighbouring AS (with the same MED); with `multipathRelax`, from any neighbouring AS, each
 * still having the lowest MED of its own AS (RFC 4271 9.1.2.2 c is not skipped).
 */
export function multipathSet(ranked: readonly Route[], opts: DecisionOptions = {}): Route[] {
  if (ranked.length === 0) return [];
  if (!opts.multipath) return [ranked[0]];
  const lp = opts.defaultLocalPref ?? 100;
  const best = ranked[0];
  if (!opts.multipathRelax) {
    return ranked.filter((r) =>
      comparePreference(r, best, lp) === 0 && neighborAs(r) === neighborAs(best) &&
      (r.attrs.med ?? 0) === (best.attrs.med ?? 0)
    );
  }
  const equal = ranked.filter((r) => comparePreference(r, best, lp) === 0);
  // The lowest MED per neighbouring AS among all routes equal to the best up to MED: a route
  // beaten on MED within its own AS is out of contention (step c) and so out of the set.
  const minMed = new Map<number, number>();
  for (const r of ranked) {
    if (!equalUpToMed(r, best, lp)) continue;
    const as = neighborAs(r), m = r.attrs.med ?? 0;
    if (!minMed.has(as) || m < minMed.get(as)!) minMed.set(as, m);
  }
  return equal.filter((r) => (r.attrs.med ?? 0) === minMed.get(neighborAs(r)));
}

/** Equal by the steps before MED (local, stale, LOCAL_PREF, AS-path length, origin). */
function equalUpToMed(a: Route, b: Route, lp: number): boolean {
  return a.source.local === b.source.local && a.stale === b.stale &&
    (a.attrs.localPref ?? lp) === (b.attrs.localPref ?? lp) &&
    asPathLength(a.attrs.asPath) === asPathLength(b.attrs.asPath) &&
    (a.attrs.origin ?? 2) === (b.attrs.origin ?? 2);
}

/** Family of a canonical prefix. */
function fam(prefix: string): Family {
  return prefix.includes(":") ? "ipv6" : "ipv4";
}

/**
 * A best-path change. The ECMP set of a single-path RIB is derived on access (`[best]`), so a
 * change costs one small object: a table load of N prefixes makes N of them.
 */
class Change implements BestChange {
  readonly prefix: string;
  readonly best: Route | null;
  readonly #paths: readonly Route[] | null;
  constructor(prefix: string, best: Route | null, paths: readonly Route[] | null) {
    this.prefix = prefix;
    this.best = best;
    this.#paths = paths;
  }
  get family(): Family {
    return fam(this.prefix);
  }
  get paths(): readonly Route[] {
    return this.#paths ?? (this.best ? [this.best] : []);
  }
  toJSON(): BestChange {
    return { prefix: this.prefix, family: this.family, best: this.best, paths: this.paths };
  }
}

/** Per-peer counters of the Adj-RIB-In (the routes themselves live in the Loc-RIB entries). */
interface PeerCounts {
  routes: number;
  stale: number;
}

/**
 * Adj-RIBs-In and the Loc-RIB. Every mutation returns the best-path changes it caused.
 *
 * One map holds everything: per prefix either the single route (the common case: one peer
 * announces it) or the candidates from every peer, best first. A peer's Adj-RIB-In is the set
 * of entries holding a route whose `source.peer` is that peer; only its counts are kept apart.
 * Installing a prefix costs one map lookup and one insertion; the rare whole-peer operations
 * (session down, graceful-restart marking and sweeping) walk the table.
 */
export class Rib {
  /** Loc-RIB: one route, or candidates ordered best first. */
  readonly #loc = new Map<string, Route | Route[]>();
  readonly #peers = new Map<string, PeerCounts>();
  readonly #opts: DecisionOptions;
  #lastPeer = "";
  #lastCounts: PeerCounts | null = null;

  /** Creates an empty RIB. */
  constructor(opts: DecisionOptions = {}) {
    this.#opts = opts;
  }

  /** Number of prefixes in the Loc-RIB. */
  get size(): number {
    return this.#loc.size;
  }

  /** Number of routes in the Adj-RIB-In of `peer`. */
  peerCount(peer: string): number {
    return this.#peers.get(peer)?.routes ?? 0;
  }

  /** Number of routes of `peer` marked stale (graceful restart). */
  peerStaleCount(peer: string): number {
    return this.#peers.get(peer)?.stale ?? 0;
  }

  /** Adj-RIB-In sizes of every peer holding routes. */
  peerCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [p, c] of this.#peers) out.set(p, c.routes);
    return out;
  }

  /** Routes of one peer (walks the table). */
  *peerRoutes(peer: string): Generator<Route> {
    if (!this.#peers.has(peer)) return;
    for (const e of this.#loc.values()) {
      const r = ownRoute(e, peer);
      if (r) yield r;
    }
  }

  /** The route of `peer` for `prefix`, if any. */
  route(peer: string, prefix: string): Route | undefined {
    const e = this.#loc.get(prefix);
    return e === undefined ? undefined : ownRoute(e, peer);
  }

  /** Candidates of a prefix, best first. */
  candidates(prefix: string): readonly Route[] {
    const e = this.#loc.get(prefix);
    return e === undefined ? [] : Array.isArray(e) ? e : [e];
  }

  /** Best route of a prefix. */
  best(prefix: string): Route | undefined {
    const e = this.#loc.get(prefix);
    return e === undefined ? undefined : Array.isArray(e) ? e[0] : e;
  }

  /** The best-path view of one prefix as a change record. */
  view(prefix: string): BestChange {
    const c = this.candidates(prefix);
    return new Change(
      prefix,
      c[0] ?? null,
      this.#opts.multipath ? multipathSet(c, this.#opts) : null,
    );
  }

  /** Every prefix of the Loc-RIB with its best route and ECMP set. */
  *entries(family?: Family): Generator<BestChange> {
    for (const prefix of this.#loc.keys()) {
      if (family && fam(prefix) !== family) continue;
      yield this.view(prefix);
    }
  }

  #counts(peer: string): PeerCounts {
    if (this.#lastCounts !== null && this.#lastPeer === peer) return this.#lastCounts;
    let c = this.#peers.get(peer);
    if (!c) this.#peers.set(peer, c = { routes: 0, stale: 0 });
    this.#lastPeer = peer;
    this.#lastCounts = c;
    return c;
  }

  #forget(peer: string, c: PeerCounts) {
    if (c.routes > 0) return;
    this.#peers.delete(peer);
    if (this.#lastCounts === c) this.#lastCounts = null;
  }

  /** Ranks a candidate list (length >= 2) in place of the entry and records the change. */
  #settle(prefix: string, cands: Route[], before: Route | undefined, changes: BestChange[]) {
    const ranked = rank(cands, this.#opts);
    this.#loc.set(prefix, ranked.length === 1 ? ranked[0] : ranked);
    const after = ranked[0];
    if (this.#opts.multipath || after !== before) changes.push(this.view(prefix));
  }

  /** Installs or replaces the route of `route.source.peer` for `prefix`; appends best-path
   * changes to `changes`. */
  upsert(prefix: string, route: Route, changes: BestChange[]): void {
    const peer = route.source.peer;
    const c = this.#counts(peer);
    const e = this.#loc.get(prefix);
    if (e === undefined) {
      this.#loc.set(prefix, route);
      c.routes++;
      if (route.stale) c.stale++;
      changes.push(new Change(prefix, route, this.#opts.multipath ? [route] : null));
      return;
    }
    if (!Array.isArray(e)) {
      if (e.source.peer === peer) {
        // The only candidate is replaced.
        if (e.stale) c.stale--;
        if (route.stale) c.stale++;
        this.#loc.set(prefix, route);
        changes.push(new Change(prefix, route, this.#opts.multipath ? [route] : null));
        return;
      }
      c.routes++;
      if (route.stale) c.stale++;
      this.#settle(prefix, [e, route], e, changes);
      return;
    }
    const before = e[0];
    let i = 0;
    while (i < e.length && e[i].source.peer !== peer) i++;
    const cands = e.slice();
    if (i < e.length) {
      if (e[i].stale) c.stale--;
      cands[i] = route;
    } else {
      c.routes++;
      cands.push(route);
    }
    if (route.stale) c.stale++;
    this.#settle(prefix, cands, before, changes);
  }

  /** Removes the route of `peer` for `prefix`. */
  remove(peer: string, prefix: string, changes: BestChange[]): void {
    const e = this.#loc.get(prefix);
    if (e === undefined) return;
    const c = this.#peers.get(peer);
    if (!c) return;
    if (!Array.isArray(e)) {
      if (e.source.peer !== peer) return;
      this.#loc.delete(prefix);
      c.routes--;
      if (e.stale) c.stale--;
      this.#forget(peer, c);
      changes.push(new Change(prefix, null, this.#opts.multipath ? [] : null));
      return;
    }
    const old = ownRoute(e, peer);
    if (!old) return;
    c.routes--;
    if (old.stale) c.stale--;
    this.#forget(peer, c);
    const before = e[0];
    const rest = e.filter((r) => r !== old);
    if (rest.length === 1) {
      this.#loc.set(prefix, rest[0]);
      if (this.#opts.multipath || rest[0] !== before) changes.push(this.view(prefix));
      return;
    }
    this.#settle(prefix, rest, before, changes);
  }

  /** Prefixes of `peer`'s routes matching `pick` (collected before any change). */
  #prefixesOf(peer: string, pick: (r: Route, prefix: string) => boolean): string[] {
    const out: string[] = [];
    if (!this.#peers.has(peer)) return out;
    for (const [prefix, e] of this.#loc) {
      const r = ownRoute(e, peer);
      if (r && pick(r, prefix)) out.push(prefix);
    }
    return out;
  }

  /** Removes every route of a peer (session down without graceful restart). */
  dropPeer(peer: string, changes: BestChange[], family?: Family): void {
    const ps = this.#prefixesOf(peer, (_, p) => !family || fam(p) === family);
    for (const prefix of ps) this.remove(peer, prefix, changes);
  }

  /** Marks every route of a peer stale (graceful restart). Returns how many. */
  markStale(peer: string, changes: BestChange[]): number {
    const c = this.#peers.get(peer);
    if (!c) return 0;
    // Routes may be shared between prefixes: mark them all, then re-rank every contested entry.
    for (const [prefix, e] of this.#loc) {
      const r = ownRoute(e, peer);
      if (!r) continue;
      r.stale = true;
      if (Array.isArray(e)) this.#settle(prefix, e, e[0], changes);
    }
    c.stale = c.routes;
    return c.routes;
  }

  /** Removes the routes of a peer still stale (End-of-RIB or restart timer). */
  sweepStale(peer: string, changes: BestChange[], family?: Family): number {
    if (this.peerStaleCount(peer) === 0) return 0;
    const ps = this.#prefixesOf(peer, (r, p) => r.stale && (!family || fam(p) === family));
    for (const prefix of ps) this.remove(peer, prefix, changes);
    return ps.length;
  }
}

/** The route of `peer` in a Loc-RIB entry. */
function ownRoute(e: Route | Route[], peer: string): Route | undefined {
  if (!Array.isArray(e)) return e.source.peer === peer ? e : undefined;
  for (const r of e) if (r.source.peer === peer) return r;
  return undefined;
}

/** What a peer needs to know to build its Adj-RIB-Out. */
export interface ExportTarget {
  /** Peer key. */
  readonly peer: string;
  /** iBGP session. */
  readonly ibgp: boolean;
  /** Our ASN. */
  readonly localAsn: number;
  /** Next hop to advertise for IPv4 (next hop self). */
  readonly nextHop4?: string;
  /** Next hop to advertise for IPv6. */
  readonly nextHop6?: string;
  /** LOCAL_PREF to send to iBGP peers when the route has none. */
  readonly defaultLocalPref?: number;
  /** Families negotiated. */
  readonly families: readonly Family[];
}

/** An entry of an Adj-RIB-Out: the attributes to send and the next hop. */
export interface Export {
  /** Attributes to send (NEXT_HOP included for IPv4). */
  readonly attrs: PathAttributes;
  /** Next hop (IPv4 NEXT_HOP or MP next hop). */
  readonly nextHop: string;
}

/**
 * Export rules: the best route of a prefix as it should be sent to `target`, or null when it
 * must not be sent. Locally originated routes go everywhere; iBGP-learned routes never go to
 * iBGP peers; a route never goes back to its source; toward eBGP our ASN is prepended, MED and
 * LOCAL_PREF are dropped (originated routes keep their configured MED); next hop self.
 */
export function exportRoute(
  route: Route,
  target: ExportTarget,
  family: Family,
): Export | null {
  if (!target.families.includes(family)) return null;
  if (route.source.peer === target.peer) return null;
  if (!route.source.local && route.source.ibgp && target.ibgp) return null;
  const nextHop = family === "ipv4" ? target.nextHop4 : target.nextHop6;
  if (!nextHop) return null;
  const a = route.attrs;
  let asPath: readonly AsPathSegment[] = a.asPath ?? [];
  if (!target.ibgp) {
    const first = asPath[0];
    if (first && first.type === SegmentType.AS_SEQUENCE && first.asns.length < 255) {
      asPath = [
        { type: SegmentType.AS_SEQUENCE, asns: [target.localAsn, ...first.asns] },
        ...asPath.slice(1),
      ];
    } else {
      asPath = [{ type: SegmentType.AS_SEQUENCE, asns: [target.localAsn] }, ...asPath];
    }
  }
  const out: { -readonly [K in keyof PathAttributes]: PathAttributes[K] } = {
    origin: a.origin ?? 0,
    asPath,
  };
  if (family === "ipv4") out.nextHop = nextHop;
  if (a.med !== undefined && (target.ibgp || route.source.local)) out.med = a.med;
  if (target.ibgp) out.localPref = a.localPref ?? target.defaultLocalPref ?? 100;
  if (a.atomicAggregate) out.atomicAggregate = true;
  if (a.aggregator) out.aggregator = a.aggregator;
  if (a.communities) out.communities = a.communities;
  if (a.largeCommunities) out.largeCommunities = a.largeCommunities;
  if (a.unknown) out.unknown = a.unknown;
  return { attrs: out, nextHop };
}

/** True when our own ASN appears in the path (loop: the route is not used). */
export function hasLoop(path: readonly AsPathSegment[] | undefined, asn: number): boolean {
  if (!path) return false;
  for (const s of path) if (s.asns.includes(asn)) return true;
  return false;
}
