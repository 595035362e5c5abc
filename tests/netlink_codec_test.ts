import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AF_INET,
  AF_INET6,
  IFF,
  NLM_F,
  NLMSG,
  RT_SCOPE,
  RTM,
} from "../actors/netlink/constants.ts";
import { NetlinkDecodeError, NetlinkInputError } from "../actors/netlink/errors.ts";
import {
  canonicalPrefix,
  formatAddress,
  parseAddress,
  parsePrefix,
  tryParseAddress,
} from "../actors/netlink/ip.ts";
import {
  MessageWriter,
  parseDoneMessage,
  parseErrorMessage,
  parseMessages,
} from "../actors/netlink/message.ts";
import { parseRoute, writeRouteDump, writeRouteRequest } from "../actors/netlink/route_codec.ts";
import { parseAddressMessage, writeAddressRequest } from "../actors/netlink/addr_codec.ts";
import {
  parseLink,
  writeDelLink,
  writeGetLink,
  writeNewLink,
} from "../actors/netlink/link_codec.ts";

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}
function bytes(s: string): Uint8Array {
  return new Uint8Array(s.trim().split(/\s+/).map((x) => parseInt(x, 16)));
}
const ACK_CREATE_EXCL = NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;

Deno.test("netlink codec: IPv4 route with gateway, hand-checked bytes", () => {
  const w = new MessageWriter(16);
  writeRouteRequest(w, RTM.NEWROUTE, ACK_CREATE_EXCL, 1, {
    dst: "198.51.100.0/24",
    gateway: "192.0.2.1",
    protocol: 196,
  });
  assert.equal(
    hex(w.bytes()),
    hex(bytes(`
      34 00 00 00 18 00 05 06 01 00 00 00 00 00 00 00
      02 18 00 00 fe c4 00 01 00 00 00 00
      08 00 0f 00 fe 00 00 00
      08 00 01 00 c6 33 64 00
      08 00 05 00 c0 00 02 01`)),
  );
  const [m] = parseMessages(w.bytes());
  const r = parseRoute(m);
  assert.deepEqual(r, {
    family: AF_INET,
    dst: "198.51.100.0/24",
    table: 254,
    protocol: 196,
    scope: 0,
    type: "unicast",
    flags: 0,
    gateway: "192.0.2.1",
  });
});

Deno.test("netlink codec: ECMP route in table 1000, hand-checked bytes", () => {
  const w = new MessageWriter();
  writeRouteRequest(w, RTM.NEWROUTE, ACK_CREATE_EXCL, 1, {
    dst: "203.0.113.0/24",
    table: 1000,
    protocol: 196,
    nexthops: [{ gateway: "192.0.2.1", oif: 2 }, { gateway: "192.0.2.2", oif: 3, weight: 2 }],
  });
  assert.equal(
    hex(w.bytes()),
    hex(bytes(`
      50 00 00 00 18 00 05 06 01 00 00 00 00 00 00 00
      02 18 00 00 00 c4 00 01 00 00 00 00
      08 00 0f 00 e8 03 00 00
      08 00 01 00 cb 00 71 00
      24 00 09 00
        10 00 00 00 02 00 00 00 08 00 05 00 c0 00 02 01
        10 00 00 01 03 00 00 00 08 00 05 00 c0 00 02 02`)),
  );
  const r = parseRoute(parseMessages(w.bytes())[0]);
  assert.equal(r.table, 1000);
  assert.deepEqual(r.nexthops, [
    { weight: 1, oif: 2, gateway: "192.0.2.1" },
    { weight: 2, oif: 3, gateway: "192.0.2.2" },
  ]);
});

