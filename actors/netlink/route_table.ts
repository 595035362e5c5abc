/**
 * The route-table actor: owns the desired set of routes of one protocol number in one table and
 * keeps the kernel in line with it.
 *
 * - Sources (a BGP peer, the pod IPAM, …) state routes as typed messages (`set`, `withdraw`,
 *   `replace_source`); next hops for one prefix from several sources become one multipath route.
 * - Changes are coalesced and applied in one batched netlink send (`flush`); a full reconcile
 *   (dump of the table filtered by protocol, diff, batch) runs at start, periodically, and when
 *   netlink events show that someone else changed our routes (an overrun of the event queue or a
 *   link change counts too: the kernel removes IPv4 routes of a downed link without notifying).
 * - Routes of any other protocol are never replaced or deleted: adds are create-exclusive, and a
 *   clash is reported as a conflict.
 * @module
 */

import { actor, type ActorDef, type ReplyTo } from "../../runtime/mod.ts";
import { IFF, NLM_F, RTM, RTNLGRP } from "./constants.ts";

const LINK_STATE_MASK = IFF.UP | IFF.LOWER_UP;
import { NetlinkInputError } from "./errors.ts";
import { HOST_LE, MessageWriter, type NetlinkMessage } from "./message.ts";
import {
  checkDesired,
  type CheckedRoute,
  type Contribution,
  DEFAULT_ROUTE_PROTOCOL,
  deletionOf,
  type DesiredRoute,
  installedView,
  mergeContributions,
  planChanges,
  type PlannedOp,
  routeMatches,
  type TableSettings,
} from "./route_plan.ts";
import { parseRoute, type Route, type RouteInfo, writeRouteRequest } from "./route_codec.ts";
import { listLinks, listRoutes } from "./rtnl.ts";
import { NetlinkSocket } from "./socket.ts";
import { Subscription } from "./subscription.ts";

/** Options of {@linkcode routeTable}. */
export interface RouteTableOptions {
  /** Route table id (default 254, main). */
  table?: number;
  /** Route protocol number marking tern's routes (default {@linkcode DEFAULT_ROUTE_PROTOCOL}). */
  protocol?: number;
  /** Work inside the network namespace at this path. */
  netns?: string;
  /** Metric of IPv4 routes (default 0). */
  metric4?: number;
  /** Metric of IPv6 routes (default 1024). */
  metric6?: number;
  /** Period of the full reconcile in ms (default 30,000; 0 disables). */
  resyncIntervalMs?: number;
  /** Delay before a full reconcile triggered by events (default 100 ms, coalesces bursts). */
  resyncDelayMs?: number;
  /** Delay before pending changes are applied (default 0: right after the queued messages). */
  flushDelayMs?: number;
  /**
   * For this long after the actor starts, routes of ours that no source wants (left by a previous
   * run of the agent) are kept, so that a restart does not blackhole traffic while the sources
   * state their routes again (default 10,000 ms; 0 removes them at once).
   */
  retainStaleMs?: number;
}

/** What a reconcile or flush did. */
export interface ReconcileReport {
  /** `"full"` (kernel dumped and compared) or `"incremental"` (pending changes only). */
  kind: "full" | "incremental";
  /** Routes added. */
  added: number;
  /** Routes replaced. */
  replaced: number;
  /** Routes deleted. */
  deleted: number;
  /** Requests the kernel refused. */
  failed: number;
  /** Routes of ours in the kernel afterwards (as far as the actor knows). */
  installed: number;
  /** Wall time in ms. */
  durationMs: number;
}

/** The actor's state as shown by `get` and in the inspection tree. */
export interface RouteTableView {
  /** Table id. */
  table: number;
  /** Protocol number. */
  protocol: number;
  /** Namespace path, if any. */
  netns: string | null;
  /** Prefixes wanted. */
  desired: number;
  /** Prefixes installed. */
  installed: number;
  /** Prefixes waiting for the next flush. */
  pending: number;
  /** Sources and how many prefixes each contributes. */
  sources: Record<string, number>;
  /** Prefixes that could not be installed, with the reason (first 50). */
  conflicts: Record<string, string>;
  /** Reconcile runs so far (full and incremental). */
  runs: { full: number; incremental: number };
  /** Last report. */
  last: ReconcileReport | null;
  /** Event-queue overruns seen. */
  overruns: number;
  /** Until when unwanted routes of ours found at start are kept (ISO time), or null. */
  retainingStaleUntil: string | null;
}

