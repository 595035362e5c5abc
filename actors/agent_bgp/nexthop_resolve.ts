/**
 * Recursive next-hop resolution, pure: a BGP next hop (for example a spine's loopback, reached over
 * a multihop session) is not a kernel gateway unless it is on a connected subnet; like FRR's zebra
 * and BIRD's `gateway recursive`, it is resolved through the routes of the table (longest prefix
 * match, never through the default route nor through the routes learned from BGP themselves) to
 * the directly connected gateway(s) and interface(s). IPv6 link-local next hops are installed on
 * the interface of the session they came over ({@link chooseNextHop}).
 * @module
 */
import { Cidr, IpAddress } from "../ipam/mod.ts";
import type { NextHop, RouteInfo } from "../netlink/route_codec.ts";

/**
 * Resolves `nh` over `routes` (the table as dumped). Connected: `[{ gateway: nh }]`; through a
 * gateway route: that route's next hops; null when nothing but a default route (or a route of
 * `learnedProtocol`, or no route) covers it.
 */
export function resolveNextHop(
  nh: string,
  routes: readonly RouteInfo[],
  learnedProtocol: number,
): NextHop[] | null {
  const addr = IpAddress.tryParse(nh);
  if (!addr) return null;
  let best: { cidr: Cidr; route: RouteInfo } | undefined;
  for (const r of routes) {
    if (r.protocol === learnedProtocol || r.type !== "unicast") continue;
    const cidr = Cidr.tryParse(r.dst);
    if (!cidr || cidr.length === 0 || cidr.family !== addr.family) continue;
    if (!cidr.contains(addr)) continue;
    if (best && best.cidr.length >= cidr.length) continue;
    best = { cidr, route: r };
  }
  if (!best) return null;
  const r = best.route;
  if (r.nexthops && r.nexthops.length > 0) {
    const hops = r.nexthops.map((h) =>
      h.gateway
        ? { gateway: h.gateway, ...(h.oif ? { oif: h.oif } : {}) }
        : { gateway: nh, ...(h.oif ? { oif: h.oif } : {}) }
    );
    return hops;
  }
  if (r.gateway) return [{ gateway: r.gateway, ...(r.oif ? { oif: r.oif } : {}) }];
  return [{ gateway: nh, ...(r.oif ? { oif: r.oif } : {}) }];
}

/** A path's BGP next hop as the RIB holds it. */
export interface BgpNextHop {
  /** The next hop (IPv4, IPv6 global, or IPv6 link-local when no global one was sent). */
  nextHop: string;
  /** IPv6: the link-local next hop sent besides the global one. */
  linkLocal?: string;
  /** Address of the peer the path came from (the session's remote address). */
  peer: string;
}

/** Whether an address is IPv6 link-local (fe80::/10). */
export function isLinkLocal(addr: string): boolean {
  return /^fe[89ab][0-9a-f]?:/i.test(addr);
}

/** A stable key of a BGP next hop (for caches and for diffing what was stated). */
export function nextHopKey(nh: BgpNextHop): string {
  const ll = nh.linkLocal ?? (isLinkLocal(nh.nextHop) ? nh.nextHop : undefined);
  return ll ? `${nh.nextHop}|${ll}|${nh.peer}` : nh.nextHop;
}

/**
 * The interface the session with `peer` runs over: the one output interface of the route that
 * reaches the peer's address (connected, or through a gateway), or undefined when it is not
 * exactly one interface.
 */
export function sessionInterface(
  peer: string,
  routes: readonly RouteInfo[],
  learnedProtocol: number,
): number | undefined {
  const hops = resolveNextHop(peer, routes, learnedProtocol);
  const oifs = new Set((hops ?? []).map((h) => h.oif));
  if (oifs.size !== 1) return undefined;
  const [oif] = oifs;
  return oif;
}

/**
 * The kernel next hops of a learned path, chosen as FRR's zebra does for IPv6: a link-local next
 * hop (sent alone, or besides a global one on a shared link) is preferred and installed on the
 * interface of the session it came over (`via fe80::… dev <if>`); when that interface is not
 * known, a global next hop is resolved recursively (`resolveNextHop`), a lone link-local one is
 * unresolvable (null). Other next hops (IPv4, IPv6 global only) are resolved recursively.
 */
export function chooseNextHop(
  nh: BgpNextHop,
  routes: readonly RouteInfo[],
  learnedProtocol: number,
): NextHop[] | null {
  const global = isLinkLocal(nh.nextHop) ? undefined : nh.nextHop;
  const ll = nh.linkLocal ?? (global === undefined ? nh.nextHop : undefined);
  if (ll !== undefined && isLinkLocal(ll)) {
    const oif = sessionInterface(nh.peer, routes, learnedProtocol);
    if (oif !== undefined) return [{ gateway: ll, oif }];
  }
  if (global === undefined || global === "::") return null;
  return resolveNextHop(global, routes, learnedProtocol);
}
