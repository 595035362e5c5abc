/**
 * The pure parts of the BGP socket transport: sockaddr and `struct tcp_md5sig` bytes, the TTL
 * arithmetic of multihop and GTSM, and the validation of the new peer fields.
 */
import assert from "node:assert/strict";
import {
  addressForSocket,
  decodeSockaddr,
  encodeSockaddr,
  encodeTcpMd5Sig,
  formatAddress,
  savedSynTtl,
  sessionTtl,
  SocketOptionError,
  TCP_MD5SIG_SIZE,
} from "../actors/bgp/socket_options.ts";
import {
  ConfigError,
  listenerNeedsFfi,
  peerNeedsFfi,
  peerNeedsReset,
  validateConfig,
} from "../actors/bgp/config.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("socket options: sockaddr_in is family (host order), port (network order), address", () => {
  assert.equal(
    hex(encodeSockaddr("192.0.2.1", 179)),
    "0200" + "00b3" + "c0000201" + "0000000000000000",
  );
  assert.deepEqual(decodeSockaddr(encodeSockaddr("198.51.100.7", 65535)), {
    hostname: "198.51.100.7",
    port: 65535,
  });
});

Deno.test("socket options: sockaddr_in6 with flow info and scope id zero", () => {
  const b = encodeSockaddr("fd00::1:2", 179);
  assert.equal(b.length, 28);
  assert.equal(
    hex(b),
    "0a00" + "00b3" + "00000000" + "fd000000000000000000000000010002" + "00000000",
  );
  assert.deepEqual(decodeSockaddr(b), { hostname: "fd00::1:2", port: 179 });
});

Deno.test("socket options: IPv4 on an IPv6 socket is IPv4-mapped, decoded back as IPv4", () => {
  const b = encodeSockaddr("192.0.2.9", 1790, 10);
  assert.equal(hex(b.subarray(8, 24)), "00000000000000000000ffffc0000209");
  assert.deepEqual(decodeSockaddr(b), { hostname: "192.0.2.9", port: 1790 });
  assert.equal(formatAddress(addressForSocket("192.0.2.9", 10)), "::ffff:192.0.2.9");
  assert.throws(
    () => addressForSocket("fd00::1", 2),
    (e: unknown) =>
      e instanceof SocketOptionError && e.code === "invalid_address" && /fd00::1/.test(e.message),
  );
});

Deno.test("socket options: addresses are parsed strictly and printed per RFC 5952", () => {
  for (const bad of ["192.0.2", "192.0.2.256", "01.2.3.4", "fd00:::1", "1:2:3:4:5:6:7:8:9", "x"]) {
    assert.throws(
      () => encodeSockaddr(bad, 1),
      (e: unknown) =>
        e instanceof SocketOptionError && e.code === "invalid_address" &&
        e.message.includes(`"${bad}"`),
      bad,
    );
  }
  assert.throws(() => encodeSockaddr("192.0.2.1", 65536), SocketOptionError);
  const round = (a: string) => formatAddress(addressForSocket(a, a.includes(":") ? 10 : 2));
  assert.equal(round("FD00:0:0:1:0:0:0:1"), "fd00:0:0:1::1");
  assert.equal(round("fd00::"), "fd00::");
  assert.equal(round("::"), "::");
  assert.equal(round("fd00:1:2:3:4:5:6:7"), "fd00:1:2:3:4:5:6:7");
  assert.equal(round("fd00::0:198.51.100.1"), "fd00::c633:6401");
  assert.throws(
    () => decodeSockaddr(new Uint8Array([1, 0, 0, 0])),
    (e: unknown) => e instanceof SocketOptionError && e.code === "invalid_sockaddr",
  );
});

Deno.test("socket options: struct tcp_md5sig for an IPv4 peer, byte by byte", () => {
  const b = encodeTcpMd5Sig("192.0.2.2", "s3cr3t");
  assert.equal(b.length, TCP_MD5SIG_SIZE);
  const want = new Uint8Array(216);
  want.set([0x02, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02], 0); // sockaddr_in, port 0
  want.set([0, 0, 6, 0, 0, 0, 0, 0], 128); // flags, prefixlen, keylen (LE), ifindex
  want.set(new TextEncoder().encode("s3cr3t"), 136);
  assert.equal(hex(b), hex(want));
});

Deno.test("socket options: struct tcp_md5sig for IPv6 and IPv4-mapped peers; empty key deletes", () => {
  const b = encodeTcpMd5Sig("fd00::2", "k");
  assert.equal(
    hex(b.subarray(0, 28)),
    "0a000000" + "00000000" + "fd00" + "00".repeat(13) + "02" + "00000000",
  );
  assert.equal(hex(b.subarray(128, 137)), "0000010000000000" + "6b");
  const m = encodeTcpMd5Sig("198.51.100.2", "k", 10);
  assert.equal(hex(m.subarray(0, 2)), "0a00");
  assert.equal(hex(m.subarray(8, 24)), "00000000000000000000ffffc6336402");
  const del = encodeTcpMd5Sig("192.0.2.2", "");
  assert.equal(hex(del.subarray(128, 216)), "00".repeat(88));
  assert.equal(encodeTcpMd5Sig("192.0.2.2", "x".repeat(80)).length, 216);
  assert.throws(
    () => encodeTcpMd5Sig("192.0.2.2", "x".repeat(81)),
    (e: unknown) =>
      e instanceof SocketOptionError && e.code === "invalid_key" && /81 bytes/.test(e.message),
  );
});

