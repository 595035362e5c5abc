/**
 * `just run-local` cannot run here (no Docker), so it is kept honest by checking what it would
 * do: `just --dry-run run-local` lists every step in order; the generator command it runs is run
 * for real into a temp dir, and the kind config and the FRR configs it writes are validated (kind:
 * default CNI off, the samples' pod subnet, node labels; FRR: accepted by `vtysh -C`, a neighbor
 * per node with that node's ASN, spines where the samples' peer templates point).
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  kindNodeName,
  parseEntries,
  renderKindConfig,
  type RunLocalPlan,
  RunLocalPlanError,
  validatePlan,
} from "../actors/ship/run_local.ts";
import { startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { type Obj, parseYamlDocs, ROOT, run, serveBuiltinSchemas } from "./ship_helpers.ts";

const JUST = "just";

async function dryRun(recipe: string, vars: string[] = []): Promise<string[]> {
  const r = await run(JUST, ["--dry-run", ...vars, recipe], { env: envWithPath() });
  assert.equal(r.code, 0, r.stderr);
  // just prints the commands it would run on stderr.
  return (r.stderr + r.stdout).split("\n").filter((l) => l.trim() !== "");
}

function envWithPath(): Record<string, string> {
  return { PATH: `${ROOT}/.tools/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` };
}

async function samples(file: string): Promise<Obj[] | undefined> {
  try {
    return parseYamlDocs(await Deno.readTextFile(`${ROOT}/manifests/samples/${file}`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

Deno.test("ship: just --dry-run run-local lists every step, in order", async () => {
  const lines = await dryRun("run-local");
  const text = lines.join("\n");
  let last = -1;
  for (let step = 1; step <= 9; step++) {
    const at = lines.findIndex((l) => l.includes(`[${step}/9]`));
    assert.ok(at > last, `step ${step}/9 is announced after step ${step - 1}`);
    last = at;
  }
  const inOrder = [
    /command -v \$tool/,
    /deno run -P=ship actors\/ship\/run_local_main\.ts --out \.run-local /,
    /docker build -t tern:dev \./,
    /kind create cluster --name tern --config \.run-local\/kind\.yaml/,
    /docker network create --driver bridge --subnet 192\.0\.2\.0\/24 .* tern-fabric/,
    /docker network connect --ip "\$addr" tern-fabric "\$name"/,
    /docker run -d --name "tern-\$name" .*--network tern-fabric --ip "\$addr" .*quay\.io\/frrouting\/frr/,
    /kind load docker-image tern:dev --name tern/,
    /kubectl --context kind-tern apply --server-side -f crds\//,
    /kubectl kustomize manifests\/overlays\/kind \| kubectl --context kind-tern apply/,
    /manifests\/samples\/\$f/,
    /rollout status daemonset\/tern-agent/,
    /rollout status deployment\/tern-controller/,
    /wait --for=condition=Ready pod --all -n test/,
    /vtysh -c "show bgp neighbors \$addr json"/,
  ];
  let pos = -1;
  for (const re of inOrder) {
    const at = lines.findIndex((l, i) => i > pos && re.test(l));
    assert.ok(at > pos, `${re} after line ${pos}:\n${text}`);
    pos = at;
  }
  // Every sample it applies exists (when the samples are on this branch).
  const sampleLoop = lines.find((l) => l.includes("manifests/samples/$f"))!;
  const files = sampleLoop.match(/for f in ([^;]+);/)![1]!.trim().split(/\s+/);
  assert.ok(files.length >= 5);
  if ((await samples("pod_pools.yaml")) === undefined) {
    console.log("    (manifests/samples/ not on this branch: sample files not checked)");
  } else {
    for (const f of files) assert.ok((await Deno.stat(`${ROOT}/manifests/samples/${f}`)).isFile);
  }
});

Deno.test("ship: just --dry-run kind-down removes the cluster, the spines, the network", async () => {
  const text = (await dryRun("kind-down")).join("\n");
  assert.match(text, /kind delete cluster --name tern/);
  assert.match(text, /docker rm -f "tern-\$name"/);
  assert.match(text, /for s in spine0:192\.0\.2\.1:65001 spine1:192\.0\.2\.2:65002;/);
  assert.match(text, /docker network rm tern-fabric/);
  assert.match(text, /rm -rf \.run-local/);
});

Deno.test("ship: run-local's generated kind and FRR configs are right", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-rl-" });
  try {
    // The generator exactly as run-local runs it, into a temp dir.
    const lines = await dryRun("run-local", [`run_dir=${dir}`]);
    const gen = lines.find((l) => l.includes("actors/ship/run_local_main.ts"));
    assert.ok(gen);
    assert.ok(gen.includes(`--out ${dir} `));
    const r = await run("bash", ["-euo", "pipefail", "-c", gen], { env: envWithPath() });
    assert.equal(r.code, 0, r.stderr);

    const nodes = parseEntries("node", gen.match(/--nodes "([^"]+)"/)![1]!);
    const spines = parseEntries("spine", gen.match(/--spines "([^"]+)"/)![1]!);
    assert.ok(nodes.length >= 2, "at least two nodes");
    assert.equal(spines.length, 2, "two spines");

    // kind: default CNI off, the pod subnet of the samples' auto pod pool, one node per entry.
    const kind = parse(await Deno.readTextFile(`${dir}/kind.yaml`)) as Obj;
    assert.equal(kind.kind, "Cluster");
    assert.equal(kind.apiVersion, "kind.x-k8s.io/v1alpha4");
    assert.equal(kind.name, "tern");
    assert.equal(kind.networking.disableDefaultCNI, true);
    const pools = await samples("pod_pools.yaml");
    const autoPodPool = pools?.find((p) => p.spec?.type === "pod" && p.spec?.autoAssign === true);
    const v4 = autoPodPool?.spec.cidrs.find((c: string) => !c.includes(":"));
    if (v4) assert.equal(kind.networking.podSubnet, v4, "pod subnet = the auto pod pool");
    else assert.equal(kind.networking.podSubnet, "198.18.0.0/16");
    assert.equal(kind.nodes.length, nodes.length);
    kind.nodes.forEach((n: Obj, i: number) => {
      assert.equal(n.role, i === 0 ? "control-plane" : "worker");
      assert.equal(nodes[i]!.name, kindNodeName("tern", i));
      assert.equal(n.labels["tern.dev/asn"], String(nodes[i]!.asn));
    });
    // The samples' ClusterBGPs select these nodes.
    for (const f of ["cluster_bgp_spine0.yaml", "cluster_bgp_spine1.yaml"]) {
      const cb = (await samples(f))?.[0];
      if (!cb) continue;
      for (const [k, v] of Object.entries(cb.spec.nodeSelector as Record<string, string>)) {
        for (const n of kind.nodes) assert.equal(n.labels[k], v, `${f} selects ${k}=${v}`);
      }
    }

    // FRR: valid for FRR itself, a neighbor per node with its ASN, where the samples point.
    const templates = await samples("peer_templates.yaml");
    for (const s of spines) {
      const path = `${dir}/frr/${s.name}/frr.conf`;
      const conf = await Deno.readTextFile(path);
      const check = await run("vtysh", ["-C", "-f", path]);
      assert.equal(check.code, 0, `vtysh -C ${s.name}: ${check.stdout}${check.stderr}`);
      assert.match(conf, new RegExp(`^router bgp ${s.asn}$`, "m"));
      assert.match(conf, new RegExp(`^ bgp router-id ${s.address.replaceAll(".", "\\.")}$`, "m"));
      const neighbors = [...conf.matchAll(/^ neighbor (\S+) remote-as (\d+)$/gm)]
        .map((m) => [m[1], Number(m[2])]);
      assert.deepEqual(neighbors, nodes.map((n) => [n.address, n.asn]));
      for (const n of nodes) {
        assert.match(
          conf,
          new RegExp(`^  neighbor ${n.address.replaceAll(".", "\\.")} activate$`, "m"),
        );
      }
      const daemons = await Deno.readTextFile(`${dir}/frr/${s.name}/daemons`);
      assert.match(daemons, /^bgpd=yes$/m);
      if (templates) {
        const t = templates.find((x) => x.spec.addr === s.address);
        assert.ok(t, `a BGPPeerTemplate points at ${s.name} (${s.address})`);
        assert.equal(t.spec.asn, s.asn, `${s.name}'s ASN matches ${t.metadata.name}`);
      }
    }
    if (!templates) console.log("    (samples not on this branch: spine addresses not compared)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const plan = (): RunLocalPlan => ({
  cluster: "tern",
  podSubnet: "198.18.0.0/16",
  fabricSubnet: "192.0.2.0/24",
  nodes: parseEntries("node", "tern-control-plane:192.0.2.11:65101 tern-worker:192.0.2.12:65102"),
  spines: parseEntries("spine", "spine0:192.0.2.1:65001"),
});

Deno.test("ship: run-local plans with mistakes are refused, naming the value", async () => {
  validatePlan(plan());
  const bad: Array<[() => unknown, RegExp]> = [
    [() => parseEntries("node", "tern-worker:192.0.2.300:65101"), /"192\.0\.2\.300"/],
    [() => parseEntries("node", "tern-worker:192.0.2.3"), /NAME:ADDRESS:ASN/],
    [() => parseEntries("node", "tern-worker:192.0.2.3:0"), /ASN "0"/],
    [() => parseEntries("node", "Tern:192.0.2.3:65000"), /DNS label/],
    [() => parseEntries("spine", "  "), /empty/],
    [() => validatePlan({ ...plan(), nodes: plan().nodes.reverse() }), /kind names node 0/],
    [() => validatePlan({ ...plan(), fabricSubnet: "192.0.2.1/24" }), /host bits/],
    [() => validatePlan({ ...plan(), podSubnet: "fd00::/64" }), /IPv4 CIDR/],
    [() => validatePlan({ ...plan(), fabricSubnet: "198.51.100.0/24" }), /outside the fabric/],
    [
      () => validatePlan({ ...plan(), spines: parseEntries("spine", "s0:192.0.2.11:65001") }),
      /used by tern-control-plane too/,
    ],
    [() => renderKindConfig({ ...plan(), spines: [] }), /at least one spine/],
  ];
  for (const [f, why] of bad) {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof RunLocalPlanError, String(e));
      assert.equal(e.code, "invalid_run_local_plan");
      assert.match(e.message, why);
      return true;
    });
  }
  // The command line reports the mistake and exits 2, writing nothing.
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-rl-" });
  try {
    const r = await run(Deno.execPath(), [
      "run",
      "-P=ship",
      "actors/ship/run_local_main.ts",
      "--out",
      dir,
      "--cluster",
      "tern",
      "--pod-subnet",
      "198.18.0.0/16",
      "--fabric-subnet",
      "192.0.2.0/24",
      "--nodes",
      "tern-worker:192.0.2.11:65101",
      "--spines",
      "spine0:192.0.2.1:65001",
    ], { env: { NO_COLOR: "1" } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Invalid node "tern-worker"/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ship: run-local's apply step, run as written against the embedded API server", async () => {
  // Step 8 of the recipe, line by line, with the kind context swapped for the embedded server:
  // the CRDs, the kind overlay and the samples must all be accepted, in that order.
  const lines = await dryRun("run-local");
  const from = lines.findIndex((l) => l.includes("[8/9]"));
  const to = lines.findIndex((l) => l.includes("[9/9]"));
  assert.ok(from > 0 && to > from + 1);
  const step = lines.slice(from + 1, to);
  assert.ok(step.every((l) => l.includes("kubectl --context kind-tern")), step.join("\n"));
  const api = await startKubeApiServer({ port: 0 });
  try {
    serveBuiltinSchemas(api);
    for (const line of step) {
      const cmd = line.replaceAll(
        "kubectl --context kind-tern",
        `kubectl --kubeconfig ${api.kubeconfigPath}`,
      );
      const r = await run("bash", ["-euo", "pipefail", "-c", cmd], { env: envWithPath() });
      assert.equal(r.code, 0, `${cmd}\n${r.stdout}${r.stderr}`);
    }
    const got = await run("kubectl", [
      "--kubeconfig",
      api.kubeconfigPath,
      "get",
      "daemonsets,deployments,addresspools,clusterbgps,bgppeertemplates",
      "-A",
      "-o",
      "name",
    ]);
    assert.equal(got.code, 0, got.stderr);
    for (
      const want of [
        "daemonset.apps/tern-agent",
        "deployment.apps/tern-controller",
        "clusterbgp.tern.dev/clusterbgp-spine0",
        "bgppeertemplate.tern.dev/bgppeertemplate-spine0",
      ]
    ) assert.match(got.stdout, new RegExp(want.replaceAll(".", "\\.")), want);
  } finally {
    await api.close();
  }
});
