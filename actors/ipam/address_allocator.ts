/**
 * The address allocator of one pod block ("bit" allocation): the lowest free address, one per
 * owner (a container id and interface), kept in a bitmap.
 *
 * Reserved addresses. Pods get /32 and /128 routes, so no address of a block is a network or
 * broadcast address on any link, and every address could be used. tern nevertheless never
 * hands out, in blocks of 4 addresses or more, the block's first address (the IPv4 network
 * address, the IPv6 subnet-router anycast address of RFC 4291 2.6.1) nor, for IPv4, its last
 * (the broadcast address): sart hands out `x.y.z.0`, which some clients, middleboxes and
 * firewall rules treat as invalid, and a block routed as a subnet somewhere (a bridge, a
 * summary route) would break on them. That costs 2 of 64 addresses in a /26. Blocks of one or
 * two addresses (/31, /32, /127, /128: RFC 3021 point-to-point style) reserve nothing, so
 * single-address blocks work. `reserve: "none"` turns the rule off for a block.
 *
 * @module
 */

import { IpAddress } from "./address.ts";
import { Bitmap } from "./bitmap.ts";
import { Cidr } from "./cidr.ts";
import {
  AddressNotAllocatedError,
  AddressOutsidePoolsError,
  AddressTakenError,
  IpamError,
  PoolExhaustedError,
} from "./errors.ts";

/** Which addresses of a block are never handed out. */
export type ReservePolicy = "edges" | "none";

/** Options of {@linkcode BlockAddressAllocator}. */
export interface BlockAddressAllocatorOptions {
  /** `edges` (default): the first address, and the last for IPv4, in blocks of 4 or more. */
  reserve?: ReservePolicy;
}

/** One allocation. */
export interface AddressAllocation {
  /** The address. */
  address: IpAddress;
  /** Who holds it (e.g. `<containerId>/<ifname>`). */
  owner: string;
}

/** What {@linkcode BlockAddressAllocator.restore} did. */
export interface AddressRestoreReport {
  /** Allocations taken back. */
  restored: AddressAllocation[];
  /** Entries refused (outside the block, reserved, held twice): to be reported. */
  conflicts: IpamError[];
}

/** The addresses a block never hands out under a policy. */
export function reservedOffsets(cidr: Cidr, reserve: ReservePolicy): bigint[] {
  if (reserve === "none" || cidr.size < 4n) return [];
  return cidr.family === 4 ? [0n, cidr.size - 1n] : [0n];
}

/**
 * Address allocator of one block.
 *
 * @example
 * ```ts
 * const a = new BlockAddressAllocator(Cidr.parse("198.18.0.0/26"));
 * a.allocate("c1/eth0").address.toString(); // "198.18.0.1"
 * ```
 */
export class BlockAddressAllocator {
  /** The block. */
  readonly cidr: Cidr;
  /** Reserved addresses (never handed out). */
  readonly reserved: readonly IpAddress[];
  #bits: Bitmap;
  #reserved: Set<number>;
  #owners = new Map<number, string>(); // offset -> owner
  #byOwner = new Map<string, number>();

