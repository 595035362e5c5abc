/**
 * The controller's decisions for LoadBalancer Services, without I/O: given the allocator and a
 * Service as the informer sees it, what addresses it gets, what `status.loadBalancer.ingress`
 * to write, which Event and condition to report, and what changed. The Service actor applies
 * the decision (status patch, Event, advertisements); a failed write is retried by reconciling
 * again, which is idempotent.
 *
 * @module
 */

import type { IpAddress, IpFamily } from "./address.ts";
import { aggregate, type Cidr } from "./cidr.ts";
import { IpamError } from "./errors.ts";
import type { Labels } from "./label_selector.ts";
import type { ServiceAllocator, ServiceRestoreReport } from "./service_allocator.ts";
import {
  type ClassOptions,
  ingressFor,
  isTernService,
  type LoadBalancerIngress,
  sameIngress,
  serviceKey,
  type ServiceObject,
  serviceRequest,
  statusAddresses,
} from "./service_request.ts";

/** The condition type tern sets on Services. */
export const SERVICE_CONDITION = "tern.dev/AddressAssigned";

/** A Kubernetes Event to emit on the Service. */
export interface ServiceEvent {
  /** Normal or Warning. */
  type: "Normal" | "Warning";
  /** CamelCase reason. */
  reason: string;
  /** Human-readable message. */
  message: string;
}

/** A condition to set on the Service (`status.conditions`). */
export interface ServiceCondition {
  /** Always {@linkcode SERVICE_CONDITION}. */
  type: typeof SERVICE_CONDITION;
  /** True when the Service has all the addresses it needs. */
  status: "True" | "False";
  /** CamelCase reason. */
  reason: string;
  /** Details. */
  message: string;
}

/** What to do about one Service. */
export interface ServiceDecision {
  /** `namespace/name`. */
  key: string;
  /** The ingress list to write, or undefined to leave `status.loadBalancer` alone. */
  writeIngress?: LoadBalancerIngress[];
  /** The condition to set, or undefined to leave (or, when released, to remove) it. */
  condition?: ServiceCondition;
  /** Events to emit. */
  events: ServiceEvent[];
  /** Addresses newly given. */
  added: IpAddress[];
  /** Addresses taken away from the Service (moved, or released). */
  removed: IpAddress[];
  /** Addresses that became free in the pools. */
  freed: IpAddress[];
  /** The error, when the Service could not be served. */
  error?: IpamError;
}

/** Inputs of {@linkcode decideService} besides the allocator. */
export interface DecideOptions extends ClassOptions {
  /** Labels of the Service's namespace (for pool namespace selectors). */
  namespaceLabels?: Labels;
}

const list = (as: IpAddress[]) => as.map((a) => a.toString()).join(", ");

/**
 * Decides for one Service (`svc` undefined: deleted; `key` then names it). Updates the
 * allocator; everything else is returned for the actor to do. Never throws for user errors:
 * they come back as `error`, a Warning Event and a False condition, and change nothing.
 */
export function decideService(
  alloc: ServiceAllocator,
  key: string,
  svc: ServiceObject | undefined,
  options: DecideOptions = {},
): ServiceDecision {
  const decision: ServiceDecision = { key, events: [], added: [], removed: [], freed: [] };
  if (!svc || !isTernService(svc, options)) {
    const held = alloc.assignmentOf(key)?.addresses.map((a) => a.address) ?? [];
    decision.freed = alloc.release(key);
    decision.removed = held;
    if (held.length > 0) {
      decision.events.push({
        type: "Normal",
        reason: "AddressReleased",
        message: `Released ${list(held)}${
          svc ? " (no longer a LoadBalancer handled by tern)" : ""
        }`,
      });
      if (svc && statusAddresses(svc).length > 0) decision.writeIngress = [];
    }
    return decision;
  }
  try {
    const req = serviceRequest(svc, options.namespaceLabels ?? {});
    const r = alloc.assign(req);
    decision.added = r.added;
    decision.removed = r.removed;
    decision.freed = r.removed.filter((a) => alloc.holdersOf(a).length === 0);
    const ingress = ingressFor(r.assignment);
    if (!sameIngress(svc.status?.loadBalancer?.ingress ?? [], ingress)) {
      decision.writeIngress = ingress;
    }
    const pools = r.assignment.addresses.map((a) => `${a.address} (${a.pool ?? "no pool"})`).join(
      ", ",
    );
    if (r.removed.length > 0) {
      decision.events.push({
        type: "Normal",
        reason: "AddressChanged",
        message: `Replaced ${list(r.removed)} as the Service's annotations asked`,
      });
    }
    if (r.added.length > 0) {
      decision.events.push({
        type: "Normal",
        reason: "AddressAssigned",
        message: `Assigned ${pools}`,
      });
    }
    for (const m of r.missing) {
      decision.events.push({ type: "Warning", reason: m.error.reason, message: m.error.message });
    }
    decision.condition = r.missing.length === 0
      ? {
        type: SERVICE_CONDITION,
        status: "True",
        reason: "AddressAssigned",
        message: `Assigned ${pools}`,
      }
      : {
        type: SERVICE_CONDITION,
        status: "False",
        reason: r.missing[0]!.error.reason,
        message: `Assigned ${pools}; ${r.missing.map((m) => m.error.message).join("; ")}`,
      };
    return decision;
  } catch (e) {
    if (!(e instanceof IpamError)) throw e;
    decision.error = e;
    decision.events.push({ type: "Warning", reason: e.reason, message: e.message });
    const kept = alloc.assignmentOf(key);
    decision.condition = {
      type: SERVICE_CONDITION,
      status: "False",
      reason: e.reason,
      message: kept
        ? `${e.message} (keeping ${list(kept.addresses.map((a) => a.address))})`
        : e.message,
    };
    return decision;
  }
}

