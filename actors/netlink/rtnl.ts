/**
 * High-level rtnetlink operations on a {@linkcode NetlinkSocket}: links (veth pairs, up/down,
 * MTU, MAC, rename, move to a namespace), addresses and routes. Enough to wire a pod with no
 * external command. Every failure is a typed error; bad input is rejected before anything is sent.
 * @module
 */

import { AF_INET, AF_INET6, NLM_F, RT_SCOPE, RTM } from "./constants.ts";
import { InterfaceNotFoundError, NetlinkError, NetlinkInputError } from "./errors.ts";
import {
  type AddressInfo,
  parseAddressMessage,
  writeAddressDump,
  writeAddressRequest,
} from "./addr_codec.ts";
import {
  type LinkInfo,
  type LinkSettings,
  parseLink,
  writeDelLink,
  writeGetLink,
  writeNewLink,
} from "./link_codec.ts";
import {
  parseRoute,
  type Route,
  type RouteDumpFilter,
  type RouteInfo,
  writeRouteDump,
  writeRouteRequest,
} from "./route_codec.ts";
import { closeFd, openNetns } from "./netns.ts";
import { MessageWriter } from "./message.ts";
import type { NetlinkSocket } from "./socket.ts";

/** A link given by index or by name. */
export type LinkRef = number | string;

function mapNoDev(e: unknown, ref: LinkRef): never {
  if (e instanceof NetlinkError && (e.errnoName === "ENODEV")) {
    throw new InterfaceNotFoundError(ref);
  }
  throw e;
}

/** Looks a link up by index or name. Throws {@linkcode InterfaceNotFoundError}. */
export async function getLink(sock: NetlinkSocket, ref: LinkRef): Promise<LinkInfo> {
  const q = typeof ref === "number" ? { index: ref } : { name: ref };
  let replies;
  try {
    replies = await sock.request((w, seq) => writeGetLink(w, 0, seq, q), q);
  } catch (e) {
    mapNoDev(e, ref);
  }
  const m = replies.find((r) => r.type === RTM.NEWLINK);
  if (!m) throw new InterfaceNotFoundError(ref);
  return parseLink(m);
}

/** Index of a link given by index or name (a number is checked to exist too). */
export async function linkIndex(sock: NetlinkSocket, ref: LinkRef): Promise<number> {
  return (await getLink(sock, ref)).index;
}

/** Every link of the socket's namespace. */
export function listLinks(sock: NetlinkSocket): Promise<LinkInfo[]> {
  return sock.dump((w, seq) => writeGetLink(w, 0, seq), parseLink, (m) => m.type === RTM.NEWLINK);
}

/** Options of {@linkcode createVeth}. */
export interface VethOptions {
  /** Name of this end (in the socket's namespace). */
  name: string;
  /** Name of the other end. */
  peerName: string;
  /** Create the other end directly inside this namespace (path, e.g. `/run/netns/NAME`). */
  peerNetns?: string;
  /** MTU of both ends. */
  mtu?: number;
  /** MAC of this end. */
  mac?: string;
  /** MAC of the other end. */
  peerMac?: string;
  /** Bring this end up. */
  up?: boolean;
}

/**
 * Creates a veth pair (`NLM_F_CREATE | NLM_F_EXCL`). Throws {@linkcode NetlinkError} (`EEXIST`
 * when a name is taken), {@linkcode NamespaceNotFoundError} for a missing `peerNetns`.
 */
export async function createVeth(sock: NetlinkSocket, o: VethOptions): Promise<void> {
  const fd = o.peerNetns === undefined ? undefined : openNetns(o.peerNetns);
  try {
    const peer: LinkSettings & { name: string } = { name: o.peerName };
    if (o.mtu !== undefined) peer.mtu = o.mtu;
    if (o.peerMac !== undefined) peer.mac = o.peerMac;
    if (fd !== undefined) peer.netnsFd = fd;
    const req = { name: o.name, kind: "veth" as const, peer, mtu: o.mtu, mac: o.mac, up: o.up };
    for (const k of ["mtu", "mac", "up"] as const) if (req[k] === undefined) delete req[k];
    await sock.request(
      (w, seq) => writeNewLink(w, NLM_F.CREATE | NLM_F.EXCL, seq, req),
      { veth: o.name, peer: o.peerName, peerNetns: o.peerNetns },
    );
  } finally {
    if (fd !== undefined) closeFd(fd);
  }
}

/** Changes a link: up/down, MTU, MAC, name. Throws {@linkcode InterfaceNotFoundError}. */
export async function setLink(
  sock: NetlinkSocket,
  ref: LinkRef,
  settings: Omit<LinkSettings, "netnsFd" | "netnsPid">,
): Promise<void> {
  const index = await linkIndex(sock, ref);
  try {
    await sock.request((w, seq) => writeNewLink(w, 0, seq, { ...settings, index }), {
      link: ref,
      ...settings,
    });
  } catch (e) {
    mapNoDev(e, ref);
  }
}

