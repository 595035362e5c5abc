/**
 * Helpers of the end-to-end suite: bring a simulated cluster up for one test file and down even
 * on failure, read the spines' view (sessions and kernel routes), create pods and Services, reach
 * addresses from the client. Every wait has a timeout.
 */
import assert from "node:assert/strict";
import {
  bgpWiringUrl,
  clusterClient,
  type ClusterState,
  clusterUp,
  type SimMode,
} from "../actors/sim/cluster.ts";
import type { BGPPeerObject } from "../actors/agent_bgp/desired.ts";
import { run, waitFor } from "../actors/sim/exec.ts";
import { randomPrefix } from "../actors/sim/plan.ts";
import { procFiles, type ProcSpec, startProc, stopProc } from "../actors/sim/processes.ts";
import { birdc, teardown, vtysh } from "../actors/sim/topology.ts";
import { type KubeClient, type KubeObject, Resources } from "../actors/kube/mod.ts";
import type { SimPod } from "../actors/sim/node_sim.ts";
import type { SimService } from "../actors/sim/endpoints.ts";

export { run, waitFor };

/** A running cluster and a client of its API server. */
export interface E2E {
  state: ClusterState;
  client: KubeClient;
}

/** Runs `fn` against a fresh simulated cluster, removed afterwards whatever happens. */
export async function withCluster(
  fn: (e: E2E) => Promise<void>,
  opts: { nodes?: number; mode?: SimMode; controller?: "auto" | "tern" | "standin" } = {},
): Promise<void> {
  const prefix = randomPrefix("e2e");
  let client: KubeClient | undefined;
  try {
    const state = await clusterUp({
      prefix,
      nodes: opts.nodes ?? 3,
      mode: opts.mode,
      controller: opts.controller,
    });
    client = clusterClient(state);
    await fn({ state, client });
  } finally {
    client?.close();
    await teardown(prefix);
  }
}

/** BGP session states on the FRR spine, by node name. */
export async function frrSessions(s: ClusterState): Promise<Record<string, string>> {
  const frr = s.plan.spines.find((x) => x.kind === "frr")!;
  const r = await vtysh(s.runDir, frr, "show bgp ipv4 unicast summary json");
  const peers = (JSON.parse(r.stdout).peers ?? {}) as Record<string, { state: string }>;
  const out: Record<string, string> = {};
  const si = s.plan.spines.indexOf(frr);
  for (const n of s.plan.nodes) out[n.name] = peers[n.uplinks[si].b.address]?.state ?? "absent";
  return out;
}

/** BGP session states on the BIRD spine, by node name. */
export async function birdSessions(s: ClusterState): Promise<Record<string, string>> {
  const bird = s.plan.spines.find((x) => x.kind === "bird")!;
  const r = await birdc(s.runDir, bird, "show", "protocols");
  const out: Record<string, string> = {};
  for (const n of s.plan.nodes) {
    const line = r.stdout.split("\n").find((l) => l.startsWith(`node_${n.index} `));
    out[n.name] = line?.trim().split(/\s+/).slice(5).join(" ") ?? "absent";
  }
  return out;
}

/** Waits until every node has an Established session with both spines. */
export async function waitSessionsEstablished(s: ClusterState, timeoutMs = 60_000) {
  await waitFor(
    "every session Established on FRR and BIRD",
    async () => {
      const f = await frrSessions(s);
      const b = await birdSessions(s);
      const ok = Object.values(f).every((v) => v === "Established") &&
        Object.values(b).every((v) => v.startsWith("Established"));
      return ok ? true : undefined;
    },
    timeoutMs,
    500,
  );
}

/** Next hops (node names) of a prefix in a spine's kernel table, sorted; [] when absent. */
export async function spineNextHops(
  s: ClusterState,
  spineIndex: number,
  prefix: string,
): Promise<string[]> {
  const spine = s.plan.spines[spineIndex];
  const r = await run(["ip", "-j", "-n", spine.ns, "route", "show", "exact", prefix]);
  const routes = JSON.parse(r.stdout || "[]") as Array<
    { gateway?: string; nexthops?: Array<{ gateway: string }> }
  >;
  const gws = routes.flatMap((rt) =>
    rt.nexthops ? rt.nexthops.map((h) => h.gateway) : rt.gateway ? [rt.gateway] : []
  );
  return gws.map((gw) =>
    s.plan.nodes.find((n) => n.uplinks[spineIndex].b.address === gw)?.name ?? gw
  ).sort();
}

