/**
 * IPv4 and IPv6 addresses as bigint-backed values: strict parsing with typed errors, canonical
 * formatting (dotted quad for IPv4, RFC 5952 for IPv6) and arithmetic.
 *
 * @module
 */

import { AddressOverflowError, FamilyMismatchError, InvalidAddressError } from "./errors.ts";
import { formatIpv6Groups } from "./ipv6_text.ts";

/** An IP family: 4 or 6. */
export type IpFamily = 4 | 6;

/** Address width in bits per family. */
export function familyBits(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

const MAX: Record<IpFamily, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

/** The largest address value of a family. */
export function maxValue(family: IpFamily): bigint {
  return MAX[family];
}

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseV4Value(text: string, original: string): bigint {
  const parts = text.split(".");
  if (parts.length !== 4) {
    throw new InvalidAddressError(original, "an IPv4 address has four dot-separated parts");
  }
  let v = 0n;
  for (const part of parts) {
    if (!DEC_OCTET.test(part)) {
      throw new InvalidAddressError(
        original,
        `part ${JSON.stringify(part)} is not a decimal number without leading zeros`,
      );
    }
    const n = Number(part);
    if (n > 255) throw new InvalidAddressError(original, `part ${part} is greater than 255`);
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6Value(text: string): bigint {
  if (text.includes("%")) throw new InvalidAddressError(text, "zone identifiers are not accepted");
  let body = text;
  let tail: bigint | undefined; // embedded IPv4 in the last 32 bits
  const lastColon = body.lastIndexOf(":");
  if (lastColon >= 0 && body.slice(lastColon + 1).includes(".")) {
    tail = parseV4Value(body.slice(lastColon + 1), text);
    body = body.slice(0, lastColon + 1) + "0:0"; // two placeholder hextets
  }
  const double = body.indexOf("::");
  if (double !== body.lastIndexOf("::")) {
    throw new InvalidAddressError(text, `"::" may appear only once`);
  }
  const groups = (s: string): string[] => (s === "" ? [] : s.split(":"));
  let hextets: string[];
  if (double >= 0) {
    const head = groups(body.slice(0, double));
    const rest = groups(body.slice(double + 2));
    const missing = 8 - head.length - rest.length;
    if (missing < 1) throw new InvalidAddressError(text, `"::" must stand for at least one group`);
    hextets = [...head, ...Array<string>(missing).fill("0"), ...rest];
  } else {
    hextets = groups(body);
    if (hextets.length !== 8) {
      throw new InvalidAddressError(
        text,
        `an IPv6 address has eight groups (found ${hextets.length})`,
      );
    }
  }
  let v = 0n;
  for (const h of hextets) {
    if (!HEXTET.test(h)) {
      throw new InvalidAddressError(text, `group ${JSON.stringify(h)} is not 1 to 4 hex digits`);
    }
    v = (v << 16n) | BigInt(parseInt(h, 16));
  }
  if (tail !== undefined) v = (v & ~0xffffffffn) | tail;
  return v;
}

function formatV4(v: bigint): string {
  const n = Number(v);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(v: bigint): string {
  // IPv4-mapped addresses (::ffff:0:0/96) keep the dotted quad, as RFC 5952 section 5 recommends.
  if (v >> 32n === 0xffffn) return `::ffff:${formatV4(v & 0xffffffffn)}`;
  const digits = v.toString(16).padStart(32, "0");
  const h: number[] = [];
  for (let i = 0; i < 32; i += 4) h.push(parseInt(digits.slice(i, i + 4), 16));
  return formatIpv6Groups(h);
}

/**
 * An IPv4 or IPv6 address: a family and a bigint value. Immutable; compare with
 * {@linkcode IpAddress.equals} or {@linkcode IpAddress.compare}.
 *
 * @example
 * ```ts
 * const a = IpAddress.parse("2001:DB8:0:0:1:0:0:1");
 * a.toString(); // "2001:db8::1:0:0:1"
 * ```
 */
export class IpAddress {
  /** The family. */
  readonly family: IpFamily;
  /** The address as an unsigned integer. */
  readonly value: bigint;
  #text: string | undefined;

  private constructor(family: IpFamily, value: bigint) {
    this.family = family;
    this.value = value;
  }

  /** Builds an address from its integer value; throws {@linkcode AddressOverflowError} out of range. */
  static of(family: IpFamily, value: bigint): IpAddress {
    if (value < 0n || value > MAX[family]) {
      throw new AddressOverflowError(value.toString(), `not an IPv${family} address value`);
    }
    return new IpAddress(family, value);
  }

  /**
   * Parses a textual address (dotted quad without leading zeros, or any RFC 4291 IPv6 form
   * without zone). Throws {@linkcode InvalidAddressError} quoting the input.
   */
  static parse(text: string): IpAddress {
    if (typeof text !== "string") throw new InvalidAddressError(String(text), "not a string");
    if (text.includes(":")) return new IpAddress(6, parseV6Value(text));
    if (text.includes(".")) {
      const a = new IpAddress(4, parseV4Value(text, text));
      a.#text = text; // strict dotted quads (no leading zeros) are already canonical
      return a;
    }
    throw new InvalidAddressError(text, "neither an IPv4 nor an IPv6 address");
  }

  /** Like {@linkcode IpAddress.parse} but returns undefined instead of throwing. */
  static tryParse(text: string): IpAddress | undefined {
    try {
      return IpAddress.parse(text);
    } catch {
      return undefined;
    }
  }

  /** Width in bits (32 or 128). */
  get bits(): 32 | 128 {
    return familyBits(this.family);
  }

  /** Canonical text: dotted quad, or RFC 5952 for IPv6. */
  toString(): string {
    return this.#text ??= this.family === 4 ? formatV4(this.value) : formatV6(this.value);
  }

  /** JSON form: the canonical text. */
  toJSON(): string {
    return this.toString();
  }

  /** True when both family and value are equal. */
  equals(other: IpAddress): boolean {
    return this.family === other.family && this.value === other.value;
  }

  /** Orders IPv4 before IPv6, then by value. */
  compare(other: IpAddress): number {
    if (this.family !== other.family) return this.family - other.family;
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  /** This address plus `n` (may be negative); throws {@linkcode AddressOverflowError} on leaving the space. */
  add(n: bigint | number): IpAddress {
    const v = this.value + BigInt(n);
    if (v < 0n || v > MAX[this.family]) {
      throw new AddressOverflowError(
        this.toString(),
        `adding ${n} leaves the IPv${this.family} space`,
      );
    }
    return new IpAddress(this.family, v);
  }

  /** Distance `this - other` (same family). */
  minus(other: IpAddress): bigint {
    sameFamily(this, other);
    return this.value - other.value;
  }
}

/** Throws {@linkcode FamilyMismatchError} when the two values are of different families. */
export function sameFamily(a: { family: IpFamily; toString(): string }, b: {
  family: IpFamily;
  toString(): string;
}): void {
  if (a.family !== b.family) {
    throw new FamilyMismatchError(
      b.toString(),
      `expected IPv${a.family} like ${a.toString()}, got IPv${b.family}`,
    );
  }
}

/** Orders addresses (for `Array.prototype.sort`). */
export function compareAddresses(a: IpAddress, b: IpAddress): number {
  return a.compare(b);
}

/** Canonicalizes a textual address (throws {@linkcode InvalidAddressError}). */
export function canonicalAddress(text: string): string {
  return IpAddress.parse(text).toString();
}
