/** Shared helpers for the BGP tests: byte builders. */
import { HEADER_LENGTH } from "../actors/bgp/constants.ts";

/** Bytes from a hex string (spaces ignored). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Concatenates byte arrays. */
export function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrs = parts.map((p) => p instanceof Uint8Array ? p : new Uint8Array(p));
  const out = new Uint8Array(arrs.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrs) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

/** A whole message with a correct header around `body`. */
export function msg(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + body.length);
  out.fill(0xff, 0, 16);
  out[16] = out.length >> 8;
  out[17] = out.length & 0xff;
  out[18] = type;
  out.set(body, HEADER_LENGTH);
  return out;
}

/** An UPDATE body from its three parts. */
export function updateBody(withdrawn: Uint8Array, attrs: Uint8Array, nlri: Uint8Array): Uint8Array {
  return cat(
    [withdrawn.length >> 8, withdrawn.length & 0xff],
    withdrawn,
    [attrs.length >> 8, attrs.length & 0xff],
    attrs,
    nlri,
  );
}

/** One path attribute (short length form unless `ext`). */
export function attr(flags: number, code: number, value: Uint8Array | number[], ext = false) {
  const v = value instanceof Uint8Array ? value : new Uint8Array(value);
  return ext
    ? cat([flags | 0x10, code, v.length >> 8, v.length & 0xff], v)
    : cat([flags, code, v.length], v);
}

/** The usual valid attributes for an eBGP IPv4 route from AS 65001 via 192.0.2.1. */
export function basicAttrs(asWidth: 2 | 4 = 4): Uint8Array {
  const asn = asWidth === 4 ? [0, 0, 0xfd, 0xe9] : [0xfd, 0xe9];
  return cat(
    attr(0x40, 1, [0]),
    attr(0x40, 2, [2, 1, ...asn]),
    attr(0x40, 3, [192, 0, 2, 1]),
  );
}
