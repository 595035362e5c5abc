/**
 * Controller scale, side by side with the API-server floor measured in the same run.
 *
 * 1. N LoadBalancer Services (default 10,000) created in a burst (32 creates in flight): time
 *    until every one shows an address, and per Service (create answered → address seen).
 *    Floor: the same creates plus one status write per Service done by a bare client (no
 *    controller) — the least API work any LoadBalancer controller must cause.
 * 2. M nodes (default 1,000), each asking its pod pool for a block (a BlockRequest, as the agent
 *    does), under a ClusterBGP with two peers: time until every node has its block, its NodeBGP
 *    and its two BGPPeers. Floor: a bare client creating the same blocks, NodeBGPs and peers
 *    and answering the requests.
 *
 * The embedded API server (TLS) and the load generator run in this process; the controller runs
 * as its own process (`roles/controller.ts`), as in a cluster, so its CPU time is measured alone.
 *
 *   deno run -A bench/controller_scale.ts [services] [nodes]
 */
import { parse as parseYaml } from "yaml";
import {
  KubeClient,
  type KubeObject,
  loadKubeEndpoint,
  type Resource,
  Resources,
} from "../actors/kube/mod.ts";
import { type KubeApiServer, startKubeApiServer } from "../actors/kubeapi/mod.ts";

const SERVICES = Number(Deno.args[0] ?? 10_000);
const NODES = Number(Deno.args[1] ?? 1_000);
const CONCURRENCY = 32;
const T = "tern.dev/v1alpha1";
const CRDS: Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};

interface Env {
  server: KubeApiServer;
  client: KubeClient;
  close(): Promise<void>;
}

async function cluster(): Promise<Env> {
  const server = await startKubeApiServer({ tls: true, historyLimit: 100_000 });
  const client = new KubeClient(loadKubeEndpoint(server.kubeconfigPath));
  const root = new URL("..", import.meta.url).pathname;
  for await (const e of Deno.readDir(`${root}/crds`)) {
    if (!e.name.endsWith(".yaml")) continue;
    await client.create(CRDS, parseYaml(await Deno.readTextFile(`${root}/crds/${e.name}`)));
  }
  await client.create(Resources.namespaces, {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "tern-system" },
  });
  return {
    server,
    client,
    async close() {
      client.close();
      await server.close();
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The controller role as its own process (as in a cluster), ready and leading. */
async function startController(env: Env) {
  const root = new URL("..", import.meta.url).pathname;
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=controller",
      `${root}/roles/controller.ts`,
      "--kubeconfig",
      env.server.kubeconfigPath,
      "--identity",
      "bench",
      "--check-interval",
      "10m",
      "--resync",
      "10m",
      "--inspect-address",
      `127.0.0.1:${port}`,
      "--log-level",
      "error",
    ],
    cwd: root,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const t0 = performance.now();
  for (;;) {
    if (performance.now() - t0 > 60_000) throw new Error("controller did not become ready");
    const lease = await env.client.tryGet(Resources.leases, "tern-controller", "tern-system");
    if (lease?.spec?.holderIdentity === "bench") {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        await r.body?.cancel();
        if (r.ok) break;
      } catch { /* not listening yet */ }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const cpu0 = cpuSeconds(child.pid);
  return {
    /** CPU seconds the controller used since it was ready. */
    cpu: () => cpuSeconds(child.pid) - cpu0,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function inParallel<T>(items: T[], limit: number, fn: (t: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Watches a resource and calls `seen(obj)` for every version; resolves when `done()`. */
async function watchUntil(
  client: KubeClient,
  r: Resource,
  seen: (o: KubeObject) => void,
  done: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const { items, resourceVersion } = await client.listAll(r);
  items.forEach(seen);
  let rv = resourceVersion;
  let failures = 0;
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out watching ${r.plural}`);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), Math.max(1, deadline - performance.now()));
    try {
      for await (
        const ev of client.watch(r, { resourceVersion: rv, timeoutSeconds: 60, signal: ac.signal })
      ) {
        if (ev.object.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
        if (ev.type === "ADDED" || ev.type === "MODIFIED") seen(ev.object);
        if (done()) break;
      }
    } catch (e) {
      if ((e as Error).name === "AbortError") continue;
      // A dropped or failed watch: relist (nothing is missed) and watch again.
      failures++;
      await new Promise((r) => setTimeout(r, 100));
      const again = await client.listAll(r);
      again.items.forEach(seen);
      rv = again.resourceVersion;
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }
  if (failures > 0) {
    console.error(`(${r.plural}: the load generator's watch failed ${failures} time(s))`);
  }
}

function service(i: number): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `s${i}`, namespace: "default" },
    spec: {
      type: "LoadBalancer",
      // As BGP load balancers are run at scale: no NodePorts (the embedded server, like a real
      // one, has only 2,768 of them).
      allocateLoadBalancerNodePorts: false,
      selector: { app: `s${i}` },
      ports: [{ protocol: "TCP", port: 80, targetPort: 80 }],
    },
  };
}

const servicePool = {
  apiVersion: T,
  kind: "AddressPool",
  metadata: { name: "lb" },
  spec: { type: "service", cidrs: ["198.18.0.0/16"], autoAssign: true },
};

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function servicesTern() {
  const env = await cluster();
  const ctl = await startController(env);
  try {
    await env.client.create(Resources.addressPools, servicePool);
    const createdAt = new Map<string, number>();
    const latency: number[] = [];
    const addressed = new Set<string>();
    const cpu0 = cpuSeconds("self");
    const t0 = performance.now();
    const watching = watchUntil(
      env.client,
      Resources.services,
      (o) => {
        const name = o.metadata.name!;
        if (addressed.has(name) || !(o.status?.loadBalancer?.ingress ?? []).length) return;
        addressed.add(name);
        const c = createdAt.get(name);
        if (c !== undefined) latency.push(performance.now() - c);
      },
      () => addressed.size >= SERVICES,
      900_000,
    );
    await inParallel([...Array(SERVICES).keys()], CONCURRENCY, async (i) => {
      await env.client.create(Resources.services, service(i));
      createdAt.set(`s${i}`, performance.now());
    });
    const createdMs = performance.now() - t0;
    await watching;
    const totalMs = performance.now() - t0;
    latency.sort((a, b) => a - b);
    return {
      createdMs,
      totalMs,
      p50: quantile(latency, 0.5),
      p99: quantile(latency, 0.99),
      controllerCpu: ctl.cpu(),
      serverCpu: cpuSeconds("self") - cpu0,
    };
  } finally {
    await ctl.stop();
    await env.close();
  }
}

async function servicesFloor() {
  const env = await cluster();
  try {
    const cpu0 = cpuSeconds("self");
    const t0 = performance.now();
    const latency: number[] = [];
    await inParallel([...Array(SERVICES).keys()], CONCURRENCY, async (i) => {
      await env.client.create(Resources.services, service(i));
      const c = performance.now();
      await env.client.mergePatch(Resources.services, `s${i}`, {
        status: { loadBalancer: { ingress: [{ ip: `198.18.${i >> 8}.${i & 255}` }] } },
      }, { namespace: "default", status: true });
      latency.push(performance.now() - c);
    });
    const totalMs = performance.now() - t0;
    latency.sort((a, b) => a - b);
    return {
      totalMs,
      p50: quantile(latency, 0.5),
      p99: quantile(latency, 0.99),
      serverCpu: cpuSeconds("self") - cpu0,
    };
  } finally {
    await env.close();
  }
}

function nodeObj(i: number): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: `node-${i}`, labels: { rack: "r1" } },
    status: {
      addresses: [{ type: "InternalIP", address: `198.19.${i >> 8}.${i & 255}` }],
    },
  } as KubeObject;
}

