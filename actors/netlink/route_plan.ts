/**
 * The route-table actor's pure core: the desired set (contributions per source and prefix),
 * merging ECMP next hops from several sources into one multipath route, comparing a desired
 * route with what the kernel reports, and planning the batch of changes. No I/O, no timers.
 * @module
 */

import { AF_INET, AF_INET6 } from "./constants.ts";
import { NetlinkInputError } from "./errors.ts";
import { formatAddress, formatPrefix, parseAddress, scanPrefix } from "./ip.ts";

const SCRATCH = new Uint8Array(16);
import type { NextHop, Route, RouteInfo } from "./route_codec.ts";

/** Default route protocol number of tern's route tables.
 *
 * 211 appears in no file of `/etc/iproute2/rt_protos` or `rt_protos.d` on Debian (kernel values
 * 0–4, gated..keepalived 8–18, babel 42, openr 99, FRR's daemons 186–197) and is not used by the
 * common Kubernetes routing daemons we know of (Coil 30, Calico felix 80, xcluster-cni 202, our
 * testbed baseline 196, which FRR names `static`). Routes of any other protocol are never touched.
 */
export const DEFAULT_ROUTE_PROTOCOL = 211;

/** What one source wants for one prefix: next hops, or a special route type. */
export type Contribution =
  | { kind: "nexthops"; nexthops: NextHop[] }
  | { kind: "blackhole" | "unreachable" | "prohibit" };

/** One route of a source's desired set (a typed message of the route-table actor). */
export interface DesiredRoute {
  /** Destination prefix. */
  dst: string;
  /** Next hops (one for a plain route, several for ECMP); leave out for special types. */
  nexthops?: NextHop[];
  /** `"unicast"` (default, needs next hops), `"blackhole"`, `"unreachable"` or `"prohibit"`. */
  type?: "unicast" | "blackhole" | "unreachable" | "prohibit";
}

/** Table settings shared by every route of one table. */
export interface TableSettings {
  /** Route table id. */
  table: number;
  /** Route protocol number. */
  protocol: number;
  /** Metric for IPv4 routes (default 0). */
  metric4?: number;
  /** Metric for IPv6 routes (default 1024, the kernel's own default). */
  metric6?: number;
}

/** A validated, canonical contribution for a canonical prefix. */
export interface CheckedRoute {
  /** Canonical prefix. */
  dst: string;
  /** The contribution. */
  contribution: Contribution;
}

/**
 * Validates a desired route (prefix, next-hop addresses and families) and canonicalises it.
 * Throws {@linkcode NetlinkInputError}.
 */
export function checkDesired(r: DesiredRoute): CheckedRoute {
  if (r === null || typeof r !== "object") {
    throw new NetlinkInputError("invalid_route", `Invalid route ${JSON.stringify(r)}`, r);
  }
  const scanned = scanPrefix(r.dst, SCRATCH);
  const p = { family: scanned >> 8, len: scanned & 0xff };
  // The IPv4 parser accepts only canonical dotted quads, so `A.B.C.D/LEN` is already canonical.
  const dst = p.family === AF_INET && r.dst.includes("/")
    ? r.dst
    : formatPrefix(SCRATCH.slice(0, p.family === AF_INET ? 4 : 16), p.len);
  const type = r.type ?? "unicast";
  if (type !== "unicast") {
    if (type !== "blackhole" && type !== "unreachable" && type !== "prohibit") {
      throw new NetlinkInputError("invalid_route", `Unknown route type ${JSON.stringify(type)}`, r);
    }
    if (r.nexthops && r.nexthops.length) {
      throw new NetlinkInputError("invalid_route", `A ${type} route has no next hops`, r);
    }
    return { dst, contribution: { kind: type } };
  }
  if (!Array.isArray(r.nexthops) || r.nexthops.length === 0) {
    throw new NetlinkInputError(
      "invalid_route",
      `Route ${JSON.stringify(r.dst)} needs at least one next hop`,
      r,
    );
  }
  const nexthops: NextHop[] = r.nexthops.map((nh) => {
    if (nh === null || typeof nh !== "object" || (nh.gateway === undefined && !nh.oif)) {
      throw new NetlinkInputError(
        "invalid_route",
        `Next hop ${JSON.stringify(nh)} needs a gateway or an oif`,
        r,
      );
    }
    const out: NextHop = {};
    if (nh.gateway !== undefined) {
      const a = parseAddress(nh.gateway);
      if (a.family !== p.family) {
        throw new NetlinkInputError(
          "invalid_route",
          `Gateway ${JSON.stringify(nh.gateway)} is not of the family of ${JSON.stringify(r.dst)}`,
          r,
        );
      }
      out.gateway = a.family === AF_INET ? nh.gateway : formatAddress(a.bytes);
    }
    if (nh.oif !== undefined) {
      if (!Number.isInteger(nh.oif) || nh.oif <= 0) {
        throw new NetlinkInputError("invalid_number", `Invalid oif ${JSON.stringify(nh.oif)}`, r);
      }
      out.oif = nh.oif;
    }
    if (nh.weight !== undefined && nh.weight !== 1) {
      if (!Number.isInteger(nh.weight) || nh.weight < 1 || nh.weight > 256) {
        throw new NetlinkInputError(
          "invalid_number",
          `Invalid weight ${JSON.stringify(nh.weight)}`,
          r,
        );
      }
      out.weight = nh.weight;
    }
    if (nh.onlink) out.onlink = true;
    return out;
  });
  return { dst, contribution: { kind: "nexthops", nexthops } };
}

