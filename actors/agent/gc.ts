/**
 * The garbage collector actor. Every interval it compares the allocation records with the
 * world: a record whose network namespace is gone (or whose Pod object is gone, when the API is
 * known) becomes a suspect, and a suspect still gone after the grace period is released (its
 * addresses freed, its veth removed). Host veths of tern with no record are removed the same
 * way. On its first run after the agent starts it also puts back any host route to a pod that
 * is missing (a crash between wiring and routing), rebuilding the agent's state in the kernel.
 * Every release is logged and counted (`tern_agent_gc_freed_total`).
 *
 * @module
 */

import { actor, type ReplyTo } from "../../runtime/mod.ts";
import type { ServiceFactory } from "./attachments.ts";
import type { PodMetadataSource } from "./pool_choice.ts";
import { type AllocationRecord, attachmentKey } from "./records.ts";
import type { StoreMsg } from "./store.ts";
import type { WiringMsg } from "./wiring.ts";

/** What one collection did. */
export interface GcReport {
  checked: number;
  suspects: number;
  freed: { key: string; addresses: string[]; why: string }[];
  orphanLinksRemoved: string[];
  routesRestored: number;
  /** Records whose host side is there but incomplete (left by a crash mid-ADD). */
  broken: string[];
}

/** Messages of the collector. */
export type GcMsg = { type: "tick" } | { type: "run"; replyTo: ReplyTo<GcReport> };

/** Options of {@linkcode garbageCollector}. */
export interface GcOptions {
  intervalMs: number;
  graceMs: number;
  service: ServiceFactory;
  storePath: string;
  wiringPath: string;
  metadata: PodMetadataSource;
}

function exists(path: string | undefined): boolean {
  if (!path) return false;
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The garbage collector actor. */
export function garbageCollector(o: GcOptions) {
  return actor<GcMsg>("garbage-collector", (ctx) => {
    const service = o.service((p) => ctx.lookup(p), ctx.log);
    const freedTotal = ctx.metrics.counter(
      "tern_agent_gc_freed_total",
      "Addresses freed by the garbage collector",
    );
    const suspects = new Map<string, number>(); // key or link name -> first seen gone
    let first = true;
    let runs = 0;
    let freedCount = 0;
    let last: GcReport | undefined;
    ctx.timers.once("first", 0, { type: "tick" });
    ctx.timers.every("tick", o.intervalMs, { type: "tick" });

    const overdue = (key: string, now: number): boolean => {
      const since = suspects.get(key);
      if (since === undefined) {
        suspects.set(key, now);
        return o.graceMs === 0;
      }
      return now - since >= o.graceMs;
    };

    const collect = async (): Promise<GcReport> => {
      const store = ctx.lookup<StoreMsg>(o.storePath);
      const wiring = ctx.lookup<WiringMsg>(o.wiringPath);
      if (!store || !wiring) throw new Error("the store and the wiring actor must run");
      const now = ctx.clock.now();
      const report: GcReport = {
        checked: 0,
        suspects: 0,
        freed: [],
        orphanLinksRemoved: [],
        routesRestored: 0,
        broken: [],
      };
      const records = await store.ask<AllocationRecord[]>((replyTo) => ({ type: "list", replyTo }));
      const seen = new Set<string>();
      for (const r of records) {
        report.checked++;
        const key = attachmentKey(r.containerId, r.ifname);
        let why: string | undefined;
        if (!exists(r.netns)) why = `network namespace ${r.netns ?? "(none)"} is gone`;
        else if (r.pod) {
          const there = await o.metadata.podExists(r.pod.namespace, r.pod.name, r.pod.uid);
          if (there === false) why = `pod ${r.pod.namespace}/${r.pod.name} is gone`;
        }
        if (!why) {
          if (first) {
            // A pod left half-wired by a crash (veth down, no route) is not fatal: its ADD
            // failed, so the runtime will DEL it; log it and go on.
            try {
              const ok = await wiring.ask<boolean>((replyTo) => ({
                type: "ensure_routes",
                hostIfname: r.hostIfname,
                addresses: r.addresses.map((a) => a.address),
                replyTo,
              }));
              if (ok) report.routesRestored += r.addresses.length;
            } catch (e) {
              report.broken.push(key);
              ctx.log.warn("pod network incomplete after restart", { key, error: String(e) });
            }
          }
          continue;
        }
        seen.add(key);
        if (!overdue(key, now)) continue;
        let freed: string[];
        try {
          freed = await service.releaseQueued(r.containerId, r.ifname, "gc");
        } catch (e) {
          ctx.log.warn("garbage collector could not release", { key, error: String(e) });
          continue;
        }
        suspects.delete(key);
        report.freed.push({ key, addresses: freed, why });
        freedTotal.inc({ pool: r.pool }, freed.length);
        freedCount += freed.length;
        ctx.log.info("garbage collector freed addresses", { key, addresses: freed, why });
      }
      const links = await wiring.ask<string[]>((replyTo) => ({ type: "links", replyTo }));
      const current = await store.ask<AllocationRecord[]>((replyTo) => ({ type: "list", replyTo }));
      const owned = new Set(current.map((r) => r.hostIfname));
      for (const l of links) {
        if (owned.has(l)) continue;
        const key = `link:${l}`;
        seen.add(key);
        if (!overdue(key, now)) continue;
        try {
          await wiring.ask<boolean>((replyTo) => ({ type: "unwire", hostIfname: l, replyTo }));
        } catch (e) {
          ctx.log.warn("garbage collector could not remove a veth", { link: l, error: String(e) });
          continue;
        }
        suspects.delete(key);
        report.orphanLinksRemoved.push(l);
        ctx.log.info("garbage collector removed an orphan veth", { link: l });
      }
      for (const k of [...suspects.keys()]) if (!seen.has(k)) suspects.delete(k);
      report.suspects = suspects.size;
      first = false;
      runs++;
      last = report;
      return report;
    };

    return {
      async receive(msg) {
        if (msg.type === "tick") {
          await collect();
          return;
        }
        try {
          msg.replyTo.reply(await collect());
        } catch (e) {
          msg.replyTo.fail(e as Error);
        }
      },
      inspect: () => ({ runs, freed: freedCount, suspects: suspects.size, last }),
    };
  });
}
