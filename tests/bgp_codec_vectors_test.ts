/** Hand-built byte vectors for every message, capability and attribute, and every error path. */
import assert from "node:assert/strict";
import { decodeCapability, encodeCapability } from "../actors/bgp/capabilities.ts";
import { BgpWireError } from "../actors/bgp/errors.ts";
import { decodeFrame } from "../actors/bgp/messages.ts";
import {
  cease,
  decodeNotification,
  encodeKeepalive,
  encodeNotification,
  notificationName,
  shutdownCommunication,
} from "../actors/bgp/notification.ts";
import {
  checkOpenAgainstConfig,
  decodeOpen,
  encodeOpen,
  negotiate,
} from "../actors/bgp/open_message.ts";
import { decodeRouteRefresh, encodeRouteRefresh } from "../actors/bgp/route_refresh.ts";
import {
  decodeUpdate,
  encodeEndOfRib,
  encodeUpdate,
  endOfRibFamily,
} from "../actors/bgp/update_message.ts";
import { MessageFramer } from "../actors/bgp/wire_header.ts";
import type { AttributeDecodeOptions } from "../actors/bgp/path_attributes.ts";
import { attr, basicAttrs, cat, hex, msg, updateBody } from "./bgp_helpers.ts";

function wireError(fn: () => unknown): BgpWireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BgpWireError) return e;
    throw e;
  }
  assert.fail("expected a BgpWireError");
}

function frameOf(bytes: Uint8Array, extended = false) {
  const f = new MessageFramer();
  f.setExtended(extended);
  f.push(bytes);
  return f.next();
}

const EBGP = { as4: true, ibgp: false };
const IBGP = { as4: true, ibgp: true };

Deno.test("header: a KEEPALIVE is framed, split across pushes", () => {
  const k = encodeKeepalive();
  assert.deepEqual(k, hex("ffffffffffffffffffffffffffffffff 0013 04"));
  const f = new MessageFramer();
  f.push(k.subarray(0, 7));
  assert.equal(f.next(), null);
  f.push(k.subarray(7));
  const fr = f.next();
  assert.equal(fr?.type, 4);
  assert.equal(fr?.body.length, 0);
  assert.equal(f.next(), null);
});

Deno.test("header: bad marker is Connection Not Synchronized (1/1)", () => {
  const k = encodeKeepalive();
  k[3] = 0;
  const e = wireError(() => frameOf(k));
  assert.equal(e.code, "bad_marker");
  assert.deepEqual([e.notification.code, e.notification.subcode], [1, 1]);
});

Deno.test("header: bad lengths are 1/2 with the length as data", () => {
  for (
    const [len, type] of [[18, 4], [20, 4], [28, 1], [22, 2], [20, 3], [4097, 2], [22, 5]]
  ) {
    const b = new Uint8Array(Math.max(len, 19) + 10);
    b.fill(0xff, 0, 16);
    b[16] = len >> 8;
    b[17] = len & 0xff;
    b[18] = type;
    const e = wireError(() => frameOf(b));
    assert.equal(e.code, "bad_length", `len ${len} type ${type}`);
    assert.deepEqual([e.notification.code, e.notification.subcode], [1, 2]);
    assert.deepEqual(e.notification.data, new Uint8Array([len >> 8, len & 0xff]));
  }
});

Deno.test("header: bad type is 1/3 with the type as data", () => {
  const e = wireError(() => frameOf(msg(9, new Uint8Array(4))));
  assert.equal(e.code, "bad_type");
  assert.deepEqual([e.notification.code, e.notification.subcode], [1, 3]);
  assert.deepEqual(e.notification.data, new Uint8Array([9]));
});

Deno.test("header: extended messages allow big UPDATEs but never big OPENs", () => {
  const big = msg(2, updateBody(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)));
  const body = new Uint8Array(5000);
  body[1] = 0;
  const u = msg(2, cat(updateBody(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)), body));
  assert.equal(frameOf(big)?.type, 2);
  assert.equal(wireError(() => frameOf(u)).code, "bad_length");
  assert.equal(frameOf(u, true)?.body.length, 5004);
  const o = msg(1, new Uint8Array(5000));
  assert.equal(wireError(() => frameOf(o, true)).code, "bad_length");
});

