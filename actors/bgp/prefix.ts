/**
 * IPv4/IPv6 addresses and prefixes: text (canonical, RFC 5952 for IPv6) and the NLRI wire form
 * (length octet followed by the minimum number of address octets, RFC 4271 4.3).
 * Prefixes travel through tern's APIs as canonical strings such as `198.51.100.0/24` or
 * `fd00:1::/64`; the receive path carries them packed (`prefix_list.ts`) and makes the text only
 * when something reads it.
 * @module
 */
import { PrefixError } from "./errors.ts";

/** Address family of a prefix or address. */
export type Family = "ipv4" | "ipv6";

/** A parsed prefix. */
export interface ParsedPrefix {
  /** Family. */
  readonly family: Family;
  /** Prefix length in bits. */
  readonly length: number;
  /** Address bytes (4 or 16), host bits zero. */
  readonly bytes: Uint8Array;
}

/** Family of a canonical prefix or address string (IPv6 texts contain a colon). */
export function familyOf(text: string): Family {
  return text.includes(":") ? "ipv6" : "ipv4";
}

/** Parses a dotted-quad IPv4 address into `out` at `off` (4 bytes); throws {@linkcode PrefixError}. */
export function parseIPv4Into(text: string, out: Uint8Array, off: number): void {
  const parts = text.split(".");
  if (parts.length !== 4) throw new PrefixError("bad_address", text, "expected four dotted octets");
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) {
      throw new PrefixError("bad_address", text, `octet "${p}" is not 0-255`);
    }
    out[off + i] = Number(p);
  }
}

/** Parses an IPv4 address into 4 bytes. */
export function parseIPv4(text: string): Uint8Array {
  const out = new Uint8Array(4);
  parseIPv4Into(text, out, 0);
  return out;
}

/** Parses an IPv6 address (any RFC 4291 text form, including embedded IPv4) into 16 bytes. */
export function parseIPv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  if (text.length === 0 || text.length > 45) {
    throw new PrefixError("bad_address", text, "not an IPv6 address");
  }
  const dbl = text.indexOf("::");
  if (dbl !== -1 && text.indexOf("::", dbl + 1) !== -1) {
    throw new PrefixError("bad_address", text, "more than one '::'");
  }
  const parseGroups = (s: string): number[] => {
    if (s === "") return [];
    const groups: number[] = [];
    const items = s.split(":");
    for (let i = 0; i < items.length; i++) {
      const g = items[i];
      if (i === items.length - 1 && g.includes(".")) {
        const v4 = parseIPv4(g);
        groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        groups.push(parseInt(g, 16));
      } else {
        throw new PrefixError("bad_address", text, `group "${g}" is not 1-4 hex digits`);
      }
    }
    return groups;
  };
  let groups: number[];
  if (dbl === -1) {
    groups = parseGroups(text);
    if (groups.length !== 8) throw new PrefixError("bad_address", text, "expected 8 groups");
  } else {
    const head = parseGroups(text.slice(0, dbl));
    const tail = parseGroups(text.slice(dbl + 2));
    if (head.length + tail.length > 7) {
      throw new PrefixError("bad_address", text, "too many groups around '::'");
    }
    groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  }
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i] >> 8;
    out[i * 2 + 1] = groups[i] & 0xff;
  }
  return out;
}

/** Formats 4 bytes at `off` as a dotted quad. */
export function formatIPv4(bytes: Uint8Array, off = 0): string {
  return bytes[off] + "." + bytes[off + 1] + "." + bytes[off + 2] + "." + bytes[off + 3];
}

/** Formats 16 bytes at `off` in the canonical text form of RFC 5952. */
export function formatIPv6(bytes: Uint8Array, off = 0): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (bytes[off + i * 2] << 8) | bytes[off + i * 2 + 1];
  // Longest run of zero groups (length >= 2), first one on ties.
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart === -1) return g.map((x) => x.toString(16)).join(":");
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(":");
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(":");
  return head + "::" + tail;
}

/** Parses an address of either family; returns its family and bytes. */
export function parseAddress(text: string): { family: Family; bytes: Uint8Array } {
  if (typeof text !== "string") throw new PrefixError("bad_address", String(text), "not a string");
  return text.includes(":")
    ? { family: "ipv6", bytes: parseIPv6(text) }
    : { family: "ipv4", bytes: parseIPv4(text) };
}

/** Canonical text of an address of either family (throws {@linkcode PrefixError}). */
export function canonicalAddress(text: string): string {
  const a = parseAddress(text);
  return a.family === "ipv4" ? formatIPv4(a.bytes) : formatIPv6(a.bytes);
}

/**
 * Parses `addr/len`. With `strict` (the default) host bits must be zero; otherwise they are
 * cleared. Throws {@linkcode PrefixError}.
 */
