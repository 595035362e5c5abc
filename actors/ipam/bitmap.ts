/**
 * A fixed-size bitmap with a lowest-clear-bit search: the "bit" allocation type of pod blocks.
 *
 * @module
 */

import { InvalidBlockSizeError } from "./errors.ts";

/** The largest bitmap: 2^16 bits (a /16 IPv4 or /112 IPv6 block). */
export const MAX_BITMAP_BITS = 1 << 16;

/**
 * Bitmap of `size` bits, all clear at first.
 *
 * @example
 * ```ts
 * const b = new Bitmap(64);
 * b.set(0); b.set(1);
 * b.lowestClear(); // 2
 * ```
 */
export class Bitmap {
  /** Number of bits. */
  readonly size: number;
  #words: Uint32Array;
  #count = 0;
  #hint = 0; // no clear bit exists in words below this index

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_BITMAP_BITS) {
      throw new InvalidBlockSizeError(String(size), `a bitmap holds 1 to ${MAX_BITMAP_BITS} bits`);
    }
    this.size = size;
    this.#words = new Uint32Array(Math.ceil(size / 32));
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new RangeError(`Bit index ${i} is outside 0..${this.size - 1}`);
    }
  }

  /** True when bit `i` is set. */
  get(i: number): boolean {
    this.#check(i);
    return (this.#words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Sets bit `i`; returns false when it was already set. */
  set(i: number): boolean {
    if (this.get(i)) return false;
    this.#words[i >>> 5]! |= 1 << (i & 31);
    this.#count++;
    return true;
  }

  /** Clears bit `i`; returns false when it was already clear. */
  clear(i: number): boolean {
    if (!this.get(i)) return false;
    this.#words[i >>> 5]! &= ~(1 << (i & 31));
    this.#count--;
    if (i >>> 5 < this.#hint) this.#hint = i >>> 5;
    return true;
  }

  /** The lowest clear bit at or after `from`, or -1 when none. */
  lowestClear(from = 0): number {
    let w = Math.max(from >>> 5, from === 0 ? this.#hint : 0);
    for (; w < this.#words.length; w++) {
      let inv = ~this.#words[w]! >>> 0;
      if (w === from >>> 5) inv &= (~0 << (from & 31)) >>> 0;
      if (inv === 0) {
        if (from === 0) this.#hint = w + 1;
        continue;
      }
      const bit = 31 - Math.clz32(inv & -inv);
      const i = (w << 5) + bit;
      return i < this.size ? i : -1;
    }
    return -1;
  }
}