Deno.test("socket options: TTL of multihop and GTSM (FRR's ttl-security hops)", () => {
  assert.deepEqual(sessionTtl({}), {});
  assert.deepEqual(sessionTtl({ multihop: 1 }), { ttl: 1 });
  assert.deepEqual(sessionTtl({ multihop: 255 }), { ttl: 255 });
  assert.deepEqual(sessionTtl({ ttlSecurityHops: 1 }), { ttl: 255, minTtl: 255 });
  assert.deepEqual(sessionTtl({ ttlSecurityHops: 2 }), { ttl: 255, minTtl: 254 });
  assert.deepEqual(sessionTtl({ multihop: 3, ttlSecurityHops: 254 }), { ttl: 255, minTtl: 2 });
  for (const bad of [{ multihop: 0 }, { multihop: 256 }, { ttlSecurityHops: 255 }]) {
    assert.throws(
      () => sessionTtl(bad),
      (e: unknown) => e instanceof SocketOptionError && e.code === "invalid_hops",
    );
  }
});

const base = { asn: 65001, routerId: "192.0.2.1" };
const peerAt = (p: Record<string, unknown>) =>
  validateConfig({ ...base, peers: [{ address: "192.0.2.2", asn: 65002, ...p }] }).peers[0];

Deno.test("config: multihop, ttlSecurity, sourceAddress, password are validated by field", () => {
  const bad: [Record<string, unknown>, string, RegExp][] = [
    [{ multihop: 0 }, "peers[0].multihop", /0 is not an integer in 1\.\.255/],
    [{ multihop: "2" }, "peers[0].multihop", /"2"/],
    [{ ttlSecurity: 255 }, "peers[0].ttlSecurity", /255 is not an integer in 1\.\.254/],
    [{ ttlSecurity: 1, multihop: 2 }, "peers[0].ttlSecurity", /cannot be combined with multihop/],
    [{ sourceAddress: "fd00::1" }, "peers[0].sourceAddress", /"fd00::1" is not an IPv4/],
    [{ sourceAddress: "nope" }, "peers[0].sourceAddress", /nope/],
    [{ password: "" }, "peers[0].password", /0 bytes/],
    [{ password: "é".repeat(41) }, "peers[0].password", /82 bytes.*1 to 80/],
    [{ password: 12345 }, "peers[0].password", /12345 is not a string/],
  ];
  for (const [p, field, msg] of bad) {
    assert.throws(() => peerAt(p), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.field, field);
      assert.match(e.message, msg);
      return true;
    }, JSON.stringify(p));
  }
  const p = peerAt({ ttlSecurity: 2, sourceAddress: "192.0.2.10", password: "x".repeat(80) });
  assert.equal(p.ttlSecurity, 2);
  assert.equal(p.sourceAddress, "192.0.2.10");
  assert.equal(p.password, "x".repeat(80));
  assert.equal(p.multihop, undefined);
  const v6 = validateConfig({
    ...base,
    peers: [{ address: "fd00::2", asn: 65002, sourceAddress: "FD00:0::a" }],
  }).peers[0];
  assert.equal(v6.sourceAddress, "fd00::a");
});

Deno.test("config: which peers need the FFI transport, the FFI listener, a session reset", () => {
  const plain = peerAt({});
  assert.equal(peerNeedsFfi(plain), false);
  assert.equal(listenerNeedsFfi([plain]), false);
  for (const o of [{ multihop: 1 }, { ttlSecurity: 1 }, { password: "k" }]) {
    assert.equal(peerNeedsFfi(peerAt(o)), true);
    assert.equal(listenerNeedsFfi([plain, peerAt(o)]), true);
    assert.equal(peerNeedsReset(plain, peerAt(o)), true, JSON.stringify(o));
  }
  // A source address matters only for connections we open.
  const src = peerAt({ sourceAddress: "192.0.2.10" });
  assert.equal(peerNeedsFfi(src), true);
  assert.equal(listenerNeedsFfi([src]), false);
  assert.equal(peerNeedsReset(plain, src), true);
  assert.equal(peerNeedsReset(peerAt({ password: "a" }), peerAt({ password: "b" })), true);
  assert.equal(peerNeedsReset(peerAt({ multihop: 2 }), peerAt({ multihop: 2 })), false);
});

Deno.test("socket options: TTL of a saved SYN from its IPv4 or IPv6 header", () => {
  const v4 = new Uint8Array(40);
  v4[0] = 0x45;
  v4[8] = 254;
  assert.equal(savedSynTtl(v4), 254);
  const v6 = new Uint8Array(60);
  v6[0] = 0x60;
  v6[7] = 253;
  assert.equal(savedSynTtl(v6), 253);
  for (const bad of [new Uint8Array(0), new Uint8Array([0x45, 0, 0]), new Uint8Array(40)]) {
    assert.throws(
      () => savedSynTtl(bad),
      (e: unknown) => e instanceof SocketOptionError && e.code === "invalid_sockaddr",
    );
  }
});
