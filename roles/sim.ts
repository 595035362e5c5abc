/**
 * Role: the simulated cluster (network namespaces on this machine, as root).
 *
 *   sim up [--nodes N] [--mode auto|tern|standin] [--controller auto|tern|standin]
 *          [--prefix tn-sim-xxxxxx] [--edge]
 *   sim status [PREFIX]
 *   sim down [PREFIX | --all]
 *   sim runner --prefix PREFIX [--inspect-address HOST:PORT]   (started by `up`)
 *
 * `up` leaves the cluster running in the background and prints where everything is; `down`
 * removes namespaces, processes and files of one run (or of every run with `--all`).
 * See docs/e2e.md.
 */
import { ActorSystem, startInspectionServer, takeCommonFlags } from "../runtime/mod.ts";
import {
  clusterClient,
  type ClusterState,
  clusterUp,
  readState,
  type SimMode,
} from "../actors/sim/cluster.ts";
import { runnerTree } from "../actors/sim/runner.ts";
import { birdc, namespacesWithPrefix, simRoot, teardown, vtysh } from "../actors/sim/topology.ts";
import { listProcs } from "../actors/sim/processes.ts";
import { gobgp } from "../actors/sim/edge_router.ts";
import { Resources } from "../actors/kube/mod.ts";

/** A bad command line. */
export class SimUsageError extends Error {
  /** Discriminator. */
  readonly code = "bad_usage";
  /** Build one quoting the offending argument. */
  constructor(arg: string, why: string) {
    super(`sim: ${JSON.stringify(arg)}: ${why}\n${USAGE}`);
    this.name = "SimUsageError";
  }
}

const USAGE = `usage: sim up [--nodes N] [--mode auto|tern|standin] [--controller auto|tern|standin]
              [--prefix P] [--edge]
       sim status [PREFIX]
       sim down [PREFIX | --all]`;

/** Runs that have a run directory. */
export async function listRuns(): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(simRoot())) if (e.isDirectory) out.push(e.name);
  } catch { /* none */ }
  return out.sort();
}

/** Prints how to use a running cluster. */
export function describeCluster(s: ClusterState): string {
  const lines = [
    `simulated cluster ${s.prefix} (mode ${s.mode}, ${s.plan.nodes.length} nodes)`,
    `  kubectl:   export KUBECONFIG=${s.kubeconfig}`,
    `  API:       ${s.apiUrl}`,
    `  spines:    ${
      s.plan.spines.map((p) => `${p.id} ${p.kind} AS${p.asn} ${p.address} (ns ${p.ns})`).join(", ")
    }`,
    `  nodes:     ${s.plan.nodes.map((n) => `${n.name} ${n.internalIP} AS${n.asn}`).join(", ")}`,
    ...(s.edge
      ? [
        `  edge:      gobgpd AS${s.edge.asn} ${s.edge.address} (ns ${s.edge.ns}), linked to every node`,
      ]
      : []),
    `  client:    ip netns exec ${s.plan.client.ns} curl http://<LoadBalancer address>/`,
    "  inspection pages:",
    ...Object.entries(s.inspect).map(([k, v]) => `    ${k.padEnd(16)} ${v}`),
    `  logs:      ${s.runDir}/procs/*.log`,
  ];
  return lines.join("\n");
}

async function up(args: string[]): Promise<void> {
  let nodes = 3;
  let mode: SimMode | "auto" = "auto";
  let prefix: string | undefined;
  let controller: "auto" | "tern" | "standin" = "auto";
  let edge = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = () => {
      const x = args[++i];
      if (x === undefined) throw new SimUsageError(a, "needs a value");
      return x;
    };
    if (a === "--nodes") {
      const x = v();
      nodes = Number(x);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 30) {
        throw new SimUsageError(x, "--nodes takes 1 to 30");
      }
    } else if (a === "--mode") {
      const x = v();
      if (x !== "auto" && x !== "tern" && x !== "standin") {
        throw new SimUsageError(x, "--mode takes auto, tern or standin");
      }
      mode = x;
    } else if (a === "--controller") {
      const x = v();
      if (x !== "auto" && x !== "tern" && x !== "standin") {
        throw new SimUsageError(x, "--controller takes auto, tern or standin");
      }
      controller = x;
    } else if (a === "--prefix") prefix = v();
    else if (a === "--edge") edge = true;
    else throw new SimUsageError(a, "unknown argument");
  }
  const s = await clusterUp({
    nodes,
    mode,
    controller,
    prefix,
    edge,
    log: (l) => console.log(`sim: ${l}`),
  });
  console.log(describeCluster(s));
  console.log(`remove it with: just sim down ${s.prefix}`);
}

