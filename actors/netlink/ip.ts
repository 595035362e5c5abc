/**
 * IP address and prefix parsing and formatting for netlink payloads (pure, no I/O).
 * @module
 */

import { AF_INET, AF_INET6 } from "./constants.ts";
import { NetlinkInputError } from "./errors.ts";
import { formatIpv6Groups } from "../ipam/ipv6_text.ts";

/** An IP address in binary form. */
export interface IpAddress {
  /** `AF_INET` (2) or `AF_INET6` (10). */
  family: number;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

/** An IP prefix in binary form. */
export interface IpPrefix extends IpAddress {
  /** Prefix length in bits. */
  len: number;
}

function parseIpv4Into(text: string, out: Uint8Array, at: number): boolean {
  return parseIpv4Range(text, 0, text.length, out, at);
}

function parseIpv4Range(
  text: string,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
): boolean {
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 46; // virtual trailing '.'
    if (c === 46) {
      if (digits === 0 || part > 3) return false;
      out[at + part] = n;
      part++;
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && n === 0) return false; // leading zero
      n = n * 10 + (c - 48);
      digits++;
      if (n > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

function parseIpv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const dbl = text.indexOf("::");
  if (dbl !== -1 && text.indexOf("::", dbl + 1) !== -1) return null;
  const head = dbl === -1 ? text : text.slice(0, dbl);
  const tail = dbl === -1 ? "" : text.slice(dbl + 2);
  const groups = (s: string): string[] | null => (s === "" ? [] : s.split(":"));
  const h = groups(head);
  const t = groups(tail);
  if (h === null || t === null) return null;
  const words: number[] = [];
  const tailWords: number[] = [];
  const fill = (parts: string[], into: number[], allowV4Last: boolean): boolean => {
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (allowV4Last && i === parts.length - 1 && p.includes(".")) {
        const v4 = new Uint8Array(4);
        if (!parseIpv4Into(p, v4, 0)) return false;
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (p.length === 0 || p.length > 4 || !/^[0-9a-fA-F]+$/.test(p)) return false;
      into.push(parseInt(p, 16));
    }
    return true;
  };
  if (!fill(h, words, dbl === -1)) return null;
  if (!fill(t, tailWords, true)) return null;
  if (dbl === -1) {
    if (words.length !== 8) return null;
  } else if (words.length + tailWords.length > 7) {
    return null;
  }
  for (let i = 0; i < words.length; i++) {
    out[i * 2] = words[i] >> 8;
    out[i * 2 + 1] = words[i] & 0xff;
  }
  const start = 8 - tailWords.length;
  for (let i = 0; i < tailWords.length; i++) {
    out[(start + i) * 2] = tailWords[i] >> 8;
    out[(start + i) * 2 + 1] = tailWords[i] & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 address; returns `null` when the text is not one. */
export function tryParseAddress(text: string): IpAddress | null {
  if (typeof text !== "string") return null;
  if (text.includes(":")) {
    const b = parseIpv6(text);
    return b ? { family: AF_INET6, bytes: b } : null;
  }
  const b = new Uint8Array(4);
  return parseIpv4Into(text, b, 0) ? { family: AF_INET, bytes: b } : null;
}

const CACHE_MAX = 4096;
const addressCache = new Map<string, IpAddress>();

/**
 * Parses an IPv4 or IPv6 address or throws {@linkcode NetlinkInputError} (`invalid_address`).
 * Results are cached (gateways repeat across thousands of routes): treat them as read-only.
 */
export function parseAddress(text: string): IpAddress {
  const hit = addressCache.get(text);
  if (hit) return hit;
  const a = tryParseAddress(text);
  if (a) {
    if (addressCache.size >= CACHE_MAX) addressCache.clear();
    addressCache.set(text, a);
  }
  if (!a) {
    throw new NetlinkInputError(
      "invalid_address",
      `Invalid IP address ${JSON.stringify(text)}`,
      text,
    );
  }
  return a;
}

/**
 * Scans `ADDR/LEN` (a bare address means a host prefix) into the first 4 or 16 bytes of `out`
 * without allocating (for hot paths) and returns `family << 8 | len`. With `strict` (the default)
 * host bits must be zero, as the kernel requires for route destinations.
 * Throws {@linkcode NetlinkInputError} (`invalid_prefix`).
 */
export function scanPrefix(text: string, out: Uint8Array, strict = true): number {
  const bad = (why: string) =>
    new NetlinkInputError("invalid_prefix", `Invalid prefix ${JSON.stringify(text)}: ${why}`, text);
  if (typeof text !== "string") throw bad("not a string");
  const slash = text.indexOf("/");
  const addrEnd = slash === -1 ? text.length : slash;
  let family: number;
  let size: number;
  const colon = text.indexOf(":");
  if (colon !== -1 && colon < addrEnd) {
    const b = parseIpv6(text.slice(0, addrEnd));
    if (!b) throw bad("bad address");
    out.set(b);
    family = AF_INET6;
    size = 16;
  } else {
    if (!parseIpv4Range(text, 0, addrEnd, out, 0)) throw bad("bad address");
    family = AF_INET;
    size = 4;
  }
  const max = size * 8;
  let len = max;
  if (slash !== -1) {
    const digits = text.length - slash - 1;
    if (digits < 1 || digits > 3) throw bad("bad length");
    len = 0;
    for (let i = slash + 1; i < text.length; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9 || (c === 0 && i === slash + 1 && digits > 1)) throw bad("bad length");
      len = len * 10 + c;
    }
    if (len > max) throw bad(`length above ${max}`);
  }
  if (strict && !hostBitsZero(out, size, len)) throw bad("host bits set");
  return (family << 8) | len;
}

/**
 * Parses `ADDR/LEN` (a bare address means a host prefix). With `strict` (the default) host bits
 * must be zero, as the kernel requires for route destinations.
 * Throws {@linkcode NetlinkInputError} (`invalid_prefix`).
 */
export function parsePrefix(text: string, strict = true): IpPrefix {
  const out = new Uint8Array(16);
  const r = scanPrefix(text, out, strict);
  const family = r >> 8;
  return { family, bytes: out.slice(0, family === AF_INET ? 4 : 16), len: r & 0xff };
}

function hostBitsZero(b: Uint8Array, size: number, len: number): boolean {
  for (let i = len >> 3; i < size; i++) {
    const bitsHere = len - i * 8;
    const mask = bitsHere <= 0 ? 0xff : bitsHere >= 8 ? 0 : 0xff >> bitsHere;
    if ((b[i] & mask) !== 0) return false;
  }
  return true;
}

/** Formats 4 or 16 address bytes the way `inet_ntop(3)` does (RFC 5952 for IPv6). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) {
    throw new NetlinkInputError(
      "invalid_address",
      `Invalid address length ${bytes.length}`,
      bytes.length,
    );
  }
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((bytes[i * 2] << 8) | bytes[i * 2 + 1]);
  // IPv4-mapped ::ffff:a.b.c.d as inet_ntop prints it
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  return formatIpv6Groups(w);
}

/** Formats a prefix as `ADDR/LEN`. */
export function formatPrefix(bytes: Uint8Array, len: number): string {
  return `${formatAddress(bytes)}/${len}`;
}

/** Canonical text of a prefix (e.g. `"fd00:0::/64"` gives `"fd00::/64"`); throws on bad input. */
export function canonicalPrefix(text: string): string {
  const p = parsePrefix(text);
  return formatPrefix(p.bytes, p.len);
}

/** Parses a MAC address `aa:bb:cc:dd:ee:ff`; throws {@linkcode NetlinkInputError} (`invalid_mac`). */
export function parseMac(text: string): Uint8Array {
  if (typeof text !== "string" || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(text)) {
    throw new NetlinkInputError("invalid_mac", `Invalid MAC address ${JSON.stringify(text)}`, text);
  }
  return new Uint8Array(text.split(":").map((x) => parseInt(x, 16)));
}

/** Formats link-layer address bytes as lower-case colon-separated hex. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}
