/**
 * The route installer: subscribes to the RIB's best paths and states the routes learned from
 * each peer to the route-table actor (one source per peer, so paths from several peers become one
 * multipath route). It follows the RIB through restarts and reconfigurations: when the RIB ends,
 * every learned route is withdrawn (its sessions are gone with it) and the installer subscribes
 * again as soon as a RIB runs at the path.
 * @module
 */
import { actor, type ActorDef, type ActorRef } from "../../runtime/mod.ts";
import type { BestPathEvent, RibMsg } from "../bgp/rib_actor.ts";
import type { NextHop, RouteInfo } from "../netlink/route_codec.ts";
import type { RouteTableMsg } from "../netlink/route_table.ts";
import { listRoutes } from "../netlink/rtnl.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { type LearnedPlan, LearnedRoutes } from "./learned.ts";
import { type BgpNextHop, chooseNextHop, nextHopKey } from "./nexthop_resolve.ts";

/** Messages of the installer. */
export type RouteInstallerMsg =
  | BestPathEvent
  | { type: "ribDown"; path: string }
  | { type: "poll" }
  | { type: "resolve" };

/** Options of {@link routeInstaller}. */
export interface RouteInstallerOptions {
  /** Path of the RIB actor (e.g. `/agent/bgp/bgp/rib`). */
  ribPath: string;
  /** Path of the route-table actor. */
  routesPath: string;
  /** How often to look for the RIB while not subscribed (default 250 ms). */
  pollMs?: number;
  /**
   * Recursive next-hop resolution through the kernel's table (default on), IPv6 link-local next
   * hops on the interface of their session: the table's routes are read when an unknown next hop
   * appears and every `refreshMs` (default 5,000 ms).
   */
  resolve?: false | {
    /** Protocol of the learned routes (never used to resolve). */
    learnedProtocol: number;
    /** Table to resolve in (default 254). */
    table?: number;
    /** Namespace path (tests). */
    netns?: string;
    refreshMs?: number;
  };
}

/** The installer actor. */
export function routeInstaller(opts: RouteInstallerOptions): ActorDef<RouteInstallerMsg> {
  return actor<RouteInstallerMsg>("bgp-route-installer", (ctx) => {
    const res = opts.resolve;
    let kernel: RouteInfo[] = [];
    const cache = new Map<string, NextHop[] | null>();
    let sock: NetlinkSocket | undefined;
    let dumps = 0, dumpErrors = 0;
    const resolver = res
      ? (_: string, nh: BgpNextHop) => {
        const key = nextHopKey(nh);
        if (!cache.has(key)) cache.set(key, chooseNextHop(nh, kernel, res.learnedProtocol));
        return cache.get(key)!;
      }
      : undefined;
    const refresh = async () => {
      if (!res) return;
      try {
        sock ??= NetlinkSocket.open(res.netns === undefined ? {} : { netns: res.netns });
        kernel = await listRoutes(sock, { table: res.table ?? 254 });
        dumps++;
      } catch (e) {
        dumpErrors++;
        ctx.log.warn("reading the route table failed", { error: String(e) });
        sock?.close();
        sock = undefined;
      }
      cache.clear();
    };
    const learned = new LearnedRoutes(resolver);
    let rib: ActorRef<RibMsg> | undefined;
    let fresh = false;
    let batches = 0, skipped = 0, unresolved = 0;
    const emit = (plan: LearnedPlan) => {
      const t = table();
      if (plan.replace) {
        for (const [source, routes] of plan.replace) {
          t.tell({ type: "replace_source", source, routes });
        }
      }
      for (const [source, dsts] of plan.withdraw) t.tell({ type: "withdraw", source, dsts });
      for (const [source, routes] of plan.set) t.tell({ type: "set", source, routes });
    };
    const table = () => {
      const t = ctx.lookup<RouteTableMsg>(opts.routesPath);
      if (!t) throw new Error(`no route table at ${opts.routesPath}`);
      return t;
    };
    const subscribe = () => {
      if (rib) return;
      const ref = ctx.lookup<RibMsg>(opts.ribPath);
      if (!ref) return;
      rib = ref;
      fresh = true;
      ctx.watch(ref, (t) => ({ type: "ribDown", path: t.path }));
      ref.tell({ type: "subscribe", ref: ctx.self as ActorRef<BestPathEvent> });
    };
    // A new incarnation starts from nothing: whatever an earlier one stated is replaced by the
    // full table that the subscription delivers first.
    ctx.timers.every("poll", opts.pollMs ?? 250, { type: "poll" });
    if (res) ctx.timers.every("resolve", res.refreshMs ?? 5_000, { type: "resolve" });
    subscribe();
    return {
      async receive(msg) {
        switch (msg.type) {
          case "poll":
            subscribe();
            return;
          case "resolve": {
            await refresh();
            const plan = learned.reresolve();
            unresolved = plan.unresolved;
            emit(plan);
            return;
          }
          case "ribDown": {
            rib = undefined;
            const t = table();
            for (const [source, routes] of learned.clear()) {
              t.tell({ type: "replace_source", source, routes });
            }
            ctx.log.info("RIB gone: learned routes withdrawn", { path: msg.path });
            return;
          }
          case "bestPaths": {
            if (!rib) return; // from a RIB that has ended since
            if (res) {
              const known = learned.nextHopsInUse();
              const unknown = msg.changes.some((c) =>
                c.paths.some((p) => {
                  if (p.source.local) return false;
                  const nh: BgpNextHop = { nextHop: p.nextHop, peer: p.source.peer };
                  if (p.linkLocalNextHop) nh.linkLocal = p.linkLocalNextHop;
                  const key = nextHopKey(nh);
                  return !known.has(key) && !cache.has(key);
                })
              );
              if (unknown || dumps === 0) await refresh();
            }
            const full = fresh;
            fresh = false;
            const plan = learned.apply(msg.changes, full);
            batches++;
            skipped += plan.skipped;
            unresolved = plan.unresolved;
            emit(plan);
            return;
          }
        }
      },
      stop() {
        sock?.close();
        sock = undefined;
      },
      inspect: () => ({
        rib: rib ? opts.ribPath : null,
        prefixes: learned.size,
        sources: [...learned.sources],
        batches,
        skipped,
        unresolved,
        resolve: res ? { dumps, dumpErrors, nextHops: Object.fromEntries(cache) } : false,
      }),
    };
  });
}