/**
 * Moves a link into another network namespace, given by path (opened as an fd, sent as
 * `IFLA_NET_NS_FD`) or by pid (`IFLA_NET_NS_PID`), optionally renaming it.
 */
export async function moveLink(
  sock: NetlinkSocket,
  ref: LinkRef,
  target: { netns: string; name?: string } | { pid: number; name?: string },
): Promise<void> {
  const index = await linkIndex(sock, ref);
  if ("pid" in target) {
    await sock.request(
      (w, seq) =>
        writeNewLink(w, 0, seq, {
          index,
          netnsPid: target.pid,
          ...(target.name ? { name: target.name } : {}),
        }),
      { link: ref, pid: target.pid },
    );
    return;
  }
  const fd = openNetns(target.netns);
  try {
    await sock.request(
      (w, seq) =>
        writeNewLink(w, 0, seq, {
          index,
          netnsFd: fd,
          ...(target.name ? { name: target.name } : {}),
        }),
      { link: ref, netns: target.netns },
    );
  } finally {
    closeFd(fd);
  }
}

/** Deletes a link (deleting one end of a veth deletes both). */
export async function deleteLink(sock: NetlinkSocket, ref: LinkRef): Promise<void> {
  const q = typeof ref === "number" ? { index: ref } : { name: ref };
  try {
    await sock.request((w, seq) => writeDelLink(w, 0, seq, q), q);
  } catch (e) {
    mapNoDev(e, ref);
  }
}

/** Options of {@linkcode addAddress}. */
export interface AddressOptions {
  /** Point-to-point peer. */
  peer?: string;
  /** Scope (default universe). */
  scope?: number;
  /** `IFA_F_*` flags, e.g. `IFA_F.NODAD` for IPv6. */
  flags?: number;
  /** Replace an existing identical address instead of failing with EEXIST. */
  replace?: boolean;
}

/** Adds an address (`"192.0.2.1/24"`) to a link. */
export async function addAddress(
  sock: NetlinkSocket,
  ref: LinkRef,
  address: string,
  o: AddressOptions = {},
): Promise<void> {
  const index = await linkIndex(sock, ref);
  const a = { index, address, ...o };
  delete (a as { replace?: boolean }).replace;
  const flags = NLM_F.CREATE | (o.replace ? NLM_F.REPLACE : NLM_F.EXCL);
  await sock.request((w, seq) => writeAddressRequest(w, RTM.NEWADDR, flags, seq, a), {
    link: ref,
    address,
  });
}

/** Removes an address from a link. */
export async function deleteAddress(
  sock: NetlinkSocket,
  ref: LinkRef,
  address: string,
): Promise<void> {
  const index = await linkIndex(sock, ref);
  await sock.request(
    (w, seq) => writeAddressRequest(w, RTM.DELADDR, 0, seq, { index, address }),
    { link: ref, address },
  );
}

/** Every address (of one family, or both). */
export function listAddresses(sock: NetlinkSocket, family = 0): Promise<AddressInfo[]> {
  return sock.dump(
    (w, seq) => writeAddressDump(w, seq, family),
    parseAddressMessage,
    (m) => m.type === RTM.NEWADDR,
  );
}

/** How {@linkcode addRoute} treats an existing route with the same key. */
export type RouteMode = "create" | "replace" | "append";

/** Adds a route: `"create"` fails with EEXIST if present, `"replace"` overwrites. */
export async function addRoute(
  sock: NetlinkSocket,
  route: Route,
  mode: RouteMode = "create",
): Promise<void> {
  const flags = NLM_F.CREATE |
    (mode === "replace" ? NLM_F.REPLACE : mode === "append" ? NLM_F.APPEND : NLM_F.EXCL);
  await sock.request((w, seq) => writeRouteRequest(w, RTM.NEWROUTE, flags, seq, route), route);
}

/** Deletes a route (fields left out act as wildcards, as with `ip route del`). */
export async function deleteRoute(sock: NetlinkSocket, route: Route): Promise<void> {
  await sock.request((w, seq) => writeRouteRequest(w, RTM.DELROUTE, 0, seq, route), route);
}

/** Routes of the namespace, filtered by family, table and protocol (kernel-side and here). */
export function listRoutes(
  sock: NetlinkSocket,
  filter: RouteDumpFilter = {},
): Promise<RouteInfo[]> {
  return sock.dump(
    (w, seq) => writeRouteDump(w, seq, filter),
    parseRoute,
    (m) => {
      if (m.type !== RTM.NEWROUTE || m.payload.length < 12) return false;
      const fam = m.payload[0];
      if (fam !== AF_INET && fam !== AF_INET6) return false;
      if (filter.family && fam !== filter.family) return false;
      if (filter.protocol !== undefined && m.payload[5] !== filter.protocol) return false;
      if (filter.table !== undefined && filter.table < 256 && m.payload[4] !== filter.table) {
        return false;
      }
      return true;
    },
  ).then((rs) => filter.table === undefined ? rs : rs.filter((r) => r.table === filter.table));
}

