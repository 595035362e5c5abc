/**
 * The pod wiring actor: owns the agent's netlink socket in the host namespace and wires pods
 * through `actors/netlink/` (no external commands): a veth pair whose host end is named from the
 * container id (`tern` + 11 hex digits), the pod end created inside `CNI_NETNS` under the
 * requested name, the pod's addresses as /32 and /128, default routes through the link-local
 * gateways 169.254.1.1 and fe80::1 held by the host end, and the host route to each pod address
 * (protocol {@linkcode POD_ROUTE_PROTOCOL}). Unwiring deletes the veth (the kernel removes both
 * ends and the routes through it). Netlink requests are synchronous and take microseconds, so one
 * actor serves every pod without holding anyone up for long.
 *
 * @module
 */

import { actor, type ReplyTo } from "../../runtime/mod.ts";
import {
  addRoute,
  deleteLink,
  getLink,
  listAddresses,
  listLinks,
  listRoutes,
  wirePod,
} from "../netlink/rtnl.ts";
import { InterfaceNotFoundError, NamespaceNotFoundError, NetlinkError } from "../netlink/errors.ts";
import { removeLinkAsync } from "./link_remover.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { RT_SCOPE } from "../netlink/constants.ts";
import { cString, getLibc, lastErrno } from "../netlink/ffi.ts";

/** Route protocol number of the host routes to pods. */
export const POD_ROUTE_PROTOCOL = 212;
/** Prefix of host-side veth names. */
export const HOST_IFNAME_PREFIX = "tern";
/** IPv4 gateway the pods route through. */
export const GATEWAY4 = "169.254.1.1";
/** IPv6 gateway the pods route through. */
export const GATEWAY6 = "fe80::1";

/** FNV-1a, 64 bits. */
function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  // murmur3's 64-bit finaliser, so that ids differing in their last characters differ everywhere
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & 0xffffffffffffffffn;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & 0xffffffffffffffffn;
  h ^= h >> 33n;
  return h;
}

/** The host end's name for an attachment: `tern` and 11 hex digits of a hash of the id. */
export function hostIfnameFor(containerId: string, ifname: string): string {
  const key = ifname === "eth0" ? containerId : `${containerId}/${ifname}`;
  return HOST_IFNAME_PREFIX + fnv1a64(key).toString(16).padStart(16, "0").slice(0, 11);
}

/** The pod's namespace is missing or is not a network namespace. */
export class PodNamespaceError extends Error {
  override readonly name = "PodNamespaceError";
  constructor(
    readonly code: "netns_missing" | "netns_invalid",
    readonly netns: string,
    detail: string,
  ) {
    super(`${detail}: ${JSON.stringify(netns)}`);
  }
}

/** What to wire. */
export interface WireSpec {
  containerId: string;
  ifname: string;
  netns: string;
  /** Addresses without prefix length. */
  addresses: string[];
  mtu: number;
}

/** What wiring made. */
export interface WireResult {
  hostIfname: string;
  hostMac?: string;
  podMac?: string;
}

/** Messages of the wiring actor. */
export type WiringMsg =
  | { type: "wire"; spec: WireSpec; replyTo: ReplyTo<WireResult> }
  | { type: "unwire"; hostIfname: string; replyTo: ReplyTo<boolean> }
  | {
    type: "check";
    spec: WireSpec;
    hostIfname: string;
    replyTo: ReplyTo<string[]>;
  }
  | { type: "links"; replyTo: ReplyTo<string[]> }
  | { type: "ensure_routes"; hostIfname: string; addresses: string[]; replyTo: ReplyTo<boolean> };

function openPodSocket(netns: string): NetlinkSocket {
  try {
    Deno.statSync(netns);
  } catch {
    throw new PodNamespaceError("netns_missing", netns, "The pod's network namespace is gone");
  }
  try {
    return NetlinkSocket.open({ netns });
  } catch (e) {
    if (e instanceof NamespaceNotFoundError) {
      throw new PodNamespaceError("netns_missing", netns, "The pod's network namespace is gone");
    }
    throw new PodNamespaceError(
      "netns_invalid",
      netns,
      `Not a network namespace (${(e as Error).message})`,
    );
  }
}

function hostRoute(address: string, oif: number) {
  return {
    dst: address.includes(":") ? `${address}/128` : `${address}/32`,
    oif,
    scope: RT_SCOPE.LINK,
    protocol: POD_ROUTE_PROTOCOL,
  };
}

/**
 * Turns on IPv4 and IPv6 forwarding in the agent's namespace (pods reach each other through the
 * host). Through libc, because Deno asks for every permission to write under /proc/sys.
 */
function enableForwarding(log: { warn(m: string, f?: Record<string, unknown>): void }): void {
  const libc = getLibc();
  for (const f of ["/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"]) {
    const fd = libc.open(cString(f), O_WRONLY_CLOEXEC);
    if (fd < 0) {
      log.warn("cannot enable forwarding", { file: f, errno: lastErrno() });
      continue;
    }
    const one = new TextEncoder().encode("1\n");
    if (Number(libc.write(fd, one, BigInt(one.length))) < 0) {
      log.warn("cannot enable forwarding", { file: f, errno: lastErrno() });
    }
    libc.close(fd);
  }
}

const O_WRONLY_CLOEXEC = 0x1 | 0x80000;

