/**
 * Routes learned from BGP peers, as kernel routes, pure: turns the RIB's best-path changes into
 * route-table messages, one route-table source per peer (`bgp-<peer address>`), so that equal
 * paths from several peers become one multipath route and a withdrawal from one peer removes
 * only its next hop.
 *
 * Locally originated paths are never installed; next hops that are not usable as a kernel gateway
 * (unspecified; IPv6 link-local when there is no resolver to find its interface) are skipped and
 * counted. Next hops go through a resolver (recursive resolution, link-local next hops on their
 * session's interface, see `nexthop_resolve.ts`); one that cannot be resolved yet is not stated
 * until a later `reresolve` finds it.
 * @module
 */
import type { BestChange } from "../bgp/rib.ts";
import type { NextHop } from "../netlink/route_codec.ts";
import type { DesiredRoute } from "../netlink/route_plan.ts";
import { type BgpNextHop, isLinkLocal, nextHopKey } from "./nexthop_resolve.ts";

/** Route-table source name of a peer. */
export function peerSource(peer: string): string {
  return `bgp-${peer}`;
}

/** Route-table changes derived from a batch of best-path changes. */
export interface LearnedPlan {
  /** Routes to set, per source. */
  set: Map<string, DesiredRoute[]>;
  /** Prefixes to withdraw, per source. */
  withdraw: Map<string, string[]>;
  /** Full desired sets per source (only for a full table, `replace_source`). */
  replace: Map<string, DesiredRoute[]> | null;
  /** Paths skipped because their next hop cannot be a kernel gateway. */
  skipped: number;
  /** Paths whose next hop the resolver could not resolve (stated once it can). */
  unresolved: number;
}

function usableGateway(nh: string, resolver: boolean): boolean {
  if (nh === "" || nh === "0.0.0.0" || nh === "::") return false;
  // Link-local: needs an interface, which only the resolver finds.
  if (isLinkLocal(nh)) return resolver;
  return true;
}

/**
 * Resolves a BGP next hop to kernel next hops (null: unresolvable for now): `nh` is the next hop
 * address, `path` all the path says about it (link-local next hop, peer).
 */
export type NextHopResolver = (nh: string, path: BgpNextHop) => NextHop[] | null;

/**
 * The learned next hops per prefix (peer -> BGP next hop) and what was stated to the route table
 * (peer -> resolved next hops). A full table (the first event after subscribing) yields `replace`
 * for every source seen so far or now. Without a resolver, next hops are used as they are.
 */
export class LearnedRoutes {
  readonly #learned = new Map<string, Map<string, BgpNextHop>>();
  readonly #stated = new Map<string, Map<string, string>>();
  readonly #sources = new Set<string>();
  readonly #resolve: NextHopResolver;
  readonly #hasResolver: boolean;

  constructor(resolve?: NextHopResolver) {
    this.#hasResolver = resolve !== undefined;
    this.#resolve = resolve ?? ((nh) => [{ gateway: nh }]);
  }

  /** Prefixes learned (at least one usable path). */
  get size(): number {
    return this.#learned.size;
  }

  /** Sources that ever contributed (so a full table can empty them). */
  get sources(): ReadonlySet<string> {
    return this.#sources;
  }

  /** Learned BGP next hops (distinct, by {@link nextHopKey}). */
  nextHopsInUse(): Set<string> {
    const out = new Set<string>();
    for (const m of this.#learned.values()) for (const nh of m.values()) out.add(nextHopKey(nh));
    return out;
  }

  /** The BGP next hops of a prefix, by source. */
  nextHops(prefix: string): ReadonlyMap<string, BgpNextHop> | undefined {
    return this.#learned.get(prefix);
  }

  #route(prefix: string, nh: BgpNextHop): { route: DesiredRoute; key: string } | null {
    const hops = this.#resolve(nh.nextHop, nh);
    if (!hops || hops.length === 0) return null;
    return { route: { dst: prefix, nexthops: hops }, key: JSON.stringify(hops) };
  }

  /** Diffs what `prefixes` should state against what was stated, into `plan`. */
  #diff(prefixes: Iterable<string>, plan: LearnedPlan): void {
    for (const prefix of prefixes) {
      const want = this.#learned.get(prefix) ?? new Map<string, BgpNextHop>();
      const had = this.#stated.get(prefix) ?? new Map<string, string>();
      const now = new Map<string, string>();
      for (const [src, nh] of want) {
        const r = this.#route(prefix, nh);
        if (!r) {
          plan.unresolved++;
          continue;
        }
        now.set(src, r.key);
        if (had.get(src) === r.key) continue;
        const l = plan.set.get(src) ?? [];
        l.push(r.route);
        plan.set.set(src, l);
      }
      for (const src of had.keys()) {
        if (now.has(src)) continue;
        const l = plan.withdraw.get(src) ?? [];
        l.push(prefix);
        plan.withdraw.set(src, l);
      }
      if (now.size > 0) this.#stated.set(prefix, now);
      else this.#stated.delete(prefix);
    }
  }

  /** Applies changes; `full` means they are the whole table (everything else is gone). */
  apply(changes: readonly BestChange[], full: boolean): LearnedPlan {
    const plan: LearnedPlan = {
      set: new Map(),
      withdraw: new Map(),
      replace: null,
      skipped: 0,
      unresolved: 0,
    };
    if (full) this.#learned.clear();
    for (const c of changes) {
      const want = new Map<string, BgpNextHop>();
      for (const p of c.best ? c.paths : []) {
        if (p.source.local) continue;
        if (!usableGateway(p.nextHop, this.#hasResolver)) {
          plan.skipped++;
          continue;
        }
        const src = peerSource(p.source.peer);
        if (want.has(src)) continue;
        const nh: BgpNextHop = { nextHop: p.nextHop, peer: p.source.peer };
        if (p.linkLocalNextHop && this.#hasResolver) nh.linkLocal = p.linkLocalNextHop;
        want.set(src, nh);
      }
      if (want.size > 0) this.#learned.set(c.prefix, want);
      else this.#learned.delete(c.prefix);
      for (const src of want.keys()) this.#sources.add(src);
    }
    if (!full) {
      this.#diff(new Set(changes.map((c) => c.prefix)), plan);
      return plan;
    }
    this.#stated.clear();
    this.#diff(this.#learned.keys(), plan);
    const replace = new Map<string, DesiredRoute[]>();
    for (const src of this.#sources) replace.set(src, []);
    for (const [src, routes] of plan.set) replace.set(src, routes);
    plan.set = new Map();
    plan.withdraw = new Map();
    plan.replace = replace;
    return plan;
  }

  /** Resolves every learned prefix again (after the table changed); changes only. */
  reresolve(): LearnedPlan {
    const plan: LearnedPlan = {
      set: new Map(),
      withdraw: new Map(),
      replace: null,
      skipped: 0,
      unresolved: 0,
    };
    this.#diff(new Set([...this.#learned.keys(), ...this.#stated.keys()]), plan);
    return plan;
  }

  /** Forgets everything; returns an empty desired set for every source seen. */
  clear(): Map<string, DesiredRoute[]> {
    this.#learned.clear();
    this.#stated.clear();
    return new Map([...this.#sources].map((s) => [s, []]));
  }
}
