/**
 * The node IPAM actor of one pool: the blocks this node holds from the pool and the addresses
 * handed out of them. An allocation takes one address per family the pool has (IPv4, IPv6 or
 * both), the lowest free one of the first block with room; when every block of a family is
 * full it asks the block source for another. Blocks that stay empty for the grace period go
 * back to the source. On start (and after a restart) it rebuilds itself from the allocation
 * store, so it never hands out an address a record holds.
 *
 * @module
 */

import { actor, type ReplyTo } from "../../runtime/mod.ts";
import { BlockAddressAllocator, Cidr, IpAddress, type IpFamily } from "../ipam/mod.ts";
import { BlockSourceError, type BlockSourceMsg, type PoolInfo } from "./block_source.ts";
import type { RecordAddress } from "./records.ts";
import type { StoreMsg } from "./store.ts";
import { attachmentKey } from "./records.ts";

/** Usage of one block. */
export interface BlockUsage {
  pool: string;
  block: string;
  family: IpFamily;
  capacity: number;
  used: number;
  /** Since when it is empty (ms since epoch), if it is. */
  emptySince?: number;
}

/** Messages of a node IPAM actor. */
export type NodeIpamMsg =
  | { type: "allocate"; owner: string; replyTo: ReplyTo<RecordAddress[]> }
  | { type: "release"; owner: string; replyTo?: ReplyTo<string[]> }
  | { type: "usage"; replyTo: ReplyTo<BlockUsage[]> }
  | { type: "sweep" };

/** Options of {@linkcode nodeIpam}. */
export interface NodeIpamOptions {
  pool: string;
  /** Path of the allocation store. */
  storePath: string;
  /** Path of the block source. */
  sourcePath: string;
  /** Empty blocks go back after this long. */
  blockGraceMs: number;
  /** How often to look for empty blocks (default: a quarter of the grace, 1 s to 60 s). */
  sweepMs?: number;
}

