import assert from "node:assert/strict";
import fc from "fast-check";
import { BlockAllocator, blockName } from "../actors/ipam/block_allocator.ts";
import { Cidr } from "../actors/ipam/cidr.ts";
import { Pool } from "../actors/ipam/pool.ts";
import { IpAddress } from "../actors/ipam/address.ts";
import {
  BlockConflictError,
  FamilyUnavailableError,
  PoolExhaustedError,
  PoolTypeMismatchError,
  UnknownBlockError,
} from "../actors/ipam/errors.ts";

const pool = (cidrs: string[], blockSize?: number, blockSizeV6?: number) =>
  Pool.from({
    name: "pods",
    type: "pod",
    cidrs,
    ...(blockSize === undefined ? {} : { blockSize }),
    ...(blockSizeV6 === undefined ? {} : { blockSizeV6 }),
  });

Deno.test("ipam blocks: lowest free block, correct stride, idempotent requests", () => {
  const b = new BlockAllocator(pool(["198.18.0.0/24"], 29));
  assert.equal(b.capacity(4), 32n);
  const r1 = b.allocate({ node: "n1", family: 4, request: "pods-n1" });
  assert.equal(r1.block.cidr.toString(), "198.18.0.0/29");
  assert.equal(r1.block.name, "pods-198-18-0-0-29");
  assert.ok(r1.created);
  const again = b.allocate({ node: "n1", family: 4, request: "pods-n1" });
  assert.equal(again.created, false);
  assert.equal(again.block, r1.block);
  const r2 = b.allocate({ node: "n2", family: 4, request: "pods-n2" });
  assert.equal(r2.block.cidr.toString(), "198.18.0.8/29"); // stride 8, not 24^29
  const r3 = b.allocate({ node: "n1", family: 4 });
  assert.equal(r3.block.cidr.toString(), "198.18.0.16/29");
  // The same request identity for another node is a conflict and changes nothing.
  assert.throws(
    () => b.allocate({ node: "n9", family: 4, request: "pods-n1" }),
    BlockConflictError,
  );
  assert.equal(b.allocatedCount(4), 3n);
  // Releasing the lowest block makes it the next one given.
  b.release(r1.block.name);
  assert.equal(b.allocate({ node: "n3", family: 4 }).block.cidr.toString(), "198.18.0.0/29");
  assert.deepEqual(b.nodes(), ["n1", "n2", "n3"]);
  assert.deepEqual(b.blocksOfGoneNodes(new Set(["n2", "n3"])).map((x) => x.node), ["n1"]);
  assert.deepEqual(b.releaseNode("n1").map((x) => x.cidr.toString()), ["198.18.0.16/29"]);
  assert.deepEqual(b.blocksOfGoneNodes(new Set(["n2", "n3"])), []);
  assert.throws(() => b.release("nope"), UnknownBlockError);
  assert.equal(b.blockContaining(IpAddress.parse("198.18.0.12"))?.node, "n2");
  assert.equal(b.blockContaining(IpAddress.parse("198.18.0.20")), undefined);
});

Deno.test("ipam blocks: several CIDRs, both families, exhaustion", () => {
  const b = new BlockAllocator(pool(["198.18.1.0/30", "198.18.0.0/31", "fd00:10::/120"], 31, 121));
  assert.equal(b.capacity(4), 3n);
  const got = [0, 1, 2].map((i) => b.allocate({ node: `n${i}`, family: 4 }).block.cidr.toString());
  assert.deepEqual(got, ["198.18.0.0/31", "198.18.1.0/31", "198.18.1.2/31"]); // address order
  assert.throws(() => b.allocate({ node: "n4", family: 4 }), (e: unknown) => {
    assert.ok(e instanceof PoolExhaustedError);
    assert.match(e.message, /all 3 IPv4 blocks are in use/);
    return true;
  });
  assert.equal(b.allocate({ node: "n0", family: 6 }).block.cidr.toString(), "fd00:10::/121");
  assert.equal(b.allocate({ node: "n1", family: 6 }).block.name, "pods-fd00-10--80-121");
  assert.throws(() => b.allocate({ node: "n2", family: 6 }), PoolExhaustedError);
  const v4only = new BlockAllocator(pool(["198.18.0.0/24"]));
  assert.throws(() => v4only.allocate({ node: "n", family: 6 }), FamilyUnavailableError);
  assert.throws(
    () => new BlockAllocator(Pool.from({ name: "s", type: "service", cidrs: ["203.0.113.0/24"] })),
    PoolTypeMismatchError,
  );
});

