import assert from "node:assert/strict";
import fc from "fast-check";
import { IpAddress } from "../actors/ipam/address.ts";
import { aggregate, Cidr, summarize } from "../actors/ipam/cidr.ts";
import { AddressRange } from "../actors/ipam/range.ts";
import { formatIpv6Groups } from "../actors/ipam/ipv6_text.ts";
import { formatAddress } from "../actors/netlink/ip.ts";
import { CelIP } from "../actors/kubeapi/cel.ts";
import {
  parseLoadBalancerIPs,
  parsePeerGroups,
  parsePodPool,
  parseServicePools,
  parseSharingKey,
} from "../actors/ipam/annotations.ts";
import {
  InvalidAddressError,
  InvalidBlockSizeError,
  InvalidCidrError,
  InvalidRangeError,
  IpamError,
} from "../actors/ipam/errors.ts";

const v4 = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((v) => IpAddress.of(4, v));
const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((v) => IpAddress.of(6, v));
const anyAddr = fc.oneof(v4, v6);
const cidrArb = anyAddr.chain((a) =>
  fc.integer({ min: 0, max: a.bits }).map((len) => Cidr.containing(a, len))
);

/** A reference IPv6 expansion: eight 4-digit groups. */
function fullV6(a: IpAddress): string {
  const h: string[] = [];
  for (let i = 7; i >= 0; i--) {
    h.push(((a.value >> BigInt(i * 16)) & 0xffffn).toString(16).padStart(4, "0"));
  }
  return h.join(":");
}

Deno.test("ipam address: IPv4 parse and format round-trip", () => {
  fc.assert(fc.property(v4, (a) => {
    const b = IpAddress.parse(a.toString());
    assert.ok(b.equals(a));
    assert.equal(b.family, 4);
  }));
  assert.equal(IpAddress.parse("198.51.100.7").value, 0xc6336407n);
});

Deno.test("ipam address: IPv6 parse round-trip from canonical and full forms", () => {
  fc.assert(fc.property(v6, (a) => {
    assert.ok(IpAddress.parse(a.toString()).equals(a));
    assert.ok(IpAddress.parse(fullV6(a)).equals(a));
    assert.ok(IpAddress.parse(fullV6(a).toUpperCase()).equals(a));
  }));
});

Deno.test("ipam address: RFC 5952 canonical text", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not compressed
    ["2001:DB8::0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"], // the longer run wins
    ["0:0:0:0:0:0:0:0", "::"],
    ["::1", "::1"],
    ["fd00::", "fd00::"],
    ["::ffff:198.51.100.1", "::ffff:198.51.100.1"],
    ["::ffff:c633:6401", "::ffff:198.51.100.1"],
    ["fd00::198.51.100.1", "fd00::c633:6401"],
  ];
  for (const [input, want] of cases) assert.equal(IpAddress.parse(input).toString(), want, input);
  // Property: the canonical form never has uppercase, leading zeros or a compressed single group.
  fc.assert(fc.property(v6, (a) => {
    const s = a.toString();
    if (s.startsWith("::ffff:") && s.includes(".")) return;
    assert.equal(s, s.toLowerCase());
    assert.ok(!/(^|:)0[0-9a-f]/.test(s), s);
    assert.ok((s.match(/::/g) ?? []).length <= 1, s);
    const groups = s.split("::").map((p) => (p === "" ? 0 : p.split(":").length));
    if (s.includes("::")) assert.ok(8 - groups.reduce((x, y) => x + y, 0) >= 2, s);
  }));
});

