/**
 * Long decoder fuzz run: `deno run -A bench/bgp_fuzz_long.ts [iterations] [seed]`
 * (default 2,000,000 iterations, seed from the clock). Exits non-zero on any finding.
 */
import { fuzz } from "../tests/bgp_fuzz_core.ts";

const iterations = Number(Deno.args[0] ?? 2_000_000);
const seed = Number(Deno.args[1] ?? Date.now() % 1_000_000);
const t0 = performance.now();
const r = fuzz(iterations, seed);
const s = (performance.now() - t0) / 1000;
console.log(
  `| iterations | seed | typed errors | findings | seconds |\n|---|---|---|---|---|\n` +
    `| ${r.iterations} | ${seed} | ${r.typedErrors} | ${r.findings.length} | ${s.toFixed(1)} |`,
);
for (const f of r.findings.slice(0, 10)) console.log(f.input, "\n", f.error);
if (r.findings.length > 0) Deno.exit(1);
