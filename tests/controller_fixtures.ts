/** Shared fixtures of the controller tests (not a test file). */
import { parse as parseYaml } from "yaml";
import { ActorSystem } from "../runtime/mod.ts";
import {
  KubeApiError,
  KubeClient,
  type KubeObject,
  loadKubeEndpoint,
  type Resource,
  Resources,
} from "../actors/kube/mod.ts";
import { type KubeApiServer, startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { Api, controllerRoot, LeaderState } from "../actors/controller/mod.ts";

/** The CRD resource. */
export const CRDS: Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};

/** A test cluster: the embedded API server with tern's CRDs and the tern-system namespace. */
export interface TestCluster {
  server: KubeApiServer;
  client: KubeClient;
  close(): Promise<void>;
}

/** Starts a cluster (TLS, token auth) with the CRDs installed. */
export async function startCluster(): Promise<TestCluster> {
  const server = await startKubeApiServer({ tls: true, bookmarkIntervalMs: 1000 });
  const client = new KubeClient(loadKubeEndpoint(server.kubeconfigPath));
  try {
    const root = new URL("..", import.meta.url).pathname;
    for await (const e of Deno.readDir(`${root}/crds`)) {
      if (!e.name.endsWith(".yaml")) continue;
      const crd = parseYaml(await Deno.readTextFile(`${root}/crds/${e.name}`)) as KubeObject;
      await client.create(CRDS, crd);
    }
    await client.create(Resources.namespaces, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "tern-system" },
    });
  } catch (e) {
    client.close();
    await server.close();
    throw e;
  }
  return {
    server,
    client,
    async close() {
      client.close();
      await server.close();
    },
  };
}

/** A controller running in-process. */
export interface TestController {
  system: ActorSystem;
  state: LeaderState;
  api: Api;
  stop(): Promise<void>;
}

/** Starts a controller replica in this process. */
export async function startController(
  cluster: TestCluster,
  options: {
    name?: string;
    identity?: string;
    leaseDurationMs?: number;
    repair?: boolean;
    checkMs?: number;
    handleClassless?: boolean;
  } = {},
): Promise<TestController> {
  const name = options.name ?? "controller";
  const client = new KubeClient(loadKubeEndpoint(cluster.server.kubeconfigPath));
  const api = new Api(client, { retryBaseMs: 20 });
  const state = new LeaderState();
  const system = new ActorSystem({
    name,
    logLevel: Deno.env.get("TERN_TEST_LOGS") ? "debug" : "silent",
  });
  await system.start(controllerRoot({
    name,
    api,
    identity: options.identity ?? name,
    namespace: "tern-system",
    leaseDurationMs: options.leaseDurationMs ?? 3000,
    classPolicy: { lbClass: "tern.dev/bgp", handleClassless: options.handleClassless ?? true },
    repair: options.repair ?? false,
    checkMs: options.checkMs ?? 60_000,
    resyncMs: 60_000,
    state,
  }));
  return {
    system,
    state,
    api,
    async stop() {
      await system.shutdown();
      client.close();
    },
  };
}

/** Polls `cond` every 20 ms until it holds; fails after `timeoutMs`. */
export async function waitFor<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Lists every object of a resource. */
export async function list<T extends KubeObject = KubeObject>(
  client: KubeClient,
  r: Resource,
  namespace?: string,
): Promise<T[]> {
  return (await client.listAll<T>(r, namespace ? { namespace } : {})).items;
}

/** A Node with an InternalIP and labels. */
export function node(name: string, ip: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
    status: { addresses: [{ type: "InternalIP", address: ip }] },
  } as KubeObject;
}

/** An AddressPool. */
export function pool(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: "tern.dev/v1alpha1", kind: "AddressPool", metadata: { name }, spec };
}

/** A LoadBalancer Service. */
export function lbService(
  namespace: string,
  name: string,
  options: {
    annotations?: Record<string, string>;
    ports?: number[];
    policy?: "Cluster" | "Local";
    families?: string[];
    familyPolicy?: string;
    lbClass?: string;
    selector?: Record<string, string>;
  } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    spec: {
      type: "LoadBalancer",
      selector: options.selector ?? { app: name },
      ports: (options.ports ?? [80]).map((port) => ({ protocol: "TCP", port, targetPort: port })),
      externalTrafficPolicy: options.policy ?? "Cluster",
      ...(options.families ? { ipFamilies: options.families } : {}),
      ...(options.familyPolicy ? { ipFamilyPolicy: options.familyPolicy } : {}),
      ...(options.lbClass ? { loadBalancerClass: options.lbClass } : {}),
    },
  };
}

/** The IPs a Service's status shows. */
export function ingress(svc: KubeObject | undefined): string[] {
  return ((svc?.status?.loadBalancer?.ingress ?? []) as { ip?: string }[]).map((i) => i.ip ?? "");
}

/** Events about an object, by reason. */
export async function eventReasons(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<string[]> {
  const events = await list<KubeObject & { involvedObject: { name: string }; reason: string }>(
    client,
    Resources.events,
    namespace,
  );
  return events.filter((e) => e.involvedObject.name === name).map((e) => e.reason);
}

/** Ignores AlreadyExists. */
export async function ensure(client: KubeClient, r: Resource, obj: KubeObject): Promise<void> {
  try {
    await client.create(r, obj);
  } catch (e) {
    if (!(e instanceof KubeApiError && e.isAlreadyExists)) throw e;
  }
}