/** Messages of the route-table actor. */
export type RouteTableMsg =
  /** Adds or changes routes of `source` (other prefixes of the source stay). */
  | { type: "set"; source: string; routes: DesiredRoute[]; replyTo?: ReplyTo<number> }
  /** Removes prefixes of `source`. */
  | { type: "withdraw"; source: string; dsts: string[]; replyTo?: ReplyTo<number> }
  /** States the whole desired set of `source` (prefixes not listed are withdrawn). */
  | { type: "replace_source"; source: string; routes: DesiredRoute[]; replyTo?: ReplyTo<number> }
  /** Applies pending changes now (a full reconcile with `full`) and answers when done. */
  | { type: "sync"; full?: boolean; replyTo: ReplyTo<ReconcileReport> }
  /** Returns the state. */
  | { type: "get"; replyTo: ReplyTo<RouteTableView> }
  /** Returns the routes of ours in the kernel as last seen or installed, sorted by prefix. */
  | { type: "routes"; replyTo: ReplyTo<RouteInfo[]> }
  /** Internal: timer or event asks for a full reconcile. */
  | { type: "reconcile" }
  /** Internal: apply pending changes. */
  | { type: "flush" }
  /** Internal: netlink events from the subscription. */
  | { type: "kernel"; messages: NetlinkMessage[] }
  /** Internal: the event queue overflowed. */
  | { type: "overrun" };

/**
 * Defines a route-table actor.
 *
 * ```ts
 * const def = routeTable({ table: 254, netns: "/run/netns/node1" });
 * // child spec: { id: "routes", def, restart: "permanent" }
 * ref.tell({ type: "set", source: "peer-192.0.2.1", routes: [
 *   { dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.1" }] },
 * ] });
 * ```
 */
