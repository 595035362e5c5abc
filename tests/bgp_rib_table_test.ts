/**
 * The RIB's prefix table (open addressing on typed arrays, packed keys, shared values by id)
 * against a `Map` keyed by prefix text: random insert / replace / delete / lookup sequences over
 * IPv4 and IPv6 prefixes of every length (0..32, 0..128), through growth, with values shared
 * between prefixes; plus the packed key list and its text, and the change log of the receive
 * path against change records.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { PrefixList } from "../actors/bgp/prefix_list.ts";
import { PrefixTable } from "../actors/bgp/prefix_table.ts";
import { formatIPv6 } from "../actors/bgp/prefix.ts";
import {
  type BestChange,
  ChangeLog,
  previousBest,
  Rib,
  type Route,
  type RouteSource,
} from "../actors/bgp/rib.ts";

/** A canonical prefix text from raw bits: host bits cleared. */
function v4Text(addr: number, len: number): string {
  const a = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}`;
}
function v6Text(bytes: number[], len: number): string {
  const m = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, len - 8 * i));
    m[i] = bytes[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return `${formatIPv6(m)}/${len}`;
}

const v4 = fc.tuple(fc.nat(0xffffffff), fc.nat(32)).map(([a, l]) => v4Text(a, l));
// Bytes biased toward a few values so that keys collide on some words and differ on others.
const byte = fc.oneof(fc.constant(0), fc.constant(0xfd), fc.nat(255));
const v6 = fc.tuple(fc.array(byte, { minLength: 16, maxLength: 16 }), fc.nat(128)).map((
  [b, l],
) => v6Text(b, l));
const prefix = fc.oneof(v4, v6);

type Op =
  | { op: "set"; key: number; value: number }
  | { op: "delete"; key: number }
  | { op: "get"; key: number };

function check(pool: string[], ops: Op[], values: { v: number }[]) {
  const table = new PrefixTable<{ v: number }>();
  const model = new Map<string, { v: number }>();
  const keys = pool.map((p) => PrefixList.from([p]));
  for (const o of ops) {
    const k = keys[o.key % keys.length], text = pool[o.key % pool.length];
    if (o.op === "set") {
      const v = values[o.value % values.length];
      table.set(k, 0, v);
      model.set(text, v);
    } else if (o.op === "delete") {
      assert.equal(table.delete(k, 0), model.delete(text), `delete ${text}`);
    } else {
      assert.equal(table.get(k, 0), model.get(text), `get ${text}`);
    }
    assert.equal(table.size, model.size);
  }
  // Every key of the model is found with its value, and nothing else is held.
  for (const [text, v] of model) assert.equal(table.get(PrefixList.from([text]), 0), v, text);
  const all = new PrefixList();
  table.collect(all);
  assert.deepEqual(all.texts().sort(), [...model.keys()].sort());
  assert.equal(
    table.familySize(true),
    [...model.keys()].filter((p) => p.includes(":")).length,
  );
  // Values are released when no prefix refers to them any more.
  assert.equal(table.valueCount, new Set(model.values()).size);
  const seen: { v: number }[] = [];
  table.forEachValue((v) => seen.push(v));
  assert.equal(seen.length, model.size);
}

const opArb = (poolSize: number) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant("set" as const),
        key: fc.nat(poolSize - 1),
        value: fc.nat(7),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant("delete" as const), key: fc.nat(poolSize - 1) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant("get" as const), key: fc.nat(poolSize - 1) }),
    },
  );

Deno.test("prefix table: random operations agree with a Map (IPv4 and IPv6, all lengths)", () => {
  const values = Array.from({ length: 8 }, (_, v) => ({ v }));
  fc.assert(
    fc.property(
      fc.uniqueArray(prefix, { minLength: 1, maxLength: 60 }),
      fc.array(opArb(60), { maxLength: 400 }),
      (pool, ops) => check(pool, ops, values),
    ),
    { numRuns: 300 },
  );
});

Deno.test("prefix table: growth and deletion of dense and clustered key runs", () => {
  // Sequential /32s, /48s and nested lengths of one address: long probe runs, several growths,
  // then deleting every other entry (backward shift) and re-reading everything.
  const pool: string[] = [];
  for (let i = 0; i < 3000; i++) pool.push(v4Text(((198 << 24) >>> 0) + (18 << 16) + i, 32));
  for (let i = 0; i < 3000; i++) {
    pool.push(`fd00:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/48`);
  }
  for (let l = 0; l <= 32; l++) pool.push(v4Text(0xc6336400, l));
  for (let l = 0; l <= 128; l++) {
    pool.push(v6Text([0xfd, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8], l));
  }
  const unique = [...new Set(pool)];
  const values = [{ v: 1 }, { v: 2 }, { v: 3 }];
  const ops: Op[] = [];
  unique.forEach((_, i) => ops.push({ op: "set", key: i, value: i % 3 }));
  unique.forEach((_, i) => ops.push(i % 2 ? { op: "delete", key: i } : { op: "get", key: i }));
  unique.forEach((_, i) => ops.push({ op: "get", key: i }));
  unique.forEach((_, i) => i % 3 === 0 && ops.push({ op: "set", key: i, value: 2 }));
  unique.forEach((_, i) => ops.push({ op: "delete", key: i }));
  check(unique, ops, values);
});

Deno.test("prefix table: a key is its family, length and address (not its text alone)", () => {
  const t = new PrefixTable<{ n: string }>();
  const texts = [
    "0.0.0.0/0",
    "::/0",
    "0.0.0.0/32",
    "::/128",
    "10.0.0.0/8",
    "10.0.0.0/16",
    "a00::/8",
  ];
  const ks = texts.map((p) => PrefixList.from([p]));
  ks.forEach((k, i) => t.set(k, 0, { n: texts[i] }));
  assert.equal(t.size, texts.length);
  ks.forEach((k, i) => assert.equal(t.get(k, 0)?.n, texts[i]));
});

Deno.test("prefix list: text round trip, families, and typed errors for bad text", () => {
  fc.assert(
    fc.property(fc.array(prefix, { maxLength: 50 }), (texts) => {
      const l = PrefixList.from(texts);
      assert.equal(l.length, texts.length);
      assert.deepEqual(l.texts(), texts);
      texts.forEach((p, i) => assert.equal(l.family(i), p.includes(":") ? "ipv6" : "ipv4"));
      const copy = new PrefixList(1);
      for (let i = 0; i < l.length; i++) copy.pushFrom(l, i);
      copy.append(l);
      assert.deepEqual(copy.texts(), [...texts, ...texts]);
    }),
    { numRuns: 200 },
  );
  for (const bad of ["198.51.100.1/24", "fd00::/129", "nope", "1.2.3.4"]) {
    assert.throws(
      () => PrefixList.from([bad]),
      (e: Error & { code?: string; value?: string }) =>
        e.name === "PrefixError" && e.code === "bad_prefix" && e.value === bad,
    );
  }
});

Deno.test("change log: the receive path's columns record the same changes as change records", () => {
  const sources: RouteSource[] = [1, 2, 3].map((n) => ({
    peer: `192.0.2.${n}`,
    asn: 65000 + n,
    bgpId: `192.0.2.${n}`,
    ibgp: false,
    local: false,
  }));
  const texts = ["198.51.100.0/24", "203.0.113.0/25", "fd00:1::/48", "0.0.0.0/0"];
  const keys = PrefixList.from(texts);
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.tuple(fc.nat(2), fc.nat(3), fc.option(fc.nat(2), { nil: null })), {
        maxLength: 40,
      }),
      (multipath, ops) => {
        const a = new Rib({ multipath }), b = new Rib({ multipath });
        const records: BestChange[] = [], log = new ChangeLog();
        for (const [peer, k, pathLen] of ops) {
          const source = sources[peer];
          if (pathLen === null) {
            a.removeAt(source.peer, keys, k, records);
            b.removeAt(source.peer, keys, k, log);
            continue;
          }
          const asns = [source.asn, ...Array(pathLen).fill(64512)];
          const route: Route = {
            source,
            attrs: { origin: 0, asPath: [{ type: 2, asns }] },
            nextHop: source.peer,
            stale: false,
          };
          a.upsertAt(keys, k, route, records);
          b.upsertAt(keys, k, route, log);
        }
        const json = (cs: BestChange[]) => JSON.parse(JSON.stringify(cs));
        assert.deepEqual(json(log.toArray()), json(records));
        for (let i = 0; i < log.length; i++) {
          assert.equal(log.prefix(i), records[i].prefix);
          assert.equal(log.family(i), records[i].family);
          assert.equal(log.best(i), records[i].best);
          assert.equal(log.before(i), previousBest(records[i]));
        }
        assert.deepEqual(json([...a.entries()]), json([...b.entries()]));
      },
    ),
    { numRuns: 200 },
  );
});