const podPool = {
  apiVersion: T,
  kind: "AddressPool",
  metadata: { name: "pods" },
  spec: { type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 26 },
};

const clusterBGP = {
  apiVersion: T,
  kind: "ClusterBGP",
  metadata: { name: "all" },
  spec: {
    asnSelector: { from: "asn", asn: 64512 },
    routerIdSelector: { from: "internalAddress" },
    peers: [
      { name: "spine1", peerConfig: { asn: 65000, addr: "192.0.2.1" } },
      { name: "spine2", peerConfig: { asn: 65000, addr: "192.0.2.2" } },
    ],
  },
};

function blockRequest(i: number): KubeObject {
  return {
    apiVersion: T,
    kind: "BlockRequest",
    metadata: { name: `pods-node-${i}` },
    spec: { pool: "pods", node: `node-${i}` },
  };
}

async function nodesTern() {
  const env = await cluster();
  const ctl = await startController(env);
  try {
    await env.client.create(Resources.addressPools, podPool);
    await env.client.create(Resources.clusterBGPs, clusterBGP);
    const blocks = new Set<string>(), nbgps = new Set<string>(), peers = new Set<string>();
    const cpu0 = cpuSeconds("self");
    const t0 = performance.now();
    const done = () => blocks.size >= NODES && nbgps.size >= NODES && peers.size >= 2 * NODES;
    const w = Promise.all([
      watchUntil(
        env.client,
        Resources.addressBlocks,
        (o) => blocks.add(o.metadata.name!),
        () => blocks.size >= NODES,
        900_000,
      ),
      watchUntil(
        env.client,
        Resources.nodeBGPs,
        (o) => nbgps.add(o.metadata.name!),
        () => nbgps.size >= NODES,
        900_000,
      ),
      watchUntil(
        env.client,
        Resources.bgpPeers,
        (o) => peers.add(o.metadata.name!),
        () => peers.size >= 2 * NODES,
        900_000,
      ),
    ]);
    await inParallel([...Array(NODES).keys()], CONCURRENCY, async (i) => {
      await env.client.create(Resources.nodes, nodeObj(i));
      await env.client.create(Resources.blockRequests, blockRequest(i));
    });
    const createdMs = performance.now() - t0;
    await w;
    if (!done()) throw new Error("not converged");
    return {
      createdMs,
      totalMs: performance.now() - t0,
      controllerCpu: ctl.cpu(),
      serverCpu: cpuSeconds("self") - cpu0,
    };
  } finally {
    await ctl.stop();
    await env.close();
  }
}

