/**
 * Runs the benchmarks one after another (each a script printing its own side-by-side table).
 *
 *   deno run -A bench/run_all.ts              # every benchmark
 *   deno run -A bench/run_all.ts runtime_throughput netlink_routes
 */
const dir = new URL(".", import.meta.url).pathname;
const all = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) =>
    n.endsWith(".ts") && n !== "run_all.ts" && !n.includes("_long") && !n.startsWith("_")
  )
  .map((n) => n.replace(/\.ts$/, ""))
  .sort();
const wanted = Deno.args.length ? Deno.args : all;
let failed = 0;
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark "${name}"; known: ${all.join(", ")}`);
    Deno.exit(2);
  }
  console.log(`\n## ${name}\n`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}${name}.ts`],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    console.error(`benchmark ${name} failed (exit ${status.code})`);
    failed++;
  }
}
Deno.exit(failed ? 1 : 0);
