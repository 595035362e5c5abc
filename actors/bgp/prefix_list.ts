/**
 * Packed prefix keys: a growable list of IPv4/IPv6 prefixes held as 32-bit words, the form the
 * receive path carries from the NLRI decoder to the RIB without making a string or an object per
 * prefix. The canonical text (`198.51.100.0/24`, `fd00:1::/48`) is made only when something
 * reads it ({@linkcode PrefixList.text}).
 *
 * Layout: {@linkcode KEY_WORDS} words per prefix: a header (`length | 0x100` for IPv6), then the
 * address as four big-endian 32-bit words (IPv4 uses the first; the others are zero). Host bits
 * are always zero.
 * @module
 */
import { PrefixError } from "./errors.ts";
import { type Family, ipv4PrefixText, ipv6PrefixTextWords, parsePrefix } from "./prefix.ts";

/** Words per prefix in a {@linkcode PrefixList}. */
export const KEY_WORDS = 5;
/** Header flag of an IPv6 prefix. */
export const KEY_V6 = 0x100;

/** Why {@linkcode readNlriKeys} stopped: the offending prefix length or an overrun. */
export interface NlriFault {
  /** Offset of the bad entry. */
  readonly offset: number;
  /** A human explanation quoting the value. */
  readonly reason: string;
}

/** A growable list of packed prefixes (see the module description for the layout). */
export class PrefixList {
  /** The words; only the first `length * KEY_WORDS` are meaningful. */
  words: Uint32Array;
  /** Number of prefixes. */
  length = 0;

  /** Creates an empty list with room for `capacity` prefixes. */
  constructor(capacity = 16) {
    this.words = new Uint32Array(Math.max(1, capacity) * KEY_WORDS);
  }

  /** A list holding the given canonical prefixes (throws {@linkcode PrefixError}). */
  static from(texts: Iterable<string>): PrefixList {
    const l = new PrefixList();
    for (const t of texts) l.pushText(t);
    return l;
  }

  /** Makes room for `more` prefixes. */
  reserve(more: number): void {
    const need = (this.length + more) * KEY_WORDS;
    if (need <= this.words.length) return;
    let cap = this.words.length * 2;
    while (cap < need) cap *= 2;
    const w = new Uint32Array(cap);
    w.set(this.words.subarray(0, this.length * KEY_WORDS));
    this.words = w;
  }

  /** Empties the list (keeps its storage). */
  clear(): void {
    this.length = 0;
  }

  /** Appends an IPv4 prefix (`addr` as an unsigned 32-bit number, host bits zero). */
  push4(addr: number, len: number): void {
    if ((this.length + 1) * KEY_WORDS > this.words.length) this.reserve(1);
    const o = this.length++ * KEY_WORDS, w = this.words;
    w[o] = len;
    w[o + 1] = addr;
    w[o + 2] = 0;
    w[o + 3] = 0;
    w[o + 4] = 0;
  }

  /** Appends an IPv6 prefix (four big-endian words, host bits zero). */
  push6(a: number, b: number, c: number, d: number, len: number): void {
    if ((this.length + 1) * KEY_WORDS > this.words.length) this.reserve(1);
    const o = this.length++ * KEY_WORDS, w = this.words;
    w[o] = len | KEY_V6;
    w[o + 1] = a;
    w[o + 2] = b;
    w[o + 3] = c;
    w[o + 4] = d;
  }

  /** Appends prefix `i` of `from`. */
  pushFrom(from: PrefixList, i: number): void {
    if ((this.length + 1) * KEY_WORDS > this.words.length) this.reserve(1);
    const o = i * KEY_WORDS, p = this.length++ * KEY_WORDS, w = this.words, f = from.words;
    for (let k = 0; k < KEY_WORDS; k++) w[p + k] = f[o + k];
  }

  /** Appends every prefix of `from`. */
  append(from: PrefixList): void {
    if (from.length === 0) return;
    this.reserve(from.length);
    this.words.set(from.words.subarray(0, from.length * KEY_WORDS), this.length * KEY_WORDS);
    this.length += from.length;
  }

