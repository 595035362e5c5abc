/**
 * The block allocator of one pod pool: cuts the pool's CIDRs into blocks of `blockSize` and
 * gives each node the lowest free block on request. Pure: the controller's pool actor owns one,
 * rebuilds it from the existing AddressBlocks before it allocates anything, and writes the
 * AddressBlock objects for what it returns.
 *
 * @module
 */

import type { IpFamily } from "./address.ts";
import { Cidr } from "./cidr.ts";
import {
  BlockConflictError,
  FamilyUnavailableError,
  IpamError,
  PoolExhaustedError,
  PoolTypeMismatchError,
  UnknownBlockError,
} from "./errors.ts";
import { IntervalSet } from "./interval_set.ts";
import type { Pool, PoolSegment } from "./pool.ts";

/** A block handed to a node. */
export interface BlockRecord {
  /** AddressBlock object name (see {@linkcode blockName}). */
  name: string;
  /** Pool name. */
  pool: string;
  /** The block's prefix. */
  cidr: Cidr;
  /** Its family. */
  family: IpFamily;
  /** The node holding it. */
  node: string;
  /** Its position among the pool's blocks of this family (lower is lower address). */
  slot: bigint;
  /** The request (BlockRequest name) that produced it, for idempotence. */
  request?: string;
}

/** A block request. */
export interface BlockRequestInput {
  /** The node asking. */
  node: string;
  /** The family wanted. */
  family: IpFamily;
  /**
   * A request identity (the BlockRequest's name): asking again with the same identity returns
   * the same block instead of a new one.
   */
  request?: string;
}

/** An existing AddressBlock, as read from the cluster. */
export interface ExistingBlock {
  /** Object name. */
  name: string;
  /** Its CIDR text. */
  cidr: string;
  /** Its node. */
  node: string;
  /** The request that produced it, if known. */
  request?: string;
}

/** What {@linkcode BlockAllocator.restore} did. */
export interface BlockRestoreReport {
  /** Blocks taken back into the allocator. */
  restored: BlockRecord[];
  /** Blocks that could not be (outside the pool, misaligned, duplicated): to be reported. */
  conflicts: IpamError[];
}

/**
 * The AddressBlock name of a block: the pool name and the block's CIDR with `.`, `:` and `/`
 * turned into `-` (e.g. `pods-198-18-0-64-26`, `pods-fd00-1--40-122`). Pools never overlap, so
 * the name is unique across pools, and it does not depend on the order of the pool's CIDRs.
 */
export function blockName(pool: string, cidr: Cidr): string {
  const slug = cidr.toString().replace(/[.:/]/g, "-");
  let head = pool.slice(0, Math.max(1, 253 - slug.length - 1));
  head = head.replace(/[-.]+$/, "");
  return `${head}-${slug}`;
}

interface FamilyState {
  segments: PoolSegment[];
  /** Cumulative first slot of each segment. */
  starts: bigint[];
  total: bigint;
  used: IntervalSet;
}

/**
 * Block allocator of one pod pool.
 *
 * @example
 * ```ts
 * const pool = Pool.from({ name: "pods", type: "pod", cidrs: ["198.18.0.0/24"], blockSize: 26 });
 * const blocks = new BlockAllocator(pool);
 * blocks.allocate({ node: "n1", family: 4, request: "pods-n1" }).block.cidr.toString(); // "198.18.0.0/26"
 * ```
 */
export class BlockAllocator {
  /** The pool. */
  readonly pool: Pool;
  #fam = new Map<IpFamily, FamilyState>();
  #bySlot = new Map<string, BlockRecord>(); // `${family}/${slot}`
  #byName = new Map<string, BlockRecord>();
  #byRequest = new Map<string, BlockRecord>();

