/**
 * Explicit address ranges `first-last` (inclusive), as in MetalLB's and Cilium's pools, and
 * their conversion to and from CIDR prefixes.
 *
 * @module
 */

import { familyBits, IpAddress, type IpFamily } from "./address.ts";
import { Cidr } from "./cidr.ts";
import { InvalidAddressError, InvalidCidrError, InvalidRangeError } from "./errors.ts";

/**
 * An inclusive range of addresses of one family.
 *
 * @example
 * ```ts
 * const r = AddressRange.parse("203.0.113.10-203.0.113.20");
 * r.size; // 11n
 * r.toCidrs().map(String); // ["203.0.113.10/31", "203.0.113.12/30", "203.0.113.16/30", "203.0.113.20/32"]
 * ```
 */
export class AddressRange {
  /** First address (inclusive). */
  readonly first: IpAddress;
  /** Last address (inclusive). */
  readonly last: IpAddress;

  private constructor(first: IpAddress, last: IpAddress) {
    this.first = first;
    this.last = last;
  }

  /** A range from two addresses; throws {@linkcode InvalidRangeError} when reversed or mixed. */
  static of(first: IpAddress, last: IpAddress): AddressRange {
    return AddressRange.#checked(first, last, `${first.toString()}-${last.toString()}`);
  }

  /**
   * Parses `first-last` (spaces around `-` allowed) or a CIDR `a/len` (taken as its whole
   * range). Throws {@linkcode InvalidRangeError} quoting the input.
   */
  static parse(text: string): AddressRange {
    if (typeof text !== "string") throw new InvalidRangeError(String(text), "not a string");
    if (text.includes("/")) {
      try {
        return AddressRange.fromCidr(Cidr.parse(text.trim()));
      } catch (e) {
        if (e instanceof InvalidCidrError) throw new InvalidRangeError(text, e.message);
        throw e;
      }
    }
    const parts = text.split("-");
    if (parts.length !== 2) {
      throw new InvalidRangeError(text, `expected "first-last" with exactly one "-"`);
    }
    let first: IpAddress, last: IpAddress;
    try {
      first = IpAddress.parse(parts[0]!.trim());
      last = IpAddress.parse(parts[1]!.trim());
    } catch (e) {
      if (e instanceof InvalidAddressError) throw new InvalidRangeError(text, e.message);
      throw e;
    }
    return AddressRange.#checked(first, last, text);
  }

  /** The range `first`..`last` when both are of one family and in order; errors quote `text`. */
  static #checked(first: IpAddress, last: IpAddress, text: string): AddressRange {
    if (first.family !== last.family) {
      throw new InvalidRangeError(text, "both ends must be of the same IP family");
    }
    if (first.value > last.value) {
      throw new InvalidRangeError(text, "the first address is after the last");
    }
    return new AddressRange(first, last);
  }

  /** The whole range of a prefix. */
  static fromCidr(cidr: Cidr): AddressRange {
    return new AddressRange(cidr.first, cidr.last);
  }

  /** The family. */
  get family(): IpFamily {
    return this.first.family;
  }

  /** Number of addresses. */
  get size(): bigint {
    return this.last.value - this.first.value + 1n;
  }

  /** Canonical text `first-last`. */
  toString(): string {
    return `${this.first.toString()}-${this.last.toString()}`;
  }

  /** JSON form: the canonical text. */
  toJSON(): string {
    return this.toString();
  }

  /** True when the address is inside. */
  contains(address: IpAddress): boolean {
    return address.family === this.family && address.value >= this.first.value &&
      address.value <= this.last.value;
  }

  /** True when the ranges share an address. */
  overlaps(other: AddressRange): boolean {
    return other.family === this.family && other.first.value <= this.last.value &&
      this.first.value <= other.last.value;
  }

  /** The address at `offset` from the first. */
  at(offset: bigint): IpAddress {
    if (offset < 0n || offset >= this.size) {
      throw new InvalidAddressError(`${this.toString()}+${offset}`, "offset outside the range");
    }
    return IpAddress.of(this.family, this.first.value + offset);
  }

  /** Every address, in order. */
  *addresses(): Generator<IpAddress> {
    for (let v = this.first.value; v <= this.last.value; v++) yield IpAddress.of(this.family, v);
  }

  /** The smallest list of prefixes covering exactly this range, in order. */
  toCidrs(): Cidr[] {
    const bits = familyBits(this.family);
    const out: Cidr[] = [];
    let cur = this.first.value;
    const end = this.last.value;
    while (cur <= end) {
      // Largest block aligned at `cur` that does not pass `end`.
      let size = cur === 0n ? 1n << BigInt(bits) : cur & -cur;
      while (cur + size - 1n > end) size >>= 1n;
      let hostBits = 0;
      while ((1n << BigInt(hostBits)) < size) hostBits++;
      out.push(Cidr.containing(IpAddress.of(this.family, cur), bits - hostBits));
      cur += size;
    }
    return out;
  }
}