export function routeTable(options: RouteTableOptions = {}): ActorDef<RouteTableMsg> {
  const settings: TableSettings = {
    table: options.table ?? 254,
    protocol: options.protocol ?? DEFAULT_ROUTE_PROTOCOL,
  };
  if (options.metric4 !== undefined) settings.metric4 = options.metric4;
  if (options.metric6 !== undefined) settings.metric6 = options.metric6;
  if (!Number.isInteger(settings.protocol) || settings.protocol < 1 || settings.protocol > 255) {
    throw new NetlinkInputError(
      "invalid_number",
      `Invalid route protocol ${JSON.stringify(settings.protocol)}`,
      settings.protocol,
    );
  }
  if (!Number.isInteger(settings.table) || settings.table < 1 || settings.table > 0xffffffff) {
    throw new NetlinkInputError(
      "invalid_number",
      `Invalid table ${JSON.stringify(settings.table)}`,
      settings.table,
    );
  }
  const resyncInterval = options.resyncIntervalMs ?? 30_000;
  const resyncDelay = options.resyncDelayMs ?? 100;
  const retainStale = options.retainStaleMs ?? 10_000;
  // What the sources asked for lives with the definition, not the incarnation: a restart after a
  // crash (inputs are validated, so the crash was not caused by them) keeps the desired set and
  // only re-reads the kernel, instead of deleting every route until the sources speak again.
  const contributions = new Map<string, Map<string, Contribution>>();
  const bySource = new Map<string, Set<string>>();
  const flushDelay = options.flushDelayMs ?? 0;
  const labels = { table: String(settings.table), protocol: String(settings.protocol) };

  return actor<RouteTableMsg>("route-table", (ctx) => {
    const mInstalled = ctx.metrics.gauge(
      "tern_netlink_routes_installed",
      "Routes of the table's protocol installed in the kernel",
    );
    const mRuns = ctx.metrics.counter(
      "tern_netlink_reconcile_runs_total",
      "Reconcile runs of a route table (kind: full or incremental)",
    );
    const mDuration = ctx.metrics.histogram(
      "tern_netlink_reconcile_duration_seconds",
      "Duration of reconcile runs of a route table",
    );
    const mErrors = ctx.metrics.counter(
      "tern_netlink_route_errors_total",
      "Route requests the kernel refused, by errno",
    );
    const mChanges = ctx.metrics.counter(
      "tern_netlink_route_changes_total",
      "Route changes applied, by operation",
    );

    const sock = NetlinkSocket.open(options.netns === undefined ? {} : { netns: options.netns });
    let sub: Subscription;
    try {
      sub = Subscription.open(
        {
          groups: [RTNLGRP.IPV4_ROUTE, RTNLGRP.IPV6_ROUTE, RTNLGRP.LINK],
          // our own changes are dropped in the kernel: only others' changes come back
          ignorePortIds: [sock.portId],
          ...(options.netns === undefined ? {} : { netns: options.netns }),
        },
        (ev) => {
          if (ev.type === "overrun") ctx.self.tell({ type: "overrun" });
          else ctx.self.tell({ type: "kernel", messages: ev.messages });
        },
      );
    } catch (e) {
      sock.close();
      throw e;
    }

    const installed = new Map<string, RouteInfo>();
    const dirty = new Set<string>();
    const conflicts = new Map<string, string>();
    const extras: RouteInfo[] = [];
    const runs = { full: 0, incremental: 0 };
    let last: ReconcileReport | null = null;
    let overruns = 0;
    const writer = new MessageWriter(64 * 1024);
    const retainUntil = ctx.clock.now() + retainStale;
    /** Up/lower-up bits of every link, to tell state changes from other link messages. */
    const linkState = new Map<number, number>();
    let linksSeen = false;

    const desiredOf = (dst: string): Route | undefined => {
      const c = contributions.get(dst);
      return c ? mergeContributions(dst, c, settings) : undefined;
    };

    const scheduleFlush = () => {
      if (!ctx.timers.has("flush")) ctx.timers.once("flush", flushDelay, { type: "flush" });
    };
    const scheduleResync = () => {
      if (!ctx.timers.has("resync")) ctx.timers.once("resync", resyncDelay, { type: "reconcile" });
    };

    const contribute = (source: string, r: CheckedRoute) => {
      let m = contributions.get(r.dst);
      if (!m) contributions.set(r.dst, m = new Map());
      m.set(source, r.contribution);
      let s = bySource.get(source);
      if (!s) bySource.set(source, s = new Set());
      s.add(r.dst);
      dirty.add(r.dst);
    };
    const withdraw = (source: string, dst: string) => {
      const m = contributions.get(dst);
      if (!m || !m.delete(source)) return false;
      if (m.size === 0) contributions.delete(dst);
      const s = bySource.get(source);
      if (s && s.delete(dst) && s.size === 0) bySource.delete(source);
      dirty.add(dst);
      return true;
    };

    const apply = async (kind: "full" | "incremental"): Promise<ReconcileReport> => {
      const t0 = performance.now();
      const ops: (PlannedOp & { extra?: boolean })[] = planChanges(
        dirty,
        desiredOf,
        (d) => installed.get(d),
      );
      dirty.clear();
      for (const x of extras) {
        ops.push({ op: "delete", dst: x.dst, route: deletionOf(x), extra: true });
      }
      extras.length = 0;
      const errnos = new Map<string, number>();
      const report: ReconcileReport = {
        kind,
        added: 0,
        replaced: 0,
        deleted: 0,
        failed: 0,
        installed: 0,
        durationMs: 0,
      };
      if (ops.length) {
        writer.reset();
        const kept: (PlannedOp & { extra?: boolean })[] = [];
        for (const o of ops) {
          const flags = o.op === "add"
            ? NLM_F.CREATE | NLM_F.EXCL
            : o.op === "replace"
            ? NLM_F.CREATE | NLM_F.REPLACE
            : 0;
          try {
            writeRouteRequest(
              writer,
              o.op === "delete" ? RTM.DELROUTE : RTM.NEWROUTE,
              flags,
              sock.nextSeq(),
              o.route,
            );
            kept.push(o);
          } catch (e) {
            // validated on entry, so this is a bug or a kernel route we cannot express
            writer.abortMessage();
            conflicts.set(o.dst, (e as Error).message);
          }
        }
        const result = await sock.batch(writer, kept.map((o) => o.route));
        for (let i = 0; i < kept.length; i++) {
          const o = kept[i];
          const err = result.outcomes[i];
          const isExtra = o.extra === true;
          if (!err) {
            if (o.op === "delete") {
              if (!isExtra) installed.delete(o.dst);
              report.deleted++;
            } else {
              installed.set(o.dst, installedView(o.route));
              if (o.op === "add") report.added++;
              else report.replaced++;
            }
            if (conflicts.size) conflicts.delete(o.dst);
            continue;
          }
          if (o.op === "delete" && (err.errnoName === "ESRCH" || err.errnoName === "ENOENT")) {
            if (!isExtra) installed.delete(o.dst); // already gone
            continue;
          }
          report.failed++;
          errnos.set(err.errnoName, (errnos.get(err.errnoName) ?? 0) + 1);
          conflicts.set(o.dst, err.message);
        }
      }
      // metrics once per run (label sets are costly per route)
      for (const [errno, count] of errnos) mErrors.inc({ ...labels, errno }, count);
      if (report.added) mChanges.inc({ ...labels, op: "add" }, report.added);
      if (report.replaced) mChanges.inc({ ...labels, op: "replace" }, report.replaced);
      if (report.deleted) mChanges.inc({ ...labels, op: "delete" }, report.deleted);
      report.installed = installed.size;
      report.durationMs = performance.now() - t0;
      return report;
    };

    const finish = (report: ReconcileReport, t0: number): ReconcileReport => {
      report.durationMs = performance.now() - t0;
      runs[report.kind]++;
      mRuns.inc({ ...labels, kind: report.kind });
      mDuration.observe(report.durationMs / 1000, labels);
      mInstalled.set(installed.size, labels);
      last = report;
      if (report.failed) {
        ctx.log.warn("route changes refused", {
          failed: report.failed,
          sample: [...conflicts.entries()].slice(0, 3),
        });
      }
      return report;
    };

    const reconcileFull = async (): Promise<ReconcileReport> => {
      const t0 = performance.now();
      ctx.timers.cancel("resync");
      if (!linksSeen) {
        for (const l of await listLinks(sock)) linkState.set(l.index, l.flags & LINK_STATE_MASK);
        linksSeen = true;
      }
      const kernel = await listRoutes(sock, { table: settings.table, protocol: settings.protocol });
      installed.clear();
      extras.length = 0;
      const retaining = ctx.clock.now() < retainUntil;
      let retained = 0;
      for (const r of kernel) {
        const want = desiredOf(r.dst);
        if (!want && retaining) {
          installed.set(r.dst, r); // kept until retainUntil, then removed by a full reconcile
          retained++;
          continue;
        }
        const metric = r.dst.includes(":") ? settings.metric6 ?? 1024 : settings.metric4 ?? 0;
        if (installed.has(r.dst) || (r.priority ?? 0) !== metric) {
          extras.push(r); // a second route of ours for the prefix: not ours to keep
        } else {
          installed.set(r.dst, r);
        }
        if (!want) dirty.add(r.dst);
      }
      if (retained && !ctx.timers.has("retain")) {
        ctx.timers.once("retain", Math.max(0, retainUntil - ctx.clock.now()), {
          type: "reconcile",
        });
      }
      for (const dst of contributions.keys()) dirty.add(dst);
      return finish(await apply("full"), t0);
    };

    const flush = async (): Promise<ReconcileReport> => {
      const t0 = performance.now();
      ctx.timers.cancel("flush");
      return finish(await apply("incremental"), t0);
    };

    const onKernel = (messages: NetlinkMessage[]) => {
      for (const m of messages) {
        if (m.type === RTM.NEWLINK || m.type === RTM.DELLINK) {
          // IPv4 routes of a link that goes down or away vanish without a notification, and
          // routes refused while it was down may go in once it is up: resync on such changes
          // (not on every link message: pods' veths come and go all the time).
          if (m.payload.length < 16) continue;
          const v = new DataView(m.payload.buffer, m.payload.byteOffset, 16);
          const index = v.getInt32(4, HOST_LE);
          const state = v.getUint32(8, HOST_LE) & LINK_STATE_MASK;
          const prev = linkState.get(index);
          if (m.type === RTM.DELLINK) linkState.delete(index);
          else linkState.set(index, state);
          const changed = m.type === RTM.DELLINK ? prev !== undefined : prev !== state;
          if (changed && (installed.size || contributions.size)) scheduleResync();
          continue;
        }
        if (m.type !== RTM.NEWROUTE && m.type !== RTM.DELROUTE) continue;
        if (m.payload.length < 12 || m.payload[5] !== settings.protocol) continue;
        let r: RouteInfo;
        try {
          r = parseRoute(m);
        } catch {
          continue;
        }
        if (r.table !== settings.table) continue;
        const have = installed.get(r.dst);
        if (m.type === RTM.DELROUTE) {
          // Ours vanished (or an echo of our own delete): check against the kernel.
          if (have && (have.priority ?? 0) === (r.priority ?? 0)) scheduleResync();
        } else {
          const want = desiredOf(r.dst);
          if (!have || !want || !routeMatches(want, r)) scheduleResync();
        }
      }
    };

    const view = (): RouteTableView => {
      const sources: Record<string, number> = {};
      for (const [s, set] of bySource) sources[s] = set.size;
      return {
        table: settings.table,
        protocol: settings.protocol,
        netns: options.netns ?? null,
        desired: contributions.size,
        installed: installed.size,
        pending: dirty.size,
        sources,
        conflicts: Object.fromEntries([...conflicts.entries()].slice(0, 50)),
        runs: { ...runs },
        last,
        overruns,
        retainingStaleUntil: ctx.clock.now() < retainUntil
          ? new Date(retainUntil).toISOString()
          : null,
      };
    };

    const accept = (
      source: unknown,
      routes: unknown,
    ): { source: string; checked: CheckedRoute[] } => {
      if (typeof source !== "string" || source.length === 0) {
        throw new NetlinkInputError(
          "invalid_route",
          `Invalid source ${JSON.stringify(source)}`,
          source,
        );
      }
      if (!Array.isArray(routes)) {
        throw new NetlinkInputError("invalid_route", "Routes must be an array", routes);
      }
      return { source, checked: routes.map((r) => checkDesired(r as DesiredRoute)) };
    };

    ctx.self.tell({ type: "reconcile" });
    if (resyncInterval > 0) ctx.timers.every("periodic", resyncInterval, { type: "reconcile" });

    return {
      async receive(msg) {
        switch (msg.type) {
          case "set":
          case "replace_source": {
            let a;
            try {
              a = accept(msg.source, msg.routes);
            } catch (e) {
              if (msg.replyTo) msg.replyTo.fail(e as Error);
              else ctx.log.warn("invalid routes refused", { error: (e as Error).message });
              return;
            }
            if (msg.type === "replace_source") {
              const keep = new Set(a.checked.map((c) => c.dst));
              for (const dst of [...(bySource.get(a.source) ?? [])]) {
                if (!keep.has(dst)) withdraw(a.source, dst);
              }
            }
            for (const c of a.checked) contribute(a.source, c);
            msg.replyTo?.reply(a.checked.length);
            scheduleFlush();
            return;
          }
          case "withdraw": {
            let n = 0;
            for (const d of Array.isArray(msg.dsts) ? msg.dsts : []) {
              let dst: string;
              try {
                dst = checkDesired({ dst: d, type: "blackhole" }).dst;
              } catch (e) {
                if (msg.replyTo) msg.replyTo.fail(e as Error);
                return;
              }
              if (withdraw(msg.source, dst)) n++;
            }
            msg.replyTo?.reply(n);
            scheduleFlush();
            return;
          }
          case "flush":
            if (dirty.size) await flush();
            return;
          case "reconcile":
            await reconcileFull();
            return;
          case "sync": {
            try {
              msg.replyTo.reply(msg.full ? await reconcileFull() : await flush());
            } catch (e) {
              msg.replyTo.fail(e as Error);
              throw e;
            }
            return;
          }
          case "get":
            msg.replyTo.reply(view());
            return;
          case "routes":
            msg.replyTo.reply(
              [...installed.values()].sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0)),
            );
            return;
          case "kernel":
            onKernel(msg.messages);
            return;
          case "overrun":
            overruns++;
            scheduleResync();
            return;
        }
      },
      async stop() {
        sock.close();
        await sub.close();
      },
      inspect() {
        return view();
      },
    };
  });
}