  /** Appends a canonical prefix text (throws {@linkcode PrefixError}; host bits must be zero). */
  pushText(text: string): void {
    const p = parsePrefix(text);
    const b = p.bytes;
    if (p.family === "ipv4") {
      this.push4(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0, p.length);
    } else {
      const w = (k: number) => ((b[k] << 24) | (b[k + 1] << 16) | (b[k + 2] << 8) | b[k + 3]) >>> 0;
      this.push6(w(0), w(4), w(8), w(12), p.length);
    }
  }

  /** Family of prefix `i`. */
  family(i: number): Family {
    return this.words[i * KEY_WORDS] & KEY_V6 ? "ipv6" : "ipv4";
  }

  /** Prefix length of prefix `i`. */
  prefixLength(i: number): number {
    return this.words[i * KEY_WORDS] & 0xff;
  }

  /** Canonical text of prefix `i`. */
  text(i: number): string {
    const o = i * KEY_WORDS, w = this.words;
    const h = w[o];
    if (h & KEY_V6) return ipv6PrefixTextWords(w[o + 1], w[o + 2], w[o + 3], w[o + 4], h & 0xff);
    const a = w[o + 1];
    return ipv4PrefixText(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255, h & 0xff);
  }

  /** Every prefix as canonical text, in order. */
  texts(): string[] {
    const out = new Array<string>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.text(i);
    return out;
  }
}

/** A one-prefix list for the given text, or null when the text is not a canonical prefix. */
export function keyOf(text: string): PrefixList | null {
  const l = new PrefixList(1);
  try {
    l.pushText(text);
  } catch (e) {
    if (e instanceof PrefixError) return null;
    throw e;
  }
  return l;
}

/**
 * Decodes NLRI entries in `buf[start, end)` of one family and appends them to `out` as packed
 * keys (trailing host bits cleared). Returns null on success or the fault that stopped
 * decoding (the entries before it stay appended). Makes no string and no object per prefix.
 */
export function readNlriKeys(
  buf: Uint8Array,
  start: number,
  end: number,
  family: Family,
  out: PrefixList,
): NlriFault | null {
  let p = start;
  if (family === "ipv4") {
    // Room for the largest possible count up front (at least two octets per prefix but /0).
    out.reserve(end - start);
    while (p < end) {
      const len = buf[p];
      if (len > 32) return { offset: p, reason: `prefix length ${len} exceeds 32` };
      const n = (len + 7) >> 3;
      if (p + 1 + n > end) return { offset: p, reason: `prefix /${len} overruns the field` };
      let a = 0;
      if (n > 0) a = buf[p + 1] << 24;
      if (n > 1) a |= buf[p + 2] << 16;
      if (n > 2) a |= buf[p + 3] << 8;
      if (n > 3) a |= buf[p + 4];
      if (len < 32) a &= ~(0xffffffff >>> len);
      out.push4(a >>> 0, len);
      p += 1 + n;
    }
    return null;
  }
  out.reserve(end - start);
  while (p < end) {
    const len = buf[p];
    if (len > 128) return { offset: p, reason: `prefix length ${len} exceeds 128` };
    const n = (len + 7) >> 3;
    if (p + 1 + n > end) return { offset: p, reason: `prefix /${len} overruns the field` };
    const q = p + 1;
    const w0 = word(buf, q, n, 0, len), w1 = word(buf, q, n, 4, len);
    const w2 = word(buf, q, n, 8, len), w3 = word(buf, q, n, 12, len);
    out.push6(w0, w1, w2, w3, len);
    p = q + n;
  }
  return null;
}

/** Word `k/4` of an NLRI address of `n` octets at `q`, host bits of a /`len` cleared. */
function word(buf: Uint8Array, q: number, n: number, k: number, len: number): number {
  if (k >= n) return 0;
  let v = buf[q + k] << 24;
  if (k + 1 < n) v |= buf[q + k + 1] << 16;
  if (k + 2 < n) v |= buf[q + k + 2] << 8;
  if (k + 3 < n) v |= buf[q + k + 3];
  const bits = len - k * 8; // prefix bits inside this word (1..32 here, or more)
  if (bits < 32) v &= ~(0xffffffff >>> bits);
  return v >>> 0;
}