/** The node IPAM actor of one pool. */
export function nodeIpam(o: NodeIpamOptions) {
  return actor<NodeIpamMsg>("node-ipam", async (ctx) => {
    const store = ctx.lookup<StoreMsg>(o.storePath);
    const source = ctx.lookup<BlockSourceMsg>(o.sourcePath);
    if (!store || !source) throw new Error("node-ipam needs the store and the block source");
    const pools = await source.ask<PoolInfo[]>((replyTo) => ({ type: "pools", replyTo }));
    // A pool deleted from the cluster keeps its actor until its pods are gone: it releases,
    // but hands out nothing more.
    const info: PoolInfo = pools.find((p) => p.name === o.pool) ??
      { name: o.pool, auto: false, families: [] };
    const gone = !pools.some((p) => p.name === o.pool);
    if (gone) ctx.log.warn("the pool is not known to the block source", { pool: o.pool });
    const blocks = new Map<string, BlockAddressAllocator>();
    const emptySince = new Map<string, number>();
    const allocated = ctx.metrics.counter(
      "tern_agent_addresses_allocated_total",
      "Addresses handed out",
    );
    const inUse = ctx.metrics.gauge("tern_agent_addresses_in_use", "Addresses held by pods");

    const addBlock = (cidr: string) => {
      const c = Cidr.parse(cidr);
      const a = new BlockAddressAllocator(c);
      blocks.set(c.toString(), a);
      emptySince.set(c.toString(), ctx.clock.now());
      return a;
    };
    // Rebuild from the store.
    const records = await store.ask<import("./records.ts").AllocationRecord[]>(
      (replyTo) => ({ type: "list", replyTo }),
    );
    let restored = 0;
    for (const r of records) {
      if (r.pool !== o.pool) continue;
      for (const a of r.addresses) {
        const b = blocks.get(a.block) ?? addBlock(a.block);
        const rep = b.restore([{
          address: a.address,
          owner: attachmentKey(r.containerId, r.ifname),
        }]);
        restored += rep.restored.length;
        for (const c of rep.conflicts) {
          ctx.log.error("allocation conflict on restore", { error: c.message });
        }
        if (rep.restored.length) emptySince.delete(a.block);
      }
    }
    // Blocks the source gave this node but no record uses (a crash between getting a block and
    // using it) are taken back too, so they are used or returned, not leaked.
    let owned: string[] = [];
    try {
      owned = await source.ask<string[]>((replyTo) => ({ type: "owned", pool: o.pool, replyTo }));
    } catch (e) {
      ctx.log.warn("cannot list the blocks the node owns", { pool: o.pool, error: String(e) });
    }
    for (const b of owned) if (!blocks.has(Cidr.parse(b).toString())) addBlock(b);
    if (blocks.size) {
      await source.ask<void>((replyTo) => ({
        type: "claim",
        pool: o.pool,
        blocks: [...blocks.keys()],
        replyTo,
      }));
    }
    ctx.log.info("pool rebuilt", { pool: o.pool, blocks: blocks.size, addresses: restored });
    const updateGauge = () => {
      let n = 0;
      for (const b of blocks.values()) n += b.used;
      inUse.set(n, { pool: o.pool });
    };
    updateGauge();
    const sweepMs = o.sweepMs ?? Math.min(60_000, Math.max(1_000, Math.floor(o.blockGraceMs / 4)));
    ctx.timers.every("sweep", sweepMs, { type: "sweep" });

    const allocateFamily = async (owner: string, family: IpFamily): Promise<RecordAddress> => {
      for (const [cidr, b] of blocks) {
        if (b.cidr.family !== family) continue;
        const held = b.addressOf(owner);
        if (held) return { address: held.toString(), block: cidr };
      }
      for (const [cidr, b] of blocks) {
        if (b.cidr.family !== family || b.free === 0) continue;
        const { address } = b.allocate(owner);
        emptySince.delete(cidr);
        return { address: address.toString(), block: cidr };
      }
      // Every block is full: ask for another (the source fails when the pool has none left).
      const cidr = await source.ask<string>(
        (replyTo) => ({ type: "acquire", pool: o.pool, family, replyTo }),
        { timeoutMs: 30_000 },
      );
      const b = blocks.get(cidr) ?? addBlock(cidr);
      const { address } = b.allocate(owner);
      emptySince.delete(cidr);
      return { address: address.toString(), block: cidr };
    };

    const release = (owner: string): string[] => {
      const out: string[] = [];
      for (const [cidr, b] of blocks) {
        const a = b.releaseOwner(owner);
        if (a) {
          out.push(a.toString());
          if (b.used === 0) emptySince.set(cidr, ctx.clock.now());
        }
      }
      return out;
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "allocate": {
            if (gone) {
              msg.replyTo.fail(new BlockSourceError("unknown_pool", o.pool, "No such pool"));
              break;
            }
            const out: RecordAddress[] = [];
            try {
              for (const f of info.families) out.push(await allocateFamily(msg.owner, f));
            } catch (e) {
              release(msg.owner); // nothing half-made: no single-family leftovers
              msg.replyTo.fail(e as Error);
              break;
            }
            allocated.inc({ pool: o.pool }, out.length);
            updateGauge();
            msg.replyTo.reply(out);
            break;
          }
          case "release": {
            const freed = release(msg.owner);
            updateGauge();
            msg.replyTo?.reply(freed);
            break;
          }
          case "usage":
            msg.replyTo.reply([...blocks.entries()].map(([cidr, b]) => {
              const u: BlockUsage = {
                pool: o.pool,
                block: cidr,
                family: b.cidr.family,
                capacity: b.capacity,
                used: b.used,
              };
              const e = emptySince.get(cidr);
              if (e !== undefined) u.emptySince = e;
              return u;
            }));
            break;
          case "sweep": {
            const now = ctx.clock.now();
            for (const [cidr, since] of emptySince) {
              const b = blocks.get(cidr);
              if (!b || b.used > 0 || now - since < o.blockGraceMs) continue;
              blocks.delete(cidr);
              emptySince.delete(cidr);
              source.tell({ type: "release", pool: o.pool, block: cidr });
              ctx.log.info("empty block returned", { pool: o.pool, block: cidr });
            }
            break;
          }
        }
      },
      inspect: () => ({
        pool: o.pool,
        families: info.families,
        blocks: [...blocks.entries()].map(([cidr, b]) => `${cidr} ${b.used}/${b.capacity}`),
      }),
    };
  });
}

/** Parses an address kept in a record (for callers that need its family). */
export function recordFamily(a: RecordAddress): IpFamily {
  return IpAddress.parse(a.address).family;
}
