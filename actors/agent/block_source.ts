/**
 * The block source protocol: where a node's IPAM actors get address blocks, and give them
 * back. Two implementations answer it: the static one here (blocks given to the agent by flag,
 * for standalone use and tests) and, with the Kubernetes layer, one that creates a
 * BlockRequest and waits for the controller's AddressBlock.
 *
 * @module
 */

import { actor, type ReplyTo } from "../../runtime/mod.ts";
import type { IpFamily } from "../ipam/mod.ts";
import type { StaticPool } from "./config.ts";

/** A pool as the node sees it. */
export interface PoolInfo {
  name: string;
  auto: boolean;
  /** Families the pool can give addresses of. */
  families: IpFamily[];
}

/** Why a block could not be had. */
export class BlockSourceError extends Error {
  override readonly name = "BlockSourceError";
  constructor(
    readonly code: "unknown_pool" | "pool_exhausted" | "unknown_block" | "no_answer",
    readonly value: string,
    detail: string,
  ) {
    super(`${detail}: ${JSON.stringify(value)}`);
  }
}

/** Messages every block source understands. */
export type BlockSourceMsg =
  | { type: "pools"; replyTo: ReplyTo<PoolInfo[]> }
  | { type: "acquire"; pool: string; family: IpFamily; replyTo: ReplyTo<string> }
  | { type: "claim"; pool: string; blocks: string[]; replyTo: ReplyTo<void> }
  /** Blocks the source already gave this node (e.g. before a crash), used or not. */
  | { type: "owned"; pool: string; replyTo: ReplyTo<string[]> }
  | { type: "release"; pool: string; block: string };

/** The static block source: hands out the configured blocks of each pool, in order. */
export function staticBlockSource(pools: StaticPool[]) {
  return actor<BlockSourceMsg>("static-block-source", (ctx) => {
    const held = new Map<string, Set<string>>(pools.map((p) => [p.name, new Set<string>()]));
    const byName = new Map(pools.map((p) => [p.name, p]));
    const pool = (name: string) => {
      const p = byName.get(name);
      if (!p) throw new BlockSourceError("unknown_pool", name, "No such pool on this node");
      return p;
    };
    return {
      receive(msg) {
        switch (msg.type) {
          case "pools":
            msg.replyTo.reply(pools.map((p) => ({
              name: p.name,
              auto: p.auto,
              families: [...new Set(p.blocks.map((b) => b.family))].sort() as IpFamily[],
            })));
            break;
          case "acquire": {
            let p;
            try {
              p = pool(msg.pool);
            } catch (e) {
              msg.replyTo.fail(e as Error);
              break;
            }
            const h = held.get(p.name)!;
            const free = p.blocks.find((b) => b.family === msg.family && !h.has(b.toString()));
            if (!free) {
              msg.replyTo.fail(
                new BlockSourceError(
                  "pool_exhausted",
                  p.name,
                  `Every IPv${msg.family} block of the pool is in use on this node`,
                ),
              );
              break;
            }
            h.add(free.toString());
            ctx.log.info("block acquired", { pool: p.name, block: free.toString() });
            msg.replyTo.reply(free.toString());
            break;
          }
          case "owned":
            // Static blocks are only "given" while in use, which the records say.
            msg.replyTo.reply([]);
            break;
          case "claim": {
            const h = held.get(msg.pool);
            if (!h) {
              msg.replyTo.fail(new BlockSourceError("unknown_pool", msg.pool, "No such pool"));
              break;
            }
            for (const b of msg.blocks) h.add(b);
            msg.replyTo.reply();
            break;
          }
          case "release":
            if (held.get(msg.pool)?.delete(msg.block)) {
              ctx.log.info("block released", { pool: msg.pool, block: msg.block });
            }
            break;
        }
      },
      inspect: () => ({
        pools: pools.map((p) => ({
          name: p.name,
          auto: p.auto,
          blocks: p.blocks.length,
          held: [...held.get(p.name)!],
        })),
      }),
    };
  });
}
