/** `readNlri` builds IPv4 prefix text without concatenation: it must equal the obvious form. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIPv6, readNlri } from "../actors/bgp/prefix.ts";

Deno.test("readNlri: IPv4 text equals the dotted form with host bits cleared", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(32), fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }))),
      (entries) => {
        const wire: number[] = [];
        const want: string[] = [];
        for (const [len, bytes] of entries) {
          const n = (len + 7) >> 3;
          wire.push(len, ...bytes.slice(0, n));
          const addr = bytes.reduce((a, b) => a * 256 + b, 0);
          const masked = len === 0 ? 0 : Math.floor(addr / 2 ** (32 - len)) * 2 ** (32 - len);
          const o = [masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255];
          want.push(`${o.join(".")}/${len}`);
        }
        const out: string[] = [];
        assert.equal(readNlri(new Uint8Array(wire), 0, wire.length, "ipv4", out), null);
        assert.deepEqual(out, want);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("readNlri: IPv6 text equals formatIPv6 (RFC 5952) with host bits cleared", () => {
  // Bytes biased toward zero so that runs of zero groups (the "::" cases) are common.
  const byte = fc.oneof(fc.constant(0), fc.constant(0), fc.nat(255));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(128), fc.array(byte, { minLength: 16, maxLength: 16 }))),
      (entries) => {
        const wire: number[] = [];
        const want: string[] = [];
        for (const [len, bytes] of entries) {
          const n = (len + 7) >> 3;
          wire.push(len, ...bytes.slice(0, n));
          const masked = new Uint8Array(16);
          for (let i = 0; i < 16; i++) {
            const bits = Math.max(0, Math.min(8, len - 8 * i));
            masked[i] = bytes[i] & ((0xff << (8 - bits)) & 0xff);
          }
          want.push(`${formatIPv6(masked)}/${len}`);
        }
        const out: string[] = [];
        assert.equal(readNlri(new Uint8Array(wire), 0, wire.length, "ipv6", out), null);
        assert.deepEqual(out, want);
      },
    ),
    { numRuns: 1000 },
  );
});
