/**
 * CIDR prefixes: parsing, containment, overlap, iteration, splitting into blocks and
 * aggregation into covering prefixes.
 *
 * @module
 */

import { familyBits, IpAddress, type IpFamily, sameFamily } from "./address.ts";
import { InvalidAddressError, InvalidBlockSizeError, InvalidCidrError } from "./errors.ts";

const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;

/** Options of {@linkcode Cidr.parse}. */
export interface CidrParseOptions {
  /** When false, host bits are cleared instead of rejected. Default true. */
  strict?: boolean;
}

/** Mask of the host bits of a prefix of `length` in a space of `bits`. */
function hostMask(bits: number, length: number): bigint {
  return (1n << BigInt(bits - length)) - 1n;
}

/**
 * A CIDR prefix: a network address and a prefix length, always canonical (no host bits).
 *
 * @example
 * ```ts
 * const pool = Cidr.parse("198.18.0.0/16");
 * pool.blockCount(24); // 256n
 * pool.blockAt(24, 3n).toString(); // "198.18.3.0/24"
 * ```
 */
export class Cidr {
  /** The network (first) address. */
  readonly network: IpAddress;
  /** The prefix length. */
  readonly length: number;
  #text: string | undefined;

  private constructor(network: IpAddress, length: number) {
    this.network = network;
    this.length = length;
  }

  /**
   * Parses `address/length`. A bare address is not a CIDR. With `strict` (the default), host
   * bits set is an error ({@linkcode InvalidCidrError}); otherwise they are cleared.
   */
  static parse(text: string, options: CidrParseOptions = {}): Cidr {
    if (typeof text !== "string") throw new InvalidCidrError(String(text), "not a string");
    const slash = text.indexOf("/");
    if (slash < 0) throw new InvalidCidrError(text, `missing "/prefix-length"`);
    const addrText = text.slice(0, slash);
    const lenText = text.slice(slash + 1);
    let addr: IpAddress;
    try {
      addr = IpAddress.parse(addrText);
    } catch (e) {
      if (e instanceof InvalidAddressError) throw new InvalidCidrError(text, e.message);
      throw e;
    }
    if (!PREFIX.test(lenText)) {
      throw new InvalidCidrError(text, `prefix length ${JSON.stringify(lenText)} is not a number`);
    }
    const length = Number(lenText);
    if (length > addr.bits) {
      throw new InvalidCidrError(text, `prefix length ${length} exceeds ${addr.bits}`);
    }
    const mask = hostMask(addr.bits, length);
    if ((addr.value & mask) !== 0n) {
      if (options.strict ?? true) {
        const canonical = IpAddress.of(addr.family, addr.value & ~mask);
        throw new InvalidCidrError(
          text,
          `host bits are set (did you mean ${canonical.toString()}/${length}?)`,
        );
      }
    }
    if ((addr.value & mask) === 0n) {
      const c = new Cidr(addr, length);
      if (addr.family === 4) c.#text = text; // strict IPv4 input is canonical text already
      return c;
    }
    return new Cidr(IpAddress.of(addr.family, addr.value & ~mask), length);
  }

  /** Like {@linkcode Cidr.parse} but returns undefined instead of throwing. */
  static tryParse(text: string, options: CidrParseOptions = {}): Cidr | undefined {
    try {
      return Cidr.parse(text, options);
    } catch {
      return undefined;
    }
  }

  /** The prefix of `length` containing `address` (host bits cleared). */
  static containing(address: IpAddress, length: number): Cidr {
    if (!Number.isInteger(length) || length < 0 || length > address.bits) {
      throw new InvalidCidrError(
        `${address.toString()}/${length}`,
        `prefix length must be 0 to ${address.bits}`,
      );
    }
    const mask = hostMask(address.bits, length);
    return new Cidr(IpAddress.of(address.family, address.value & ~mask), length);
  }

  /** The single-address prefix (/32 or /128) of an address. */
  static host(address: IpAddress): Cidr {
    return new Cidr(address, address.bits);
  }

  /** The family. */
  get family(): IpFamily {
    return this.network.family;
  }

  /** Width of the address space in bits. */
  get bits(): 32 | 128 {
    return familyBits(this.family);
  }

  /** Number of addresses. */
  get size(): bigint {
    return 1n << BigInt(this.bits - this.length);
  }

  /** First address (the network address). */
  get first(): IpAddress {
    return this.network;
  }

  /** Last address (the IPv4 broadcast address). */
  get last(): IpAddress {
    return IpAddress.of(this.family, this.network.value + this.size - 1n);
  }

  /** Canonical text `network/length`. */
  toString(): string {
    return this.#text ??= `${this.network.toString()}/${this.length}`;
  }

  /** JSON form: the canonical text. */
  toJSON(): string {
    return this.toString();
  }

  /** True for the same family, network and length. */
  equals(other: Cidr): boolean {
    return this.length === other.length && this.network.equals(other.network);
  }

  /** Orders by family, network, then length. */
  compare(other: Cidr): number {
    return this.network.compare(other.network) || this.length - other.length;
  }

  /** True when the address is inside (false for another family). */
  contains(address: IpAddress): boolean {
    return address.family === this.family && address.value >= this.network.value &&
      address.value <= this.network.value + this.size - 1n;
  }