export function parsePrefix(text: string, strict = true): ParsedPrefix {
  if (typeof text !== "string") throw new PrefixError("bad_prefix", String(text), "not a string");
  const slash = text.indexOf("/");
  if (slash === -1) throw new PrefixError("bad_prefix", text, "missing '/length'");
  const lenText = text.slice(slash + 1);
  let addr: { family: Family; bytes: Uint8Array };
  try {
    addr = parseAddress(text.slice(0, slash));
  } catch (e) {
    throw new PrefixError("bad_prefix", text, (e as Error).message);
  }
  const max = addr.family === "ipv4" ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > max) {
    throw new PrefixError("bad_prefix", text, `length "${lenText}" is not 0-${max}`);
  }
  const length = Number(lenText);
  const bytes = addr.bytes;
  for (let bit = length; bit < max; bit++) {
    const byte = bit >> 3, mask = 0x80 >> (bit & 7);
    if (bytes[byte] & mask) {
      if (strict) throw new PrefixError("bad_prefix", text, "host bits are set");
      bytes[byte] &= ~mask;
    }
  }
  return { family: addr.family, length, bytes };
}

/** Canonical text of a parsed prefix. */
export function formatPrefix(p: ParsedPrefix): string {
  return (p.family === "ipv4" ? formatIPv4(p.bytes) : formatIPv6(p.bytes)) + "/" + p.length;
}

/** Canonical text of `addr/len` (throws {@linkcode PrefixError}; host bits must be zero). */
export function canonicalPrefix(text: string): string {
  return formatPrefix(parsePrefix(text));
}

/** Octets a prefix of `text` takes in NLRI encoding (1 + ceil(len/8)). */
export function nlriSize(p: ParsedPrefix): number {
  return 1 + ((p.length + 7) >> 3);
}

/** Writes one prefix in NLRI encoding at `off`; returns the new offset. */
export function writeNlri(p: ParsedPrefix, out: Uint8Array, off: number): number {
  out[off++] = p.length;
  const n = (p.length + 7) >> 3;
  for (let i = 0; i < n; i++) out[off++] = p.bytes[i];
  return off;
}

/** Character codes of the IPv4 prefix being formatted, and one reusable array per text length
 * ("0.0.0.0/0" is 9 characters, "255.255.255.255/32" 18): `String.fromCharCode.apply` on them
 * makes one flat string, where concatenating the parts makes a rope of several intermediate
 * strings that must be flattened again when the prefix is first hashed as a map key. */
const v4Codes: number[][] = Array.from({ length: 19 }, (_, k) => new Array<number>(k).fill(0));
const v4Scratch = new Uint8Array(18);

function putDecimal(at: number, v: number): number {
  const c = v4Scratch;
  if (v >= 100) {
    c[at] = 48 + ((v / 100) | 0);
    c[at + 1] = 48 + (((v % 100) / 10) | 0);
    c[at + 2] = 48 + (v % 10);
    return at + 3;
  }
  if (v >= 10) {
    c[at] = 48 + ((v / 10) | 0);
    c[at + 1] = 48 + (v % 10);
    return at + 2;
  }
  c[at] = 48 + v;
  return at + 1;
}

/** `a.b.c.d/len` (octets and length as numbers) as one flat string. */
export function ipv4PrefixText(a: number, b: number, c: number, d: number, len: number): string {
  let k = putDecimal(0, a);
  v4Scratch[k++] = 46;
  k = putDecimal(k, b);
  v4Scratch[k++] = 46;
  k = putDecimal(k, c);
  v4Scratch[k++] = 46;
  k = putDecimal(k, d);
  v4Scratch[k++] = 47;
  k = putDecimal(k, len);
  const codes = v4Codes[k];
  for (let i = 0; i < k; i++) codes[i] = v4Scratch[i];
  return String.fromCharCode.apply(null, codes);
}

const textCodes: number[][] = Array.from({ length: 44 }, (_, k) => new Array<number>(k).fill(0));
const v6Scratch = new Uint8Array(44);
const v6Groups = new Uint16Array(8);
const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];

function putHex(at: number, v: number): number {
  const c = v6Scratch;
  if (v >= 0x1000) c[at++] = HEX[v >> 12];
  if (v >= 0x100) c[at++] = HEX[(v >> 8) & 15];
  if (v >= 0x10) c[at++] = HEX[(v >> 4) & 15];
  c[at++] = HEX[v & 15];
  return at;
}

/** The RFC 5952 text of the IPv6 address held in four big-endian 32-bit words, followed by
 * `/len`, as one flat string (same output as `formatIPv6(bytes) + "/" + len`, without the
 * intermediate arrays and strings). */
export function ipv6PrefixTextWords(
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  len: number,
): string {
  const g = v6Groups;
  g[0] = w0 >>> 16;
  g[1] = w0 & 0xffff;
  g[2] = w1 >>> 16;
  g[3] = w1 & 0xffff;
  g[4] = w2 >>> 16;
  g[5] = w2 & 0xffff;
  g[6] = w3 >>> 16;
  g[7] = w3 & 0xffff;
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const c = v6Scratch;
  let k = 0;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      c[k++] = 58;
      c[k++] = 58;
      i += bestLen - 1;
      continue;
    }
    if (k > 0 && c[k - 1] !== 58) c[k++] = 58;
    k = putHex(k, g[i]);
  }
  c[k++] = 47;
  if (len >= 100) c[k++] = 49;
  if (len >= 10) c[k++] = 48 + (((len % 100) / 10) | 0);
  c[k++] = 48 + (len % 10);
  const codes = textCodes[k];
  for (let i = 0; i < k; i++) codes[i] = c[i];
  return String.fromCharCode.apply(null, codes);
}
