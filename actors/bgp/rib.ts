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

/** A path to a prefix. */
export interface Route {
  /** Canonical prefix. */
  readonly prefix: string;
  /** Origin of the route. */
  readonly source: RouteSource;
  /** Attributes (interned: routes with equal attributes share one object). */
  readonly attrs: PathAttributes;
  /** Effective next hop (NEXT_HOP, or the MP_REACH next hop). */
  readonly nextHop: string;
  /** Retained over a graceful restart of its peer, awaiting refresh. */
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

/** The ECMP set: routes equal to the best one up to the tie breakers. */
export function multipathSet(ranked: readonly Route[], opts: DecisionOptions = {}): Route[] {
  if (ranked.length === 0) return [];
  if (!opts.multipath) return [ranked[0]];
  const lp = opts.defaultLocalPref ?? 100;
  const best = ranked[0];
  return ranked.filter((r) =>
    comparePreference(r, best, lp) === 0 && neighborAs(r) === neighborAs(best) &&
    (r.attrs.med ?? 0) === (best.attrs.med ?? 0)
  );
}

/** Family of a canonical prefix. */
function fam(prefix: string): Family {
  return prefix.includes(":") ? "ipv6" : "ipv4";
}

/**
 * Adj-RIBs-In and the Loc-RIB. Every mutation returns the best-path changes it caused.
 */
export class Rib {
  /** Adj-RIB-In per peer key. */
  readonly adjIn = new Map<string, Map<string, Route>>();
  /** Loc-RIB: one route, or candidates ordered best first. */
  readonly #loc = new Map<string, Route | Route[]>();
  readonly #opts: DecisionOptions;

  /** Creates an empty RIB. */
  constructor(opts: DecisionOptions = {}) {
    this.#opts = opts;
  }

  /** Number of prefixes in the Loc-RIB. */
  get size(): number {
    return this.#loc.size;
  }

  /** Routes of one peer. */
  peerRoutes(peer: string): Map<string, Route> {
    let m = this.adjIn.get(peer);
    if (!m) this.adjIn.set(peer, m = new Map());
    return m;
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
    return {
      prefix,
      family: fam(prefix),
      best: c[0] ?? null,
      paths: multipathSet(c, this.#opts),
    };
  }

  /** Every prefix of the Loc-RIB with its best route and ECMP set. */
  *entries(family?: Family): Generator<BestChange> {
    for (const prefix of this.#loc.keys()) {
      if (family && fam(prefix) !== family) continue;
      yield this.view(prefix);
    }
  }

  #recompute(prefix: string, before: Route | undefined, changes: BestChange[]) {
    const e = this.#loc.get(prefix);
    let after: Route | undefined;
    if (Array.isArray(e)) {
      const ranked = rank(e, this.#opts);
      if (ranked.length === 1) this.#loc.set(prefix, ranked[0]);
      else this.#loc.set(prefix, ranked);
      after = ranked[0];
      if (this.#opts.multipath || after !== before) changes.push(this.view(prefix));
      return;
    }
    after = e;
    if (after !== before) changes.push(this.view(prefix));
  }

  #lastPeer = "";
  #lastAdj: Map<string, Route> | null = null;

  /** Installs or replaces a route; appends best-path changes to `changes`. */
  upsert(route: Route, changes: BestChange[]): void {
    let adj = this.#lastAdj;
    if (adj === null || this.#lastPeer !== route.source.peer || !this.adjIn.has(this.#lastPeer)) {
      adj = this.peerRoutes(route.source.peer);
      this.#lastPeer = route.source.peer;
      this.#lastAdj = adj;
    }
    const old = adj.get(route.prefix);
    adj.set(route.prefix, route);
    const e = this.#loc.get(route.prefix);
    if (e === undefined) {
      this.#loc.set(route.prefix, route);
      changes.push({
        prefix: route.prefix,
        family: fam(route.prefix),
        best: route,
        paths: [route],
      });
      return;
    }
    const before = Array.isArray(e) ? e[0] : e;
    if (!Array.isArray(e)) {
      if (e === old) {
        // The only candidate is replaced.
        this.#loc.set(route.prefix, route);
        changes.push({
          prefix: route.prefix,
          family: fam(route.prefix),
          best: route,
          paths: [route],
        });
        return;
      }
      this.#loc.set(route.prefix, [e, route]);
    } else {
      const i = old ? e.indexOf(old) : -1;
      if (i >= 0) e[i] = route;
      else e.push(route);
    }
    this.#recompute(route.prefix, before, changes);
  }

  /** Removes the route of `peer` for `prefix`. */
  remove(peer: string, prefix: string, changes: BestChange[]): void {
    const adj = this.adjIn.get(peer);
    const old = adj?.get(prefix);
    if (!old) return;
    adj!.delete(prefix);
    const e = this.#loc.get(prefix);
    if (e === undefined) return;
    if (!Array.isArray(e)) {
      if (e === old) {
        this.#loc.delete(prefix);
        changes.push({ prefix, family: fam(prefix), best: null, paths: [] });
      }
      return;
    }
    const before = e[0];
    const rest = e.filter((r) => r !== old);
    this.#loc.set(prefix, rest.length === 1 ? rest[0] : rest);
    this.#recompute(prefix, before, changes);
  }

  /** Removes every route of a peer (session down without graceful restart). */
  dropPeer(peer: string, changes: BestChange[], family?: Family): void {
    const adj = this.adjIn.get(peer);
    if (!adj) return;
    for (const prefix of [...adj.keys()]) {
      if (!family || fam(prefix) === family) this.remove(peer, prefix, changes);
    }
    if (adj.size === 0) this.adjIn.delete(peer);
  }

  /** Marks every route of a peer stale (graceful restart). Returns how many. */
  markStale(peer: string, changes: BestChange[]): number {
    const adj = this.adjIn.get(peer);
    if (!adj) return 0;
    for (const r of adj.values()) {
      r.stale = true;
      const e = this.#loc.get(r.prefix);
      if (Array.isArray(e)) this.#recompute(r.prefix, e[0], changes);
    }
    return adj.size;
  }

  /** Removes the routes of a peer still stale (End-of-RIB or restart timer). */
  sweepStale(peer: string, changes: BestChange[], family?: Family): number {
    const adj = this.adjIn.get(peer);
    if (!adj) return 0;
    let n = 0;
    for (const [prefix, r] of [...adj]) {
      if (r.stale && (!family || fam(prefix) === family)) {
        this.remove(peer, prefix, changes);
        n++;
      }
    }
    return n;
  }
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
export function exportRoute(route: Route, target: ExportTarget): Export | null {
  const family = fam(route.prefix);
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
