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
    if (s.controller) {
      // The sample Service gets an address from tern's controller and answers the client.
      const ip = await waitFor(
        "app-svc-cluster's address",
        async () => {
          const c = clusterClient(s);
          try {
            const svc = await c.get<
              { status?: { loadBalancer?: { ingress?: { ip?: string }[] } } } & {
                metadata: { name?: string };
              }
            >(Resources.services, "app-svc-cluster", "test-lb");
            return svc.status?.loadBalancer?.ingress?.find((i) => i.ip && !i.ip.includes(":"))?.ip;
          } finally {
            c.close();
          }
        },
        30_000,
        200,
      );
      const answer = await waitFor(
        `${ip} answering the client`,
        async () => {
          const r = await run(["curl", "-s", "-m", "2", `http://${ip}/`], {
            ns: s.plan.client.ns,
            check: false,
          });
          return r.code === 0 && r.stdout.includes("test-lb/app-0") ? r.stdout.trim() : undefined;
        },
        30_000,
        200,
      );
      console.log(`demo: the client reached ${ip}: ${answer}`);
    }
    console.log("demo: smoke check passed");
    await stop(0);
  }
  console.log(`\n${describeCluster(s)}\n`);
  const client = s.plan.client.ns;
  const lbLines = s.controller
    ? `  kubectl -n test-lb get svc                     # addresses from tern's controller
  ip netns exec ${client} curl -s http://$(kubectl -n test-lb get svc app-svc-cluster \\
    -o jsonpath='{.status.loadBalancer.ingress[0].ip}')/`
    : `  # No controller role: give a Service an address by hand (the agent side announces it):
  kubectl -n test-lb patch svc app-svc-cluster --subresource=status --type=merge \\
    -p '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}}'
  ip netns exec ${client} curl -s http://203.0.113.10/`;
  console.log(`Try:
  export KUBECONFIG=${s.kubeconfig}
  kubectl get nodes,pods,svc,endpointslices -A -o wide
  kubectl get addresspools,addressblocks,clusterbgps,nodebgps,bgppeers
  kubectl get bgpadvertisements -A
${lbLines}
  ip -n ${s.plan.spines[0].ns} route            # the FRR spine's routes (ECMP to the nodes)
  ip netns exec ${s.plan.spines[1].ns} birdc -s ${s.runDir}/spine1/bird.ctl show route
  just sim status ${prefix}

Press Ctrl-C to stop and remove everything.`);
  await new Promise(() => {});
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? e.message : e}`);
  await stop(1);
}