Deno.test("ipam address: IPv6 text is the same from ipam, netlink and CEL (one printer)", () => {
  // Groups biased to zero, so that runs of zero groups (and ties between runs) are common.
  const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.nat(0xffff)), {
    minLength: 8,
    maxLength: 8,
  });
  fc.assert(fc.property(groups, (g) => {
    const bytes = g.flatMap((x) => [x >> 8, x & 0xff]);
    const value = g.reduce((v, x) => (v << 16n) | BigInt(x), 0n);
    const text = IpAddress.of(6, value).toString();
    assert.equal(formatAddress(Uint8Array.from(bytes)), text);
    // IPv4-mapped addresses keep their dotted quad in ipam and netlink only.
    if (value >> 32n !== 0xffffn) {
      assert.equal(formatIpv6Groups(g), text);
      assert.equal(new CelIP(bytes).toString(), text);
    }
  }));
  assert.equal(formatIpv6Groups([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]), "2001:db8::1:0:0:1");
  assert.equal(formatIpv6Groups([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), "2001:db8:0:1:1:1:1:1");
});

/** Arbitrary text up to `maxLength` never makes `parse` throw anything but `errorClass`. */
function onlyTypedErrors(
  parse: (s: string) => unknown,
  errorClass: typeof IpamError,
  maxLength: number,
): void {
  fc.assert(fc.property(fc.string({ maxLength }), (s) => {
    try {
      parse(s);
    } catch (e) {
      assert.ok(e instanceof errorClass, String(e));
    }
  }));
}

Deno.test("ipam address: bad input gets a typed error quoting it", () => {
  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.-1",
    "1.2.3.4 ",
    "a.b.c.d",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::",
    "fe80::1%eth0",
    ":1::",
    "1:2:3:4:5:6:7::8",
    "g::1",
  ];
  for (const s of bad) {
    assert.throws(() => IpAddress.parse(s), (e: unknown) => {
      assert.ok(e instanceof InvalidAddressError, `${s}: ${e}`);
      assert.ok(e instanceof IpamError);
      assert.equal(e.code, "invalid_address");
      assert.equal(e.value, s);
      assert.ok(e.message.includes(JSON.stringify(s)));
      return true;
    });
  }
  // Arbitrary strings never throw anything but the typed error.
  onlyTypedErrors((s) => IpAddress.parse(s), InvalidAddressError, 45);
});

Deno.test("ipam cidr: parse, canonical form and strictness", () => {
  const c = Cidr.parse("198.18.0.0/15");
  assert.equal(c.size, 1n << 17n);
  assert.equal(c.last.toString(), "198.19.255.255");
  assert.equal(Cidr.parse("FD00:0::/8").toString(), "fd00::/8");
  assert.throws(() => Cidr.parse("198.18.0.1/15"), (e: unknown) => {
    assert.ok(e instanceof InvalidCidrError);
    assert.match(e.message, /host bits are set \(did you mean 198\.18\.0\.0\/15\?\)/);
    return true;
  });
  assert.equal(Cidr.parse("198.18.0.1/15", { strict: false }).toString(), "198.18.0.0/15");
  for (
    const s of ["198.18.0.0", "198.18.0.0/33", "fd00::/129", "198.18.0.0/", "x/8", "1.2.3.0/08"]
  ) {
    assert.throws(() => Cidr.parse(s), InvalidCidrError, s);
  }
  fc.assert(fc.property(cidrArb, (c) => {
    assert.ok(Cidr.parse(c.toString()).equals(c));
  }));
  onlyTypedErrors((s) => Cidr.parse(s), InvalidCidrError, 50);
});

Deno.test("ipam cidr: containment and overlap agree with integer bounds", () => {
  fc.assert(fc.property(cidrArb, cidrArb, (a, b) => {
    const aEnd = a.network.value + a.size - 1n;
    const bEnd = b.network.value + b.size - 1n;
    const sameFam = a.family === b.family;
    const overlap = sameFam && a.network.value <= bEnd && b.network.value <= aEnd;
    assert.equal(a.overlaps(b), overlap);
    assert.equal(b.overlaps(a), overlap);
    assert.equal(
      a.containsCidr(b),
      sameFam && a.network.value <= b.network.value && bEnd <= aEnd,
    );
    // Prefixes either nest or are disjoint.
    if (overlap) assert.ok(a.containsCidr(b) || b.containsCidr(a));
  }));
  fc.assert(fc.property(cidrArb, anyAddr, (c, a) => {
    const inside = a.family === c.family && a.value >= c.first.value && a.value <= c.last.value;
    assert.equal(c.contains(a), inside);
    if (inside) assert.ok(Cidr.containing(a, c.length).equals(c));
  }));
  assert.ok(!Cidr.parse("0.0.0.0/0").contains(IpAddress.parse("::")));
});