  constructor(cidr: Cidr, options: BlockAddressAllocatorOptions = {}) {
    this.cidr = cidr;
    this.#bits = new Bitmap(Number(cidr.size));
    const offs = reservedOffsets(cidr, options.reserve ?? "edges");
    this.#reserved = new Set(offs.map(Number));
    for (const o of this.#reserved) this.#bits.set(o);
    this.reserved = offs.map((o) => cidr.at(o));
  }

  /** Addresses that can be handed out. */
  get capacity(): number {
    return this.#bits.size - this.#reserved.size;
  }

  /** Addresses handed out. */
  get used(): number {
    return this.#owners.size;
  }

  /** Addresses still free. */
  get free(): number {
    return this.capacity - this.used;
  }

  /** The owner of an address, if held. */
  ownerOf(address: IpAddress): string | undefined {
    if (!this.cidr.contains(address)) return undefined;
    return this.#owners.get(Number(address.value - this.cidr.first.value));
  }

  /** The address an owner holds, if any. */
  addressOf(owner: string): IpAddress | undefined {
    const o = this.#byOwner.get(owner);
    return o === undefined ? undefined : this.cidr.at(BigInt(o));
  }

  /** Every allocation, in address order. */
  allocations(): AddressAllocation[] {
    return [...this.#owners.entries()].sort((a, b) => a[0] - b[0]).map(([o, owner]) => ({
      address: this.cidr.at(BigInt(o)),
      owner,
    }));
  }

  /**
   * The lowest free address for `owner`. Idempotent: an owner that already holds an address
   * gets it again with `created: false`. Throws {@linkcode PoolExhaustedError} when full.
   */
  allocate(owner: string): { address: IpAddress; created: boolean } {
    const held = this.#byOwner.get(owner);
    if (held !== undefined) return { address: this.cidr.at(BigInt(held)), created: false };
    const o = this.#bits.lowestClear();
    if (o < 0) {
      throw new PoolExhaustedError(
        this.cidr.toString(),
        `all ${this.capacity} addresses of the block are in use`,
      );
    }
    this.#take(o, owner);
    return { address: this.cidr.at(BigInt(o)), created: true };
  }

  /**
   * Gives `owner` exactly `address`. Idempotent for the same owner; throws
   * {@linkcode AddressOutsidePoolsError} outside the block or on a reserved address,
   * {@linkcode AddressTakenError} when another owner holds it, and
   * {@linkcode AddressTakenError} too when `owner` already holds a different address.
   */
  allocateSpecific(address: IpAddress, owner: string): { address: IpAddress; created: boolean } {
    const o = this.#offset(address);
    const current = this.#owners.get(o);
    if (current === owner) return { address, created: false };
    if (current !== undefined) throw new AddressTakenError(address.toString(), current);
    const held = this.#byOwner.get(owner);
    if (held !== undefined) {
      throw new AddressTakenError(
        this.cidr.at(BigInt(held)).toString(),
        owner,
        `the owner already holds it and cannot also take ${address.toString()}`,
      );
    }
    this.#take(o, owner);
    return { address, created: true };
  }

  #offset(address: IpAddress): number {
    if (!this.cidr.contains(address)) {
      throw new AddressOutsidePoolsError(
        address.toString(),
        `it is not in block ${this.cidr.toString()}`,
      );
    }
    const o = Number(address.value - this.cidr.first.value);
    if (this.#reserved.has(o)) {
      throw new AddressOutsidePoolsError(
        address.toString(),
        `it is reserved in block ${this.cidr.toString()} (first address, or last for IPv4)`,
      );
    }
    return o;
  }

  #take(o: number, owner: string): void {
    this.#bits.set(o);
    this.#owners.set(o, owner);
    this.#byOwner.set(owner, o);
  }

  /** Frees an address; returns its owner. Throws {@linkcode AddressNotAllocatedError}. */
  release(address: IpAddress): string {
    if (!this.cidr.contains(address)) {
      throw new AddressNotAllocatedError(address.toString(), `it is not in block ${this.cidr}`);
    }
    const o = Number(address.value - this.cidr.first.value);
    const owner = this.#owners.get(o);
    if (owner === undefined) throw new AddressNotAllocatedError(address.toString());
    this.#bits.clear(o);
    this.#owners.delete(o);
    this.#byOwner.delete(owner);
    return owner;
  }

  /** Frees what an owner holds (idempotent: undefined when it holds nothing). */
  releaseOwner(owner: string): IpAddress | undefined {
    const o = this.#byOwner.get(owner);
    if (o === undefined) return undefined;
    const address = this.cidr.at(BigInt(o));
    this.release(address);
    return address;
  }

  /**
   * Takes existing allocations back (after a restart). Entries outside the block, on a reserved
   * address, on an address already held, or for an owner already holding another address are
   * refused and reported; the rest is kept exactly.
   */
  restore(entries: Iterable<{ address: string; owner: string }>): AddressRestoreReport {
    const restored: AddressAllocation[] = [];
    const conflicts: IpamError[] = [];
    for (const e of entries) {
      try {
        const address = IpAddress.parse(e.address);
        const r = this.allocateSpecific(address, e.owner);
        if (r.created) restored.push({ address, owner: e.owner });
      } catch (err) {
        if (err instanceof IpamError) conflicts.push(err);
        else throw err;
      }
    }
    return { restored, conflicts };
  }
}
