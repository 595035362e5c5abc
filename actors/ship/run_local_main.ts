/**
 * Writes `just run-local`'s kind and FRR configuration files:
 *
 *     deno run -P=ship actors/ship/run_local_main.ts --out .run-local --cluster tern \
 *       --pod-subnet 198.18.0.0/16 --fabric-subnet 192.0.2.0/24 \
 *       --nodes "tern-control-plane:192.0.2.11:65101 tern-worker:192.0.2.12:65102" \
 *       --spines "spine0:192.0.2.1:65001 spine1:192.0.2.2:65002"
 *
 * Prints each file it writes; a bad list entry is named and the exit code is 2.
 *
 * @module
 */

import { parseEntries, renderRunLocal, type RunLocalPlan, RunLocalPlanError } from "./run_local.ts";

/** Parses the command line into an output directory and a plan. */
export function parseArgs(args: string[]): { out: string; plan: RunLocalPlan } {
  const v: Record<string, string> = {};
  const known = ["--out", "--cluster", "--pod-subnet", "--fabric-subnet", "--nodes", "--spines"];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!known.includes(name)) throw new RunLocalPlanError("flag", a, "unknown flag");
    const value = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (value === undefined) throw new RunLocalPlanError("flag", name, "a value is required");
    v[name] = value;
  }
  for (const k of known) {
    if (v[k] === undefined) throw new RunLocalPlanError("flag", k, "is required");
  }
  return {
    out: v["--out"]!,
    plan: {
      cluster: v["--cluster"]!,
      podSubnet: v["--pod-subnet"]!,
      fabricSubnet: v["--fabric-subnet"]!,
      nodes: parseEntries("node", v["--nodes"]!),
      spines: parseEntries("spine", v["--spines"]!),
    },
  };
}

if (import.meta.main) {
  let parsed;
  let files;
  try {
    parsed = parseArgs(Deno.args);
    files = renderRunLocal(parsed.plan);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  for (const [path, content] of files) {
    const full = `${parsed.out}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
    console.log(`    wrote ${full}`);
  }
}
