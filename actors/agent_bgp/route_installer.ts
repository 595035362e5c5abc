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
import type { RouteTableMsg } from "../netlink/route_table.ts";
import { LearnedRoutes } from "./learned.ts";

/** Messages of the installer. */
export type RouteInstallerMsg =
  | BestPathEvent
  | { type: "ribDown"; path: string }
  | { type: "poll" };

/** Options of {@link routeInstaller}. */
export interface RouteInstallerOptions {
  /** Path of the RIB actor (e.g. `/agent/bgp/bgp/rib`). */
  ribPath: string;
  /** Path of the route-table actor. */
  routesPath: string;
  /** How often to look for the RIB while not subscribed (default 250 ms). */
  pollMs?: number;
}

/** The installer actor. */
export function routeInstaller(opts: RouteInstallerOptions): ActorDef<RouteInstallerMsg> {
  return actor<RouteInstallerMsg>("bgp-route-installer", (ctx) => {
    const learned = new LearnedRoutes();
    let rib: ActorRef<RibMsg> | undefined;
    let fresh = false;
    let batches = 0, skipped = 0;
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
    subscribe();
    return {
      receive(msg) {
        switch (msg.type) {
          case "poll":
            subscribe();
            return;
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
            const full = fresh;
            fresh = false;
            const plan = learned.apply(msg.changes, full);
            batches++;
            skipped += plan.skipped;
            const t = table();
            if (plan.replace) {
              for (const [source, routes] of plan.replace) {
                t.tell({ type: "replace_source", source, routes });
              }
            }
            for (const [source, dsts] of plan.withdraw) t.tell({ type: "withdraw", source, dsts });
            for (const [source, routes] of plan.set) t.tell({ type: "set", source, routes });
            return;
          }
        }
      },
      inspect: () => ({
        rib: rib ? opts.ribPath : null,
        prefixes: learned.size,
        sources: [...learned.sources],
        batches,
        skipped,
      }),
    };
  });
}