Deno.test("netlink codec: IPv6, blackhole, unreachable, delete defaults", () => {
  const w = new MessageWriter();
  writeRouteRequest(w, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, 2, {
    dst: "fd00:0:0:1::/64",
    gateway: "fd00::1",
    oif: 5,
    priority: 1024,
  });
  writeRouteRequest(w, RTM.NEWROUTE, NLM_F.CREATE, 3, { dst: "198.18.0.0/15", type: "blackhole" });
  writeRouteRequest(w, RTM.NEWROUTE, NLM_F.CREATE, 4, { dst: "fd00:2::/48", type: "unreachable" });
  writeRouteRequest(w, RTM.DELROUTE, 0, 5, { dst: "192.0.2.0/24", table: 254 });
  writeRouteRequest(w, RTM.NEWROUTE, NLM_F.CREATE, 6, { dst: "192.0.2.0/24", oif: 3 });
  const ms = parseMessages(w.bytes());
  assert.equal(ms.length, 5);
  assert.deepEqual(ms.map((m) => m.seq), [2, 3, 4, 5, 6]);
  assert.equal(ms[0].flags, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.REPLACE);
  const v6 = parseRoute(ms[0]);
  assert.equal(v6.family, AF_INET6);
  assert.equal(v6.dst, "fd00:0:0:1::/64");
  assert.equal(v6.gateway, "fd00::1");
  assert.equal(v6.oif, 5);
  assert.equal(v6.priority, 1024);
  assert.equal(parseRoute(ms[1]).type, "blackhole");
  assert.equal(parseRoute(ms[1]).scope, RT_SCOPE.UNIVERSE);
  assert.equal(parseRoute(ms[2]).type, "unreachable");
  const del = parseRoute(ms[3]);
  assert.equal(del.scope, RT_SCOPE.NOWHERE); // wildcard scope on delete, like ip route del
  assert.equal(del.protocol, 0);
  assert.equal(parseRoute(ms[4]).scope, RT_SCOPE.LINK); // device route
  const d = new MessageWriter();
  writeRouteDump(d, 9, { family: AF_INET, table: 300, protocol: 196 });
  assert.equal(
    hex(d.bytes()),
    hex(bytes(`
      24 00 00 00 1a 00 01 03 09 00 00 00 00 00 00 00
      02 00 00 00 00 c4 00 00 00 00 00 00
      08 00 0f 00 2c 01 00 00`)),
  );
});

Deno.test("netlink codec: address request, hand-checked bytes", () => {
  const w = new MessageWriter();
  writeAddressRequest(w, RTM.NEWADDR, ACK_CREATE_EXCL, 3, { index: 7, address: "192.0.2.10/24" });
  assert.equal(
    hex(w.bytes()),
    hex(bytes(`
      28 00 00 00 14 00 05 06 03 00 00 00 00 00 00 00
      02 18 00 00 07 00 00 00
      08 00 02 00 c0 00 02 0a
      08 00 01 00 c0 00 02 0a`)),
  );
  const a = parseAddressMessage(parseMessages(w.bytes())[0]);
  assert.deepEqual(a, {
    family: AF_INET,
    index: 7,
    prefixLen: 24,
    address: "192.0.2.10/24",
    scope: 0,
    flags: 0,
  });
  w.reset();
  writeAddressRequest(w, RTM.NEWADDR, 0, 4, {
    index: 2,
    address: "fd00::2/128",
    peer: "fd00::1",
    flags: 0x202,
  });
  const b = parseAddressMessage(parseMessages(w.bytes())[0]);
  assert.equal(b.peer, "fd00::1");
  assert.equal(b.flags, 0x202);
});

