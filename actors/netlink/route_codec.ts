/**
 * RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE builders and the route parser (pure).
 *
 * `struct rtmsg` layout: family u8, dst_len u8, src_len u8, tos u8, table u8, protocol u8,
 * scope u8, type u8, flags u32 (12 bytes), followed by `RTA_*` attributes.
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  NLM_F,
  RT_SCOPE,
  RT_TABLE,
  RTA,
  RTM,
  RTMSG_LEN,
  RTN,
  RTNH_F,
  RTNH_LEN,
  RTPROT,
} from "./constants.ts";
import { NetlinkDecodeError, NetlinkInputError } from "./errors.ts";
import { formatAddress, type IpAddress, parseAddress, scanPrefix } from "./ip.ts";

const DST_SCRATCH = new Uint8Array(16);
import {
  attrS32,
  attrU32,
  checkRequestHead,
  HOST_LE,
  type MessageWriter,
  type NetlinkMessage,
  parseAttrs,
  payloadFamily,
} from "./message.ts";

/** Route types tern programs or reports. */
export type RouteType =
  | "unicast"
  | "local"
  | "broadcast"
  | "anycast"
  | "multicast"
  | "blackhole"
  | "unreachable"
  | "prohibit"
  | "throw"
  | "nat"
  | "unspec";

const TYPE_BY_NAME: Record<RouteType, number> = {
  unspec: RTN.UNSPEC,
  unicast: RTN.UNICAST,
  local: RTN.LOCAL,
  broadcast: RTN.BROADCAST,
  anycast: RTN.ANYCAST,
  multicast: RTN.MULTICAST,
  blackhole: RTN.BLACKHOLE,
  unreachable: RTN.UNREACHABLE,
  prohibit: RTN.PROHIBIT,
  throw: RTN.THROW,
  nat: RTN.NAT,
};
const NAME_BY_TYPE: string[] = [];
for (const [k, v] of Object.entries(TYPE_BY_NAME)) NAME_BY_TYPE[v] = k;

/** One next hop of a multipath (ECMP) route. */
export interface NextHop {
  /** Gateway address (same family as the destination). */
  gateway?: string;
  /** Output interface index. */
  oif?: number;
  /** Relative weight, 1..256 (default 1). */
  weight?: number;
  /** Gateway is directly reachable on `oif` even without a covering route (`onlink`). */
  onlink?: boolean;
}

/** A route as tern asks for it. Omitted fields take the kernel's usual defaults. */
export interface Route {
  /** Destination prefix, e.g. `"198.51.100.0/24"`, `"fd00::/64"`, `"0.0.0.0/0"`. */
  dst: string;
  /** Routing table (default 254, main). Tables above 255 go in `RTA_TABLE`. */
  table?: number;
  /** Route protocol number (default 3, boot, like `ip route`). */
  protocol?: number;
  /** Scope (default: link for gateway-less unicast routes, universe otherwise). */
  scope?: number;
  /** Route type (default `"unicast"`; for a delete, any type). */
  type?: RouteType;
  /** Gateway of a single-path route. */
  gateway?: string;
  /** Output interface index of a single-path route. */
  oif?: number;
  /** Metric (`RTA_PRIORITY`). */
  priority?: number;
  /** Preferred source address. */
  prefsrc?: string;
  /** Gateway reachable on `oif` without a covering route. */
  onlink?: boolean;
  /** Multipath next hops (ECMP); excludes `gateway`/`oif`. */
  nexthops?: NextHop[];
}

/** A route as the kernel reports it. */
export interface RouteInfo {
  /** `AF_INET` or `AF_INET6`. */
  family: number;
  /** Canonical destination prefix (`0.0.0.0/0` or `::/0` for default). */
  dst: string;
  /** Table id (from `RTA_TABLE` when present). */
  table: number;
  /** Protocol number. */
  protocol: number;
  /** Scope. */
  scope: number;
  /** Route type name. */
  type: RouteType;
  /** `rtm_flags`. */
  flags: number;
  /** Gateway, for single-path routes. */
  gateway?: string;
  /** Output interface, for single-path routes. */
  oif?: number;
  /** Metric. */
  priority?: number;
  /** Preferred source. */
  prefsrc?: string;
  /** Multipath next hops. */
  nexthops?: NextHop[];
}

/** Options of a route dump request. */
export interface RouteDumpFilter {
  /** `AF_INET`, `AF_INET6` or `AF_UNSPEC` (0, both). */
  family?: number;
  /** Ask the kernel to return only this table (needs strict checking on the socket). */
  table?: number;
  /** Ask the kernel to return only this protocol (needs strict checking on the socket). */
  protocol?: number;
}