// --- OPEN and capabilities -------------------------------------------------------------

const OPEN_VECTOR = hex(
  "04 fde9 005a c0000201" + // version 4, AS 65001, hold 90, id 192.0.2.1
    "2a" + // optional parameters length 42
    "02 06 01 04 0001 00 01" + // MP IPv4 unicast
    "02 06 01 04 0002 00 01" + // MP IPv6 unicast
    "02 02 02 00" + // route refresh
    "02 02 06 00" + // extended message
    "02 08 40 06 c078 0001 01 80" + // GR: R+N bits, 120 s, IPv4 unicast F
    "02 06 41 04 0000fde9", // 4-octet AS 65001
);

Deno.test("OPEN: a vector with every capability decodes and re-encodes byte for byte", () => {
  const o = decodeOpen(OPEN_VECTOR);
  assert.equal(o.myAsn, 65001);
  assert.equal(o.holdTime, 90);
  assert.equal(o.bgpId, "192.0.2.1");
  assert.deepEqual(o.capabilities, [
    { kind: "multiprotocol", afi: 1, safi: 1 },
    { kind: "multiprotocol", afi: 2, safi: 1 },
    { kind: "route-refresh" },
    { kind: "extended-message" },
    {
      kind: "graceful-restart",
      restarting: true,
      notification: true,
      restartTime: 120,
      families: [{ afi: 1, safi: 1, forwarding: true }],
    },
    { kind: "four-octet-as", asn: 65001 },
  ]);
  assert.deepEqual(encodeOpen(o), msg(1, OPEN_VECTOR));
});

Deno.test("OPEN: several capabilities in one parameter and unknown capabilities", () => {
  const o = decodeOpen(hex("04 fde9 00b4 c0000202 0e 02 0c 02 00 4902 6869 41 04 00010000"));
  assert.deepEqual(o.capabilities, [
    { kind: "route-refresh" },
    { kind: "unknown", code: 73, value: hex("6869") },
    { kind: "four-octet-as", asn: 65536 },
  ]);
});

Deno.test("OPEN: RFC 9072 extended optional parameters are decoded", () => {
  const o = decodeOpen(hex("04 5ba0 0003 c0000203 ff ff 0009 02 0006 41 04 00010001"));
  assert.equal(o.myAsn, 23456);
  assert.equal(o.holdTime, 3);
  assert.deepEqual(o.capabilities, [{ kind: "four-octet-as", asn: 65537 }]);
});

Deno.test("OPEN: every OPEN Message Error path", () => {
  const cases: [string, number, string, Uint8Array?][] = [
    ["03 fde9 005a c0000201 00", 1, "bad_version", hex("0004")],
    ["04 fde9 0001 c0000201 00", 6, "unacceptable_hold_time"],
    ["04 fde9 0002 c0000201 00", 6, "unacceptable_hold_time"],
    ["04 fde9 005a 00000000 00", 3, "bad_bgp_identifier"],
    ["04 fde9 005a c0000201 04 01 02 0000", 4, "unsupported_optional_parameter"],
    ["04 0000 005a c0000201 00", 2, "bad_peer_as"],
    ["04 fde9 005a c0000201 05 02 03 01 01 00", 7, "unsupported_capability"],
    ["04 fde9 005a c0000201 05 02 03 02 01 00", 7, "unsupported_capability"],
    ["04 fde9 005a c0000201 05 02 03 41 01 00", 7, "unsupported_capability"],
    ["04 fde9 005a c0000201 05 02 03 40 01 00", 7, "unsupported_capability"],
    ["04 fde9 005a c0000201 05 02 03 06 01 00", 7, "unsupported_capability"],
    ["04 fde9 005a c0000201 05 02 05 41 03 00", 0, "malformed_open"],
    ["04 fde9 005a c0000201 09", 0, "malformed_open"],
  ];
  for (const [h, sub, code, data] of cases) {
    const e = wireError(() => decodeOpen(hex(h)));
    assert.equal(e.code, code, h);
    assert.deepEqual([e.notification.code, e.notification.subcode], [2, sub], h);
    if (data) assert.deepEqual(e.notification.data, data);
  }
  // Bad Peer AS and Bad BGP Identifier against configuration.
  const o = decodeOpen(OPEN_VECTOR);
  const bad = wireError(() =>
    checkOpenAgainstConfig(o, { peerAsn: 65002, localAsn: 65000, localBgpId: "192.0.2.9" })
  );
  assert.deepEqual([bad.notification.code, bad.notification.subcode], [2, 2]);
  assert.deepEqual(bad.notification.data, hex("fde9"));
  const ibgp = wireError(() =>
    checkOpenAgainstConfig(o, { peerAsn: 65001, localAsn: 65001, localBgpId: "192.0.2.1" })
  );
  assert.deepEqual([ibgp.notification.code, ibgp.notification.subcode], [2, 3]);
  checkOpenAgainstConfig(o, { peerAsn: 65001, localAsn: 65000, localBgpId: "192.0.2.1" });
});