function hopKey(h: NextHop): string {
  return `${h.gateway ?? ""}%${h.oif ?? 0}`;
}

/**
 * Merges the contributions of every source for one prefix into the route to install, or
 * `undefined` when nothing is wanted. Next hops of all sources are unioned (the same gateway and
 * interface from two sources counts once, weights add up, capped at 256) and sorted, so the
 * result does not depend on arrival order; next hops win over special types; among special
 * types, blackhole beats unreachable beats prohibit.
 */
export function mergeContributions(
  dst: string,
  contributions: Iterable<Contribution> | ReadonlyMap<string, Contribution>,
  s: TableSettings,
): Route | undefined {
  // Fast path: one source with one plain next hop (the common case, and the bulk of pod routes).
  if (contributions instanceof Map && contributions.size === 1) {
    const only = contributions.values().next().value as Contribution;
    if (only.kind === "nexthops" && only.nexthops.length === 1) {
      const h = only.nexthops[0];
      if (h.weight === undefined && !h.onlink) {
        const r: Route = {
          dst,
          table: s.table,
          protocol: s.protocol,
          priority: dst.includes(":") ? s.metric6 ?? 1024 : s.metric4 ?? 0,
        };
        if (h.gateway !== undefined) r.gateway = h.gateway;
        if (h.oif !== undefined) r.oif = h.oif;
        return r;
      }
    }
  }
  const hops = new Map<string, NextHop>();
  let special: "blackhole" | "unreachable" | "prohibit" | undefined;
  const rank = { blackhole: 3, unreachable: 2, prohibit: 1 };
  const all = contributions instanceof Map ? contributions.values() : contributions;
  for (const c of all as Iterable<Contribution>) {
    if (c.kind === "nexthops") {
      for (const h of c.nexthops) {
        const k = hopKey(h);
        const prev = hops.get(k);
        if (prev) {
          prev.weight = Math.min(256, (prev.weight ?? 1) + (h.weight ?? 1));
          if (h.onlink) prev.onlink = true;
        } else hops.set(k, { ...h });
      }
    } else if (!special || rank[c.kind] > rank[special]) {
      special = c.kind;
    }
  }
  const v6 = dst.includes(":");
  const base: Route = {
    dst,
    table: s.table,
    protocol: s.protocol,
    priority: v6 ? s.metric6 ?? 1024 : s.metric4 ?? 0,
  };
  if (hops.size === 0) {
    return special ? { ...base, type: special } : undefined;
  }
  const list = [...hops.values()].sort((a, b) => (hopKey(a) < hopKey(b) ? -1 : 1));
  // Equal weights of 1 everywhere but merged duplicates: keep ECMP balanced as given.
  if (list.length === 1) {
    const h = list[0];
    const r: Route = { ...base };
    if (h.gateway !== undefined) r.gateway = h.gateway;
    if (h.oif !== undefined) r.oif = h.oif;
    if (h.onlink) r.onlink = true;
    return r;
  }
  return { ...base, nexthops: list };
}