/**
 * Rebuilds the allocator from the Services in the cluster, before anything is assigned: every
 * tern Service's status addresses are taken back, oldest Service first (creation time, then
 * key), so that on a double allocation found in the cluster the older Service keeps the
 * address. Services whose annotations no longer parse are restored with a plain request.
 */
export function restoreFromServices(
  alloc: ServiceAllocator,
  services: Iterable<ServiceObject>,
  namespaceLabels: (namespace: string) => Labels = () => ({}),
  options: ClassOptions = {},
): ServiceRestoreReport {
  const time = (s: ServiceObject) => {
    const t = s.metadata.creationTimestamp;
    return t === undefined ? "" : typeof t === "string" ? t : t.toISOString();
  };
  const ordered = [...services]
    .filter((s) => isTernService(s, options) && statusAddresses(s).length > 0)
    .sort((a, b) => time(a).localeCompare(time(b)) || serviceKey(a).localeCompare(serviceKey(b)));
  return alloc.restore(ordered.map((svc) => {
    const ns = svc.metadata.namespace ?? "default";
    let request;
    try {
      request = serviceRequest(svc, namespaceLabels(ns));
    } catch (e) {
      if (!(e instanceof IpamError)) throw e;
      request = { key: serviceKey(svc), namespace: ns };
    }
    return { request, addresses: statusAddresses(svc) };
  }));
}

/** One prefix to announce for LoadBalancer addresses. */
export interface ServicePrefix {
  /** The prefix (a host prefix, or the pool's aggregate). */
  cidr: Cidr;
  /** Its family. */
  family: IpFamily;
  /** The pool (undefined for orphans, always announced as host prefixes). */
  pool?: string;
  /**
   * Cluster: announced from every node (aggregates are always Cluster). Local: a host prefix
   * to announce only from nodes with ready endpoints of its Services.
   */
  trafficPolicy: "Cluster" | "Local";
  /** The Services behind it, sorted. */
  services: string[];
}

/**
 * The prefixes to announce for every assigned address: one host prefix each, or, for pools
 * with an aggregation length, the covering prefix of that length (announced once for all the
 * pool's addresses inside it). Addresses of Services with `externalTrafficPolicy: Local` are
 * never aggregated: their host prefix must come only from the nodes that serve them, as
 * MetalLB also requires.
 */
export function servicePrefixes(alloc: ServiceAllocator): ServicePrefix[] {
  const out = new Map<string, ServicePrefix>();
  for (const a of alloc.assignments()) {
    for (const { address, pool } of a.addresses) {
      const local = alloc.holdersOf(address).some((k) =>
        alloc.requestOf(k)?.trafficPolicy === "Local"
      );
      const p = pool === undefined || local ? undefined : alloc.pools.get(pool);
      const [cidr] = aggregate(
        [address],
        p?.aggregationLength ?? 32,
        p?.aggregationLengthV6 ?? 128,
      );
      const k = cidr!.toString();
      let entry = out.get(k);
      if (!entry) {
        entry = {
          cidr: cidr!,
          family: address.family,
          trafficPolicy: local ? "Local" : "Cluster",
          services: [],
        };
        if (pool !== undefined) entry.pool = pool;
        out.set(k, entry);
      }
      if (!entry.services.includes(a.key)) entry.services.push(a.key);
    }
  }
  return [...out.values()]
    .map((e) => ({ ...e, services: e.services.sort() }))
    .sort((x, y) => x.cidr.compare(y.cidr));
}
