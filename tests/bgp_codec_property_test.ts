/** fast-check round-trip properties for every message, capability and attribute. */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Capability } from "../actors/bgp/capabilities.ts";
import { decodeNotification, encodeNotification } from "../actors/bgp/notification.ts";
import { decodeOpen, encodeOpen } from "../actors/bgp/open_message.ts";
import type { PathAttributes } from "../actors/bgp/path_attributes.ts";
import { canonicalPrefix, formatPrefix, parsePrefix } from "../actors/bgp/prefix.ts";
import { decodeRouteRefresh, encodeRouteRefresh } from "../actors/bgp/route_refresh.ts";
import {
  decodeUpdate,
  encodeUpdate,
  packAnnouncement,
  packWithdrawal,
} from "../actors/bgp/update_message.ts";
import { MessageFramer } from "../actors/bgp/wire_header.ts";

const RUNS = { numRuns: 300 };

/** fast-check builds null-prototype records; compare against plain copies. */
function plain<T>(x: T): T {
  return structuredClone(x);
}

function prefixArb(family: "ipv4" | "ipv6") {
  const bits = family === "ipv4" ? 32 : 128;
  return fc.tuple(
    fc.integer({ min: 0, max: bits }),
    fc.uint8Array({ minLength: bits / 8, maxLength: bits / 8 }),
  ).map(([length, bytes]) => {
    for (let b = length; b < bits; b++) bytes[b >> 3] &= ~(0x80 >> (b & 7));
    return formatPrefix({ family, length, bytes });
  });
}
const v4 = prefixArb("ipv4");
const v6 = prefixArb("ipv6");
const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => b.join("."));
const unicastAddr4 = fc.tuple(
  fc.integer({ min: 1, max: 223 }),
  fc.uint8Array({
    minLength: 3,
    maxLength: 3,
  }),
).map(([a, r]) => `${a}.${r.join(".")}`);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const asn = fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 0xffffffff }));

const segment = fc.record({
  type: fc.constantFrom(1, 2),
  asns: fc.array(asn, { minLength: 1, maxLength: 12 }),
});

const attrsArb: fc.Arbitrary<PathAttributes> = fc.record({
  origin: fc.constantFrom(0, 1, 2),
  asPath: fc.array(segment, { maxLength: 4 }).map((segs) => {
    // Adjacent AS_SEQUENCEs are merged by AS4 reconstruction; keep the canonical form.
    const out: { type: number; asns: number[] }[] = [];
    for (const s of segs) {
      const last = out[out.length - 1];
      if (last && last.type === 2 && s.type === 2) last.asns.push(...s.asns);
      else out.push({ type: s.type, asns: [...s.asns] });
    }
    return out;
  }),
  nextHop: unicastAddr4,
  med: u32,
  localPref: u32,
  atomicAggregate: fc.constant(true),
  aggregator: fc.record({ asn, address: addr4 }),
  communities: fc.array(u32, { minLength: 1, maxLength: 20 }),
  originatorId: addr4,
  clusterList: fc.array(addr4, { minLength: 1, maxLength: 4 }),
  largeCommunities: fc.uniqueArray(fc.tuple(u32, u32, u32), {
    minLength: 1,
    maxLength: 10,
    selector: (t) => t.join(":"),
  }),
  unknown: fc.uniqueArray(
    fc.record({
      flags: fc.constantFrom(0xe0),
      code: fc.constantFrom(20, 21, 22, 40, 99, 200, 255),
      value: fc.uint8Array({ maxLength: 300 }),
    }),
    { minLength: 1, maxLength: 3, selector: (u) => u.code },
  ).map((us) => us.sort((a, b) => a.code - b.code)),
}, { requiredKeys: ["origin", "asPath", "nextHop"] });

function frames(bytes: Uint8Array[], extended = false) {
  const f = new MessageFramer();
  f.setExtended(extended);
  const out: { type: number; body: Uint8Array }[] = [];
  for (const b of bytes) {
    f.push(b);
    for (let fr = f.next(); fr; fr = f.next()) out.push({ type: fr.type, body: fr.body.slice() });
  }
  return out;
}

Deno.test("property: prefixes of both families survive text -> parse -> text", () => {
  fc.assert(
    fc.property(fc.oneof(v4, v6), (p) => formatPrefix(parsePrefix(p)) === p),
    RUNS,
  );
});

Deno.test("property: UPDATE with every attribute round-trips on 4-octet sessions", () => {
  fc.assert(
    fc.property(
      attrsArb,
      fc.array(v4, { maxLength: 30 }),
      fc.array(v4, { maxLength: 30 }),
      (attributes, nlri, withdrawn) => {
        const bytes = encodeUpdate({ withdrawn, attributes, nlri }, {
          as4: true,
          maxLength: 65535,
        });
        const [fr] = frames([bytes], true);
        const ibgp = attributes.localPref !== undefined;
        const d = decodeUpdate(fr.body, { as4: true, ibgp });
        assert.deepEqual(d.issues, []);
        assert.deepEqual(d.message, plain({ type: "update", withdrawn, attributes, nlri }));
      },
    ),
    RUNS,
  );
});

Deno.test("property: 4-octet paths survive a 2-octet session through AS_TRANS + AS4_PATH", () => {
  fc.assert(
    fc.property(attrsArb, fc.array(v4, { minLength: 1, maxLength: 5 }), (attributes, nlri) => {
      // RFC 6793 4.2.3: an AGGREGATOR from a 2-octet AS marks AS4_PATH as untrustworthy.
      fc.pre(attributes.aggregator === undefined || attributes.aggregator.asn > 0xffff);
      const bytes = encodeUpdate({ withdrawn: [], attributes, nlri }, {
        as4: false,
        maxLength: 65535,
      });
      const [fr] = frames([bytes], true);
      const d = decodeUpdate(fr.body, { as4: false, ibgp: attributes.localPref !== undefined });
      assert.deepEqual(d.issues, []);
      assert.deepEqual(d.message.attributes, plain(attributes));
    }),
    RUNS,
  );
});