Deno.test("OPEN: negotiation of hold time, keepalive, AS4, families and GR", () => {
  const remote = decodeOpen(OPEN_VECTOR);
  const local = {
    myAsn: 23456,
    holdTime: 9,
    bgpId: "192.0.2.2",
    capabilities: [
      { kind: "multiprotocol", afi: 2, safi: 1 } as const,
      { kind: "four-octet-as", asn: 4200000000 } as const,
    ],
  };
  const n = negotiate(local, remote, 30);
  assert.equal(n.holdTime, 9);
  assert.equal(n.keepaliveTime, 3);
  assert.equal(n.as4, true);
  assert.equal(n.extendedMessage, false);
  assert.equal(n.routeRefresh, true);
  assert.deepEqual(n.families, [{ afi: 2, safi: 1 }]);
  assert.equal(n.peerGracefulRestart?.restartTime, 120);
  assert.equal(n.peerAsn, 65001);
  const zero = negotiate({ ...local, holdTime: 0 }, remote);
  assert.deepEqual([zero.holdTime, zero.keepaliveTime], [0, 0]);
  const plain = decodeOpen(hex("04 fde9 00b4 c0000202 00"));
  const p = negotiate(local, plain);
  assert.equal(p.as4, false);
  assert.deepEqual(p.families, []); // we only offer IPv6, it implies IPv4 only
});

Deno.test("capabilities: each one encodes to its byte vector", () => {
  const vectors: [Parameters<typeof encodeCapability>[0], string][] = [
    [{ kind: "multiprotocol", afi: 2, safi: 1 }, "01 00020001"],
    [{ kind: "route-refresh" }, "02"],
    [{ kind: "extended-message" }, "06"],
    [{
      kind: "graceful-restart",
      restarting: false,
      notification: false,
      restartTime: 90,
      families: [{ afi: 2, safi: 1, forwarding: false }],
    }, "40 005a 0002 01 00"],
    [{ kind: "four-octet-as", asn: 4200000001 }, "41 fa56ea01"],
    [{ kind: "unknown", code: 200, value: hex("abcd") }, "c8 abcd"],
  ];
  for (const [cap, h] of vectors) {
    const [code, value] = encodeCapability(cap);
    assert.deepEqual(cat([code], value), hex(h));
    assert.deepEqual(decodeCapability(code, value), cap);
  }
});

// --- UPDATE ------------------------------------------------------------------------------

