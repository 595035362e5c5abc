/**
 * A hash table from prefixes to values, keyed by the packed prefix keys of
 * {@linkcode PrefixList} (no string, no object and no map entry per prefix): open addressing
 * with linear probing over typed arrays, one table per family (IPv4 keys are one 32-bit word,
 * IPv6 keys four), growing by doubling at 3/4 load, deleting by backward shift (no
 * tombstones). Iteration order is the table's, not insertion order.
 * @module
 */
import { KEY_V6, KEY_WORDS, type PrefixList } from "./prefix_list.ts";

const MIN_BITS = 4;

/** One family's slots: addresses (`wordsPerKey` words each), lengths + 1 (0 = empty), values. */
class Slots<V> {
  readonly wordsPerKey: number;
  bits: number;
  mask: number;
  size = 0;
  keys: Uint32Array;
  lens: Uint8Array;
  vals: (V | undefined)[];

  constructor(wordsPerKey: number, bits: number) {
    this.wordsPerKey = wordsPerKey;
    this.bits = bits;
    const cap = 1 << bits;
    this.mask = cap - 1;
    this.keys = new Uint32Array(cap * wordsPerKey);
    this.lens = new Uint8Array(cap);
    this.vals = new Array<V | undefined>(cap).fill(undefined);
  }
}

/** Home slot of an IPv4 key (Fibonacci hashing on a mix of address and length). */
function home4(addr: number, len: number, bits: number): number {
  let x = addr ^ Math.imul(len + 1, 0x27d4eb2f);
  x ^= x >>> 15;
  return Math.imul(x, 0x9e3779b1) >>> (32 - bits);
}

/** Home slot of an IPv6 key. */
function home6(a: number, b: number, c: number, d: number, len: number, bits: number): number {
  let x = Math.imul(a ^ Math.imul(len + 1, 0x27d4eb2f), 0x85ebca77);
  x = Math.imul(x ^ (x >>> 13) ^ b, 0xc2b2ae3d);
  x = Math.imul(x ^ (x >>> 16) ^ c, 0x165667b1);
  x ^= (x >>> 13) ^ d;
  x ^= x >>> 15;
  return Math.imul(x, 0x9e3779b1) >>> (32 - bits);
}

/** Prefix → value. Values are never `undefined` (that means absent). */
export class PrefixTable<V> {
  #t4 = new Slots<V>(1, MIN_BITS);
  #t6 = new Slots<V>(4, MIN_BITS);

  /** Number of prefixes held. */
  get size(): number {
    return this.#t4.size + this.#t6.size;
  }

  /** Number of prefixes held of one family. */
  familySize(v6: boolean): number {
    return v6 ? this.#t6.size : this.#t4.size;
  }

