/**
 * Recursive next-hop resolution, pure: a BGP next hop (for example a spine's loopback, reached over
 * a multihop session) is not a kernel gateway unless it is on a connected subnet; like FRR's zebra
 * and BIRD's `gateway recursive`, it is resolved through the routes of the table (longest prefix
 * match, never through the default route nor through the routes learned from BGP themselves) to
 * the directly connected gateway(s) and interface(s).
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