  constructor(pool: Pool) {
    if (pool.type !== "pod") {
      throw new PoolTypeMismatchError(pool.name, "blocks are cut from pod pools only");
    }
    this.pool = pool;
    for (const family of pool.families) {
      const segments = pool.segmentsOf(family);
      const starts: bigint[] = [];
      let total = 0n;
      for (const s of segments) {
        starts.push(total);
        total += s.cidr!.blockCount(s.blockSize!);
      }
      this.#fam.set(family, { segments, starts, total, used: new IntervalSet() });
    }
  }

  /** Total number of blocks of a family. */
  capacity(family: IpFamily): bigint {
    return this.#fam.get(family)?.total ?? 0n;
  }

  /** Number of blocks of a family handed out. */
  allocatedCount(family: IpFamily): bigint {
    return this.#fam.get(family)?.used.size ?? 0n;
  }

  /** Every block, ordered by family then address. */
  list(): BlockRecord[] {
    return [...this.#byName.values()].sort((a, b) => a.cidr.compare(b.cidr));
  }

  /** The blocks of one node, ordered. */
  listNode(node: string): BlockRecord[] {
    return this.list().filter((b) => b.node === node);
  }

  /** A block by name. */
  get(name: string): BlockRecord | undefined {
    return this.#byName.get(name);
  }

  /** The block that contains an address, if any. */
  blockContaining(address: { family: IpFamily; value: bigint }): BlockRecord | undefined {
    const st = this.#fam.get(address.family);
    if (!st) return undefined;
    for (let i = 0; i < st.segments.length; i++) {
      const seg = st.segments[i]!;
      const c = seg.cidr!;
      if (address.value < c.first.value || address.value > c.last.value) continue;
      const slot = st.starts[i]! +
        ((address.value - c.first.value) >> BigInt(c.bits - seg.blockSize!));
      return this.#bySlot.get(`${address.family}/${slot}`);
    }
    return undefined;
  }

  #slotBlock(st: FamilyState, slot: bigint): Cidr {
    let i = st.segments.length - 1;
    while (st.starts[i]! > slot) i--;
    const seg = st.segments[i]!;
    return seg.cidr!.blockAt(seg.blockSize!, slot - st.starts[i]!);
  }