/** Waits until both spines route `prefix` to exactly `nodes` (sorted names; [] = withdrawn). */
export async function waitNextHops(
  s: ClusterState,
  prefix: string,
  nodes: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const want = JSON.stringify([...nodes].sort());
  let last = "";
  await waitFor(
    `${prefix} via ${want} on both spines`,
    async () => {
      const a = await spineNextHops(s, 0, prefix);
      const b = await spineNextHops(s, 1, prefix);
      last = JSON.stringify({ frr: a, bird: b });
      return JSON.stringify(a) === want && JSON.stringify(b) === want ? true : undefined;
    },
    timeoutMs,
    250,
  ).catch((e) => {
    throw new Error(`${e.message}; last seen ${last}`);
  });
}

/** BGPPeer objects with their status: name → [node, address, sessionState, condition]. */
export async function bgpPeerStates(
  c: KubeClient,
): Promise<Map<string, { node: string; addr: string; state?: string; condition?: string }>> {
  const { items } = await c.listAll<BGPPeerObject>(Resources.bgpPeers);
  return new Map(items.map((p) => [p.metadata.name!, {
    node: p.spec.node,
    addr: p.spec.addr,
    state: p.status?.sessionState,
    condition: p.status?.conditions?.find((x) => x.type === "Established")?.status,
  }]));
}

/** An HTTP GET from the client namespace; the parsed answer or undefined. */
export async function clientGet(
  s: ClusterState,
  ip: string,
  port = 80,
  timeoutS = 3,
): Promise<{ pod: string; node: string; ip: string } | undefined> {
  const t = String(timeoutS);
  const r = await run(["curl", "-s", "-m", t, "--connect-timeout", t, `http://${ip}:${port}/`], {
    ns: s.plan.client.ns,
    check: false,
  });
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

/** Creates a namespace (ignores "exists"). */
export async function createNamespace(
  c: KubeClient,
  name: string,
  annotations?: Record<string, string>,
): Promise<void> {
  await c.create(Resources.namespaces, {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, ...(annotations ? { annotations } : {}) },
  }).catch((e) => {
    if (!String(e).includes("exists")) throw e;
  });
}

/** Creates a pod, optionally pinned to a node. */
export function createPod(
  c: KubeClient,
  namespace: string,
  name: string,
  opts: { labels?: Record<string, string>; node?: string; annotations?: Record<string, string> } =
    {},
): Promise<SimPod> {
  return c.create<SimPod>(Resources.pods, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      containers: [{ name: "app", image: "sim" }],
      ...(opts.node ? { nodeSelector: { "kubernetes.io/hostname": opts.node } } : {}),
    },
  } as unknown as SimPod);
}

/** Waits until the named pods are Running with an address; returns them by name. */
export async function waitPodsRunning(
  c: KubeClient,
  namespace: string,
  names: string[],
  timeoutMs = 60_000,
): Promise<Map<string, SimPod>> {
  return await waitFor(
    `${names.length} pods Running in ${namespace}`,
    async () => {
      const { items } = await c.listAll<SimPod>(Resources.pods, { namespace });
      const byName = new Map(items.map((p) => [p.metadata.name!, p]));
      const ok = names.every((n) => {
        const p = byName.get(n);
        return p?.status?.phase === "Running" && !!p.status.podIP;
      });
      return ok ? byName : undefined;
    },
    timeoutMs,
    300,
  );
}

/**
 * Creates a LoadBalancer Service selecting `app=<app>` on port 80 → 8080. With `ip`, the address
 * is requested with the `tern.dev/loadBalancerIPs` annotation (the controller gives exactly it).
 */
export function createService(
  c: KubeClient,
  namespace: string,
  name: string,
  app: string,
  policy: "Cluster" | "Local" = "Cluster",
  ip?: string,
  annotations: Record<string, string> = {},
): Promise<SimService> {
  const ann = { ...annotations, ...(ip ? { "tern.dev/loadBalancerIPs": ip } : {}) };
  return c.create<SimService>(Resources.services, {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, ...(Object.keys(ann).length ? { annotations: ann } : {}) },
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: "tern.dev/bgp",
      externalTrafficPolicy: policy,
      selector: { app },
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    },
  } as unknown as SimService);
}

/**
 * Makes sure a Service created with `ip` has it: with tern's controller running, waits until the
 * controller wrote it into the status; without it, writes it there (standing in for it).
 */
