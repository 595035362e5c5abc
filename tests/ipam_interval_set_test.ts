import assert from "node:assert/strict";
import fc from "fast-check";
import { IntervalSet } from "../actors/ipam/interval_set.ts";
import { Bitmap } from "../actors/ipam/bitmap.ts";
import { InvalidBlockSizeError } from "../actors/ipam/errors.ts";

type Op = { kind: "add" | "delete"; v: number };
const ops = fc.array(
  fc.record({
    kind: fc.constantFrom("add" as const, "delete" as const),
    v: fc.integer({ min: 0, max: 80 }),
  }),
  { maxLength: 200 },
);

Deno.test("ipam interval set: behaves like a plain set (model-based)", () => {
  fc.assert(
    fc.property(
      ops,
      fc.integer({ min: 0, max: 80 }),
      fc.integer({ min: 0, max: 80 }),
      (list: Op[], lo, hi) => {
        const s = new IntervalSet();
        const model = new Set<number>();
        for (const op of list) {
          if (op.kind === "add") {
            assert.equal(
              s.add(BigInt(op.v)),
              !model.has(op.v) && !!model.add(op.v),
            );
          } else assert.equal(s.delete(BigInt(op.v)), model.delete(op.v));
        }
        assert.equal(s.size, BigInt(model.size));
        assert.deepEqual([...s.values()].map(Number), [...model].sort((a, b) => a - b));
        // Runs are disjoint and not adjacent.
        const runs = s.toRuns();
        for (let i = 1; i < runs.length; i++) assert.ok(runs[i]![0] > runs[i - 1]![1] + 1n);
        let want: number | undefined;
        for (let v = lo; v <= hi; v++) {
          if (!model.has(v)) {
            want = v;
            break;
          }
        }
        assert.equal(
          s.lowestAbsent(BigInt(lo), BigInt(hi)),
          want === undefined ? undefined : BigInt(want),
        );
        let count = 0;
        for (const v of model) {
          if (v >= lo && v <= hi) count++;
        }
        assert.equal(s.countIn(BigInt(lo), BigInt(hi)), BigInt(count));
      },
    ),
  );
});

Deno.test("ipam interval set: dense IPv6-scale values stay one run", () => {
  const s = new IntervalSet();
  const base = 0xfd00n << 112n;
  for (let i = 0n; i < 1000n; i++) s.add(base + i);
  assert.equal(s.runs, 1);
  assert.equal(s.lowestAbsent(base, base + (1n << 64n)), base + 1000n);
  s.delete(base + 500n);
  assert.equal(s.runs, 2);
  assert.equal(s.lowestAbsent(base, base + 10_000n), base + 500n);
});

Deno.test("ipam bitmap: lowest clear bit matches a model", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 130 }), ops, (size, list: Op[]) => {
    const b = new Bitmap(size);
    const model = new Set<number>();
    for (const op of list) {
      if (op.v >= size) continue;
      if (op.kind === "add") assert.equal(b.set(op.v), !model.has(op.v) && !!model.add(op.v));
      else assert.equal(b.clear(op.v), model.delete(op.v));
      let want = -1;
      for (let i = 0; i < size; i++) {
        if (!model.has(i)) {
          want = i;
          break;
        }
      }
      assert.equal(b.lowestClear(), want);
    }
    assert.equal(b.count, model.size);
  }));
  const full = new Bitmap(64);
  for (let i = 0; i < 64; i++) full.set(i);
  assert.equal(full.lowestClear(), -1);
  full.clear(37);
  assert.equal(full.lowestClear(), 37);
  assert.equal(full.lowestClear(38), -1);
  assert.throws(() => new Bitmap(0), InvalidBlockSizeError);
  assert.throws(() => new Bitmap((1 << 16) + 1), InvalidBlockSizeError);
});
