/**
 * The pool manager: starts the node IPAM actor of a pool (`/agent/ipam/pool-<name>`) when it is
 * first needed, under the `ipam` supervisor, and at start for every pool the block source lists
 * or a record uses, so a restarted agent has each pool's allocations back before any request.
 * Pools come and go with the cluster's AddressPools; the node only runs actors for pools it uses.
 *
 * @module
 */

import { actor, DuplicateChildError, type ReplyTo } from "../../runtime/mod.ts";
import { BlockSourceError, type BlockSourceMsg, type PoolInfo } from "./block_source.ts";
import { nodeIpam } from "./node_ipam.ts";
import { poolChildId, poolPath } from "./paths.ts";
import type { AllocationRecord } from "./records.ts";
import type { StoreMsg } from "./store.ts";

/** Messages of the pool manager. */
export type PoolManagerMsg =
  /** Starts the pool's actor if needed; `known` skips asking the source (a record names it). */
  | { type: "ensure"; pool: string; known?: boolean; replyTo: ReplyTo<void> }
  | { type: "bootstrap" };

/** Options of {@linkcode poolManager}. */
export interface PoolManagerOptions {
  storePath: string;
  sourcePath: string;
  blockGraceMs: number;
}

/** The pool manager actor (a child of the `ipam` supervisor). */
export function poolManager(o: PoolManagerOptions) {
  return actor<PoolManagerMsg>("pool-manager", (ctx) => {
    const started = new Set<string>();
    const ensure = async (pool: string, known?: boolean) => {
      if (ctx.lookup(poolPath(pool))) {
        started.add(pool);
        return;
      }
      if (!known) {
        const source = ctx.lookup<BlockSourceMsg>(o.sourcePath);
        const pools = source
          ? await source.ask<PoolInfo[]>((replyTo) => ({ type: "pools", replyTo }))
          : [];
        if (!pools.some((p) => p.name === pool)) {
          throw new BlockSourceError("unknown_pool", pool, "No such pool on this node");
        }
      }
      try {
        await ctx.parent!.startChild({
          id: poolChildId(pool),
          def: nodeIpam({
            pool,
            storePath: o.storePath,
            sourcePath: o.sourcePath,
            blockGraceMs: o.blockGraceMs,
          }),
          mailbox: { capacity: 4096, overflow: "fail_sender" },
        });
      } catch (e) {
        if (!(e instanceof DuplicateChildError)) throw e;
      }
      started.add(pool);
      ctx.log.info("pool actor started", { pool });
    };
    // After the supervisor has finished starting us (it cannot start a sibling before).
    ctx.self.tell({ type: "bootstrap" });
    return {
      async receive(msg) {
        if (msg.type === "bootstrap") {
          const store = ctx.lookup<StoreMsg>(o.storePath);
          const source = ctx.lookup<BlockSourceMsg>(o.sourcePath);
          if (!store || !source) throw new Error("the store and the block source must run");
          const records = await store.ask<AllocationRecord[]>((replyTo) => ({
            type: "list",
            replyTo,
          }));
          const pools = await source.ask<PoolInfo[]>((replyTo) => ({ type: "pools", replyTo }));
          const known = new Set(pools.map((p) => p.name));
          // Pools with records first (their allocations must be back before anything else),
          // also those the source no longer lists (they release, but allocate nothing).
          for (const p of new Set(records.map((r) => r.pool))) {
            if (!known.has(p)) {
              ctx.log.warn("records of a pool the node no longer knows", { pool: p });
            }
            await ensure(p, true);
          }
          for (const p of pools) await ensure(p.name, true);
          return;
        }
        try {
          await ensure(msg.pool, msg.known);
          msg.replyTo.reply();
        } catch (e) {
          msg.replyTo.fail(e as Error);
        }
      },
      inspect: () => ({ pools: [...started] }),
    };
  });
}