  #slotOf(st: FamilyState, cidr: Cidr): bigint | undefined {
    for (let i = 0; i < st.segments.length; i++) {
      const seg = st.segments[i]!;
      if (!seg.cidr!.containsCidr(cidr)) continue;
      if (cidr.length !== seg.blockSize) return undefined;
      return st.starts[i]! + seg.cidr!.blockIndexOf(cidr)!;
    }
    return undefined;
  }

  /**
   * Gives `node` the lowest free block of `family`. Idempotent: a request identity seen before
   * returns its block with `created: false`. Throws {@linkcode PoolExhaustedError},
   * {@linkcode FamilyUnavailableError} or {@linkcode BlockConflictError}; nothing changes then.
   */
  allocate(req: BlockRequestInput): { block: BlockRecord; created: boolean } {
    if (req.request !== undefined) {
      const seen = this.#byRequest.get(req.request);
      if (seen) {
        if (seen.node !== req.node || seen.family !== req.family) {
          throw new BlockConflictError(
            seen.name,
            `request ${
              JSON.stringify(req.request)
            } was made for node ${seen.node} IPv${seen.family}, not ${req.node} IPv${req.family}`,
          );
        }
        return { block: seen, created: false };
      }
    }
    const st = this.#fam.get(req.family);
    if (!st) {
      throw new FamilyUnavailableError(
        `IPv${req.family}`,
        `pool ${JSON.stringify(this.pool.name)} has no IPv${req.family} CIDR`,
      );
    }
    const slot = st.used.lowestAbsent(0n, st.total - 1n);
    if (slot === undefined) {
      throw new PoolExhaustedError(
        this.pool.name,
        `all ${st.total} IPv${req.family} blocks are in use (node ${req.node} asked for one)`,
      );
    }
    const cidr = this.#slotBlock(st, slot);
    const block: BlockRecord = {
      name: blockName(this.pool.name, cidr),
      pool: this.pool.name,
      cidr,
      family: req.family,
      node: req.node,
      slot,
    };
    if (this.#byName.has(block.name)) {
      throw new BlockConflictError(block.name, "a block of that name already exists");
    }
    if (req.request !== undefined) block.request = req.request;
    this.#insert(st, block);
    return { block, created: true };
  }

  #insert(st: FamilyState, block: BlockRecord): void {
    st.used.add(block.slot);
    this.#bySlot.set(`${block.family}/${block.slot}`, block);
    this.#byName.set(block.name, block);
    if (block.request !== undefined) this.#byRequest.set(block.request, block);
  }

  /** Frees a block by name; throws {@linkcode UnknownBlockError} if it is not held. */
  release(name: string): BlockRecord {
    const block = this.#byName.get(name);
    if (!block) {
      throw new UnknownBlockError(
        name,
        `pool ${JSON.stringify(this.pool.name)} holds no such block`,
      );
    }
    this.#fam.get(block.family)!.used.delete(block.slot);
    this.#bySlot.delete(`${block.family}/${block.slot}`);
    this.#byName.delete(name);
    if (block.request !== undefined && this.#byRequest.get(block.request) === block) {
      this.#byRequest.delete(block.request);
    }
    return block;
  }

  /** The nodes holding blocks, sorted. */
  nodes(): string[] {
    return [...new Set([...this.#byName.values()].map((b) => b.node))].sort();
  }

  /** Blocks held by nodes that no longer exist (to free: the node was deleted). */
  blocksOfGoneNodes(liveNodes: ReadonlySet<string>): BlockRecord[] {
    return this.list().filter((b) => !liveNodes.has(b.node));
  }

  /** Frees every block of a node (a deleted node); returns them. */
  releaseNode(node: string): BlockRecord[] {
    const blocks = this.listNode(node);
    for (const b of blocks) this.release(b.name);
    return blocks;
  }

  /** Forgets a request identity (its BlockRequest was deleted); the block stays. */
  forgetRequest(request: string): void {
    const b = this.#byRequest.get(request);
    if (b) {
      this.#byRequest.delete(request);
      delete b.request;
    }
  }

  /**
   * Takes existing blocks back (after a restart), before anything is allocated. A block that is
   * not one of this pool's blocks, or that duplicates a slot or a name already taken, is not
   * taken and is reported; everything else is kept exactly as it was.
   */
  restore(existing: Iterable<ExistingBlock>): BlockRestoreReport {
    const restored: BlockRecord[] = [];
    const conflicts: IpamError[] = [];
    for (const e of existing) {
      let cidr: Cidr;
      try {
        cidr = Cidr.parse(e.cidr);
      } catch (err) {
        if (err instanceof IpamError) {
          conflicts.push(new BlockConflictError(e.name, err.message));
          continue;
        }
        throw err;
      }
      const st = this.#fam.get(cidr.family);
      const slot = st ? this.#slotOf(st, cidr) : undefined;
      if (!st || slot === undefined) {
        conflicts.push(
          new BlockConflictError(
            e.name,
            `${cidr.toString()} is not a block of pool ${JSON.stringify(this.pool.name)}`,
          ),
        );
        continue;
      }
      const holder = this.#bySlot.get(`${cidr.family}/${slot}`);
      if (holder) {
        conflicts.push(
          new BlockConflictError(
            e.name,
            `${cidr.toString()} is also held by block ${holder.name} of node ${holder.node} (double allocation)`,
          ),
        );
        continue;
      }
      if (this.#byName.has(e.name)) {
        conflicts.push(new BlockConflictError(e.name, "the name is used by another block"));
        continue;
      }
      const block: BlockRecord = {
        name: e.name,
        pool: this.pool.name,
        cidr,
        family: cidr.family,
        node: e.node,
        slot,
      };
      if (e.request !== undefined && !this.#byRequest.has(e.request)) block.request = e.request;
      this.#insert(st, block);
      restored.push(block);
    }
    return { restored, conflicts };
  }
}