function sameHop(want: NextHop, have: NextHop): boolean {
  if ((want.gateway ?? undefined) !== (have.gateway ?? undefined)) return false;
  if (want.oif !== undefined && want.oif !== have.oif) return false;
  if (want.gateway === undefined && have.oif === undefined) return false;
  return true;
}

/** True when the kernel's route is what `want` asks for (oif only compared when asked for). */
export function routeMatches(want: Route, have: RouteInfo): boolean {
  const wantType = want.type ?? "unicast";
  if (wantType !== have.type) return false;
  if ((want.priority ?? 0) !== (have.priority ?? 0)) return false;
  if (wantType !== "unicast") return true;
  if (want.nexthops) {
    if (!have.nexthops || have.nexthops.length !== want.nexthops.length) return false;
    const pool = [...have.nexthops];
    for (const w of want.nexthops) {
      const i = pool.findIndex((h) => sameHop(w, h) && (h.weight ?? 1) === (w.weight ?? 1));
      if (i === -1) return false;
      pool.splice(i, 1);
    }
    return true;
  }
  if (have.nexthops && have.nexthops.length > 1) return false;
  const single: NextHop = have.nexthops?.[0] ?? {
    ...(have.gateway !== undefined ? { gateway: have.gateway } : {}),
    ...(have.oif !== undefined ? { oif: have.oif } : {}),
  };
  const w: NextHop = {
    ...(want.gateway !== undefined ? { gateway: want.gateway } : {}),
    ...(want.oif !== undefined ? { oif: want.oif } : {}),
  };
  return sameHop(w, single);
}

/** One change of a plan. */
export type PlannedOp =
  | { op: "add"; dst: string; route: Route }
  | { op: "replace"; dst: string; route: Route }
  | { op: "delete"; dst: string; route: Route };

/**
 * Plans the changes for the prefixes in `dirty`: `desired(dst)` is the merged route (or
 * undefined), `installed(dst)` the kernel's route of ours (or undefined). A prefix not installed
 * by us is added with create-exclusive semantics, so a route of another protocol with the same
 * key is never replaced; one of ours that differs is replaced; one no longer wanted is deleted.
 */
export function planChanges(
  dirty: Iterable<string>,
  desired: (dst: string) => Route | undefined,
  installed: (dst: string) => RouteInfo | undefined,
): PlannedOp[] {
  const ops: PlannedOp[] = [];
  for (const dst of dirty) {
    const want = desired(dst);
    const have = installed(dst);
    if (want && !have) ops.push({ op: "add", dst, route: want });
    else if (want && have) {
      if (!routeMatches(want, have)) ops.push({ op: "replace", dst, route: want });
    } else if (!want && have) ops.push({ op: "delete", dst, route: deletionOf(have) });
  }
  return ops;
}

/** The exact delete request for a kernel route (key fields only). */
export function deletionOf(have: RouteInfo): Route {
  const r: Route = {
    dst: have.dst,
    table: have.table,
    protocol: have.protocol,
    type: have.type,
  };
  if (have.priority !== undefined) r.priority = have.priority;
  return r;
}

/** The route the kernel would report for `route` once installed (for bookkeeping). */
export function installedView(route: Route, oifFallback?: number): RouteInfo {
  const info: RouteInfo = {
    family: route.dst.includes(":") ? AF_INET6 : 2,
    dst: route.dst,
    table: route.table ?? 254,
    protocol: route.protocol ?? 0,
    scope: 0,
    type: route.type ?? "unicast",
    flags: 0,
  };
  if (route.priority !== undefined) info.priority = route.priority;
  if (route.gateway !== undefined) info.gateway = route.gateway;
  if (route.oif !== undefined) info.oif = route.oif;
  else if (oifFallback !== undefined) info.oif = oifFallback;
  if (route.nexthops) info.nexthops = route.nexthops.map((h) => ({ weight: 1, ...h }));
  return info;
}