Deno.test("UPDATE: IPv4 route with every attribute, from a vector", () => {
  const attrs = cat(
    attr(0x40, 1, [1]), // ORIGIN EGP
    attr(0x40, 2, hex("02 02 0000fde9 0000fdea 01 02 00000001 00000002")),
    attr(0x40, 3, [192, 0, 2, 1]),
    attr(0x80, 4, hex("00000064")),
    attr(0x40, 5, hex("000000c8")),
    attr(0x40, 6, []),
    attr(0xc0, 7, hex("0000fde9 c0000201")),
    attr(0xc0, 8, hex("fde90001 ffffff01")),
    attr(0x80, 9, hex("c0000209")),
    attr(0x80, 10, hex("c000020a c000020b")),
    attr(0xc0, 32, hex("0000fde9 00000001 00000002")),
    attr(0xc0, 99, hex("0102")), // unknown optional transitive
    attr(0x80, 98, hex("03")), // unknown optional non-transitive: dropped
  );
  const body = updateBody(hex("18 c63364"), attrs, hex("18 cb0071 20 c0000201 00"));
  const d = decodeUpdate(body, IBGP);
  assert.equal(d.treatAsWithdraw, false);
  assert.deepEqual(d.issues, []);
  assert.deepEqual(d.message.withdrawn, ["198.51.100.0/24"]);
  assert.deepEqual(d.message.nlri, ["203.0.113.0/24", "192.0.2.1/32", "0.0.0.0/0"]);
  assert.deepEqual(d.message.attributes, {
    origin: 1,
    asPath: [{ type: 2, asns: [65001, 65002] }, { type: 1, asns: [1, 2] }],
    nextHop: "192.0.2.1",
    med: 100,
    localPref: 200,
    atomicAggregate: true,
    aggregator: { asn: 65001, address: "192.0.2.1" },
    communities: [0xfde90001, 0xffffff01],
    originatorId: "192.0.2.9",
    clusterList: ["192.0.2.10", "192.0.2.11"],
    largeCommunities: [[65001, 1, 2]],
    unknown: [{ flags: 0xe0, code: 99, value: hex("0102") }],
  });
  // Re-encoding gives the same bytes except the partial bit and the dropped attribute.
  const again = encodeUpdate(d.message, { as4: true });
  const expected = updateBody(
    hex("18 c63364"),
    cat(attrs.subarray(0, attrs.length - 9), attr(0xe0, 99, hex("0102"))),
    hex("18 cb0071 20 c0000201 00"),
  );
  assert.deepEqual(again, msg(2, expected));
});

Deno.test("UPDATE: host bits of NLRI are cleared", () => {
  const d = decodeUpdate(updateBody(new Uint8Array(0), basicAttrs(), hex("17 cb0071")), EBGP);
  assert.deepEqual(d.message.nlri, ["203.0.112.0/23"]);
});

Deno.test("UPDATE: IPv6 MP_REACH with global and link-local next hops, MP_UNREACH", () => {
  const mp = attr(
    0x90,
    14,
    hex(
      "0002 01 20 fd000000000000000000000000000001 fe800000000000000000000000000001 00" +
        "40 fd00000100000000 30 fd0000020000 80 fd000000000000000000000000000002",
    ),
    true,
  );
  const un = attr(0x80, 15, hex("0002 01 40 fd00000300000000"));
  const d = decodeUpdate(
    updateBody(new Uint8Array(0), cat(un, mp, basicAttrs()), new Uint8Array(0)),
    EBGP,
  );
  assert.equal(d.treatAsWithdraw, false);
  assert.deepEqual(d.message.mpReach, {
    afi: 2,
    safi: 1,
    nextHop: "fd00::1",
    linkLocalNextHop: "fe80::1",
    nlri: ["fd00:1::/64", "fd00:2::/48", "fd00::2/128"],
  });
  assert.deepEqual(d.message.mpUnreach, { afi: 2, safi: 1, withdrawn: ["fd00:3::/64"] });
  const re = decodeUpdate(encodeUpdate(d.message, { as4: true }).subarray(19), EBGP);
  assert.deepEqual(re.message, d.message);
});

Deno.test("UPDATE: IPv4 over MP_REACH with a 4-octet next hop", () => {
  const mp = attr(0x80, 14, hex("0001 01 04 c0000201 00 18 c63364"));
  const d = decodeUpdate(
    updateBody(new Uint8Array(0), cat(mp, basicAttrs()), new Uint8Array(0)),
    EBGP,
  );
  assert.deepEqual(d.message.mpReach, {
    afi: 1,
    safi: 1,
    nextHop: "192.0.2.1",
    nlri: ["198.51.100.0/24"],
  });
});

Deno.test("UPDATE: End-of-RIB for IPv4 and IPv6", () => {
  assert.deepEqual(encodeEndOfRib("ipv4"), msg(2, hex("0000 0000")));
  assert.deepEqual(encodeEndOfRib("ipv6"), msg(2, hex("0000 0006 800f 03 0002 01")));
  for (const f of ["ipv4", "ipv6"] as const) {
    const d = decodeUpdate(encodeEndOfRib(f).subarray(19), EBGP);
    assert.equal(endOfRibFamily(d.message), f);
  }
  const notEor = decodeUpdate(updateBody(new Uint8Array(0), basicAttrs(), hex("18 c63364")), EBGP);
  assert.equal(endOfRibFamily(notEor.message), null);
});