Deno.test("netlink codec: veth pair creation, hand-checked bytes", () => {
  const w = new MessageWriter();
  writeNewLink(w, ACK_CREATE_EXCL, 7, { name: "veth0", kind: "veth", peer: { name: "veth1" } });
  assert.equal(
    hex(w.bytes()),
    hex(bytes(`
      60 00 00 00 10 00 05 06 07 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      0a 00 03 00 76 65 74 68 30 00 00 00
      34 00 12 00
        09 00 01 00 76 65 74 68 00 00 00 00
        24 00 02 00
          20 00 01 00
            00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
            0a 00 03 00 76 65 74 68 31 00 00 00`)),
  );
  w.reset();
  writeNewLink(w, NLM_F.ACK, 8, { index: 4, up: true, mtu: 1450, mac: "02:00:00:00:00:01" });
  writeNewLink(w, NLM_F.ACK, 9, { index: 4, netnsFd: 12 });
  writeNewLink(w, NLM_F.ACK, 10, { index: 4, netnsPid: 1234, up: false });
  writeDelLink(w, NLM_F.ACK, 11, { name: "veth0" });
  writeGetLink(w, 0, 12);
  const ms = parseMessages(w.bytes());
  assert.equal(
    hex(ms[0].payload),
    hex(bytes(`
      00 00 00 00 04 00 00 00 01 00 00 00 01 00 00 00
      08 00 04 00 aa 05 00 00
      0a 00 01 00 02 00 00 00 00 01 00 00`)),
  );
  assert.equal(hex(ms[1].payload.subarray(16)), "08 00 1c 00 0c 00 00 00");
  assert.equal(hex(ms[2].payload.subarray(8, 16)), "00 00 00 00 01 00 00 00"); // down, mask UP
  assert.equal(hex(ms[2].payload.subarray(16)), "08 00 13 00 d2 04 00 00");
  assert.equal(ms[3].type, RTM.DELLINK);
  assert.equal(ms[4].flags, NLM_F.REQUEST | NLM_F.DUMP);
  const l = parseLink(ms[0]);
  assert.equal(l.index, 4);
  assert.equal(l.up, true);
  assert.equal(l.flags & IFF.UP, IFF.UP);
  assert.equal(l.mtu, 1450);
  assert.equal(l.mac, "02:00:00:00:00:01");
});

Deno.test("netlink codec: NLMSG_ERROR ack, errno with extended ack, and NLMSG_DONE", () => {
  // ACK (errno 0) for seq 5 with the request header echoed.
  const ack = bytes(`
    24 00 00 00 02 00 00 01 05 00 00 00 10 00 00 00
    00 00 00 00
    34 00 00 00 18 00 05 06 05 00 00 00 00 00 00 00`);
  const [a] = parseMessages(ack);
  assert.equal(a.type, NLMSG.ERROR);
  const ea = parseErrorMessage(a.payload, a.flags);
  assert.equal(ea.errno, 0);
  assert.equal(ea.request.seq, 5);
  assert.equal(ea.request.type, RTM.NEWROUTE);
  // EEXIST (-17), capped, with NLMSGERR_ATTR_MSG "exists".
  const err = bytes(`
    30 00 00 00 02 00 00 03 06 00 00 00 10 00 00 00
    ef ff ff ff
    34 00 00 00 18 00 05 06 06 00 00 00 00 00 00 00
    0b 00 01 00 65 78 69 73 74 73 00 00`);
  const [e] = parseMessages(err);
  const ee = parseErrorMessage(e.payload, e.flags);
  assert.equal(ee.errno, 17);
  assert.equal(ee.request.seq, 6);
  assert.equal(ee.extack, "exists");
  const done = bytes(`14 00 00 00 03 00 02 00 09 00 00 00 00 00 00 00 00 00 00 00`);
  const [d] = parseMessages(done);
  assert.equal(d.type, NLMSG.DONE);
  assert.equal(parseDoneMessage(d.payload), 0);
});

