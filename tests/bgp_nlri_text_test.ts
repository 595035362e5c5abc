/** `readNlriKeys` packs prefixes and `PrefixList.text` builds their text without concatenation:
 * it must equal the obvious form. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIPv6 } from "../actors/bgp/prefix.ts";
import { PrefixList, readNlriKeys } from "../actors/bgp/prefix_list.ts";

/** Decodes NLRI into packed keys and returns their text, or the fault. */
function readNlri(buf: Uint8Array, family: "ipv4" | "ipv6"): string[] | string {
  const keys = new PrefixList(1);
  const fault = readNlriKeys(buf, 0, buf.length, family, keys);
  if (fault) return fault.reason;
  // Round trip through the text parser too: same keys.
  const again = PrefixList.from(keys.texts());
  assert.deepEqual(
    again.words.subarray(0, again.length * 5),
    keys.words.subarray(0, keys.length * 5),
  );
  return keys.texts();
}

Deno.test("readNlriKeys: IPv4 text equals the dotted form with host bits cleared", () => {
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
        assert.deepEqual(readNlri(new Uint8Array(wire), "ipv4"), want);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("readNlriKeys: IPv6 text equals formatIPv6 (RFC 5952) with host bits cleared", () => {
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
        assert.deepEqual(readNlri(new Uint8Array(wire), "ipv6"), want);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("readNlriKeys: bad lengths and overruns are faults quoting the value", () => {
  assert.equal(
    readNlri(new Uint8Array([33, 1, 2, 3, 4, 5]), "ipv4"),
    "prefix length 33 exceeds 32",
  );
  assert.equal(readNlri(new Uint8Array([24, 1, 2]), "ipv4"), "prefix /24 overruns the field");
  assert.equal(readNlri(new Uint8Array([129]), "ipv6"), "prefix length 129 exceeds 128");
  assert.equal(readNlri(new Uint8Array([64, 0xfd]), "ipv6"), "prefix /64 overruns the field");
});