Deno.test("UPDATE: 2-octet session merges AS4_PATH and AS4_AGGREGATOR (RFC 6793)", () => {
  const attrs = cat(
    attr(0x40, 1, [0]),
    attr(0x40, 2, hex("02 03 fde9 5ba0 5ba0")),
    attr(0x40, 3, [192, 0, 2, 1]),
    attr(0xc0, 7, hex("5ba0 c0000201")),
    attr(0xc0, 17, hex("02 02 fa56ea01 00010000")),
    attr(0xc0, 18, hex("fa56ea01 c0000201")),
  );
  const d = decodeUpdate(updateBody(new Uint8Array(0), attrs, hex("18 c63364")), {
    as4: false,
    ibgp: false,
  });
  assert.deepEqual(d.message.attributes.asPath, [{ type: 2, asns: [65001, 4200000001, 65536] }]);
  assert.deepEqual(d.message.attributes.aggregator, { asn: 4200000001, address: "192.0.2.1" });
  // And back: toward a 2-octet peer the encoder writes AS_TRANS plus AS4 attributes.
  const enc = encodeUpdate(d.message, { as4: false });
  const re = decodeUpdate(enc.subarray(19), { as4: false, ibgp: false });
  assert.deepEqual(re.message.attributes, d.message.attributes);
  const hexed = Array.from(enc).map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.ok(hexed.includes("c0110e02030000fde9fa56ea0100010000")); // AS4_PATH present
  assert.ok(hexed.includes("40020802030fde95ba05ba0".replace("030fde9", "03fde9"))); // AS_TRANS
  // AGGREGATOR from an OLD speaker (not AS_TRANS): AS4_PATH is ignored.
  const old = cat(
    attr(0x40, 1, [0]),
    attr(0x40, 2, hex("02 02 fde9 5ba0")),
    attr(0x40, 3, [192, 0, 2, 1]),
    attr(0xc0, 7, hex("fde9 c0000201")),
    attr(0xc0, 17, hex("02 01 fa56ea01")),
  );
  const o = decodeUpdate(updateBody(new Uint8Array(0), old, hex("18 c63364")), {
    as4: false,
    ibgp: false,
  });
  assert.deepEqual(o.message.attributes.asPath, [{ type: 2, asns: [65001, 23456] }]);
});

function twa(body: Uint8Array, opts: AttributeDecodeOptions = EBGP) {
  const d = decodeUpdate(body, opts);
  return d;
}