export async function assignAddress(
  s: ClusterState,
  c: KubeClient,
  namespace: string,
  name: string,
  ip: string,
): Promise<void> {
  if (s.controller) {
    await waitFor(
      `${namespace}/${name} gets ${ip} from the controller`,
      async () => {
        const svc = await c.get<SimService>(Resources.services, name, namespace);
        return (svc.status?.loadBalancer?.ingress ?? []).some((i) => i.ip === ip)
          ? true
          : undefined;
      },
      30_000,
      100,
    );
    return;
  }
  await c.mergePatch<KubeObject>(Resources.services, name, {
    status: { loadBalancer: { ingress: [{ ip, ipMode: "VIP" }] } },
  }, { namespace, status: true });
}

/** The BGPPeer name of a node's session with a spine address (whoever made it). */
export async function peerNameOf(c: KubeClient, node: string, addr: string): Promise<string> {
  const { items } = await c.listAll<BGPPeerObject>(Resources.bgpPeers);
  const p = items.find((x) => x.spec.node === node && x.spec.addr === addr);
  if (!p) throw new Error(`no BGPPeer of ${node} with ${addr}`);
  return p.metadata.name!;
}

/** Asserts that every value of a record equals `want`. */
export function assertAll(rec: Record<string, string>, want: RegExp, what: string): void {
  for (const [k, v] of Object.entries(rec)) assert.match(v, want, `${what}: ${k} is ${v}`);
}

/** A spine's whole BGP-learned kernel table: prefix → node names (sorted). */
export async function spineTable(
  s: ClusterState,
  spineIndex: number,
): Promise<Map<string, string[]>> {
  const spine = s.plan.spines[spineIndex];
  const r = await run(["ip", "-j", "-n", spine.ns, "route", "show"]);
  const routes = JSON.parse(r.stdout || "[]") as Array<
    { dst: string; gateway?: string; nexthops?: Array<{ gateway: string }> }
  >;
  const out = new Map<string, string[]>();
  for (const rt of routes) {
    const gws = rt.nexthops ? rt.nexthops.map((h) => h.gateway) : rt.gateway ? [rt.gateway] : [];
    const nodes = gws.map((gw) =>
      s.plan.nodes.find((n) => n.uplinks[spineIndex].b.address === gw)?.name
    ).filter((n): n is string => !!n);
    if (nodes.length) out.set(rt.dst.includes("/") ? rt.dst : `${rt.dst}/32`, nodes.sort());
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

/** The IPv4 pod AddressBlocks a node holds (optionally of one pool), sorted. */
export async function nodeBlocks(c: KubeClient, node: string, pool?: string): Promise<string[]> {
  const { items } = await c.listAll<KubeObject>(Resources.addressBlocks);
  return items.filter((b) => {
    const s = b.spec as { node?: string; pool?: string; cidr?: string };
    return s.node === node && (!pool || s.pool === pool) && !s.cidr?.includes(":");
  }).map((b) => (b.spec as { cidr: string }).cidr).sort();
}

/** Waits until a node holds at least one block of `pool`; returns the first. */
export async function waitNodeBlock(c: KubeClient, node: string, pool = "default-pod-pool") {
  return await waitFor(
    `a ${pool} block on ${node}`,
    async () => {
      const b = await nodeBlocks(c, node, pool);
      return b.length ? b[0] : undefined;
    },
    30_000,
    200,
  );
}

/** Whether an IPv4 address is inside a CIDR. */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split("/");
  const n = (a: string) => a.split(".").reduce((x, o) => x * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(len));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

/**
 * Restarts a node's agent with `--mode <mode>` (sart's `cni` / `lb` / `dual`; the sim starts
 * agents in the default `dual`), keeping every other flag of its recorded command line, and
 * waits until its BGP wiring answers `/readyz` again.
 */
export async function restartAgentWithMode(
  s: ClusterState,
  node: string,
  mode: "cni" | "lb" | "dual",
  timeoutMs = 60_000,
): Promise<void> {
  const name = `agent-${node}`;
  const spec = JSON.parse(await Deno.readTextFile(procFiles(s.runDir, name).spec)) as ProcSpec;
  const argv = [...spec.argv];
  const at = argv.indexOf("--mode");
  if (at >= 0) argv.splice(at, 2);
  argv.push("--mode", mode);
  await stopProc(s.runDir, name);
  await startProc(s.runDir, { ...spec, argv });
  const plan = s.plan.nodes.find((n) => n.name === node);
  if (!plan) throw new Error(`no node ${JSON.stringify(node)} in the plan`);
  await waitFor(
    `${name} ready in mode ${mode}`,
    async () => {
      const r = await fetch(`${bgpWiringUrl(plan)}/readyz`).catch(() => undefined);
      if (!r) return undefined;
      await r.body?.cancel();
      return r.ok ? true : undefined;
    },
    timeoutMs,
    300,
  );
}
