/**
 * The simulated cluster as a whole: `clusterUp` builds the network and the spines, starts the
 * embedded API server on the management bridge, installs the CRDs and the Node objects, starts
 * the controller and one agent per node (or, while the tern agent role is not available, the
 * test stand-ins of `standin.ts`), and the node simulator runner; `clusterDown` removes it all.
 * The run's state file (`state.json` in its run directory) lets any later process (`sim status`,
 * `sim down`, a test) find every piece.
 * @module
 */
import { KubeClient, loadKubeEndpoint, Resources } from "../kube/mod.ts";
import { run, waitFor } from "./exec.ts";
import { makePlan, type NodePlan, randomPrefix, type SimPlan, type SpinePlan } from "./plan.ts";
import { startProc, tailLog } from "./processes.ts";
import { GOBGP_API_PORT, gobgpConfig } from "./standin.ts";
import { buildEdgeNetwork, type EdgePlan, edgePlan, startEdgeRouter } from "./edge_router.ts";
import { buildNetwork, freeMgmtOctet, runDirOf, startSpine, teardown } from "./topology.ts";

/** How the nodes are run. */
export type SimMode = "tern" | "standin";

/** Options of {@link clusterUp}. */
export interface ClusterOptions {
  prefix?: string;
  nodes?: number;
  /** `auto` (default): `tern` when `roles/agent.ts` exists, else `standin`. */
  mode?: SimMode | "auto";
  /**
   * `auto` (default): tern's controller when `roles/controller.ts` exists; `standin`: the sim
   * stands in for it (pools, block answers, BGP objects, advertisements; not Service addresses).
   */
  controller?: "auto" | "tern" | "standin";
  /** Add the edge router (GoBGP, linked to every node; see `edge_router.ts`). Default false. */
  edge?: boolean;
  /** The repository root (default: two levels above this file). */
  repoRoot?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Everything a later command needs to find the cluster's pieces. */
export interface ClusterState {
  prefix: string;
  runDir: string;
  mode: SimMode;
  repoRoot: string;
  plan: SimPlan;
  /** The edge router, when the run has one (`edge` option). */
  edge?: EdgePlan;
  kubeconfig: string;
  apiUrl: string;
  /** Per node: where its CNI configuration list is found and the plugin search path. */
  cni: Record<string, { confDir: string; cniPath: string[] }>;
  /** Whether `roles/controller.ts` was started. */
  controller: boolean;
  /** Whether it should be (`controller` option, default: when `roles/controller.ts` exists). */
  controllerWanted: boolean;
  /** Inspection pages (process name → URL). */
  inspect: Record<string, string>;
  createdAt: string;
}

/** Port of each tern process's inspection server on its own address. */
export const INSPECT_PORTS = {
  agent: 9100,
  controller: 9101,
  runner: 9102,
} as const;

/** URL of the inspection server of a node's agent (which runs the node's BGP wiring). */
export function bgpWiringUrl(node: NodePlan): string {
  return `http://${node.internalIP}:${INSPECT_PORTS.agent}`;
}

/** Sample manifests `sim up` applies when the controller runs (the fabric's configuration). */
export const FABRIC_SAMPLES = [
  "pod_pools.yaml",
  "service_pools.yaml",
  "peer_templates.yaml",
  "cluster_bgp_spine0.yaml",
  "cluster_bgp_spine1.yaml",
];

/** The repository root. */
export function defaultRepoRoot(): string {
  return new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** `deno run` argv for a role of this repository with one of its permission sets. */
export function denoRole(root: string, role: string, perm: string, args: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "--config",
    `${root}/deno.json`,
    `-P=${perm}`,
    `${root}/roles/${role}.ts`,
    ...args,
  ];
}

/** Reads a run's state. */
export async function readState(prefix: string): Promise<ClusterState> {
  return JSON.parse(await Deno.readTextFile(`${runDirOf(prefix)}/state.json`)) as ClusterState;
}

async function writeState(s: ClusterState): Promise<void> {
  await Deno.writeTextFile(`${s.runDir}/state.json`, JSON.stringify(s, null, 2));
}

/** Brings a simulated cluster up; on failure removes everything it made and rethrows. */
export async function clusterUp(opts: ClusterOptions = {}): Promise<ClusterState> {
  const log = opts.log ?? (() => {});
  const root = opts.repoRoot ?? defaultRepoRoot();
  const prefix = opts.prefix ?? randomPrefix();
  const mode: SimMode = opts.mode === undefined || opts.mode === "auto"
    ? (await exists(`${root}/roles/agent.ts`) ? "tern" : "standin")
    : opts.mode;
  const plan = makePlan({ prefix, nodes: opts.nodes ?? 3, mgmtOctet: await freeMgmtOctet() });
  const runDir = runDirOf(prefix);
  await Deno.mkdir(runDir, { recursive: true });
  const state: ClusterState = {
    prefix,
    runDir,
    mode,
    repoRoot: root,
    plan,
    kubeconfig: `${runDir}/kubeconfig`,
    apiUrl: `http://${plan.mgmt.address}:${plan.mgmt.apiPort}`,
    cni: {},
    controller: false,
    controllerWanted: opts.controller === undefined || opts.controller === "auto"
      ? await exists(`${root}/roles/controller.ts`)
      : opts.controller === "tern",
    inspect: {},
    createdAt: new Date().toISOString(),
  };
  await writeState(state);
  try {
    log(`building network ${prefix} (${plan.nodes.length} nodes, mode ${mode})`);
    await buildNetwork(plan);
    for (const s of plan.spines) {
      log(`starting ${s.id} (${s.kind}, AS ${s.asn}, ${s.address})`);
      await startSpine(plan, runDir, s);
    }
    if (opts.edge) {
      state.edge = edgePlan(plan);
      log(`starting the edge router (gobgpd, AS ${state.edge.asn}, ${state.edge.address})`);
      await buildEdgeNetwork(state.edge);
      await startEdgeRouter(plan, state.edge, runDir);
      await writeState(state);
    }
    log(`starting the API server on ${state.apiUrl}`);
    await startProc(runDir, {
      name: "apiserver",
      argv: denoRole(root, "apiserver", "sim", [
        "--listen",
        plan.mgmt.address,
        "--port",
        String(plan.mgmt.apiPort),
        "--plain",
        "--kubeconfig",
        state.kubeconfig,
        "--state",
        `${runDir}/apiserver-state.json`,
      ]),
      inspectUrl: state.apiUrl,
    });
    state.inspect.apiserver = `${state.apiUrl}/version`;
    await waitFor("the API server", async () => {
      const r = await fetch(`${state.apiUrl}/version`).catch(() => undefined);
      await r?.body?.cancel();
      return r?.ok ? true : undefined;
    }, 30_000).catch(async (e) => {
      throw new Error(`${e.message}\n${await tailLog(runDir, "apiserver")}`);
    });
    await bootstrapObjects(state);
    if (mode === "tern") await startTernNodes(state, log);
    else await startStandinNodes(state, log);
    log("starting the node simulator runner");
    const runnerUrl = `http://${plan.mgmt.address}:${INSPECT_PORTS.runner}`;
    await startProc(runDir, {
      name: "sim-runner",
      argv: denoRole(root, "sim", "sim", [
        "runner",
        "--prefix",
        prefix,
        "--inspect-address",
        `${plan.mgmt.address}:${INSPECT_PORTS.runner}`,
      ]),
      env: { TMPDIR: Deno.env.get("TMPDIR") ?? "/tmp" },
      inspectUrl: runnerUrl,
    });
    state.inspect["sim-runner"] = `${runnerUrl}/debug/`;
    await writeState(state);
    await waitFor("the node simulator runner", async () => {
      const r = await fetch(`${runnerUrl}/readyz`).catch(() => undefined);
      await r?.body?.cancel();
      return r?.ok ? true : undefined;
    }, 30_000).catch(async (e) => {
      throw new Error(`${e.message}\n${await tailLog(runDir, "sim-runner")}`);
    });
    return state;
  } catch (e) {
    await teardown(prefix).catch(() => {});
    throw e;
  }
}

/** Removes a cluster (idempotent). */
export async function clusterDown(prefix: string): Promise<void> {
  await teardown(prefix);
}

/** A client of the run's API server. */
export function clusterClient(state: ClusterState): KubeClient {
  return new KubeClient(loadKubeEndpoint(state.kubeconfig), { userAgent: "tern-sim" });
}

async function bootstrapObjects(state: ClusterState): Promise<void> {
  const r = await run([
    "kubectl",
    "--kubeconfig",
    state.kubeconfig,
    "apply",
    "-f",
    `${state.repoRoot}/crds/`,
  ], { check: false, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`installing CRDs failed: ${r.stderr}`);
  const client = clusterClient(state);
  try {
    for (const ns of ["tern-system"]) {
      await client.create(Resources.namespaces, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns },
      }).catch(() => {});
    }
    for (const n of state.plan.nodes) {
      await client.create(Resources.nodes, {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: n.name,
          labels: {
            "kubernetes.io/hostname": n.name,
            "kubernetes.io/os": "linux",
            "bgp": "a",
            "tern.dev/asn": String(n.asn),
            "tern.dev/router-id": n.internalIP,
          },
        },
        spec: {},
      });
      await client.mergePatch(Resources.nodes, n.name, {
        status: {
          addresses: [{ type: "InternalIP", address: n.internalIP }, {
            type: "Hostname",
            address: n.name,
          }],
          conditions: [{
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            lastTransitionTime: new Date().toISOString(),
          }],
        },
      }, { status: true });
    }
  } finally {
    client.close();
  }
}

