/**
 * Kernel networking through libmnl: the public face of `actors/netlink/` for the agent and the
 * CNI plugin.
 *
 * - {@linkcode NetlinkSocket}: a NETLINK_ROUTE socket (optionally inside a namespace given by
 *   path), with requests, dumps and batches; {@linkcode Subscription} for change events.
 * - rtnl operations: links (veth pairs, up/down, MTU, MAC, move to a namespace), addresses,
 *   routes, and {@linkcode wirePod} to wire a pod's veth, addresses and default routes.
 * - {@linkcode routeTable}: the route-table actor for host routes (pod blocks, BGP paths, ECMP).
 * - Typed errors: {@linkcode NetlinkError} (kernel errno, e.g. `EEXIST`),
 *   {@linkcode NetlinkInputError}, {@linkcode NamespaceNotFoundError},
 *   {@linkcode InterfaceNotFoundError}, {@linkcode NetlinkSystemError}.
 *
 * ```ts
 * import { NetlinkSocket, wirePod } from "./actors/netlink/mod.ts";
 * const host = NetlinkSocket.open();
 * const pod = NetlinkSocket.open({ netns: "/run/netns/cni-1234" });
 * try {
 *   await wirePod(host, pod, { hostIfname: "tern1234", netns: "/run/netns/cni-1234",
 *     addresses: ["198.18.0.5/32"] });
 * } finally {
 *   pod.close();
 *   host.close();
 * }
 * ```
 * @module
 */

export {
  errnoName,
  InterfaceNotFoundError,
  NamespaceNotFoundError,
  NetlinkDecodeError,
  NetlinkError,
  NetlinkInputError,
  NetlinkSystemError,
} from "./errors.ts";
export type { InputErrorCode, RequestSummary, SystemErrorCode } from "./errors.ts";
export {
  AF_INET,
  AF_INET6,
  IFA_F,
  NLM_F,
  RT_SCOPE,
  RT_TABLE,
  RTNLGRP,
  RTPROT,
} from "./constants.ts";
export { type BatchResult, NetlinkSocket, type SocketOptions } from "./socket.ts";
export { Subscription, type SubscriptionEvent, type SubscriptionOptions } from "./subscription.ts";
export { loadNetlinkLibraries } from "./ffi.ts";
export { closeFd, netnsPath, openNetns, withNetns } from "./netns.ts";
export {
  addAddress,
  type AddressOptions,
  addRoute,
  createVeth,
  deleteAddress,
  deleteLink,
  deleteRoute,
  getLink,
  linkIndex,
  type LinkRef,
  listAddresses,
  listLinks,
  listRoutes,
  moveLink,
  type PodWiring,
  type PodWiringResult,
  type RouteMode,
  setLink,
  type VethOptions,
  wirePod,
} from "./rtnl.ts";
export type { NextHop, Route, RouteDumpFilter, RouteInfo, RouteType } from "./route_codec.ts";
export { parseRoute, writeRouteRequest } from "./route_codec.ts";
export type { Address, AddressInfo } from "./addr_codec.ts";
export type { LinkInfo, LinkRequest, LinkSettings } from "./link_codec.ts";
export { MessageWriter, type NetlinkMessage, parseMessages } from "./message.ts";
export { canonicalPrefix, formatAddress, parseAddress, parsePrefix } from "./ip.ts";
export { DEFAULT_ROUTE_PROTOCOL, type DesiredRoute, mergeContributions } from "./route_plan.ts";
export {
  type ReconcileReport,
  routeTable,
  type RouteTableMsg,
  type RouteTableOptions,
  type RouteTableView,
} from "./route_table.ts";
