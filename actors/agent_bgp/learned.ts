/**
 * Routes learned from BGP peers, as kernel routes, pure: turns the RIB's best-path changes into
 * route-table messages, one route-table source per peer (`bgp-<peer address>`), so that equal
 * paths from several peers become one multipath route and a withdrawal from one peer removes
 * only its next hop.
 *
 * Locally originated paths are never installed; next hops that are not usable as a kernel gateway
 * (unspecified, or IPv6 link-local without an interface) are skipped and counted.
 * @module
 */
import type { BestChange } from "../bgp/rib.ts";
import type { DesiredRoute } from "../netlink/route_plan.ts";

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
}

function usableGateway(nh: string): boolean {
  if (nh === "" || nh === "0.0.0.0" || nh === "::") return false;
  if (/^fe[89ab][0-9a-f]?:/i.test(nh)) return false; // link-local: needs an interface
  return true;
}

/**
 * What is installed per prefix (peer -> next hop), updated by each batch of changes. A full table
 * (the first event after subscribing) yields `replace` for every source seen so far or now.
 */
export class LearnedRoutes {
  readonly #byPrefix = new Map<string, Map<string, string>>();
  readonly #sources = new Set<string>();

  /** Prefixes installed (at least one next hop). */
  get size(): number {
    return this.#byPrefix.size;
  }

  /** Sources that ever contributed (so a full table can empty them). */
  get sources(): ReadonlySet<string> {
    return this.#sources;
  }

  /** The next hops of a prefix, by peer. */
  nextHops(prefix: string): ReadonlyMap<string, string> | undefined {
    return this.#byPrefix.get(prefix);
  }

  /** Applies changes; `full` means they are the whole table (everything else is gone). */
  apply(changes: readonly BestChange[], full: boolean): LearnedPlan {
    const plan: LearnedPlan = {
      set: new Map(),
      withdraw: new Map(),
      replace: null,
      skipped: 0,
    };
    if (full) this.#byPrefix.clear();
    for (const c of changes) {
      const want = new Map<string, string>();
      for (const p of c.best ? c.paths : []) {
        if (p.source.local) continue;
        if (!usableGateway(p.nextHop)) {
          plan.skipped++;
          continue;
        }
        const src = peerSource(p.source.peer);
        if (!want.has(src)) want.set(src, p.nextHop);
      }
      const had = this.#byPrefix.get(c.prefix) ?? new Map<string, string>();
      if (!full) {
        for (const [src, nh] of want) {
          if (had.get(src) === nh) continue;
          const l = plan.set.get(src) ?? [];
          l.push({ dst: c.prefix, nexthops: [{ gateway: nh }] });
          plan.set.set(src, l);
        }
        for (const src of had.keys()) {
          if (want.has(src)) continue;
          const l = plan.withdraw.get(src) ?? [];
          l.push(c.prefix);
          plan.withdraw.set(src, l);
        }
      }
      if (want.size > 0) this.#byPrefix.set(c.prefix, want);
      else this.#byPrefix.delete(c.prefix);
      for (const src of want.keys()) this.#sources.add(src);
    }
    if (full) {
      const replace = new Map<string, DesiredRoute[]>();
      for (const src of this.#sources) replace.set(src, []);
      for (const [prefix, m] of this.#byPrefix) {
        for (const [src, nh] of m) {
          replace.get(src)!.push({ dst: prefix, nexthops: [{ gateway: nh }] });
        }
      }
      plan.replace = replace;
    }
    return plan;
  }

  /** Forgets everything; returns an empty desired set for every source seen. */
  clear(): Map<string, DesiredRoute[]> {
    this.#byPrefix.clear();
    return new Map([...this.#sources].map((s) => [s, []]));
  }
}