  /** Slot of the prefix at `w[o]` in its family's table, or, when absent, `~slot` of the empty
   * slot that ends its probe run (negative). */
  #find(t: Slots<V>, w: Uint32Array, o: number): number {
    const h = w[o], len = (h & 0xff) + 1, lens = t.lens, keys = t.keys, mask = t.mask;
    if (t.wordsPerKey === 1) {
      const a = w[o + 1];
      let s = home4(a, len - 1, t.bits);
      for (;;) {
        const l = lens[s];
        if (l === 0) return ~s;
        if (l === len && keys[s] === a) return s;
        s = (s + 1) & mask;
      }
    }
    const a = w[o + 1], b = w[o + 2], c = w[o + 3], d = w[o + 4];
    let s = home6(a, b, c, d, len - 1, t.bits);
    for (;;) {
      const l = lens[s];
      if (l === 0) return ~s;
      const k = s * 4;
      if (
        l === len && keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d
      ) {
        return s;
      }
      s = (s + 1) & mask;
    }
  }

  /** Home slot of the key held in slot `s` of `t`. */
  #homeOfSlot(t: Slots<V>, s: number): number {
    const len = t.lens[s] - 1, k = t.keys;
    if (t.wordsPerKey === 1) return home4(k[s], len, t.bits);
    const o = s * 4;
    return home6(k[o], k[o + 1], k[o + 2], k[o + 3], len, t.bits);
  }

  /** The value of prefix `i` of `list`. */
  get(list: PrefixList, i: number): V | undefined {
    const w = list.words, o = i * KEY_WORDS;
    const t = w[o] & KEY_V6 ? this.#t6 : this.#t4;
    const s = this.#find(t, w, o);
    return s < 0 ? undefined : t.vals[s];
  }

  /** Sets the value of prefix `i` of `list`. */
  set(list: PrefixList, i: number, v: V): void {
    const w = list.words, o = i * KEY_WORDS;
    let t = w[o] & KEY_V6 ? this.#t6 : this.#t4;
    const found = this.#find(t, w, o);
    if (found >= 0) {
      t.vals[found] = v;
      return;
    }
    if ((t.size + 1) * 4 > (t.mask + 1) * 3) {
      t = this.#grow(t);
      if (t.wordsPerKey === 1) this.#t4 = t;
      else this.#t6 = t;
      this.#insertNew(t, w, o, v);
      return;
    }
    this.#put(t, ~found, w, o, v);
  }

  /** Writes the prefix at `w[o]` and its value into the empty slot `s`. */
  #put(t: Slots<V>, s: number, w: Uint32Array, o: number, v: V): void {
    if (t.wordsPerKey === 1) {
      t.keys[s] = w[o + 1];
    } else {
      const k = s * 4;
      t.keys[k] = w[o + 1];
      t.keys[k + 1] = w[o + 2];
      t.keys[k + 2] = w[o + 3];
      t.keys[k + 3] = w[o + 4];
    }
    t.lens[s] = (w[o] & 0xff) + 1;
    t.vals[s] = v;
    t.size++;
  }

  /** Inserts a key known to be absent, into a table with room. */
  #insertNew(t: Slots<V>, w: Uint32Array, o: number, v: V): void {
    const len = w[o] & 0xff, lens = t.lens, mask = t.mask;
    let s = t.wordsPerKey === 1
      ? home4(w[o + 1], len, t.bits)
      : home6(w[o + 1], w[o + 2], w[o + 3], w[o + 4], len, t.bits);
    while (lens[s] !== 0) s = (s + 1) & mask;
    this.#put(t, s, w, o, v);
  }

  /** A table of twice the capacity holding the entries of `t`. */
  #grow(t: Slots<V>): Slots<V> {
    const n = new Slots<V>(t.wordsPerKey, t.bits + 1);
    const scratch = new Uint32Array(KEY_WORDS);
    const cap = t.mask + 1, wpk = t.wordsPerKey;
    for (let s = 0; s < cap; s++) {
      if (t.lens[s] === 0) continue;
      scratch[0] = t.lens[s] - 1;
      for (let k = 0; k < wpk; k++) scratch[1 + k] = t.keys[s * wpk + k];
      this.#insertNew(n, scratch, 0, t.vals[s] as V);
    }
    return n;
  }

  /** Removes prefix `i` of `list`; returns whether it was there. */
  delete(list: PrefixList, i: number): boolean {
    const w = list.words, o = i * KEY_WORDS;
    const t = w[o] & KEY_V6 ? this.#t6 : this.#t4;
    let s = this.#find(t, w, o);
    if (s < 0) return false;
    // Backward shift: move later entries of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, their slot].
    const mask = t.mask, wpk = t.wordsPerKey, lens = t.lens, keys = t.keys, vals = t.vals;
    let j = s;
    for (;;) {
      j = (j + 1) & mask;
      if (lens[j] === 0) break;
      const h = this.#homeOfSlot(t, j);
      const stays = s <= j ? s < h && h <= j : s < h || h <= j;
      if (stays) continue;
      lens[s] = lens[j];
      vals[s] = vals[j];
      for (let k = 0; k < wpk; k++) keys[s * wpk + k] = keys[j * wpk + k];
      s = j;
    }
    lens[s] = 0;
    vals[s] = undefined;
    for (let k = 0; k < wpk; k++) keys[s * wpk + k] = 0;
    t.size--;
    return true;
  }

  /** Removes everything. */
  clear(): void {
    this.#t4 = new Slots<V>(1, MIN_BITS);
    this.#t6 = new Slots<V>(4, MIN_BITS);
  }

  /**
   * Appends to `out` the key of every entry whose value satisfies `pick` (all entries without
   * `pick`), IPv4 first; `family` limits the walk to one family.
   */
  collect(out: PrefixList, pick?: (v: V) => boolean, family?: "ipv4" | "ipv6"): void {
    if (family !== "ipv6") {
      const t = this.#t4, cap = t.mask + 1;
      for (let s = 0; s < cap; s++) {
        if (t.lens[s] !== 0 && (!pick || pick(t.vals[s] as V))) out.push4(t.keys[s], t.lens[s] - 1);
      }
    }
    if (family !== "ipv4") {
      const t = this.#t6, cap = t.mask + 1, k = t.keys;
      for (let s = 0; s < cap; s++) {
        if (t.lens[s] === 0 || (pick && !pick(t.vals[s] as V))) continue;
        const o = s * 4;
        out.push6(k[o], k[o + 1], k[o + 2], k[o + 3], t.lens[s] - 1);
      }
    }
  }

  /** Calls `fn` with every value (table order). */
  forEachValue(fn: (v: V) => void): void {
    for (const t of [this.#t4, this.#t6]) {
      const cap = t.mask + 1;
      for (let s = 0; s < cap; s++) if (t.lens[s] !== 0) fn(t.vals[s] as V);
    }
  }
}