Deno.test("UPDATE: RFC 7606 treat-as-withdraw cases", () => {
  const nlri = hex("18 c63364");
  const cases: [string, Uint8Array, number][] = [
    ["ORIGIN value 3", cat(attr(0x40, 1, [3]), basicAttrs().subarray(4)), 6],
    ["ORIGIN length 2", cat(attr(0x40, 1, [0, 0]), basicAttrs().subarray(4)), 5],
    ["ORIGIN flags optional", cat(attr(0xc0, 1, [0]), basicAttrs().subarray(4)), 4],
    [
      "AS_PATH overrun",
      cat(attr(0x40, 1, [0]), attr(0x40, 2, hex("02 03 0000fde9")), attr(0x40, 3, [192, 0, 2, 1])),
      11,
    ],
    [
      "AS_PATH segment type 7",
      cat(attr(0x40, 1, [0]), attr(0x40, 2, hex("07 01 0000fde9")), attr(0x40, 3, [192, 0, 2, 1])),
      11,
    ],
    [
      "AS_PATH empty segment",
      cat(attr(0x40, 1, [0]), attr(0x40, 2, hex("02 00")), attr(0x40, 3, [192, 0, 2, 1])),
      11,
    ],
    [
      "AS_PATH not starting with the peer",
      cat(attr(0x40, 1, [0]), attr(0x40, 2, hex("02 01 0000fdea")), attr(0x40, 3, [192, 0, 2, 1])),
      11,
    ],
    ["missing ORIGIN", basicAttrs().subarray(4), 3],
    ["missing AS_PATH", cat(attr(0x40, 1, [0]), attr(0x40, 3, [192, 0, 2, 1])), 3],
    ["missing NEXT_HOP", basicAttrs().subarray(0, basicAttrs().length - 7), 3],
    ["NEXT_HOP length 5", cat(basicAttrs().subarray(0, 13), attr(0x40, 3, [192, 0, 2, 1, 0])), 5],
    ["NEXT_HOP 0.0.0.0", cat(basicAttrs().subarray(0, 13), attr(0x40, 3, [0, 0, 0, 0])), 8],
    ["NEXT_HOP multicast", cat(basicAttrs().subarray(0, 13), attr(0x40, 3, [224, 0, 0, 1])), 8],
    ["MED length 3", cat(basicAttrs(), attr(0x80, 4, [0, 0, 1])), 5],
    ["MED flags", cat(basicAttrs(), attr(0x40, 4, [0, 0, 0, 1])), 4],
    ["COMMUNITIES length 5", cat(basicAttrs(), attr(0xc0, 8, [0, 0, 0, 1, 2])), 9],
    ["LARGE_COMMUNITIES length 13", cat(basicAttrs(), attr(0xc0, 32, new Uint8Array(13))), 9],
    ["ORIGINATOR_ID length 3", cat(basicAttrs(), attr(0x80, 9, [1, 2, 3])), 5],
    ["CLUSTER_LIST length 6", cat(basicAttrs(), attr(0x80, 10, new Uint8Array(6))), 5],
    ["attribute overruns the list", cat(basicAttrs(), hex("c0 08 09 00000001")), 5],
    ["two stray octets", cat(basicAttrs(), hex("c0 08")), 1],
  ];
  for (const [name, attrs, sub] of cases) {
    const d = twa(updateBody(new Uint8Array(0), attrs, nlri), { ...EBGP, peerAsn: 65001 });
    assert.equal(d.treatAsWithdraw, true, name);
    const issue = d.issues.find((i) => i.action === "treat-as-withdraw");
    assert.equal(issue?.subcode, sub, name);
    assert.deepEqual(d.message.nlri, ["198.51.100.0/24"], name);
  }
  const lp = twa(updateBody(new Uint8Array(0), basicAttrs(), nlri), IBGP);
  assert.equal(lp.treatAsWithdraw, true, "missing LOCAL_PREF on iBGP");
  const lpBad = twa(
    updateBody(new Uint8Array(0), cat(basicAttrs(), attr(0x40, 5, [0, 1])), nlri),
    IBGP,
  );
  assert.equal(lpBad.issues[0].subcode, 5);
  // An UPDATE carrying NLRI and no attributes at all.
  const none = twa(updateBody(new Uint8Array(0), new Uint8Array(0), nlri));
  assert.equal(none.treatAsWithdraw, true);
});

Deno.test("UPDATE: RFC 7606 attribute discard cases keep the route", () => {
  const nlri = hex("18 c63364");
  const cases: [string, Uint8Array, number][] = [
    ["ATOMIC_AGGREGATE length 1", attr(0x40, 6, [1]), 6],
    ["AGGREGATOR length 7", attr(0xc0, 7, new Uint8Array(7)), 7],
    ["AGGREGATOR flags", attr(0x40, 7, new Uint8Array(8)), 7],
    ["LOCAL_PREF from eBGP", attr(0x40, 5, [0, 0, 0, 1]), 5],
    ["duplicate ORIGIN", attr(0x40, 1, [2]), 1],
    ["AS4_PATH on a 4-octet session", attr(0xc0, 17, hex("02 01 00000001")), 17],
    ["AS4_AGGREGATOR on a 4-octet session", attr(0xc0, 18, new Uint8Array(8)), 18],
  ];
  for (const [name, extra, attrType] of cases) {
    const d = decodeUpdate(updateBody(new Uint8Array(0), cat(basicAttrs(), extra), nlri), EBGP);
    assert.equal(d.treatAsWithdraw, false, name);
    assert.equal(d.issues.length, 1, name);
    assert.equal(d.issues[0].action, "discard", name);
    assert.equal(d.issues[0].attrType, attrType, name);
    assert.equal(d.message.attributes.origin, 0, name);
  }
  const bad4 = decodeUpdate(
    updateBody(new Uint8Array(0), cat(basicAttrs(2), attr(0xc0, 17, hex("02 05 00000001"))), nlri),
    { as4: false, ibgp: false },
  );
  assert.equal(bad4.treatAsWithdraw, false);
  assert.equal(bad4.issues[0].action, "discard");
});