async function startTernNodes(state: ClusterState, log: (l: string) => void): Promise<void> {
  const { plan, runDir, repoRoot: root } = state;
  const bin = `${runDir}/bin`;
  await Deno.mkdir(bin, { recursive: true });
  const wrapper =
    `#!/bin/sh\nexec ${Deno.execPath()} run --config ${root}/deno.json -P=cni ${root}/roles/cni.ts "$@"\n`;
  for (const name of ["tern", "tern-cni"]) {
    await Deno.writeTextFile(`${bin}/${name}`, wrapper, { mode: 0o755 });
  }
  const env = { KUBECONFIG: state.kubeconfig };
  if (state.controllerWanted) {
    log("starting the controller");
    const url = `http://${plan.mgmt.address}:${INSPECT_PORTS.controller}`;
    await startProc(runDir, {
      name: "controller",
      argv: denoRole(root, "controller", "controller", [
        "--kubeconfig",
        state.kubeconfig,
        "--inspect-address",
        `${plan.mgmt.address}:${INSPECT_PORTS.controller}`,
      ]),
      env,
      inspectUrl: url,
    });
    state.controller = true;
    state.inspect.controller = `${url}/debug/`;
    // The cluster's fabric configuration, as an operator applies it: pools, peer templates and
    // the ClusterBGPs that peer every node (label bgp=a) with both spines.
    const r = await run([
      "kubectl",
      "--kubeconfig",
      state.kubeconfig,
      "apply",
      ...FABRIC_SAMPLES.flatMap((f) => ["-f", `${root}/manifests/samples/${f}`]),
    ], { check: false, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`applying the fabric samples failed: ${r.stderr}`);
  } else {
    log(
      "roles/controller.ts is not there yet: the sim stands in for it (pod pools, block " +
        "answers, NodeBGPs, BGPPeers, advertisements)",
    );
    await bootstrapBgpObjects(state);
  }
  for (const n of plan.nodes) {
    const dir = `${runDir}/${n.name}`;
    await Deno.mkdir(`${dir}/net.d`, { recursive: true });
    state.cni[n.name] = { confDir: `${dir}/net.d`, cniPath: [bin, "/usr/lib/cni"] };
    const url = `http://${n.internalIP}:${INSPECT_PORTS.agent}`;
    log(`starting the agent of ${n.name} (CNI and BGP)`);
    await startProc(runDir, {
      name: `agent-${n.name}`,
      ns: n.ns,
      argv: denoRole(root, "agent", "agent", [
        "--node",
        n.name,
        "--state-dir",
        `${dir}/state`,
        "--socket",
        `${dir}/cni.sock`,
        "--conflist-dir",
        `${dir}/net.d`,
        "--kubeconfig",
        state.kubeconfig,
        // Empty blocks go back after 4 s (default 5 min), so tests see them released.
        "--block-grace-ms",
        "4000",
        "--inspect-address",
        `${n.internalIP}:${INSPECT_PORTS.agent}`,
      ]),
      env: { ...env, TERN_NODE_NAME: n.name },
      inspectUrl: url,
    });
    state.inspect[`agent-${n.name}`] = `${url}/debug/`;
  }
  let lastProbe = "";
  await waitFor("the agents' conflists and BGP wiring", async () => {
    for (const n of plan.nodes) {
      const r = await fetch(`${bgpWiringUrl(n)}/readyz`).catch(() => undefined);
      lastProbe = `${n.name} agent /readyz: ${r ? `${r.status} ${await r.text()}` : "no answer"}`;
      if (!r?.ok) return undefined;
      let found = false;
      for await (const e of Deno.readDir(state.cni[n.name].confDir)) {
        if (e.name.endsWith(".conflist")) found = true;
      }
      if (!found) {
        lastProbe = `${n.name}: no conflist yet`;
        return undefined;
      }
    }
    return true;
  }, 60_000).catch(async (e) => {
    const logs = [];
    for (const n of plan.nodes) {
      logs.push(await tailLog(runDir, `agent-${n.name}`, 8));
    }
    throw new Error(`${e.message} (${lastProbe})\n${logs.join("\n")}`);
  });
}

/**
 * BGPPeer name of a node's session with a spine (sart's `<template>-<node>-<asn>-<addr>`, ':'
 * as '-'); `ipv6` names the IPv6 session.
 */
export function bgpPeerName(spine: SpinePlan, node: NodePlan, ipv6 = false): string {
  const addr = ipv6 ? spine.address6.replace(/:/g, "-") : spine.address;
  return `${spine.id}${ipv6 ? "-ipv6" : ""}-${node.name}-${spine.asn}-${addr}`;
}

/**
 * What the controller role would hold, written directly while it is not on main: the pod pools
 * (IPv4 part of the samples'), and what it makes from the sample ClusterBGPs (every node peers
 * with both spines, one session per address family): a NodeBGP and four BGPPeers per node.
 */
export async function bootstrapBgpObjects(state: ClusterState): Promise<void> {
  const client = clusterClient(state);
  try {
    // The pod pools of the samples (manifests/samples/pod_pools.yaml): the dual-stack auto pool
    // and a small one used by annotation.
    for (
      const spec of [
        {
          name: "default-pod-pool",
          cidrs: ["198.18.0.0/16", "fd00:10::/112"],
          blockSize: 26,
          blockSizeV6: 122,
          autoAssign: true,
        },
        {
          name: "non-default-pod-pool",
          cidrs: ["198.19.0.0/29"],
          blockSize: 32,
          autoAssign: false,
        },
      ]
    ) {
      const { name, ...rest } = spec;
      await client.create(Resources.addressPools, {
        apiVersion: "tern.dev/v1alpha1",
        kind: "AddressPool",
        metadata: { name },
        spec: { type: "pod", allocType: "bit", ...rest },
      });
    }
    for (const n of state.plan.nodes) {
      await client.create(Resources.nodeBGPs, {
        apiVersion: "tern.dev/v1alpha1",
        kind: "NodeBGP",
        metadata: { name: n.name, labels: { "bgp": "a" } },
        spec: {
          asn: n.asn,
          routerId: n.internalIP,
          peers: state.plan.spines.flatMap((s) => [
            { name: bgpPeerName(s, n), asn: s.asn, addr: s.address },
            { name: bgpPeerName(s, n, true), asn: s.asn, addr: s.address6 },
          ]),
        },
      });
      for (const s of state.plan.spines) {
        for (const ipv6 of [false, true]) {
          await client.create(Resources.bgpPeers, {
            apiVersion: "tern.dev/v1alpha1",
            kind: "BGPPeer",
            metadata: { name: bgpPeerName(s, n, ipv6), labels: { "tern.dev/node": n.name } },
            spec: {
              node: n.name,
              asn: s.asn,
              addr: ipv6 ? s.address6 : s.address,
              holdTime: 9,
              keepaliveTime: 3,
              connectRetryTime: 2,
              families: [ipv6 ? "ipv6-unicast" : "ipv4-unicast"],
              groups: [`to-${s.id}`],
            },
          });
        }
      }
    }
  } finally {
    client.close();
  }
}

async function startStandinNodes(state: ClusterState, log: (l: string) => void): Promise<void> {
  const { plan, runDir } = state;
  log("roles/agent.ts is not there yet: nodes run the test stand-ins (ptp/host-local, GoBGP)");
  for (const n of plan.nodes) {
    const dir = `${runDir}/${n.name}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/gobgpd.toml`, gobgpConfig(plan, n));
    await startProc(runDir, {
      name: `gobgpd-${n.name}`,
      ns: n.ns,
      argv: [
        "gobgpd",
        "-f",
        `${dir}/gobgpd.toml`,
        "--api-hosts",
        `127.0.0.1:${GOBGP_API_PORT}`,
        "--log-plain",
        "--pprof-disable",
      ],
    });
    state.cni[n.name] = { confDir: `${dir}/net.d`, cniPath: ["/usr/lib/cni"] };
  }
  await waitFor("the stand-in speakers", async () => {
    for (const n of plan.nodes) {
      const r = await run(["gobgp", "-u", "127.0.0.1", "-p", String(GOBGP_API_PORT), "global"], {
        ns: n.ns,
        check: false,
      });
      if (r.code !== 0) return undefined;
    }
    return true;
  }, 20_000);
}