Deno.test("ipam cidr: block splitting uses the stride 2^(bits-blockSize)", () => {
  // sart computed the stride with XOR; for a /24 in /29 blocks it must be 8, not 24^29.
  const pool = Cidr.parse("198.18.0.0/24");
  assert.equal(pool.blockStride(29), 8n);
  assert.equal(pool.blockCount(29), 32n);
  assert.deepEqual(
    [...pool.blocks(26)].map(String),
    ["198.18.0.0/26", "198.18.0.64/26", "198.18.0.128/26", "198.18.0.192/26"],
  );
  assert.equal(Cidr.parse("fd00:1::/48").blockAt(64, 5n).toString(), "fd00:1:0:5::/64");
  assert.equal(Cidr.parse("fd00:1::/112").blockAt(122, 3n).toString(), "fd00:1::c0/122");
  assert.throws(() => pool.blockCount(23), InvalidBlockSizeError);
  assert.throws(() => pool.blockCount(33), InvalidBlockSizeError);
  assert.throws(() => pool.blockAt(26, 4n), InvalidBlockSizeError);
  fc.assert(fc.property(
    cidrArb.filter((c) => c.bits - c.length <= 12),
    fc.integer({ min: 0, max: 12 }),
    (c, extra) => {
      const blockSize = Math.min(c.bits, c.length + extra);
      const blocks = [...c.blocks(blockSize)];
      assert.equal(BigInt(blocks.length), c.blockCount(blockSize));
      let next = c.first.value;
      blocks.forEach((b, i) => {
        assert.equal(b.length, blockSize);
        assert.ok(c.containsCidr(b));
        assert.equal(b.first.value, next); // contiguous, no gaps, no overlaps
        assert.equal(c.blockIndexOf(b), BigInt(i));
        next = b.last.value + 1n;
      });
      assert.equal(next, c.last.value + 1n);
    },
  ));
});

Deno.test("ipam cidr: aggregation and summarization", () => {
  const addrs = ["203.0.113.5", "203.0.113.9", "203.0.113.200", "fd00::1", "fd00::2:1"].map((s) =>
    IpAddress.parse(s)
  );
  assert.deepEqual(aggregate(addrs, 24, 112).map(String), [
    "203.0.113.0/24",
    "fd00::/112",
    "fd00::2:0/112",
  ]);
  assert.deepEqual(aggregate(addrs, 32).map(String), [
    "203.0.113.5/32",
    "203.0.113.9/32",
    "203.0.113.200/32",
    "fd00::1/128",
    "fd00::2:1/128",
  ]);
  assert.deepEqual(
    summarize(
      ["198.18.0.0/25", "198.18.0.128/25", "198.18.1.0/24", "198.18.0.7/32"].map((s) =>
        Cidr.parse(s)
      ),
    ).map(String),
    ["198.18.0.0/23"],
  );
  // Property: summarize covers exactly the same addresses (checked on a small universe).
  const small = fc.integer({ min: 24, max: 32 }).chain((len) =>
    fc.integer({ min: 0, max: 255 }).map((o) =>
      Cidr.containing(IpAddress.of(4, 0xc0000200n + BigInt(o)), len)
    )
  );
  fc.assert(fc.property(fc.array(small, { maxLength: 12 }), (cs) => {
    const out = summarize(cs);
    for (let o = 0n; o < 256n; o++) {
      const a = IpAddress.of(4, 0xc0000200n + o);
      assert.equal(out.some((c) => c.contains(a)), cs.some((c) => c.contains(a)));
    }
    for (let i = 0; i < out.length; i++) {
      for (let j = i + 1; j < out.length; j++) assert.ok(!out[i]!.overlaps(out[j]!));
    }
  }));
});