/** Options of {@linkcode wirePod}. */
export interface PodWiring {
  /** Name of the host end of the veth (in the socket's namespace), e.g. `"veth1a2b3c"`. */
  hostIfname: string;
  /** The pod's network namespace, by path (e.g. `/run/netns/cni-…` or `/proc/PID/ns/net`). */
  netns: string;
  /** Name of the pod end inside the namespace (default `"eth0"`). */
  podIfname?: string;
  /** Pod addresses with prefix length, e.g. `["198.18.0.5/32", "fd00::5/128"]`. */
  addresses: string[];
  /** MTU of both ends. */
  mtu?: number;
  /** IPv4 link-local gateway the pod routes through (default `169.254.1.1`). */
  gateway4?: string;
  /** IPv6 link-local gateway (default `fe80::1`). */
  gateway6?: string;
}

/** What {@linkcode wirePod} created. */
export interface PodWiringResult {
  /** Index of the host end (for host routes to the pod). */
  hostIndex: number;
  /** Index of the pod end inside the namespace. */
  podIndex: number;
  /** MAC of the pod end. */
  podMac: string | undefined;
}

/**
 * Wires a pod, point-to-point style, with no external command: a veth pair whose pod end is
 * created inside `netns`; the host end is up and holds the link-local gateways (`169.254.1.1/32`,
 * `fe80::1/64` by default) so it answers ARP/ND for them; inside the pod: `lo` and the pod end up,
 * the addresses, a link route to each gateway and default routes through them. Host routes to the
 * pod addresses (dev host end) are left to the caller (the route-table actor). On failure the veth
 * is deleted again, so a failed wiring leaves nothing behind.
 *
 * `podSock` must be a socket opened inside `netns` (`NetlinkSocket.open({ netns })`).
 */
export async function wirePod(
  hostSock: NetlinkSocket,
  podSock: NetlinkSocket,
  o: PodWiring,
): Promise<PodWiringResult> {
  const podIfname = o.podIfname ?? "eth0";
  const gw4 = o.gateway4 ?? "169.254.1.1";
  const gw6 = o.gateway6 ?? "fe80::1";
  if (!Array.isArray(o.addresses) || o.addresses.length === 0) {
    throw new NetlinkInputError("invalid_address", "A pod needs at least one address", o);
  }
  const fams = new Set<number>();
  for (const a of o.addresses) {
    // validate everything before touching the kernel
    const w = { index: 1, address: a };
    writeAddressRequest(new MessageWriter(64), RTM.NEWADDR, 0, 0, w);
    fams.add(a.includes(":") ? AF_INET6 : AF_INET);
  }
  await createVeth(hostSock, {
    name: o.hostIfname,
    peerName: podIfname,
    peerNetns: o.netns,
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
  });
  try {
    const host = await getLink(hostSock, o.hostIfname);
    if (fams.has(AF_INET)) {
      await addAddress(hostSock, host.index, `${gw4}/32`, { scope: RT_SCOPE.LINK, replace: true });
    }
    if (fams.has(AF_INET6)) {
      await addAddress(hostSock, host.index, `${gw6}/64`, {
        scope: RT_SCOPE.LINK,
        flags: 0x02, // IFA_F_NODAD: usable at once
        replace: true,
      });
    }
    await setLink(hostSock, host.index, { up: true });
    const pod = await getLink(podSock, podIfname);
    await setLink(podSock, "lo", { up: true });
    for (const a of o.addresses) {
      await addAddress(podSock, pod.index, a, a.includes(":") ? { flags: 0x02 } : {});
    }
    await setLink(podSock, pod.index, { up: true });
    if (fams.has(AF_INET)) {
      await addRoute(
        podSock,
        { dst: `${gw4}/32`, oif: pod.index, scope: RT_SCOPE.LINK },
        "replace",
      );
      await addRoute(podSock, { dst: "0.0.0.0/0", gateway: gw4, oif: pod.index }, "replace");
    }
    if (fams.has(AF_INET6)) {
      await addRoute(podSock, { dst: "::/0", gateway: gw6, oif: pod.index }, "replace");
    }
    return { hostIndex: host.index, podIndex: pod.index, podMac: pod.mac };
  } catch (e) {
    try {
      await deleteLink(hostSock, o.hostIfname);
    } catch {
      // best effort: the original error matters
    }
    throw e;
  }
}
