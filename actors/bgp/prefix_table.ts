/**
 * A hash table from prefixes to values, keyed by the packed prefix keys of
 * {@linkcode PrefixList} (no string, no object and no map entry per prefix): open addressing
 * with linear probing over one `Uint32Array` per family, growing by doubling at 3/4 load,
 * deleting by backward shift (no tombstones). A slot is a tag word (`(length + 1) << 24 |
 * value id`, 0 = empty) followed by the address words (1 for IPv4, 4 for IPv6): 8 or 20 octets,
 * and a lookup touches one cache line.
 *
 * Values are objects held in a small registry and referred to from the slots by a 32-bit id
 * with a reference count: many prefixes share one value (the RIB stores one route object per
 * UPDATE), the slots hold no pointers (no write barrier per insertion, nothing for the garbage
 * collector to scan), and a value is released when no slot refers to it any more. At most
 * 2^24 - 1 distinct values can be held at once ({@linkcode PrefixTableFullError} beyond).
 * Iteration order is the table's, not insertion order.
 * @module
 */
import { KEY_V6, KEY_WORDS, type PrefixList } from "./prefix_list.ts";

const MIN_BITS = 4;
/** Largest value id (24 bits; the tag's top 8 bits hold the prefix length + 1). */
const MAX_ID = 0xffffff;

/** The table holds as many distinct values as its slots can name. */
export class PrefixTableFullError extends Error {
  /** Discriminator. */
  readonly code = "table_full";
  /** The number of distinct values that could not be exceeded. */
  readonly value: number;
  /** Creates the error. */
  constructor(value: number) {
    super(`Prefix table full: ${value} distinct values already held`);
    this.name = "PrefixTableFullError";
    this.value = value;
  }
}

/** One family's slots. */
class Slots {
  /** Address words per key (1 or 4); a slot is `wordsPerKey + 1` words. */
  readonly wordsPerKey: number;
  readonly stride: number;
  bits: number;
  mask: number;
  size = 0;
  data: Uint32Array;

  constructor(wordsPerKey: number, bits: number) {
    this.wordsPerKey = wordsPerKey;
    this.stride = wordsPerKey + 1;
    this.bits = bits;
    this.mask = (1 << bits) - 1;
    this.data = new Uint32Array((1 << bits) * this.stride);
  }
}

/**
 * Home slots keep neighbours together: the last two bits of a prefix (the lowest bits of its
 * network part) are left out of the hash and added to the hashed position, so that the 4
 * prefixes of one length that differ only there occupy neighbouring slots. Tables often arrive
 * in prefix order, with dense runs of equal-length prefixes: consecutive insertions then share
 * cache lines instead of touching one random line each. Everything else goes through a
 * multiplicative hash. Measured on 1,000,000 /48s (`bench/bgp_receive.ts`'s table): in prefix
 * order, groups of 4 make insertion ~25% and lookup ~2x faster than no grouping, in random
 * order ~15% slower; groups of 16 were faster still in order but 1.6x slower in random order
 * (primary clustering: 24 probes on average at 3/4 load), so 4 it is.
 */
const GROUP_BITS = 2, GROUP_MASK = (1 << GROUP_BITS) - 1;

/** Home slot of an IPv4 key. */
function home4(addr: number, len: number, bits: number): number {
  let g = 0;
  if (len > 0) {
    const shift = 32 - len;
    g = (addr >>> shift) & GROUP_MASK;
    addr &= ~(GROUP_MASK << shift);
  }
  let x = addr ^ Math.imul(len + 1, 0x27d4eb2f);
  x ^= x >>> 15;
  return ((Math.imul(x, 0x9e3779b1) >>> (32 - bits)) + g) & ((1 << bits) - 1);
}

/** Home slot of an IPv6 key (the group bits come from the word holding the last prefix bit). */
function home6(a: number, b: number, c: number, d: number, len: number, bits: number): number {
  let g = 0;
  if (len > 0) {
    const k = (len - 1) >> 5, shift = 31 - ((len - 1) & 31), m = ~(GROUP_MASK << shift);
    if (k === 0) {
      g = (a >>> shift) & GROUP_MASK;
      a &= m;
    } else if (k === 1) {
      g = (b >>> shift) & GROUP_MASK;
      b &= m;
    } else if (k === 2) {
      g = (c >>> shift) & GROUP_MASK;
      c &= m;
    } else {
      g = (d >>> shift) & GROUP_MASK;
      d &= m;
    }
  }
  let x = Math.imul(a ^ Math.imul(len + 1, 0x27d4eb2f), 0x85ebca77);
  x = Math.imul(x ^ (x >>> 13) ^ b, 0xc2b2ae3d);
  x = Math.imul(x ^ (x >>> 16) ^ c, 0x165667b1);
  x ^= (x >>> 13) ^ d;
  x ^= x >>> 15;
  return ((Math.imul(x, 0x9e3779b1) >>> (32 - bits)) + g) & ((1 << bits) - 1);
}