Deno.test("ipam range: parse, size, cidr decomposition", () => {
  const r = AddressRange.parse("203.0.113.10 - 203.0.113.20");
  assert.equal(r.toString(), "203.0.113.10-203.0.113.20");
  assert.equal(r.size, 11n);
  assert.deepEqual(r.toCidrs().map(String), [
    "203.0.113.10/31",
    "203.0.113.12/30",
    "203.0.113.16/30",
    "203.0.113.20/32",
  ]);
  assert.equal(AddressRange.parse("0.0.0.0-255.255.255.255").toCidrs().map(String)[0], "0.0.0.0/0");
  assert.equal(AddressRange.parse("fd00::/120").size, 256n);
  for (
    const s of ["203.0.113.20-203.0.113.10", "203.0.113.1-fd00::1", "203.0.113.1", "a-b", "1-2-3"]
  ) {
    assert.throws(() => AddressRange.parse(s), (e: unknown) => {
      assert.ok(e instanceof InvalidRangeError, s);
      assert.equal(e.value, s);
      return true;
    });
  }
  const rangeArb = anyAddr.chain((a) =>
    fc.bigInt({ min: 0n, max: 1n << 20n }).map((n) => {
      const max = a.family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
      const last = a.value + n > max ? max : a.value + n;
      return AddressRange.of(a, IpAddress.of(a.family, last));
    })
  );
  fc.assert(fc.property(rangeArb, (r) => {
    const cs = r.toCidrs();
    assert.ok(cs.length <= 2 * r.first.bits);
    let next = r.first.value;
    for (const c of cs) {
      assert.equal(c.first.value, next);
      next = c.last.value + 1n;
    }
    assert.equal(next, r.last.value + 1n);
    assert.ok(AddressRange.parse(r.toString()).first.equals(r.first));
  }));
});

Deno.test("ipam parsers: arbitrary text only ever gets typed errors", () => {
  const text = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.array(fc.constantFrom("1", "9", "0", ".", ":", "/", "-", ",", " ", "a", "f", "::"), {
      maxLength: 30,
    })
      .map((xs) => xs.join("")),
  );
  fc.assert(
    fc.property(text, (s) => {
      for (
        const f of [
          () => AddressRange.parse(s),
          () => Cidr.parse(s, { strict: false }),
          () => parseLoadBalancerIPs({ "tern.dev/loadBalancerIPs": s }),
          () => parseServicePools({ "tern.dev/addresspool": s }),
          () => parseSharingKey({ "tern.dev/allow-shared-ip": s }),
          () => parsePeerGroups({ "tern.dev/peer-groups": s }),
          () => parsePodPool({ "tern.dev/addresspool": s }),
        ]
      ) {
        try {
          f();
        } catch (e) {
          assert.ok(e instanceof IpamError, `${JSON.stringify(s)}: ${e}`);
          assert.ok(
            e.message.includes(JSON.stringify(e.value)) || e.message.includes(e.value),
            e.message,
          );
        }
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("ipam address: cached text is the canonical text", () => {
  fc.assert(fc.property(cidrArb, (c) => {
    const text = c.toString();
    const again = Cidr.parse(text);
    assert.equal(again.toString(), text);
    assert.equal(again.network.toString(), c.network.toString());
    // Non-canonical input never leaks into the output.
    if (c.family === 6) assert.equal(Cidr.parse(text.toUpperCase()).toString(), text);
  }));
  assert.equal(Cidr.parse("198.18.0.1/16", { strict: false }).toString(), "198.18.0.0/16");
  assert.equal(IpAddress.parse("198.51.100.7").toString(), "198.51.100.7");
});