Deno.test("netlink codec: addresses and prefixes", () => {
  assert.equal(canonicalPrefix("fd00:0:0::/64"), "fd00::/64");
  assert.equal(canonicalPrefix("0.0.0.0/0"), "0.0.0.0/0");
  assert.equal(canonicalPrefix("198.51.100.7"), "198.51.100.7/32");
  assert.equal(formatAddress(parseAddress("fd00:1:0:0:1:0:0:1").bytes), "fd00:1::1:0:0:1");
  assert.equal(formatAddress(parseAddress("::ffff:192.0.2.1").bytes), "::ffff:192.0.2.1");
  assert.equal(formatAddress(parseAddress("::").bytes), "::");
  for (
    const bad of [
      "198.51.100.1/24",
      "300.1.1.1/32",
      "1.2.3/8",
      "fd00::/129",
      "1.2.3.4/33",
      "",
      "01.2.3.4",
      "fd00:::1",
      "x",
      "1.2.3.4/-1",
      "1.2.3.4/08",
    ]
  ) {
    assert.throws(() => parsePrefix(bad), (e) => e instanceof NetlinkInputError, bad);
  }
  assert.equal(parsePrefix("198.51.100.1/24", false).len, 24);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      const text = formatAddress(b);
      assert.deepEqual(tryParseAddress(text)?.bytes, b);
    }),
  );
  fc.assert(
    fc.property(fc.ipV6(), (t) => {
      const a = tryParseAddress(t);
      assert.ok(a, t);
      assert.deepEqual(tryParseAddress(formatAddress(a.bytes))?.bytes, a.bytes);
    }),
  );
});

Deno.test("netlink codec: bad input is a typed error and writes nothing", () => {
  const w = new MessageWriter();
  const cases: unknown[] = [
    { dst: "198.51.100.1/24" },
    { dst: "198.51.100.0/24", gateway: "fd00::1" },
    { dst: "198.51.100.0/24", table: -1 },
    { dst: "198.51.100.0/24", protocol: 256 },
    { dst: "198.51.100.0/24", type: "bogus" },
    { dst: "198.51.100.0/24", nexthops: [] },
    { dst: "198.51.100.0/24", nexthops: [{ weight: 1 }] },
    { dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.1", weight: 0 }] },
    { dst: "198.51.100.0/24", gateway: "192.0.2.1", nexthops: [{ gateway: "192.0.2.2" }] },
    null,
  ];
  for (const c of cases) {
    assert.throws(
      () => writeRouteRequest(w, RTM.NEWROUTE, 0, 1, c as never),
      (e) => e instanceof NetlinkInputError,
      JSON.stringify(c),
    );
  }
  assert.throws(() => writeNewLink(w, 0, 1, { name: "a-name-that-is-too-long", kind: "veth" }), {
    code: "invalid_interface_name",
  });
  assert.throws(() => writeNewLink(w, 0, 1, { index: 3, mac: "zz" }), { code: "invalid_mac" });
  assert.throws(() => writeNewLink(w, 0, 1, { index: 3, mtu: 10 }), { code: "invalid_number" });
  assert.throws(
    () => writeAddressRequest(w, RTM.NEWADDR, 0, 1, { index: 0, address: "192.0.2.1/24" }),
    {
      code: "invalid_number",
    },
  );
  assert.equal(w.length, 0);
  assert.equal(w.count, 0);
});

Deno.test("netlink codec: decoders throw only typed errors on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      try {
        for (const m of parseMessages(b)) {
          parseRoute(m);
          parseLink(m);
          parseAddressMessage(m);
          parseErrorMessage(m.payload, m.flags);
        }
      } catch (e) {
        assert.ok(e instanceof NetlinkDecodeError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
  // Valid framing with garbage payloads, so the inner decoders are reached too.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 16, max: 26 }), (p, type) => {
      const buf = new Uint8Array(16 + p.length + 3 & ~3);
      new DataView(buf.buffer).setUint32(0, 16 + p.length, true);
      new DataView(buf.buffer).setUint16(4, type, true);
      buf.set(p, 16);
      for (const m of parseMessages(buf)) {
        for (const f of [parseRoute, parseLink, parseAddressMessage]) {
          try {
            f(m);
          } catch (e) {
            assert.ok(e instanceof NetlinkDecodeError, String(e));
          }
        }
        try {
          parseErrorMessage(m.payload, m.flags);
        } catch (e) {
          assert.ok(e instanceof NetlinkDecodeError, String(e));
        }
      }
    }),
    { numRuns: 2000 },
  );
});