Deno.test("UPDATE: every session-reset path carries the exact NOTIFICATION", () => {
  const nlri = hex("18 c63364");
  const mp = attr(
    0x80,
    14,
    hex("0002 01 10 fd000000000000000000000000000001 00 40 fd00000100000000"),
  );
  const cases: [string, Uint8Array, number, string][] = [
    ["withdrawn length too big", hex("00 09 18 c63364"), 1, "malformed_attribute_list"],
    [
      "attribute length too big",
      updateBody(new Uint8Array(0), basicAttrs(), nlri).map((b, i) => i === 3 ? 0x7f : b),
      1,
      "malformed_attribute_list",
    ],
    [
      "NLRI /33",
      updateBody(new Uint8Array(0), basicAttrs(), hex("21 c0000201 00")),
      10,
      "invalid_network_field",
    ],
    [
      "NLRI overrun",
      updateBody(new Uint8Array(0), basicAttrs(), hex("18 c633")),
      10,
      "invalid_network_field",
    ],
    [
      "withdrawn /40",
      updateBody(hex("28 c6336400 00"), new Uint8Array(0), new Uint8Array(0)),
      10,
      "invalid_network_field",
    ],
    [
      "unrecognized well-known attribute",
      updateBody(new Uint8Array(0), cat(basicAttrs(), attr(0x40, 77, [1])), nlri),
      2,
      "unrecognized_well_known_attribute",
    ],
    [
      "duplicate MP_REACH",
      updateBody(new Uint8Array(0), cat(mp, mp, basicAttrs()), new Uint8Array(0)),
      1,
      "malformed_attribute_list",
    ],
    [
      "truncated MP_REACH",
      updateBody(
        new Uint8Array(0),
        cat(attr(0x80, 14, hex("0002 01 10 fd00")), basicAttrs()),
        new Uint8Array(0),
      ),
      9,
      "malformed_mp_reach",
    ],
    [
      "MP_REACH prefix overrun",
      updateBody(
        new Uint8Array(0),
        cat(attr(0x80, 14, hex("0001 01 04 c0000201 00 18 c6")), basicAttrs()),
        new Uint8Array(0),
      ),
      9,
      "malformed_mp_reach",
    ],
    [
      "MP_REACH next hop length 5",
      updateBody(
        new Uint8Array(0),
        cat(attr(0x80, 14, hex("0001 01 05 c000020101 00")), basicAttrs()),
        new Uint8Array(0),
      ),
      9,
      "malformed_mp_reach",
    ],
    [
      "MP_REACH overruns the attribute list",
      updateBody(new Uint8Array(0), cat(basicAttrs(), hex("80 0e 20 0002 01")), new Uint8Array(0)),
      1,
      "malformed_attribute_list",
    ],
    [
      "MP_REACH flags error",
      updateBody(
        new Uint8Array(0),
        cat(attr(0xc0, 14, hex("0001 01 04 c0000201 00")), basicAttrs()),
        new Uint8Array(0),
      ),
      4,
      "malformed_attribute_list",
    ],
    [
      "truncated MP_UNREACH",
      updateBody(new Uint8Array(0), attr(0x80, 15, hex("0002")), new Uint8Array(0)),
      9,
      "malformed_mp_unreach",
    ],
    [
      "MP_UNREACH prefix /129",
      updateBody(new Uint8Array(0), attr(0x80, 15, hex("0002 01 81 00")), new Uint8Array(0)),
      9,
      "malformed_mp_unreach",
    ],
  ];
  for (const [name, body, sub, code] of cases) {
    const e = wireError(() => decodeUpdate(body, EBGP));
    assert.equal(e.code, code, name);
    assert.deepEqual([e.notification.code, e.notification.subcode], [3, sub], name);
  }
});

Deno.test("UPDATE: unsupported MP families are ignored, not fatal", () => {
  const mp = attr(0x80, 14, hex("0001 85 04 c0000201 00 0102"));
  const d = decodeUpdate(
    updateBody(new Uint8Array(0), cat(mp, basicAttrs()), new Uint8Array(0)),
    EBGP,
  );
  assert.equal(d.message.mpReach, undefined);
  assert.equal(d.issues[0].action, "discard");
});

