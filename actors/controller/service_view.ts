/**
 * What the controller reads from a Service, pure: whether tern handles it, the allocation
 * request its spec, labels and annotations make, and the `status.loadBalancer` it should show.
 */
import type { KubeObject } from "../kube/mod.ts";
import {
  type IpFamily,
  type IpFamilyPolicy,
  parseLoadBalancerIPs,
  parsePeerGroups,
  parseServicePools,
  parseSharingKey,
  type ServiceRequest,
} from "../ipam/mod.ts";

/** The fields of a Service the controller uses. */
export interface Service extends KubeObject {
  spec?: {
    type?: string;
    loadBalancerClass?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    externalTrafficPolicy?: string;
    selector?: Record<string, string>;
    ports?: { protocol?: string; port: number }[];
  };
  status?: {
    loadBalancer?: { ingress?: { ip?: string; hostname?: string; ipMode?: string }[] };
    conditions?: import("./conditions.ts").Condition[];
  };
}

/** Which LoadBalancer Services tern handles. */
export interface ClassPolicy {
  /** tern's `spec.loadBalancerClass`. */
  lbClass: string;
  /** Also handle LoadBalancer Services without a class. */
  handleClassless: boolean;
}

/** `namespace/name`. */
export function serviceKey(svc: KubeObject): string {
  return `${svc.metadata.namespace}/${svc.metadata.name}`;
}

/** True when the Service is a LoadBalancer of tern's class (or classless, when handled). */
export function isManaged(svc: Service, policy: ClassPolicy): boolean {
  if (svc.spec?.type !== "LoadBalancer") return false;
  if (svc.metadata.deletionTimestamp) return false;
  const cls = svc.spec.loadBalancerClass;
  return cls === undefined || cls === "" ? policy.handleClassless : cls === policy.lbClass;
}

/** The addresses a Service's status shows (IP entries only). */
export function statusAddresses(svc: Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
}

function families(svc: Service): IpFamily[] | undefined {
  const fams = svc.spec?.ipFamilies;
  if (!fams || fams.length === 0) return undefined;
  return fams.map((f) => (f === "IPv6" ? 6 : 4) as IpFamily);
}

/**
 * The allocation request of a Service. Throws the ipam layer's `BadAnnotationError` for a bad
 * annotation (the caller turns it into an Event and a condition).
 */
export function serviceRequest(
  svc: Service,
  namespaceLabels: Record<string, string> | undefined,
): ServiceRequest {
  const annotations = svc.metadata.annotations ?? {};
  const req: ServiceRequest = {
    key: serviceKey(svc),
    namespace: svc.metadata.namespace ?? "default",
    labels: svc.metadata.labels ?? {},
    namespaceLabels: namespaceLabels ?? {},
    ports: (svc.spec?.ports ?? []).map((p) => ({ protocol: p.protocol ?? "TCP", port: p.port })),
    trafficPolicy: svc.spec?.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
  };
  const fams = families(svc);
  if (fams) req.families = fams;
  const policy = svc.spec?.ipFamilyPolicy;
  if (policy === "SingleStack" || policy === "PreferDualStack" || policy === "RequireDualStack") {
    req.familyPolicy = policy as IpFamilyPolicy;
  }
  const pools = parseServicePools(annotations);
  if (pools) req.pools = pools;
  const addresses = parseLoadBalancerIPs(annotations);
  if (addresses) req.addresses = addresses;
  const key = parseSharingKey(annotations);
  if (key) req.sharingKey = key;
  const sel = svc.spec?.selector;
  if (sel) {
    req.selectorKey = Object.keys(sel).sort().map((k) => `${k}=${sel[k]}`).join(",");
  }
  // Validate the peer groups too, so a bad one is reported with the other annotations.
  parsePeerGroups(annotations);
  return req;
}

/** The peer groups a Service's advertisements are limited to (undefined: every peer). */
export function servicePeerGroups(svc: Service): string[] | undefined {
  try {
    return parsePeerGroups(svc.metadata.annotations ?? {});
  } catch {
    return undefined;
  }
}

/** `status.loadBalancer.ingress` for a list of addresses. */
export function ingressOf(addresses: readonly string[]): { ip: string; ipMode: string }[] {
  return addresses.map((ip) => ({ ip, ipMode: "VIP" }));
}

/** True when the Service's status shows exactly these addresses, in order. */
export function showsAddresses(svc: Service, addresses: readonly string[]): boolean {
  const shown = statusAddresses(svc);
  const entries = svc.status?.loadBalancer?.ingress ?? [];
  return entries.length === addresses.length && shown.length === addresses.length &&
    shown.every((a, i) => a === addresses[i]);
}