/** Home slot, in a table of `2^bits` slots, of the key of the slot at `d[p]`. */
function homeAt(wordsPerKey: number, bits: number, d: Uint32Array, p: number): number {
  const len = (d[p] >>> 24) - 1;
  if (wordsPerKey === 1) return home4(d[p + 1], len, bits);
  return home6(d[p + 1], d[p + 2], d[p + 3], d[p + 4], len, bits);
}

/** Prefix → value (an object; many prefixes may share one). */
export class PrefixTable<V extends object> {
  #t4 = new Slots(1, MIN_BITS);
  #t6 = new Slots(4, MIN_BITS);
  /** Value registry: id → value, id → number of slots referring to it, value → id. */
  #objs: (V | undefined)[] = [undefined];
  #refs = new Uint32Array(16);
  #ids = new Map<V, number>();
  #free: number[] = [];
  #lastObj: V | undefined = undefined;
  #lastId = 0;

  /** Number of prefixes held. */
  get size(): number {
    return this.#t4.size + this.#t6.size;
  }

  /** Number of prefixes held of one family. */
  familySize(v6: boolean): number {
    return v6 ? this.#t6.size : this.#t4.size;
  }

  /** Number of distinct values held (for tests and inspection). */
  get valueCount(): number {
    return this.#ids.size;
  }

  /** The id of `v`, registered with one more reference. */
  #ref(v: V): number {
    let id: number;
    if (v === this.#lastObj) id = this.#lastId;
    else {
      const known = this.#ids.get(v);
      if (known !== undefined) id = known;
      else {
        id = this.#free.pop() ?? this.#objs.length;
        if (id > MAX_ID) throw new PrefixTableFullError(MAX_ID);
        if (id === this.#objs.length) this.#objs.push(v);
        else this.#objs[id] = v;
        if (id >= this.#refs.length) {
          const r = new Uint32Array(this.#refs.length * 2);
          r.set(this.#refs);
          this.#refs = r;
        }
        this.#ids.set(v, id);
      }
      this.#lastObj = v;
      this.#lastId = id;
    }
    this.#refs[id]++;
    return id;
  }

  /** Drops one reference to value `id`; the value is released at zero. */
  #unref(id: number): void {
    if (--this.#refs[id] !== 0) return;
    const v = this.#objs[id]!;
    this.#ids.delete(v);
    this.#objs[id] = undefined;
    this.#free.push(id);
    if (this.#lastId === id) this.#lastObj = undefined;
  }

  /** Slot of the prefix at `w[o]` in `t`, or, when absent, `~slot` of the empty slot that ends
   * its probe run (negative). */
  #find(t: Slots, w: Uint32Array, o: number): number {
    const len = (w[o] & 0xff) + 1, d = t.data, mask = t.mask;
    if (t.wordsPerKey === 1) {
      const a = w[o + 1];
      let s = home4(a, len - 1, t.bits);
      for (;;) {
        const p = s * 2, tag = d[p];
        if (tag === 0) return ~s;
        if (tag >>> 24 === len && d[p + 1] === a) return s;
        s = (s + 1) & mask;
      }
    }
    const a = w[o + 1], b = w[o + 2], c = w[o + 3], e = w[o + 4];
    let s = home6(a, b, c, e, len - 1, t.bits);
    for (;;) {
      const p = s * 5, tag = d[p];
      if (tag === 0) return ~s;
      if (
        tag >>> 24 === len && d[p + 1] === a && d[p + 2] === b && d[p + 3] === c && d[p + 4] === e
      ) {
        return s;
      }
      s = (s + 1) & mask;
    }
  }

  /** Home slot of the key held in slot `s` of `t`. */
  #homeOfSlot(t: Slots, s: number): number {
    return homeAt(t.wordsPerKey, t.bits, t.data, s * t.stride);
  }

  /** The value of prefix `i` of `list`. */
  get(list: PrefixList, i: number): V | undefined {
    const w = list.words, o = i * KEY_WORDS;
    const t = w[o] & KEY_V6 ? this.#t6 : this.#t4;
    const s = this.#find(t, w, o);
    return s < 0 ? undefined : this.#objs[t.data[s * t.stride] & MAX_ID];
  }

  /** Sets the value of prefix `i` of `list`. */
  set(list: PrefixList, i: number, v: V): void {
    this.put(list, i, v);
  }

  /** Sets the value of prefix `i` of `list` and returns the value it replaces (one probe). */
  put(list: PrefixList, i: number, v: V): V | undefined {
    const w = list.words, o = i * KEY_WORDS;
    let t = w[o] & KEY_V6 ? this.#t6 : this.#t4;
    const found = this.#find(t, w, o);
    if (found >= 0) {
      const at = found * t.stride, tag = t.data[at];
      const old = tag & MAX_ID, prev = this.#objs[old];
      if (prev === v) return prev;
      t.data[at] = (tag & ~MAX_ID) | this.#ref(v);
      this.#unref(old);
      return prev;
    }
    let s = ~found;
    if ((t.size + 1) * 4 > (t.mask + 1) * 3) {
      t = this.#grow(t);
      if (t.wordsPerKey === 1) this.#t4 = t;
      else this.#t6 = t;
      s = this.#emptySlot(t, w, o);
    }
    const d = t.data, p = s * t.stride;
    d[p] = (((w[o] & 0xff) + 1) << 24) | this.#ref(v);
    d[p + 1] = w[o + 1];
    if (t.wordsPerKey === 4) {
      d[p + 2] = w[o + 2];
      d[p + 3] = w[o + 3];
      d[p + 4] = w[o + 4];
    }
    t.size++;
    return undefined;
  }

  /** The empty slot where the (absent) prefix at `w[o]` goes. */
  #emptySlot(t: Slots, w: Uint32Array, o: number): number {
    const len = w[o] & 0xff, d = t.data, mask = t.mask, stride = t.stride;
    let s = t.wordsPerKey === 1
      ? home4(w[o + 1], len, t.bits)
      : home6(w[o + 1], w[o + 2], w[o + 3], w[o + 4], len, t.bits);
    while (d[s * stride] !== 0) s = (s + 1) & mask;
    return s;
  }

  /** A table of twice the capacity holding the slots of `t` (value ids unchanged). */
  #grow(t: Slots): Slots {
    const n = new Slots(t.wordsPerKey, t.bits + 1);
    const cap = t.mask + 1, stride = t.stride, d = t.data, nd = n.data, mask = n.mask;
    for (let s = 0; s < cap; s++) {
      const p = s * stride;
      if (d[p] === 0) continue;
      let h = homeAt(n.wordsPerKey, n.bits, d, p);
      while (nd[h * stride] !== 0) h = (h + 1) & mask;
      const q = h * stride;
      for (let k = 0; k < stride; k++) nd[q + k] = d[p + k];
    }
    n.size = t.size;
    return n;
  }

