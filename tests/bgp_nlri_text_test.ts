/** `readNlri` builds IPv4 prefix text without concatenation: it must equal the obvious form. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { readNlri } from "../actors/bgp/prefix.ts";

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
