/**
 * EndpointSlices of the simulated cluster (what kube-controller-manager's EndpointSlice
 * controller does), computed from Services and Pods. Pure.
 * @module
 */
import type { KubeObject } from "../kube/mod.ts";
import type { SimPod } from "./node_sim.ts";

/** A Service as the simulator reads it. */
export interface SimService extends KubeObject {
  spec?: {
    type?: string;
    selector?: Record<string, string>;
    externalTrafficPolicy?: string;
    /** `IPv4` and/or `IPv6` (as the API server fills it in). */
    ipFamilies?: string[];
    /** `SingleStack`, `PreferDualStack` or `RequireDualStack`. */
    ipFamilyPolicy?: string;
    ports?: Array<{ name?: string; port: number; targetPort?: number | string; protocol?: string }>;
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

/** An EndpointSlice (discovery.k8s.io/v1), the fields the simulator writes. */
export interface SimEndpointSlice extends KubeObject {
  addressType: SliceFamily;
  endpoints: Array<{
    addresses: string[];
    conditions: { ready: boolean; serving: boolean; terminating: boolean };
    nodeName?: string;
    targetRef?: { kind: "Pod"; namespace: string; name: string; uid: string };
  }>;
  ports: Array<{ name: string; port: number; protocol: string }>;
}

/** The address type of an EndpointSlice. */
export type SliceFamily = "IPv4" | "IPv6";

/**
 * The families of a Service's EndpointSlices (one slice per family, as Kubernetes does): its
 * `ipFamilies`, else both for a dual-stack policy, else IPv4.
 */
export function serviceFamilies(svc: SimService): SliceFamily[] {
  const fams = (svc.spec?.ipFamilies ?? []).filter((f): f is SliceFamily =>
    f === "IPv4" || f === "IPv6"
  );
  if (fams.length > 0) return [...new Set(fams)];
  const policy = svc.spec?.ipFamilyPolicy;
  return policy === "PreferDualStack" || policy === "RequireDualStack"
    ? ["IPv4", "IPv6"]
    : ["IPv4"];
}

/** A pod's address of a family (IPv4: `podIP`; IPv6: from `podIPs`). */
export function podAddress(p: SimPod, family: SliceFamily): string | undefined {
  const all = [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)];
  return all.find((a): a is string => !!a && a.includes(":") === (family === "IPv6"));
}

/** Label naming the slice's Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** Label naming the slice's manager. */
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
/** The simulator's manager name. */
export const MANAGED_BY = "tern-sim.tern.dev";

/** Whether a pod is Ready (Ready condition True) and not being deleted. */
export function podReady(p: SimPod): boolean {
  return !p.metadata.deletionTimestamp &&
    (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined) {
  const l = labels ?? {};
  return Object.entries(selector).every(([k, v]) => l[k] === v);
}

/** The slice name of a Service (per family: the IPv6 one ends in `-v6`). */
export function sliceName(svc: SimService, family: SliceFamily = "IPv4"): string {
  return `${svc.metadata.name}-sim${family === "IPv6" ? "-v6" : ""}`;
}

/** The desired EndpointSlices of a Service, one per family of the Service. */
export function desiredSlices(svc: SimService, pods: SimPod[]): SimEndpointSlice[] {
  return serviceFamilies(svc).flatMap((f) => desiredSlice(svc, pods, f) ?? []);
}

/**
 * The desired EndpointSlice of a Service for one family, or undefined for a Service without a
 * selector. Pods with an address of the family are listed (ready or not, as Kubernetes does),
 * ordered by name.
 */
export function desiredSlice(
  svc: SimService,
  pods: SimPod[],
  family: SliceFamily = "IPv4",
): SimEndpointSlice | undefined {
  const selector = svc.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return undefined;
  const ns = svc.metadata.namespace ?? "default";
  const members = pods
    .filter((p) =>
      (p.metadata.namespace ?? "default") === ns && matches(selector, p.metadata.labels) &&
      podAddress(p, family) !== undefined
    )
    .sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: sliceName(svc, family),
      namespace: ns,
      labels: { [SERVICE_NAME_LABEL]: svc.metadata.name!, [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [{
        apiVersion: "v1",
        kind: "Service",
        name: svc.metadata.name!,
        uid: svc.metadata.uid!,
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    addressType: family,
    endpoints: members.map((p) => {
      const ready = podReady(p);
      return {
        addresses: [podAddress(p, family)!],
        conditions: { ready, serving: ready, terminating: !!p.metadata.deletionTimestamp },
        ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
        targetRef: {
          kind: "Pod" as const,
          namespace: ns,
          name: p.metadata.name!,
          uid: p.metadata.uid!,
        },
      };
    }),
    ports: (svc.spec?.ports ?? []).map((sp) => ({
      name: sp.name ?? "",
      port: typeof sp.targetPort === "number" ? sp.targetPort : sp.port,
      protocol: sp.protocol ?? "TCP",
    })),
  };
}

/** Whether two slices have the same content (endpoints, ports, labels). */
export function sameSlice(a: SimEndpointSlice, b: SimEndpointSlice): boolean {
  return JSON.stringify([a.endpoints, a.ports, a.metadata.labels]) ===
    JSON.stringify([b.endpoints, b.ports, b.metadata.labels]);
}