async function status(args: string[]): Promise<void> {
  const runs = args.length ? args : await listRuns();
  if (runs.length === 0) console.log("no simulated cluster is running");
  for (const prefix of runs) {
    let s: ClusterState;
    try {
      s = await readState(prefix);
    } catch {
      console.log(`${prefix}: no state (partial run; remove with: just sim down ${prefix})`);
      continue;
    }
    console.log(describeCluster(s));
    console.log("  processes:");
    for (const p of await listProcs(s.runDir)) {
      console.log(`    ${p.name.padEnd(20)} ${p.pid ? `running (pid ${p.pid})` : "STOPPED"}`);
    }
    console.log(`  namespaces: ${(await namespacesWithPrefix(prefix)).length}`);
    const frr = s.plan.spines.find((x) => x.kind === "frr")!;
    const bird = s.plan.spines.find((x) => x.kind === "bird")!;
    const f = await vtysh(s.runDir, frr, "show bgp summary", false);
    console.log(`  ${frr.id} (FRR):\n${indent(f.stdout || f.stderr)}`);
    const b = await birdc(s.runDir, bird, "show", "protocols").catch((e) => ({
      stdout: String(e),
    }));
    console.log(`  ${bird.id} (BIRD):\n${indent(b.stdout)}`);
    if (s.edge) {
      const e = await gobgp(s.edge, ["neighbor"], false);
      console.log(`  edge (GoBGP):\n${indent(e.stdout || e.stderr)}`);
    }
    const client = clusterClient(s);
    try {
      const pods = await client.listAll(Resources.pods);
      const svcs = await client.listAll(Resources.services);
      console.log(`  pods: ${pods.items.length}, services: ${svcs.items.length}`);
    } catch (e) {
      console.log(`  API server not answering: ${e instanceof Error ? e.message : e}`);
    } finally {
      client.close();
    }
  }
}

function indent(t: string): string {
  return t.trimEnd().split("\n").map((l) => `    ${l}`).join("\n");
}

async function down(args: string[]): Promise<void> {
  const runs = args[0] === "--all" ? await listRuns() : args;
  if (runs.length === 0) throw new SimUsageError("", "name a run (see `sim status`) or --all");
  for (const prefix of runs) {
    if (!/^tn-[a-z0-9-]+$/.test(prefix)) throw new SimUsageError(prefix, "not a run prefix");
    await teardown(prefix);
    console.log(`removed ${prefix}`);
  }
}

async function runner(args: string[]): Promise<void> {
  const { common, rest } = takeCommonFlags(args);
  const i = rest.indexOf("--prefix");
  const prefix = i >= 0 ? rest[i + 1] : undefined;
  if (!prefix) throw new SimUsageError("runner", "needs --prefix");
  const state = await readState(prefix);
  const client = clusterClient(state);
  const system = new ActorSystem({ name: "sim", logLevel: common.logLevel });
  await system.start(runnerTree(state, client, () => system));
  const server = await startInspectionServer({
    system,
    hostname: common.inspectHost,
    port: common.inspectPort,
    required: ["/sim/services", ...state.plan.nodes.map((n) => `/sim/${n.name}`)],
  });
  system.log.info("sim runner started", { url: `${server.url}/debug/` });
  const stop = () => void system.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const reason = await system.whenTerminated();
  await server.close();
  client.close();
  Deno.exit(reason.kind === "error" ? 1 : 0);
}

async function main(): Promise<void> {
  const [cmd, ...rest] = Deno.args;
  try {
    switch (cmd) {
      case "up":
        return await up(rest);
      case "status":
        return await status(rest);
      case "down":
        return await down(rest);
      case "runner":
        return await runner(rest);
      default:
        throw new SimUsageError(cmd ?? "", "unknown command");
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(e instanceof SimUsageError ? 2 : 1);
  }
}

if (import.meta.main) await main();
