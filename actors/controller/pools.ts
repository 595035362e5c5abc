/**
 * The pools actor: resolves every AddressPool (validation, overlaps, one auto pool per type and
 * family, oldest wins), runs one {@link poolActor} per pool, and routes BlockRequests,
 * AddressBlocks, node deletions and service-pool usage to them. Nothing is routed before the
 * pool, block, request and node informers have all synced, so each pool actor rebuilds its
 * allocator from the blocks in the cluster before it cuts a new one; blocks of nodes that no
 * longer exist are freed then.
 */
import {
  actor,
  type ActorDef,
  type ActorRef,
  type SupervisorHandle,
  supervisorHandle,
} from "../../runtime/mod.ts";
import type { AddressBlock } from "../crds/address_block.ts";
import type { AddressPool } from "../crds/address_pool.ts";
import type { BlockRequest } from "../crds/block_request.ts";
import { API_VERSION } from "../crds/names.ts";
import type { InformerEvent, KubeObject } from "../kube/mod.ts";
import type { Api } from "./api.ts";
import { startChild } from "./children.ts";
import { conditionTime, setCondition } from "./conditions.ts";
import { type EventSink, recordEvent, subjectOf } from "./event_recorder.ts";
import { poolActor, type PoolMsg } from "./pool_actor.ts";
import { resolvePoolObjects } from "./pool_view.ts";
import type { ServiceUsage } from "./services.ts";
import { Resources } from "../kube/mod.ts";
import { isNotFound } from "./api.ts";

/** Messages of the pools actor. */
export type PoolsMsg =
  | { type: "pool"; ev: InformerEvent<AddressPool> }
  | { type: "block"; ev: InformerEvent<AddressBlock> }
  | { type: "breq"; ev: InformerEvent<BlockRequest> }
  | { type: "node"; ev: InformerEvent<KubeObject> }
  | { type: "service_usage"; usage: ServiceUsage }
  | { type: "check" };

/** Options of {@link poolsActor}. */
export interface PoolsOptions {
  api: Api;
  /** Path of the supervisor the pool actors run under. */
  childrenPath: string;
  events?: () => EventSink | undefined;
  repair?: boolean;
  onReady?: (ready: boolean) => void;
  /** Period of the block consistency check (default 60 s). */
  checkMs?: number;
}

const INFORMERS = ["pool", "block", "breq", "node"] as const;

