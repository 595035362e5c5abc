/**
 * Which BGPAdvertisements the controller wants, pure: their names, specs and target peers.
 */
import { Cidr, IpAddress } from "../ipam/mod.ts";
import type { OwnerReference } from "../kube/mod.ts";

/** Label marking objects the controller made (and may delete). */
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
/** Its value. */
export const MANAGED_BY = "tern-controller";

/** An advertisement an owner wants. */
export interface DesiredAd {
  namespace: string;
  name: string;
  owner: OwnerReference;
  cidr: string;
  type: "pod" | "service";
  family: "ipv4" | "ipv6";
  /** Nodes whose peers get it ("all": every node). */
  nodes: readonly string[] | "all";
  /** Peer groups it is limited to (undefined: every peer). */
  groups?: readonly string[];
  /** Extra labels (e.g. the Service). */
  labels?: Record<string, string>;
}

/** A BGPPeer as far as targeting goes. */
export interface PeerTarget {
  name: string;
  node: string;
  groups: readonly string[];
  /** Families its session carries (undefined: any); a prefix of another family is not sent. */
  families?: readonly ("ipv4" | "ipv6")[];
}

/** A CIDR as a name fragment: `198-51-100-7-32`, `fd00--1-128`. */
export function cidrSlug(cidr: string): string {
  return cidr.replace(/[.:/]/g, "-");
}

/** Joins name parts, keeping the result a valid object name of at most 253 characters. */
export function objectNameOf(head: string, tail: string): string {
  const room = Math.max(1, 253 - tail.length - 1);
  const h = head.slice(0, room).replace(/[-.]+$/, "");
  return `${h}-${tail}`.toLowerCase();
}

/** The prefix announced for a LoadBalancer address given its pool's aggregation length. */
export function announcedPrefix(address: string, aggregationLength: number | undefined): string {
  const a = IpAddress.parse(address);
  const len = aggregationLength ?? (a.family === 4 ? 32 : 128);
  return Cidr.containing(a, len).toString();
}

/**
 * The peers an advertisement goes to: peers of the target nodes whose session carries the
 * prefix's family, in the groups if any.
 */
export function targetPeers(ad: DesiredAd, peers: Iterable<PeerTarget>): string[] {
  const nodes = ad.nodes === "all" ? undefined : new Set(ad.nodes);
  const out: string[] = [];
  for (const p of peers) {
    if (nodes && !nodes.has(p.node)) continue;
    if (p.families && !p.families.includes(ad.family)) continue;
    if (ad.groups && ad.groups.length > 0 && p.groups.length > 0) {
      if (!p.groups.some((g) => ad.groups!.includes(g))) continue;
    }
    out.push(p.name);
  }
  return out.sort();
}

/**
 * The advertisements of one LoadBalancer Service: one per announced prefix (an address, or its
 * covering prefix when the pool aggregates), in the Service's namespace, owned by it.
 */
export function serviceAds(
  svc: { namespace: string; name: string; uid: string },
  addresses: readonly { ip: string; aggregationLength?: number }[],
  target: { nodes: readonly string[] | "all"; groups?: readonly string[] },
): DesiredAd[] {
  const seen = new Set<string>();
  const out: DesiredAd[] = [];
  for (const a of addresses) {
    const cidr = announcedPrefix(a.ip, a.aggregationLength);
    if (seen.has(cidr)) continue;
    seen.add(cidr);
    const ad: DesiredAd = {
      namespace: svc.namespace,
      name: objectNameOf(svc.name, cidrSlug(cidr)),
      owner: { apiVersion: "v1", kind: "Service", name: svc.name, uid: svc.uid },
      cidr,
      type: "service",
      family: cidr.includes(":") ? "ipv6" : "ipv4",
      nodes: target.nodes,
      labels: { "tern.dev/service": svc.name },
    };
    if (target.groups) ad.groups = target.groups;
    out.push(ad);
  }
  return out;
}