function checkUint(value: unknown, max: number, what: string, whole: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new NetlinkInputError(
      "invalid_number",
      `Invalid ${what} ${JSON.stringify(value)} (expected an integer 0..${max})`,
      whole,
    );
  }
  return value;
}

function routeGateway(text: string, family: number, route: Route): IpAddress {
  const a = parseAddress(text);
  if (a.family !== family) {
    throw new NetlinkInputError(
      "invalid_route",
      `Gateway ${JSON.stringify(text)} is not of the family of ${JSON.stringify(route.dst)}`,
      route,
    );
  }
  return a;
}

/**
 * Appends a route request to `w`.
 *
 * `msgType` is `RTM.NEWROUTE` or `RTM.DELROUTE`; `flags` are added to `NLM_F_REQUEST` (e.g.
 * `NLM_F.CREATE | NLM_F.REPLACE`, `NLM_F.CREATE | NLM_F.EXCL`, `NLM_F.ACK`). Throws
 * {@linkcode NetlinkInputError} and writes nothing on bad input.
 */
export function writeRouteRequest(
  w: MessageWriter,
  msgType: number,
  flags: number,
  seq: number,
  route: Route,
): void {
  checkRequestHead(msgType, [RTM.NEWROUTE, RTM.DELROUTE], "invalid_route", "route", route);
  const scanned = scanPrefix(route.dst, DST_SCRATCH);
  const family = scanned >> 8;
  const dstLen = scanned & 0xff;
  const dstSize = family === AF_INET ? 4 : 16;
  const typeName = route.type ?? (msgType === RTM.DELROUTE ? "unspec" : "unicast");
  const rtType = TYPE_BY_NAME[typeName];
  if (rtType === undefined) {
    throw new NetlinkInputError(
      "invalid_route",
      `Unknown route type ${JSON.stringify(route.type)}`,
      route,
    );
  }
  const table = route.table === undefined ? RT_TABLE.MAIN : checkUint(
    route.table,
    0xffffffff,
    "table",
    route,
  );
  const protocol = route.protocol === undefined
    ? (msgType === RTM.DELROUTE ? RTPROT.UNSPEC : RTPROT.BOOT)
    : checkUint(route.protocol, 255, "protocol", route);
  const gw = route.gateway === undefined ? undefined : routeGateway(route.gateway, family, route);
  const oif = route.oif === undefined ? undefined : checkUint(route.oif, 0x7fffffff, "oif", route);
  const priority = route.priority === undefined
    ? undefined
    : checkUint(route.priority, 0xffffffff, "priority", route);
  const prefsrc = route.prefsrc === undefined ? undefined : routeGateway(
    route.prefsrc,
    family,
    route,
  );
  const hops = route.nexthops?.map((nh) => {
    if (nh === null || typeof nh !== "object") {
      throw new NetlinkInputError("invalid_route", `Invalid next hop ${JSON.stringify(nh)}`, route);
    }
    const weight = nh.weight === undefined ? 1 : checkUint(nh.weight, 256, "weight", route);
    if (weight < 1) {
      throw new NetlinkInputError("invalid_number", `Invalid weight 0 (expected 1..256)`, route);
    }
    return {
      gw: nh.gateway === undefined ? undefined : routeGateway(nh.gateway, family, route),
      oif: nh.oif === undefined ? 0 : checkUint(nh.oif, 0x7fffffff, "oif", route),
      weight,
      onlink: nh.onlink === true,
    };
  });
  if (hops && (hops.length === 0 || gw || oif !== undefined)) {
    throw new NetlinkInputError(
      "invalid_route",
      `Route ${
        JSON.stringify(route.dst)
      } must have either a non-empty nexthops list or gateway/oif`,
      route,
    );
  }
  if (hops && hops.some((h) => !h.gw && !h.oif)) {
    throw new NetlinkInputError(
      "invalid_route",
      `Every next hop of ${JSON.stringify(route.dst)} needs a gateway or an oif`,
      route,
    );
  }
  let scope: number;
  if (route.scope !== undefined) scope = checkUint(route.scope, 255, "scope", route);
  else if (msgType === RTM.DELROUTE) scope = RT_SCOPE.NOWHERE;
  else if (rtType === RTN.LOCAL) scope = RT_SCOPE.HOST;
  else if (rtType === RTN.UNICAST && !gw && !hops) scope = RT_SCOPE.LINK;
  else scope = RT_SCOPE.UNIVERSE;

  w.beginMessage(msgType, NLM_F.REQUEST | flags, seq);
  // struct rtmsg
  w.u8(family);
  w.u8(dstLen);
  w.u8(0); // src_len
  w.u8(0); // tos
  w.u8(table < 256 ? table : RT_TABLE.UNSPEC);
  w.u8(protocol);
  w.u8(scope);
  w.u8(rtType);
  w.u32(route.onlink ? RTNH_F.ONLINK : 0);
  w.attrU32(RTA.TABLE, table);
  w.attrBytesFrom(RTA.DST, DST_SCRATCH, dstSize);
  if (priority !== undefined) w.attrU32(RTA.PRIORITY, priority);
  if (prefsrc) w.attrBytes(RTA.PREFSRC, prefsrc.bytes);
  if (gw) w.attrBytes(RTA.GATEWAY, gw.bytes);
  if (oif !== undefined) w.attrU32(RTA.OIF, oif);
  if (hops) {
    w.beginNested(RTA.MULTIPATH);
    for (const h of hops) {
      w.beginStruct();
      w.u16(0); // rtnh_len, set by endNested
      w.u8(h.onlink ? RTNH_F.ONLINK : 0);
      w.u8(h.weight - 1);
      w.s32(h.oif);
      if (h.gw) w.attrBytes(RTA.GATEWAY, h.gw.bytes);
      w.endNested();
    }
    w.endNested();
  }
  w.endMessage();
}