Deno.test("ipam blocks: restore keeps existing blocks and reports conflicts", () => {
  const b = new BlockAllocator(pool(["198.18.0.0/24"], 26));
  const report = b.restore([
    { name: "pods-198-18-0-64-26", cidr: "198.18.0.64/26", node: "n2", request: "r2" },
    { name: "old-name", cidr: "198.18.0.128/26", node: "n3" },
    { name: "dup", cidr: "198.18.0.64/26", node: "n4" }, // same slot twice
    { name: "misaligned", cidr: "198.18.0.32/27", node: "n5" },
    { name: "outside", cidr: "198.51.100.0/26", node: "n6" },
    { name: "garbage", cidr: "198.18.0.0/99", node: "n7" },
  ]);
  assert.deepEqual(report.restored.map((x) => x.name), ["pods-198-18-0-64-26", "old-name"]);
  assert.deepEqual(report.conflicts.map((e) => e.value), [
    "dup",
    "misaligned",
    "outside",
    "garbage",
  ]);
  assert.ok(report.conflicts.every((e) => e instanceof BlockConflictError));
  assert.match(report.conflicts[0]!.message, /double allocation/);
  // The restored request is idempotent; new blocks fill the holes lowest first.
  assert.equal(b.allocate({ node: "n2", family: 4, request: "r2" }).created, false);
  assert.equal(b.allocate({ node: "n1", family: 4 }).block.cidr.toString(), "198.18.0.0/26");
  assert.equal(b.allocate({ node: "n1", family: 4 }).block.cidr.toString(), "198.18.0.192/26");
});

Deno.test("ipam blocks: random allocate/release never hands out a block twice; restore is faithful", () => {
  const ops = fc.array(
    fc.oneof(
      fc.record({
        op: fc.constant("alloc" as const),
        node: fc.integer({ min: 0, max: 5 }),
        req: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
      }),
      fc.record({ op: fc.constant("release" as const), i: fc.nat() }),
      fc.record({ op: fc.constant("node" as const), node: fc.integer({ min: 0, max: 5 }) }),
    ),
    { maxLength: 120 },
  );
  fc.assert(fc.property(ops, (list) => {
    const b = new BlockAllocator(pool(["198.18.0.0/26", "198.18.1.0/27"], 29));
    for (const o of list) {
      try {
        if (o.op === "alloc") {
          const req = o.req === undefined ? {} : { request: `r${o.req}` };
          b.allocate({ node: `n${o.node}`, family: 4, ...req });
        } else if (o.op === "release") {
          const all = b.list();
          if (all.length) b.release(all[o.i % all.length]!.name);
        } else b.releaseNode(`n${o.node}`);
      } catch (e) {
        assert.ok(e instanceof PoolExhaustedError || e instanceof BlockConflictError, String(e));
      }
      const list = b.list();
      const cidrs = list.map((x) => x.cidr);
      for (let i = 0; i < cidrs.length; i++) {
        for (let j = i + 1; j < cidrs.length; j++) assert.ok(!cidrs[i]!.overlaps(cidrs[j]!));
      }
      assert.equal(BigInt(list.length), b.allocatedCount(4));
    }
    // Lowest free: every free slot is above... the allocator gives the lowest hole next.
    const taken = new Set(b.list().map((x) => x.cidr.toString()));
    const all = [
      ...Cidr.parse("198.18.0.0/26").blocks(29),
      ...Cidr.parse("198.18.1.0/27").blocks(29),
    ];
    const firstFree = all.find((c) => !taken.has(c.toString()));
    const copy = new BlockAllocator(pool(["198.18.0.0/26", "198.18.1.0/27"], 29));
    const rep = copy.restore(
      b.list().map((x) => ({ name: x.name, cidr: x.cidr.toString(), node: x.node })),
    );
    assert.equal(rep.conflicts.length, 0);
    assert.deepEqual(copy.list().map((x) => x.name), b.list().map((x) => x.name));
    if (firstFree) {
      assert.equal(
        copy.allocate({ node: "z", family: 4 }).block.cidr.toString(),
        firstFree.toString(),
      );
    } else assert.throws(() => copy.allocate({ node: "z", family: 4 }), PoolExhaustedError);
  }));
});

Deno.test("ipam blocks: names are valid object names and unique", () => {
  const names = new Set<string>();
  for (const c of ["198.18.0.0/26", "198.18.0.64/26", "fd00::/122", "fd00::40/122"]) {
    const n = blockName("pods", Cidr.parse(c));
    assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    names.add(n);
  }
  assert.equal(names.size, 4);
  assert.ok(blockName("p".repeat(260), Cidr.parse("198.18.0.0/26")).length <= 253);
});