Deno.test("property: MP_REACH / MP_UNREACH IPv6 round-trip with one or two next hops", () => {
  fc.assert(
    fc.property(
      fc.array(v6, { minLength: 1, maxLength: 30 }),
      fc.array(v6, { maxLength: 30 }),
      fc.boolean(),
      (nlri, withdrawn, linkLocal) => {
        const m = {
          withdrawn: [],
          attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }] },
          nlri: [],
          mpReach: {
            afi: 2,
            safi: 1,
            nextHop: "fd00::1",
            ...(linkLocal ? { linkLocalNextHop: "fe80::1" } : {}),
            nlri,
          },
          ...(withdrawn.length ? { mpUnreach: { afi: 2, safi: 1, withdrawn } } : {}),
        };
        const [fr] = frames([encodeUpdate(m, { as4: true })]);
        const d = decodeUpdate(fr.body, { as4: true, ibgp: false });
        assert.equal(d.treatAsWithdraw, false);
        assert.deepEqual(d.message, plain({ type: "update", ...m }));
      },
    ),
    RUNS,
  );
});

Deno.test("property: packing splits at the size limit and loses nothing", () => {
  fc.assert(
    fc.property(
      fc.constantFrom<"ipv4" | "ipv6">("ipv4", "ipv6"),
      fc.integer({ min: 0, max: 3000 }),
      fc.constantFrom(4096, 65535),
      attrsArb,
      (family, n, maxLength, attributes) => {
        const prefixes: string[] = [];
        for (let i = 0; i < n; i++) {
          prefixes.push(
            family === "ipv4"
              ? `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`
              : canonicalPrefix(`fd00:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/48`),
          );
        }
        const msgs = packAnnouncement({ family, attributes, mpNextHop: "fd00::1", prefixes }, {
          as4: true,
          maxLength,
        });
        const got: string[] = [];
        let total = 0;
        for (const fr of frames(msgs, maxLength > 4096)) {
          const d = decodeUpdate(fr.body, { as4: true, ibgp: attributes.localPref !== undefined });
          assert.equal(d.treatAsWithdraw, false);
          got.push(...d.message.nlri, ...(d.message.mpReach?.nlri ?? []));
        }
        for (const m of msgs) {
          assert.ok(m.length <= maxLength);
          total += m.length;
        }
        assert.deepEqual(got, prefixes);
        // Packed: every message but the last is at least nearly full.
        for (const m of msgs.slice(0, -1)) assert.ok(m.length > maxLength - 20);
        assert.ok(msgs.length <= Math.ceil(total / (maxLength - 400)) + 1);
        const w = packWithdrawal(family, prefixes, { maxLength });
        const gone: string[] = [];
        for (const fr of frames(w, maxLength > 4096)) {
          const d = decodeUpdate(fr.body, { as4: true, ibgp: true });
          gone.push(...d.message.withdrawn, ...(d.message.mpUnreach?.withdrawn ?? []));
        }
        assert.deepEqual(gone, prefixes);
      },
    ),
    { numRuns: 40 },
  );
});

const capArb: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({
    kind: fc.constant("multiprotocol" as const),
    afi: fc.integer({ min: 0, max: 65535 }),
    safi: fc.integer({ min: 0, max: 255 }),
  }),
  fc.constant({ kind: "route-refresh" as const }),
  fc.constant({ kind: "extended-message" as const }),
  fc.record({
    kind: fc.constant("graceful-restart" as const),
    restarting: fc.boolean(),
    notification: fc.boolean(),
    restartTime: fc.integer({ min: 0, max: 4095 }),
    families: fc.array(
      fc.record({
        afi: fc.integer({ min: 0, max: 65535 }),
        safi: fc.integer({ min: 0, max: 255 }),
        forwarding: fc.boolean(),
      }),
      { maxLength: 4 },
    ),
  }),
  fc.record({
    kind: fc.constant("four-octet-as" as const),
    asn: fc.integer({ min: 1, max: 0xffffffff }),
  }),
  fc.record({
    kind: fc.constant("unknown" as const),
    code: fc.constantFrom(0, 3, 5, 70, 71, 73, 128, 255),
    value: fc.uint8Array({ maxLength: 40 }),
  }),
);

Deno.test("property: OPEN with any capabilities round-trips (including RFC 9072 long form)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 65535 }),
      fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 65535 })),
      unicastAddr4,
      fc.array(capArb, { maxLength: 20 }),
      (myAsn, holdTime, bgpId, capabilities) => {
        const open = { myAsn, holdTime, bgpId, capabilities };
        const [fr] = frames([encodeOpen(open)]);
        assert.equal(fr.type, 1);
        assert.deepEqual(decodeOpen(fr.body), plain({ type: "open", version: 4, ...open }));
      },
    ),
    RUNS,
  );
});

Deno.test("property: NOTIFICATION and ROUTE-REFRESH round-trip", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 100 }),
      (code, subcode, data) => {
        const [fr] = frames([encodeNotification({ code, subcode, data })]);
        assert.deepEqual(decodeNotification(fr.body), {
          type: "notification",
          code,
          subcode,
          data,
        });
      },
    ),
    RUNS,
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 65535 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 2 }),
      (afi, safi, subtype) => {
        const [fr] = frames([encodeRouteRefresh({ afi, safi, subtype })]);
        assert.deepEqual(decodeRouteRefresh(fr.body), {
          type: "route-refresh",
          afi,
          safi,
          subtype,
        });
      },
    ),
    RUNS,
  );
});
