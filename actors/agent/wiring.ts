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
 * Host routes are not written here but stated to the route-table actor (source
 * {@linkcode POD_ROUTE_SOURCE}), which installs them in batches, puts back a route deleted by
 * someone else, and at start keeps the routes it finds for a while (`retainStaleMs`). Each
 * incarnation of this actor first states the routes of every recorded pod whose veth exists
 * (`replace_source`), so a restarted agent never drops a running pod's route. A host veth that
 * vanishes without an unwire (the pod's namespace deleted) has its routes withdrawn at once
 * (link events, and a link listing after an event overrun), so the route table does not keep
 * trying to put back routes through an interface that is gone.
 *
 * @module
 */

import { actor, type ActorRef, type ReplyTo } from "../../runtime/mod.ts";
import {
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
import { Subscription } from "../netlink/subscription.ts";
import { RTM, RTNLGRP } from "../netlink/constants.ts";
import { HOST_LE } from "../netlink/message.ts";
import { cString, getLibc, lastErrno } from "../netlink/ffi.ts";
import type { DesiredRoute } from "../netlink/route_plan.ts";
import type { ReconcileReport, RouteTableMsg, RouteTableView } from "../netlink/route_table.ts";
import { POD_ROUTE_SOURCE } from "./paths.ts";
import type { AllocationRecord } from "./records.ts";
import type { StoreMsg } from "./store.ts";

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

/** The route-table actor refused or could not install a pod's host route. */
export class HostRouteError extends Error {
  override readonly name = "HostRouteError";
  /** Always `"host_route_failed"`. */
  readonly code = "host_route_failed" as const;
  constructor(readonly dst: string, detail: string) {
    super(`Host route ${JSON.stringify(dst)} not installed: ${detail}`);
  }
}

/** Options of {@linkcode podWiring}. */
export interface PodWiringOptions {
  /** Path of the route-table actor (protocol {@linkcode POD_ROUTE_PROTOCOL}). */
  routesPath: string;
  /** Path of the allocation store (read at start to state every recorded pod's routes). */
  storePath: string;
  /** Timeout of each ask to the route table and the store (default 10 s). */
  askTimeoutMs?: number;
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
  | { type: "ensure_routes"; hostIfname: string; addresses: string[]; replyTo: ReplyTo<boolean> }
  /** Internal, first message of each incarnation: states the routes of every recorded pod. */
  | { type: "restate" }
  /** Internal: the kernel removed the link with this index. */
  | { type: "link_gone"; index: number }
  /** Internal: link events were lost; compare the stated routes with the links there are. */
  | { type: "links_check" };

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

function hostDst(address: string): string {
  return address.includes(":") ? `${address}/128` : `${address}/32`;
}

/** The desired host route to one pod address (scope link through the host end). */
function hostRoute(address: string, oif: number): DesiredRoute {
  return { dst: hostDst(address), nexthops: [{ oif }] };
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
export function podWiring(o: PodWiringOptions) {
  const askTimeout = o.askTimeoutMs ?? 10_000;
  return actor<WiringMsg>("pod-wiring", (ctx) => {
    const host = NetlinkSocket.open();
    enableForwarding(ctx.log);
    let wired = 0;
    let unwired = 0;
    let restated = 0;
    /** Host interface -> its index and the prefixes this actor stated for it. */
    const stated = new Map<string, { index: number; dsts: string[] }>();
    let linksGone = 0;
    ctx.self.tell({ type: "restate" });
    let links: Subscription;
    try {
      links = Subscription.open({ groups: [RTNLGRP.LINK] }, (ev) => {
        if (ev.type === "overrun") {
          ctx.self.tell({ type: "links_check" });
          return;
        }
        for (const m of ev.messages) {
          if (m.type !== RTM.DELLINK || m.payload.length < 8) continue;
          const v = new DataView(m.payload.buffer, m.payload.byteOffset, 8);
          ctx.self.tell({ type: "link_gone", index: v.getInt32(4, HOST_LE) });
        }
      });
    } catch (e) {
      host.close();
      throw e;
    }

    const routes = (): ActorRef<RouteTableMsg> => {
      const r = ctx.lookup<RouteTableMsg>(o.routesPath);
      if (!r) throw new Error(`the route table ${o.routesPath} is not running`);
      return r;
    };

    /** States the host routes of one interface and waits until the kernel has them. */
    const installRoutes = async (hostIfname: string, index: number, addresses: string[]) => {
      const rt = routes();
      const want = addresses.map((a) => hostRoute(a, index));
      const previous = stated.get(hostIfname)?.dsts ?? [];
      const gone = previous.filter((d) => !want.some((w) => w.dst === d));
      if (gone.length) {
        await rt.ask<number>(
          (replyTo) => ({ type: "withdraw", source: POD_ROUTE_SOURCE, dsts: gone, replyTo }),
          { timeoutMs: askTimeout },
        );
      }
      stated.set(hostIfname, { index, dsts: want.map((w) => w.dst) });
      await rt.ask<number>(
        (replyTo) => ({ type: "set", source: POD_ROUTE_SOURCE, routes: want, replyTo }),
        { timeoutMs: askTimeout },
      );
      await rt.ask<ReconcileReport>((replyTo) => ({ type: "sync", replyTo }), {
        timeoutMs: askTimeout,
      });
      const v = await rt.ask<RouteTableView>((replyTo) => ({ type: "get", replyTo }), {
        timeoutMs: askTimeout,
      });
      for (const w of want) {
        const why = v.conflicts[w.dst];
        if (why !== undefined) throw new HostRouteError(w.dst, why);
      }
    };

    /** Withdraws the host routes of one interface (before its veth goes). */
    const withdrawRoutes = async (hostIfname: string) => {
      const dsts = stated.get(hostIfname)?.dsts;
      if (!dsts) return;
      stated.delete(hostIfname);
      await routes().ask<number>(
        (replyTo) => ({ type: "withdraw", source: POD_ROUTE_SOURCE, dsts, replyTo }),
        { timeoutMs: askTimeout },
      );
    };

    /**
     * States the routes of every recorded pod whose host end exists, replacing whatever the
     * source held (a previous incarnation's view). Runs before any other message of this
     * incarnation is served; the route table keeps the kernel's routes meanwhile.
     */
    const restate = async () => {
      const store = ctx.lookup<StoreMsg>(o.storePath);
      if (!store) throw new Error(`the store ${o.storePath} is not running`);
      const records = await store.ask<AllocationRecord[]>(
        (replyTo) => ({ type: "list", replyTo }),
        { timeoutMs: askTimeout },
      );
      const index = new Map<string, number>();
      for (const l of await listLinks(host)) index.set(l.name, l.index);
      const all: DesiredRoute[] = [];
      stated.clear();
      for (const r of records) {
        const i = index.get(r.hostIfname);
        if (i === undefined) continue; // half-made or gone: left to its DEL or the collector
        const want = r.addresses.map((a) => hostRoute(a.address, i));
        stated.set(r.hostIfname, { index: i, dsts: want.map((w) => w.dst) });
        all.push(...want);
      }
      await routes().ask<number>(
        (replyTo) => ({
          type: "replace_source",
          source: POD_ROUTE_SOURCE,
          routes: all,
          replyTo,
        }),
        { timeoutMs: askTimeout },
      );
      restated = all.length;
      ctx.log.info("pod routes stated", { routes: all.length, pods: stated.size });
    };

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
          await installRoutes(hostIfname, r.hostIndex, s.addresses);
        } catch (e) {
          await withdrawRoutes(hostIfname).catch(() => {});
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
          const dst = hostDst(a);
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
              // The route goes from the desired set first, so the route table does not try to
              // put it back once the kernel removes it with the veth.
              await withdrawRoutes(msg.hostIfname);
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
              await installRoutes(msg.hostIfname, index, msg.addresses);
              msg.replyTo.reply(true);
              break;
            }
            case "link_gone": {
              // Only if it is still the link the routes were stated for (a re-ADD makes a new
              // veth under the same name, with another index).
              for (const [name, e] of stated) {
                if (e.index !== msg.index) continue;
                await withdrawRoutes(name);
                linksGone++;
                ctx.log.info("pod veth gone without DEL, host routes withdrawn", { link: name });
              }
              break;
            }
            case "links_check": {
              const present = new Set((await listLinks(host)).map((l) => l.index));
              for (const [name, e] of [...stated]) {
                if (present.has(e.index)) continue;
                await withdrawRoutes(name);
                linksGone++;
              }
              break;
            }
            case "restate":
              // A failure crashes the actor (rethrown below): unstated routes must not be served.
              return await restate();
          }
        } catch (e) {
          // A failed operation fails its caller, not the actor (the socket is still good).
          if ("replyTo" in msg) msg.replyTo.fail(e as Error);
          else throw e;
        }
      },
      async stop() {
        host.close();
        await links.close();
      },
      inspect: () => ({ wired, unwired, restated, podsWithRoutes: stated.size, linksGone }),
    };
  });
}