  /** True when `other` lies wholly inside this prefix (false for another family). */
  containsCidr(other: Cidr): boolean {
    return other.family === this.family && other.length >= this.length &&
      this.contains(other.network);
  }

  /** True when the two prefixes share any address (false for different families). */
  overlaps(other: Cidr): boolean {
    return this.containsCidr(other) || other.containsCidr(this);
  }

  /** The address at `offset` from the network address. */
  at(offset: bigint): IpAddress {
    if (offset < 0n || offset >= this.size) {
      throw new InvalidAddressError(
        `${this.toString()}+${offset}`,
        `offset is outside 0..${this.size - 1n}`,
      );
    }
    return IpAddress.of(this.family, this.network.value + offset);
  }

  /** Offset of an address inside this prefix (throws when outside). */
  offsetOf(address: IpAddress): bigint {
    sameFamily(this, address);
    if (!this.contains(address)) {
      throw new InvalidAddressError(address.toString(), `not inside ${this.toString()}`);
    }
    return address.value - this.network.value;
  }

  /** Every address, in order (beware of large prefixes). */
  *addresses(): Generator<IpAddress> {
    const end = this.network.value + this.size;
    for (let v = this.network.value; v < end; v++) yield IpAddress.of(this.family, v);
  }

  private checkBlockSize(blockSize: number): void {
    if (!Number.isInteger(blockSize) || blockSize < this.length || blockSize > this.bits) {
      throw new InvalidBlockSizeError(
        String(blockSize),
        `blocks of ${this.toString()} must have a prefix length from ${this.length} to ${this.bits}`,
      );
    }
  }

  /** Number of addresses between block starts: 2^(bits - blockSize). */
  blockStride(blockSize: number): bigint {
    this.checkBlockSize(blockSize);
    return 1n << BigInt(this.bits - blockSize);
  }

  /** How many blocks of prefix length `blockSize` this prefix holds: 2^(blockSize - length). */
  blockCount(blockSize: number): bigint {
    this.checkBlockSize(blockSize);
    return 1n << BigInt(blockSize - this.length);
  }

  /** The `index`-th block of prefix length `blockSize` (stride 2^(bits - blockSize)). */
  blockAt(blockSize: number, index: bigint): Cidr {
    const count = this.blockCount(blockSize);
    if (index < 0n || index >= count) {
      throw new InvalidBlockSizeError(
        String(blockSize),
        `block index ${index} is outside 0..${count - 1n} of ${this.toString()}`,
      );
    }
    const stride = this.blockStride(blockSize);
    return new Cidr(IpAddress.of(this.family, this.network.value + index * stride), blockSize);
  }

  /** Index of `block` among this prefix's blocks of its length, or undefined if not aligned inside. */
  blockIndexOf(block: Cidr): bigint | undefined {
    if (!this.containsCidr(block)) return undefined;
    return (block.network.value - this.network.value) >> BigInt(this.bits - block.length);
  }

  /** Every block of prefix length `blockSize`, in order. */
  *blocks(blockSize: number): Generator<Cidr> {
    const count = this.blockCount(blockSize);
    for (let i = 0n; i < count; i++) yield this.blockAt(blockSize, i);
  }

  /** The covering prefix of `length` (a supernet, or this prefix when `length` is not shorter). */
  supernet(length: number): Cidr {
    if (length >= this.length) return this;
    return Cidr.containing(this.network, length);
  }
}

/** Orders prefixes (for `Array.prototype.sort`). */
export function compareCidrs(a: Cidr, b: Cidr): number {
  return a.compare(b);
}

/**
 * Aggregation: the distinct covering prefixes of `length` (`lengthV6` for IPv6) of the given
 * addresses, sorted. With `length` 32 (128) every address is its own host prefix.
 */
export function aggregate(
  addresses: Iterable<IpAddress>,
  length: number,
  lengthV6: number = 128,
): Cidr[] {
  const seen = new Map<string, Cidr>();
  for (const a of addresses) {
    const c = Cidr.containing(a, a.family === 4 ? length : lengthV6);
    seen.set(c.toString(), c);
  }
  return [...seen.values()].sort(compareCidrs);
}

/**
 * Merges prefixes into the smallest equivalent set: contained prefixes are dropped and
 * adjacent siblings joined, repeatedly. Result sorted.
 */
export function summarize(cidrs: Iterable<Cidr>): Cidr[] {
  const sorted = [...cidrs].sort(compareCidrs);
  const out: Cidr[] = [];
  for (const c of sorted) {
    const top = out[out.length - 1];
    if (top && top.containsCidr(c)) continue;
    out.push(c);
    // Join with the previous sibling while possible.
    while (out.length >= 2) {
      const a = out[out.length - 2]!;
      const b = out[out.length - 1]!;
      if (
        a.family === b.family && a.length === b.length && a.length > 0 &&
        a.supernet(a.length - 1).equals(b.supernet(b.length - 1)) && !a.equals(b)
      ) {
        out.splice(out.length - 2, 2, a.supernet(a.length - 1));
      } else break;
    }
  }
  return out;
}
