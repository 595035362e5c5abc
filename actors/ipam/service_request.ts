/**
 * From a Kubernetes Service object to what the LoadBalancer allocator needs, and back to the
 * Service's `status.loadBalancer.ingress`. Pure: the controller's Service actors call these.
 *
 * @module
 */

import { ANNOTATION_LOAD_BALANCER_IPS, LOAD_BALANCER_CLASS } from "../crds/names.ts";
import type { IpFamily } from "./address.ts";
import {
  parseLoadBalancerIPs,
  parseServicePools,
  parseSharingKey,
  parseSharingNamespaces,
} from "./annotations.ts";
import { BadAnnotationError } from "./errors.ts";
import type { Labels } from "./label_selector.ts";
import type { IpFamilyPolicy, ServiceAssignment, ServiceRequest } from "./service_allocator.ts";

/** The parts of a core/v1 Service tern reads (a structural subset of V1Service). */
export interface ServiceObject {
  /** Metadata. */
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
  };
  /** Spec. */
  spec?: {
    type?: string;
    loadBalancerClass?: string;
    loadBalancerIP?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    externalTrafficPolicy?: string;
    selector?: Record<string, string>;
    ports?: { protocol?: string; port: number; name?: string }[];
  };
  /** Status. */
  status?: { loadBalancer?: { ingress?: LoadBalancerIngress[] } };
}

/** One `status.loadBalancer.ingress` entry. */
export interface LoadBalancerIngress {
  /** The address. */
  ip?: string;
  /** A hostname (never set by tern). */
  hostname?: string;
  /** VIP: traffic to the address reaches the node as addressed (kube-proxy short-circuits it). */
  ipMode?: "VIP" | "Proxy";
  /** Ports status (never set by tern). */
  ports?: unknown[];
}

/** Options of {@linkcode isTernService}. */
export interface ClassOptions {
  /** Also handle LoadBalancer Services without a `loadBalancerClass` (the controller's flag). */
  handleUnclassed?: boolean;
}

/** `namespace/name` of a Service. */
export function serviceKey(svc: ServiceObject): string {
  return `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`;
}

/**
 * True when tern must give the Service addresses: a LoadBalancer, not being deleted, of tern's
 * class (or without class when `handleUnclassed`).
 */
export function isTernService(svc: ServiceObject, options: ClassOptions = {}): boolean {
  if (svc.spec?.type !== "LoadBalancer") return false;
  if (svc.metadata.deletionTimestamp) return false;
  const cls = svc.spec.loadBalancerClass;
  if (cls === undefined || cls === "") return options.handleUnclassed ?? false;
  return cls === LOAD_BALANCER_CLASS;
}

function family(text: string): IpFamily {
  if (text === "IPv4") return 4;
  if (text === "IPv6") return 6;
  throw new BadAnnotationError("spec.ipFamilies", text, "expected IPv4 or IPv6");
}

/** A canonical text of a pod selector (sorted `k=v` pairs), for sharing checks. */
export function selectorKey(selector: Record<string, string> | undefined): string | undefined {
  if (!selector || Object.keys(selector).length === 0) return undefined;
  return Object.keys(selector).sort().map((k) => `${k}=${selector[k]}`).join(",");
}

/**
 * The allocator request of a Service. Throws {@linkcode BadAnnotationError} for a bad tern
 * annotation (to become an Event and a condition on the Service).
 */
export function serviceRequest(svc: ServiceObject, namespaceLabels: Labels = {}): ServiceRequest {
  const annotations = svc.metadata.annotations ?? {};
  const req: ServiceRequest = {
    key: serviceKey(svc),
    namespace: svc.metadata.namespace ?? "default",
    labels: svc.metadata.labels ?? {},
    namespaceLabels,
    ports: (svc.spec?.ports ?? []).map((p) => ({ protocol: p.protocol ?? "TCP", port: p.port })),
    trafficPolicy: svc.spec?.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
  };
  const fams = svc.spec?.ipFamilies;
  if (fams && fams.length > 0) req.families = fams.map(family);
  const policy = svc.spec?.ipFamilyPolicy;
  if (policy !== undefined) {
    if (policy !== "SingleStack" && policy !== "PreferDualStack" && policy !== "RequireDualStack") {
      throw new BadAnnotationError("spec.ipFamilyPolicy", policy, "unknown IP family policy");
    }
    req.familyPolicy = policy as IpFamilyPolicy;
  }
  const pools = parseServicePools(annotations);
  if (pools) req.pools = pools;
  // The annotation wins; the deprecated spec.loadBalancerIP is honoured when it is absent.
  const legacy = svc.spec?.loadBalancerIP;
  const addresses = parseLoadBalancerIPs(
    annotations[ANNOTATION_LOAD_BALANCER_IPS] === undefined && legacy
      ? { [ANNOTATION_LOAD_BALANCER_IPS]: legacy }
      : annotations,
  );
  if (addresses) {
    req.addresses = addresses;
    // Dual-stack by annotation: with two families requested, both are wanted.
    if (!req.families && addresses.length === 2) req.families = addresses.map((a) => a.family);
    if (!req.families && addresses.length === 1) req.families = [addresses[0]!.family];
  }
  const sharing = parseSharingKey(annotations);
  if (sharing) req.sharingKey = sharing;
  const sharingNamespaces = parseSharingNamespaces(annotations);
  if (sharingNamespaces) req.sharingNamespaces = sharingNamespaces;
  const sel = selectorKey(svc.spec?.selector);
  if (sel) req.selectorKey = sel;
  return req;
}

/** The addresses a Service shows in its status (what a restart restores from). */
export function statusAddresses(svc: ServiceObject): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
}

/** The `status.loadBalancer.ingress` tern writes for an assignment (family order kept). */
export function ingressFor(assignment: ServiceAssignment | undefined): LoadBalancerIngress[] {
  return (assignment?.addresses ?? []).map((a) => ({ ip: a.address.toString(), ipMode: "VIP" }));
}

/** True when two ingress lists carry the same addresses in the same order (and modes). */
export function sameIngress(a: LoadBalancerIngress[], b: LoadBalancerIngress[]): boolean {
  return a.length === b.length &&
    a.every((x, i) =>
      x.ip === b[i]!.ip && (x.ipMode ?? "VIP") === (b[i]!.ipMode ?? "VIP") && !x.hostname &&
      !b[i]!.hostname
    );
}