/** The pod wiring actor. */
export function podWiring() {
  return actor<WiringMsg>("pod-wiring", (ctx) => {
    const host = NetlinkSocket.open();
    enableForwarding(ctx.log);
    let wired = 0;
    let unwired = 0;

    const removeLink = async (name: string): Promise<boolean> => {
      try {
        await deleteLink(host, name);
        return true;
      } catch (e) {
        if (e instanceof InterfaceNotFoundError) return false;
        throw e;
      }
    };

    const wire = async (s: WireSpec): Promise<WireResult> => {
      const hostIfname = hostIfnameFor(s.containerId, s.ifname);
      const pod = openPodSocket(s.netns);
      try {
        // A leftover of an earlier attempt goes first (deleting it removes the pod end too).
        await removeLink(hostIfname);
        const r = await wirePod(host, pod, {
          hostIfname,
          netns: s.netns,
          podIfname: s.ifname,
          addresses: s.addresses.map((a) => a.includes(":") ? `${a}/128` : `${a}/32`),
          mtu: s.mtu,
          gateway4: GATEWAY4,
          gateway6: GATEWAY6,
        });
        try {
          for (const a of s.addresses) await addRoute(host, hostRoute(a, r.hostIndex), "replace");
        } catch (e) {
          await removeLink(hostIfname).catch(() => {});
          throw e;
        }
        const h = await getLink(host, r.hostIndex);
        wired++;
        const out: WireResult = { hostIfname };
        if (h.mac) out.hostMac = h.mac;
        if (r.podMac) out.podMac = r.podMac;
        return out;
      } finally {
        pod.close();
      }
    };

    const check = async (s: WireSpec, hostIfname: string): Promise<string[]> => {
      const problems: string[] = [];
      let hostIndex = -1;
      try {
        const h = await getLink(host, hostIfname);
        hostIndex = h.index;
        if (!h.up) problems.push(`host interface ${hostIfname} is down`);
      } catch (e) {
        if (!(e instanceof InterfaceNotFoundError)) throw e;
        problems.push(`host interface ${hostIfname} is missing`);
      }
      if (hostIndex >= 0) {
        const routes = await listRoutes(host, { protocol: POD_ROUTE_PROTOCOL });
        for (const a of s.addresses) {
          const dst = hostRoute(a, hostIndex).dst;
          if (!routes.some((r) => r.dst === dst && r.oif === hostIndex)) {
            problems.push(`host route ${dst} dev ${hostIfname} is missing`);
          }
        }
      }
      let pod: NetlinkSocket;
      try {
        pod = openPodSocket(s.netns);
      } catch (e) {
        problems.push((e as Error).message);
        return problems;
      }
      try {
        let podIndex = -1;
        try {
          const l = await getLink(pod, s.ifname);
          podIndex = l.index;
          if (!l.up) problems.push(`pod interface ${s.ifname} is down`);
          if (l.mtu !== undefined && l.mtu !== s.mtu) {
            problems.push(`pod interface ${s.ifname} has MTU ${l.mtu}, expected ${s.mtu}`);
          }
        } catch (e) {
          if (!(e instanceof InterfaceNotFoundError)) throw e;
          problems.push(`pod interface ${s.ifname} is missing`);
          return problems;
        }
        const addrs = (await listAddresses(pod)).filter((a) => a.index === podIndex);
        for (const a of s.addresses) {
          const want = a.includes(":") ? `${a}/128` : `${a}/32`;
          if (!addrs.some((x) => x.address === want)) {
            problems.push(`pod interface ${s.ifname} lacks its address ${want}`);
          }
        }
        const routes = await listRoutes(pod, {});
        for (const fam of [4, 6]) {
          if (!s.addresses.some((a) => (a.includes(":") ? 6 : 4) === fam)) continue;
          const dst = fam === 4 ? "0.0.0.0/0" : "::/0";
          const gw = fam === 4 ? GATEWAY4 : GATEWAY6;
          if (!routes.some((r) => r.dst === dst && r.gateway === gw && r.oif === podIndex)) {
            problems.push(`pod default route ${dst} via ${gw} is missing`);
          }
        }
      } finally {
        pod.close();
      }
      return problems;
    };

    return {
      async receive(msg) {
        try {
          switch (msg.type) {
            case "wire":
              msg.replyTo.reply(await wire(msg.spec));
              break;
            case "unwire": {
              // Off the JavaScript thread and outside this actor's turn: the kernel's ~20 ms per
              // veth deletion overlaps across pods (the caller serialises per container).
              const r = msg.replyTo;
              removeLinkAsync(msg.hostIfname).catch((e) => {
                if (e instanceof NetlinkError) throw e;
                return removeLink(msg.hostIfname); // no async path: the synchronous one
              }).then((had) => {
                if (had) unwired++;
                r.reply(had);
              }, (e) => r.fail(e as Error));
              break;
            }
            case "check":
              msg.replyTo.reply(await check(msg.spec, msg.hostIfname));
              break;
            case "links": {
              const links = await listLinks(host);
              msg.replyTo.reply(
                links.filter((l) => l.kind === "veth" && l.name.startsWith(HOST_IFNAME_PREFIX))
                  .map((l) => l.name),
              );
              break;
            }
            case "ensure_routes": {
              let index: number;
              try {
                index = (await getLink(host, msg.hostIfname)).index;
              } catch (e) {
                if (!(e instanceof InterfaceNotFoundError)) throw e;
                msg.replyTo.reply(false);
                break;
              }
              for (const a of msg.addresses) await addRoute(host, hostRoute(a, index), "replace");
              msg.replyTo.reply(true);
              break;
            }
          }
        } catch (e) {
          // A failed operation fails its caller, not the actor (the socket is still good).
          if ("replyTo" in msg) msg.replyTo.fail(e as Error);
        }
      },
      stop() {
        host.close();
      },
      inspect: () => ({ wired, unwired }),
    };
  });
}
