/** Bounded decoder fuzzing: random and mutated messages never raise anything but typed errors. */
import assert from "node:assert/strict";
import { fuzz } from "./bgp_fuzz_core.ts";

Deno.test("fuzz: 20,000 random and mutated messages, only typed errors, bounded time", () => {
  const report = fuzz(20_000, 7, 20_000);
  assert.deepEqual(report.findings.slice(0, 3), []);
  assert.ok(report.iterations >= 1000, `only ${report.iterations} iterations ran`);
  assert.ok(report.typedErrors > 0, "the mutations should hit typed errors");
});