async function nodesFloor() {
  const env = await cluster();
  try {
    await env.client.create(Resources.addressPools, podPool);
    await env.client.create(Resources.clusterBGPs, clusterBGP);
    const cpu0 = cpuSeconds("self");
    const t0 = performance.now();
    await inParallel([...Array(NODES).keys()], CONCURRENCY, async (i) => {
      const c = env.client;
      await c.create(Resources.nodes, nodeObj(i));
      await c.create(Resources.blockRequests, blockRequest(i));
      const cidr = `198.18.${i >> 2}.${(i & 3) * 64}/26`;
      await c.create(Resources.addressBlocks, {
        apiVersion: T,
        kind: "AddressBlock",
        metadata: { name: `pods-${cidr.replace(/[./]/g, "-")}` },
        spec: { cidr, pool: "pods", node: `node-${i}`, type: "pod" },
      });
      await c.mergePatch(Resources.blockRequests, `pods-node-${i}`, {
        status: { addressBlock: `pods-${cidr.replace(/[./]/g, "-")}`, cidr },
      }, { status: true });
      await c.create(Resources.nodeBGPs, {
        apiVersion: T,
        kind: "NodeBGP",
        metadata: { name: `node-${i}` },
        spec: { asn: 64512, routerId: `198.19.${i >> 8}.${i & 255}` },
      });
      for (const addr of ["192.0.2.1", "192.0.2.2"]) {
        await c.create(Resources.bgpPeers, {
          apiVersion: T,
          kind: "BGPPeer",
          metadata: { name: `all-node-${i}-65000-${addr}` },
          spec: { asn: 65000, addr, node: `node-${i}` },
        });
      }
    });
    return { totalMs: performance.now() - t0, serverCpu: cpuSeconds("self") - cpu0 };
  } finally {
    await env.close();
  }
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const ONLY = Deno.args[2]; // run one phase alone (for profiling): st, sf, nt, nf
if (ONLY) {
  const run = { st: servicesTern, sf: servicesFloor, nt: nodesTern, nf: nodesFloor }[ONLY];
  if (!run) throw new Error(`unknown phase ${ONLY}`);
  console.log(JSON.stringify(await run()));
  Deno.exit(0);
}
const sT = await servicesTern();
const sF = await servicesFloor();
const nT = await nodesTern();
const nF = await nodesFloor();

console.log(`| scenario | tern controller | API floor (bare client, same writes) | ratio |`);
console.log(`| --- | --- | --- | --- |`);
console.log(
  `| ${SERVICES} LB Services, burst → all addressed | ${fmt(sT.totalMs)} (creates done at ${
    fmt(sT.createdMs)
  }) | ${fmt(sF.totalMs)} | ${(sT.totalMs / sF.totalMs).toFixed(2)} |`,
);
console.log(
  `| per Service: create answered → address seen (p50 / p99) | ${fmt(sT.p50)} / ${
    fmt(sT.p99)
  } | status write alone: ${fmt(sF.p50)} / ${fmt(sF.p99)} | |`,
);
console.log(
  `| throughput | ${(SERVICES / (sT.totalMs / 1000)).toFixed(0)} Services/s | ${
    (SERVICES / (sF.totalMs / 1000)).toFixed(0)
  } Services/s | ${((SERVICES / sT.totalMs) / (SERVICES / sF.totalMs)).toFixed(2)} |`,
);
console.log(
  `| CPU: controller / API server + load generator | ${sT.controllerCpu.toFixed(1)} s (${
    (1000 * sT.controllerCpu / SERVICES).toFixed(2)
  } ms per Service) / ${sT.serverCpu.toFixed(1)} s | — / ${sF.serverCpu.toFixed(1)} s | |`,
);
console.log(
  `| ${NODES} nodes → block + NodeBGP + 2 BGPPeers each | ${fmt(nT.totalMs)} (creates done at ${
    fmt(nT.createdMs)
  }) | ${fmt(nF.totalMs)} | ${(nT.totalMs / nF.totalMs).toFixed(2)} |`,
);
console.log(
  `| CPU: controller / API server + load generator | ${nT.controllerCpu.toFixed(1)} s (${
    (1000 * nT.controllerCpu / NODES).toFixed(2)
  } ms per node) / ${nT.serverCpu.toFixed(1)} s | — / ${nF.serverCpu.toFixed(1)} s | |`,
);
console.log(
  `\nCilium's published LB-IPAM scale test (ClusterLoader2) creates 50,000 Services in a ` +
    `3-minute window (~278/s, cilium/cilium#46865); MetalLB publishes no allocation-rate figure.`,
);