// --- NOTIFICATION, ROUTE-REFRESH ---------------------------------------------------------

Deno.test("NOTIFICATION: vector, names of every code and subcode, shutdown communication", () => {
  const n = { code: 6, subcode: 2, data: hex("05 68656c6c6f") };
  const bytes = encodeNotification(n);
  assert.deepEqual(bytes, msg(3, hex("06 02 05 68656c6c6f")));
  const d = decodeNotification(bytes.subarray(19));
  assert.deepEqual(d, { type: "notification", ...n });
  assert.equal(shutdownCommunication(d), "hello");
  assert.deepEqual(cease(2, "hello"), n);
  assert.equal(shutdownCommunication(cease(1)), null);
  const expected: [number, number, string][] = [
    [1, 1, "Connection Not Synchronized"],
    [1, 2, "Bad Message Length"],
    [1, 3, "Bad Message Type"],
    [2, 1, "Unsupported Version Number"],
    [2, 2, "Bad Peer AS"],
    [2, 3, "Bad BGP Identifier"],
    [2, 4, "Unsupported Optional Parameter"],
    [2, 6, "Unacceptable Hold Time"],
    [2, 7, "Unsupported Capability"],
    [2, 11, "Role Mismatch"],
    [3, 1, "Malformed Attribute List"],
    [3, 2, "Unrecognized Well-known Attribute"],
    [3, 3, "Missing Well-known Attribute"],
    [3, 4, "Attribute Flags Error"],
    [3, 5, "Attribute Length Error"],
    [3, 6, "Invalid ORIGIN Attribute"],
    [3, 8, "Invalid NEXT_HOP Attribute"],
    [3, 9, "Optional Attribute Error"],
    [3, 10, "Invalid Network Field"],
    [3, 11, "Malformed AS_PATH"],
    [4, 0, "Hold Timer Expired"],
    [5, 1, "Receive Unexpected Message in OpenSent State"],
    [5, 2, "Receive Unexpected Message in OpenConfirm State"],
    [5, 3, "Receive Unexpected Message in Established State"],
    [6, 1, "Maximum Number of Prefixes Reached"],
    [6, 2, "Administrative Shutdown"],
    [6, 3, "Peer De-configured"],
    [6, 4, "Administrative Reset"],
    [6, 5, "Connection Rejected"],
    [6, 6, "Other Configuration Change"],
    [6, 7, "Connection Collision Resolution"],
    [6, 8, "Out of Resources"],
    [6, 9, "Hard Reset"],
    [6, 10, "BFD Down"],
    [7, 1, "Invalid Message Length"],
  ];
  for (const [c, s, name] of expected) {
    assert.ok(notificationName(c, s).endsWith(name), `${c}/${s}`);
  }
  assert.match(notificationName(42, 1), /Unknown error code 42/);
  const short = decodeFrame({ type: 3, body: hex("06") }, EBGP);
  assert.equal(short.ok, false);
});

Deno.test("ROUTE-REFRESH: vector and the Invalid Message Length error (7/1)", () => {
  const rr = encodeRouteRefresh({ afi: 2, safi: 1, subtype: 0 });
  assert.deepEqual(rr, msg(5, hex("0002 00 01")));
  assert.deepEqual(decodeRouteRefresh(rr.subarray(19)), {
    type: "route-refresh",
    afi: 2,
    safi: 1,
    subtype: 0,
  });
  const e = wireError(() => decodeRouteRefresh(hex("0002 00 01 00")));
  assert.deepEqual([e.notification.code, e.notification.subcode], [7, 1]);
  assert.deepEqual(e.notification.data, msg(5, hex("0002 00 01 00")));
});

Deno.test("decodeFrame never throws and reports typed errors", () => {
  const r = decodeFrame({ type: 1, body: hex("03") }, EBGP);
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok(r.error instanceof BgpWireError);
  const k = decodeFrame({ type: 4, body: new Uint8Array(0) }, EBGP);
  assert.deepEqual(k, { ok: true, message: { type: "keepalive" } });
});
