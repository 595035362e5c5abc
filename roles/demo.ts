/**
 * The demo: brings the simulated cluster up on this machine (as root; network namespaces, FRR
 * and BIRD spines, the embedded API server, tern's agent and speaker on every node, a node
 * simulator standing in for the kubelet), applies the sart-like sample manifests
 * (`manifests/samples/`), and prints where to point kubectl, every process's inspection page and
 * a few commands to try. Ctrl-C removes everything.
 *
 *   ./ternw demo [--nodes N] [--smoke]
 *
 * `--smoke` checks that the samples' pods run and answer, then removes the cluster and exits
 * (0 on success): what CI runs.
 */
import { clusterClient, type ClusterState, clusterUp } from "../actors/sim/cluster.ts";
import { run, waitFor } from "../actors/sim/exec.ts";
import { randomPrefix } from "../actors/sim/plan.ts";
import { teardown } from "../actors/sim/topology.ts";
import { podIdentity, type SimPod } from "../actors/sim/node_sim.ts";
import { Resources } from "../actors/kube/mod.ts";
import { describeCluster } from "./sim.ts";

const args = Deno.args;
const smoke = args.includes("--smoke");
const ni = args.indexOf("--nodes");
const nodes = ni >= 0 ? Number(args[ni + 1]) : 3;
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 30) {
  console.error(`demo: --nodes ${JSON.stringify(args[ni + 1])}: takes 1 to 30`);
  Deno.exit(2);
}
const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const prefix = randomPrefix("demo");
let state: ClusterState | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log(`\nremoving the simulated cluster ${prefix} …`);
    await teardown(prefix).catch((e) => console.error(`cleanup: ${e}`));
    console.log("done.");
  }
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => void stop(0));
Deno.addSignalListener("SIGTERM", () => void stop(0));

async function samplePods(s: ClusterState): Promise<SimPod[]> {
  const c = clusterClient(s);
  try {
    return (await c.listAll<SimPod>(Resources.pods)).items;
  } finally {
    c.close();
  }
}

try {
  state = await clusterUp({ prefix, nodes, log: (l) => console.log(`demo: ${l}`) });
  const s = state;
  console.log("demo: applying manifests/samples/");
  const apply = await run([
    "kubectl",
    "--kubeconfig",
    s.kubeconfig,
    "apply",
    "-f",
    `${root}/manifests/samples/`,
  ], { check: false, timeoutMs: 60_000 });
  console.log(apply.stdout.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
  if (apply.code !== 0) console.error(`demo: kubectl apply: ${apply.stderr.trim()}`);
  const pods = await waitFor(
    "the sample pods Running",
    async () => {
      const ps = await samplePods(s);
      return ps.length > 0 && ps.every((p) => p.status?.phase === "Running") ? ps : undefined;
    },
    90_000,
    500,
  );
  console.log(`demo: ${pods.length} pods Running:`);
  for (const p of pods) {
    console.log(
      `  ${`${p.metadata.namespace}/${p.metadata.name}`.padEnd(40)} ${
        (p.status?.podIP ?? "").padEnd(15)
      } ${p.spec?.nodeName}`,
    );
  }
  if (smoke) {
    // Each pod answers over HTTP from another node's pod.
    const [a, ...rest] = pods;
    const nodeIndex = Number(a.spec!.nodeName!.replace("node-", ""));
    const ns = podIdentity(`${prefix}-p${nodeIndex}`, a.metadata.uid!).netns;
    for (const b of rest) {
      const r = await run(["curl", "-s", "-m", "3", `http://${b.status!.podIP}:8080/`], {
        ns,
        check: false,
      });
      if (r.code !== 0 || !r.stdout.includes(`${b.metadata.namespace}/${b.metadata.name}`)) {
        throw new Error(`pod ${b.metadata.name} did not answer: ${r.stdout}${r.stderr}`);
      }
    }
    console.log("demo: smoke check passed");
    await stop(0);
  }
  console.log(`\n${describeCluster(s)}\n`);
  const lbNote = s.controller
    ? "LoadBalancer addresses come from the tern controller."
    : "The tern controller role is not on main yet, so LoadBalancer Services stay <pending>;\n" +
      "  give one an address by hand to try the data path (the agent side announces it):";
  const client = s.plan.client.ns;
  console.log(`Try:
  export KUBECONFIG=${s.kubeconfig}
  kubectl get nodes,pods,svc,endpointslices -A -o wide
  kubectl get addresspools,clusterbgps,bgppeertemplates
  ${lbNote}
  kubectl -n test-lb patch svc app-svc-cluster --subresource=status --type=merge \\
    -p '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}}'
  ip netns exec ${client} curl -s http://203.0.113.10/
  ip -n ${s.plan.spines[0].ns} route            # the FRR spine's routes (ECMP to the nodes)
  ip netns exec ${s.plan.spines[1].ns} birdc -s ${s.runDir}/spine1/bird.ctl show route
  just sim status ${prefix}

Press Ctrl-C to stop and remove everything.`);
  await new Promise(() => {});
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? e.message : e}`);
  await stop(1);
}