  /** Removes prefix `i` of `list`; returns whether it was there. */
  delete(list: PrefixList, i: number): boolean {
    const w = list.words, o = i * KEY_WORDS;
    const t = w[o] & KEY_V6 ? this.#t6 : this.#t4;
    let s = this.#find(t, w, o);
    if (s < 0) return false;
    const mask = t.mask, stride = t.stride, d = t.data;
    this.#unref(d[s * stride] & MAX_ID);
    // Backward shift: move later entries of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, their slot].
    let j = s;
    for (;;) {
      j = (j + 1) & mask;
      if (d[j * stride] === 0) break;
      const h = this.#homeOfSlot(t, j);
      const stays = s <= j ? s < h && h <= j : s < h || h <= j;
      if (stays) continue;
      for (let k = 0; k < stride; k++) d[s * stride + k] = d[j * stride + k];
      s = j;
    }
    for (let k = 0; k < stride; k++) d[s * stride + k] = 0;
    t.size--;
    return true;
  }

  /**
   * Appends to `out` the key of every entry whose value satisfies `pick` (all entries without
   * `pick`), IPv4 first; `family` limits the walk to one family.
   */
  collect(out: PrefixList, pick?: (v: V) => boolean, family?: "ipv4" | "ipv6"): void {
    if (family !== "ipv6") {
      const t = this.#t4, cap = t.mask + 1, d = t.data;
      for (let s = 0; s < cap; s++) {
        const p = s * 2, tag = d[p];
        if (tag !== 0 && (!pick || pick(this.#objs[tag & MAX_ID]!))) {
          out.push4(d[p + 1], (tag >>> 24) - 1);
        }
      }
    }
    if (family !== "ipv4") {
      const t = this.#t6, cap = t.mask + 1, d = t.data;
      for (let s = 0; s < cap; s++) {
        const p = s * 5, tag = d[p];
        if (tag === 0 || (pick && !pick(this.#objs[tag & MAX_ID]!))) continue;
        out.push6(d[p + 1], d[p + 2], d[p + 3], d[p + 4], (tag >>> 24) - 1);
      }
    }
  }

  /** Calls `fn` with the value of every entry (table order; shared values once per entry). */
  forEachValue(fn: (v: V) => void): void {
    for (const t of [this.#t4, this.#t6]) {
      const cap = t.mask + 1, stride = t.stride, d = t.data;
      for (let s = 0; s < cap; s++) {
        const p = s * stride;
        if (d[p] !== 0) fn(this.#objs[d[p] & MAX_ID]!);
      }
    }
  }
}