/** Defines the pools actor. */
export function poolsActor(options: PoolsOptions): ActorDef<PoolsMsg> {
  return actor<PoolsMsg>("address-pools", (ctx) => {
    const pools = new Map<string, AddressPool>();
    const blocks = new Map<string, AddressBlock>();
    const requests = new Map<string, BlockRequest>();
    const nodes = new Set<string>();
    const synced = new Set<string>();
    const children = new Map<string, ActorRef<PoolMsg>>();
    let usage: ServiceUsage = {};
    let ready = false;
    let handle: SupervisorHandle | undefined;
    const checkMs = options.checkMs ?? 60_000;
    ctx.timers.every("check", checkMs, { type: "check" });

    const sup = () => {
      if (!handle) {
        const ref = ctx.lookup(options.childrenPath);
        if (!ref) throw new Error(`no supervisor at ${options.childrenPath}`);
        handle = supervisorHandle(ref);
      }
      return handle;
    };

    const child = async (name: string) => {
      let ref = children.get(name);
      if (ref) return ref;
      ref = await startChild<PoolMsg>(sup(), {
        id: `pool:${name}`,
        def: poolActor(name, {
          api: options.api,
          events: () => options.events?.(),
          repair: options.repair ?? false,
        }),
        restart: "transient",
        mailbox: { capacity: 100_000, overflow: "drop_oldest" },
      });
      children.set(name, ref);
      return ref;
    };

    const blocksOf = (pool: string) => [...blocks.values()].filter((b) => b.spec.pool === pool);

    const configureAll = async () => {
      const { accepted, rejected } = resolvePoolObjects(pools.values());
      for (const [name, obj] of pools) {
        const ref = await child(name);
        const pool = accepted.get(name);
        const error = rejected.get(name);
        ref.tell({
          type: "config",
          obj,
          ...(pool ? { pool } : {}),
          ...(error ? { error } : {}),
          blocks: blocksOf(name),
        });
        const u = usage[name];
        if (u) ref.tell({ type: "usage", allocated: u });
      }
      for (const [name, ref] of [...children]) {
        if (pools.has(name)) continue;
        children.delete(name);
        await sup().terminateChild(`pool:${name}`).catch(() => {});
        void ref;
      }
    };

    const route = async (req: BlockRequest) => {
      const ref = pools.has(req.spec.pool) ? await child(req.spec.pool) : undefined;
      if (ref) {
        ref.tell({ type: "request", req });
        return;
      }
      const failed = (req.status?.conditions ?? []).find((c) => c.type === "Failed");
      if (failed?.reason === "UnknownPool") return;
      const message = `there is no AddressPool named ${JSON.stringify(req.spec.pool)}`;
      recordEvent(options.events?.(), {
        subject: subjectOf("BlockRequest", API_VERSION, req),
        type: "Warning",
        reason: "UnknownPool",
        message,
      });
      try {
        await options.api.patch(Resources.blockRequests, req.metadata.name, {
          status: {
            conditions: setCondition(req.status?.conditions as never, {
              type: "Failed",
              status: "True",
              reason: "UnknownPool",
              message,
            }, conditionTime(ctx.clock.now())),
          },
        }, { status: true });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };

    const nodeGone = (node: string) => {
      for (const [name, ref] of children) {
        if (pools.get(name)?.spec.type === "pod") ref.tell({ type: "node_gone", node });
      }
    };

    const start = async () => {
      ready = true;
      await configureAll();
      const missing = new Set<string>();
      for (const b of blocks.values()) {
        if (b.spec.node && !nodes.has(b.spec.node)) missing.add(b.spec.node);
      }
      for (const n of missing) nodeGone(n);
      for (const r of requests.values()) await route(r);
      options.onReady?.(true);
    };

    const maybeStart = async () => {
      if (!ready && INFORMERS.every((i) => synced.has(i))) await start();
    };

    return {
      async receive(msg) {
        if (msg.type === "check") {
          if (!ready) return;
          for (const [name, ref] of children) {
            if (pools.get(name)?.spec.type !== "pod") continue;
            ref.tell({ type: "check", blocks: blocksOf(name), settleMs: checkMs / 2 });
          }
          return;
        }
        if (msg.type === "service_usage") {
          usage = msg.usage;
          for (const [name, u] of Object.entries(usage)) {
            children.get(name)?.tell({ type: "usage", allocated: u });
          }
          return;
        }
        const ev = msg.ev;
        if (ev.type === "synced") {
          synced.add(msg.type);
          if (!ready) await maybeStart();
          else if (msg.type === "pool") await configureAll();
          else if (msg.type === "breq") {
            for (const r of requests.values()) await route(r);
          }
          return;
        }
        const deleted = ev.type === "deleted";
        switch (msg.type) {
          case "pool": {
            const o = ev.object as AddressPool;
            if (deleted) pools.delete(o.metadata.name);
            else pools.set(o.metadata.name, o);
            if (ready) await configureAll();
            return;
          }
          case "block": {
            const o = ev.object as AddressBlock;
            if (deleted) blocks.delete(o.metadata.name);
            else blocks.set(o.metadata.name, o);
            if (ready) children.get(o.spec.pool)?.tell({ type: "block", block: o, deleted });
            return;
          }
          case "breq": {
            const o = ev.object as BlockRequest;
            if (deleted) {
              requests.delete(o.metadata.name);
              if (ready) {
                children.get(o.spec.pool)?.tell({ type: "request_gone", name: o.metadata.name });
              }
              return;
            }
            requests.set(o.metadata.name, o);
            if (ready) await route(o);
            return;
          }
          case "node": {
            const name = ev.object.metadata.name!;
            if (deleted) {
              nodes.delete(name);
              if (ready) nodeGone(name);
            } else nodes.add(name);
            return;
          }
        }
      },
      stop() {
        options.onReady?.(false);
      },
      inspect: () => ({
        ready,
        synced: [...synced],
        pools: pools.size,
        blocks: blocks.size,
        requests: requests.size,
        nodes: nodes.size,
      }),
    };
  });
}