/** Appends a route dump request (`RTM_GETROUTE` with `NLM_F_DUMP`). */
export function writeRouteDump(w: MessageWriter, seq: number, filter: RouteDumpFilter = {}): void {
  w.beginMessage(RTM.GETROUTE, NLM_F.REQUEST | NLM_F.DUMP, seq);
  w.u8(filter.family ?? 0);
  w.u8(0);
  w.u8(0);
  w.u8(0);
  const table = filter.table;
  w.u8(table !== undefined && table < 256 ? table : 0);
  w.u8(filter.protocol ?? 0);
  w.u8(0);
  w.u8(0);
  w.u32(0);
  if (table !== undefined) w.attrU32(RTA.TABLE, table);
  w.endMessage();
}

function parseMultipath(b: Uint8Array, family: number): NextHop[] {
  const out: NextHop[] = [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0;
  while (off + RTNH_LEN <= b.length) {
    const len = v.getUint16(off, HOST_LE);
    if (len < RTNH_LEN || off + len > b.length) {
      throw new NetlinkDecodeError(`Bad rtnexthop length ${len} at offset ${off}`, off);
    }
    const flags = v.getUint8(off + 2);
    const hops = v.getUint8(off + 3);
    const ifindex = v.getInt32(off + 4, HOST_LE);
    const nh: NextHop = { weight: hops + 1 };
    if (ifindex) nh.oif = ifindex;
    if (flags & RTNH_F.ONLINK) nh.onlink = true;
    const attrs = parseAttrs(b.subarray(off + RTNH_LEN, off + len));
    const gw = attrs.get(RTA.GATEWAY);
    if (gw) nh.gateway = addr(gw, family);
    out.push(nh);
    off += (len + 3) & ~3;
  }
  return out;
}

function addr(b: Uint8Array, family: number): string {
  const want = family === AF_INET6 ? 16 : 4;
  if (b.length !== want) {
    throw new NetlinkDecodeError(`Address attribute of ${b.length} bytes, expected ${want}`, 0);
  }
  return formatAddress(b);
}

/**
 * Decodes an `RTM_NEWROUTE`/`RTM_DELROUTE` message. Throws {@linkcode NetlinkDecodeError} on a
 * malformed payload.
 */
export function parseRoute(msg: NetlinkMessage): RouteInfo {
  const p = msg.payload;
  const family = payloadFamily(p, RTMSG_LEN, "rtmsg", "route");
  const dstLen = p[1];
  const attrs = parseAttrs(p, RTMSG_LEN);
  const dstAttr = attrs.get(RTA.DST);
  const zero = family === AF_INET6 ? "::" : "0.0.0.0";
  const dstAddr = dstAttr ? addr(dstAttr, family) : zero;
  const tableAttr = attrs.get(RTA.TABLE);
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const info: RouteInfo = {
    family,
    dst: `${dstAddr}/${dstLen}`,
    table: tableAttr ? attrU32(tableAttr) : p[4],
    protocol: p[5],
    scope: p[6],
    type: (NAME_BY_TYPE[p[7]] ?? "unspec") as RouteType,
    flags: v.getUint32(8, HOST_LE),
  };
  const gw = attrs.get(RTA.GATEWAY);
  if (gw) info.gateway = addr(gw, family);
  const oif = attrs.get(RTA.OIF);
  if (oif) info.oif = attrS32(oif);
  const prio = attrs.get(RTA.PRIORITY);
  if (prio) info.priority = attrU32(prio);
  const src = attrs.get(RTA.PREFSRC);
  if (src) info.prefsrc = addr(src, family);
  const mp = attrs.get(RTA.MULTIPATH);
  if (mp) info.nexthops = parseMultipath(mp, family);
  return info;
}
