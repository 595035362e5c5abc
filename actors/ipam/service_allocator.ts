/**
 * The LoadBalancer address allocator: pure and in memory (as MetalLB's), owned by the
 * controller's service actors.
 *
 * - Addresses come from the pools named by `tern.dev/addresspool` (tried in order), or are the
 *   exact addresses of `tern.dev/loadBalancerIPs` (possibly from several pools), or else come
 *   from the auto-assign pool of each family. A pool's namespace and Service selectors limit
 *   who may use it, named or not.
 * - One address per IP family: SingleStack takes the first family, RequireDualStack needs both,
 *   PreferDualStack takes the second when it can.
 * - Services with the same `tern.dev/allow-shared-ip` key share an address when no
 *   (protocol, port) clashes and both use `externalTrafficPolicy: Cluster` or the same pod
 *   selector.
 * - Stability: {@linkcode ServiceAllocator.assign} keeps every address a Service holds as long as
 *   it still satisfies the request; releasing another Service never moves anyone. After a
 *   restart, {@linkcode ServiceAllocator.restore} takes back every address from the Services'
 *   status before anything is assigned, so nothing is given twice.
 * - Every failure is a typed error and changes nothing.
 *
 * @module
 */

import { IpAddress, type IpFamily } from "./address.ts";
import {
  AddressOutsidePoolsError,
  AddressTakenError,
  BadAnnotationError,
  FamilyUnavailableError,
  IpamError,
  PoolExhaustedError,
  PoolNotAllowedError,
  PoolTypeMismatchError,
  UnknownPoolError,
} from "./errors.ts";
import { IntervalSet } from "./interval_set.ts";
import { type Labels, matchesSelector } from "./label_selector.ts";
import type { Pool } from "./pool.ts";

/** A Service port, as far as sharing is concerned. */
export interface ServicePort {
  /** TCP, UDP or SCTP. */
  protocol: string;
  /** The port number. */
  port: number;
}

/** Kubernetes `spec.ipFamilyPolicy`. */
export type IpFamilyPolicy = "SingleStack" | "PreferDualStack" | "RequireDualStack";

/** What a Service asks for (parsed from its spec, labels and annotations). */
export interface ServiceRequest {
  /** `namespace/name`. */
  key: string;
  /** The Service's namespace. */
  namespace: string;
  /** The Service's labels. */
  labels?: Labels;
  /** Its namespace's labels. */
  namespaceLabels?: Labels;
  /** `spec.ipFamilies` in order (default `[4]`). */
  families?: IpFamily[];
  /** `spec.ipFamilyPolicy` (default: SingleStack for one family, RequireDualStack for two). */
  familyPolicy?: IpFamilyPolicy;
  /** Pools from `tern.dev/addresspool`, tried in order. */
  pools?: string[];
  /** Exact addresses from `tern.dev/loadBalancerIPs` (one per family at most). */
  addresses?: IpAddress[];
  /** Sharing key from `tern.dev/allow-shared-ip`. */
  sharingKey?: string;
  /**
   * Other namespaces (or `*`) allowed to share this Service's address, from
   * `tern.dev/allow-shared-ip-namespaces`. Without it sharing stays in the namespace.
   */
  sharingNamespaces?: string[];
  /** The Service's ports. */
  ports?: ServicePort[];
  /** `spec.externalTrafficPolicy` (default Cluster). */
  trafficPolicy?: "Cluster" | "Local";
  /** A canonical form of the pod selector (sharing with Local policy needs equal selectors). */
  selectorKey?: string;
}

/** One address of an assignment. */
export interface AssignedAddress {
  /** The address. */
  address: IpAddress;
  /** The pool it belongs to (undefined when it lies in no current pool: an orphan). */
  pool?: string;
}

/** A Service's addresses, ordered as its families. */
export interface ServiceAssignment {
  /** `namespace/name`. */
  key: string;
  /** The addresses. */
  addresses: AssignedAddress[];
}

/** Result of {@linkcode ServiceAllocator.assign}. */
export interface AssignResult {
  /** The Service's assignment after the call. */
  assignment: ServiceAssignment;
  /** Addresses newly taken by this call. */
  added: IpAddress[];
  /** Addresses this call released from the Service (request changed). */
  removed: IpAddress[];
  /** Families the Service wanted but could not get (PreferDualStack only). */
  missing: { family: IpFamily; error: IpamError }[];
}

/** What {@linkcode ServiceAllocator.restore} did. */
export interface ServiceRestoreReport {
  /** Services taken back, with their addresses. */
  restored: ServiceAssignment[];
  /** Addresses refused (bad text, held by an incompatible Service): to be reported. */
  conflicts: { key: string; error: IpamError }[];
  /** Restored addresses that lie in no current pool (kept; reported). */
  orphans: { key: string; address: IpAddress }[];
}

/** Usage of one pool. */
export interface PoolUsage {
  /** Addresses per family. */
  capacity: Partial<Record<IpFamily, bigint>>;
  /** Distinct addresses handed out per family. */
  allocated: Partial<Record<IpFamily, bigint>>;
}

interface Holder {
  address: IpAddress;
  services: Map<string, ServiceRequest>;
}

const text = (a: IpAddress) => a.toString();

/**
 * True when two Services may share an address: the same key, the same namespace (or each
 * allowing the other's namespace), no (protocol, port) clash, and both with Cluster traffic
 * policy or the same pod selector.
 */
export function canShare(a: ServiceRequest, b: ServiceRequest): boolean {
  if (!a.sharingKey || a.sharingKey !== b.sharingKey) return false;
  if (a.namespace !== b.namespace) {
    const allows = (x: ServiceRequest, ns: string) =>
      (x.sharingNamespaces ?? []).some((n) => n === "*" || n === ns);
    if (!allows(a, b.namespace) || !allows(b, a.namespace)) return false;
  }
  for (const p of a.ports ?? []) {
    for (const q of b.ports ?? []) {
      if (p.port === q.port && p.protocol.toUpperCase() === q.protocol.toUpperCase()) return false;
    }
  }
  const pa = a.trafficPolicy ?? "Cluster", pb = b.trafficPolicy ?? "Cluster";
  if (pa === "Cluster" && pb === "Cluster") return true;
  return a.selectorKey !== undefined && a.selectorKey === b.selectorKey;
}

function wantedFamilies(req: ServiceRequest): { required: IpFamily[]; optional: IpFamily[] } {
  const fams = req.families && req.families.length > 0 ? req.families : [4 as IpFamily];
  if (fams.length > 2 || (fams.length === 2 && fams[0] === fams[1])) {
    throw new BadAnnotationError(
      "spec.ipFamilies",
      fams.join(","),
      "expected one or two distinct families",
    );
  }
  const policy = req.familyPolicy ?? (fams.length === 2 ? "RequireDualStack" : "SingleStack");
  if (policy === "SingleStack") return { required: [fams[0]!], optional: [] };
  const other: IpFamily = fams[0] === 4 ? 6 : 4;
  const second = fams[1] ?? other;
  if (policy === "RequireDualStack") return { required: [fams[0]!, second], optional: [] };
  return { required: [fams[0]!], optional: [second] };
}

/**
 * LoadBalancer address allocator over the service pools.
 *
 * @example
 * ```ts
 * const pool = Pool.from({ name: "lb", type: "service", cidrs: ["203.0.113.0/24"], autoAssign: true });
 * const alloc = new ServiceAllocator([pool]);
 * alloc.assign({ key: "default/web", namespace: "default" }).assignment.addresses[0]!.address.toString();
 * // "203.0.113.0"
 * ```
 */
export class ServiceAllocator {
  #pools = new Map<string, Pool>();
  #holders = new Map<string, Holder>();
  #used: Record<IpFamily, IntervalSet> = { 4: new IntervalSet(), 6: new IntervalSet() };
  #services = new Map<string, { request: ServiceRequest; addresses: IpAddress[] }>();
  /** Sharing key → canonical addresses held by at least one Service with that key. */
  #byKey = new Map<string, Set<string>>();

  constructor(pools: Iterable<Pool> = []) {
    this.setPools(pools);
  }

  /**
   * Replaces the pool set (service pools only; pod pools are ignored). Allocations are kept
   * as they are; returns the addresses that now lie in no pool (orphans, to be reported).
   */
  setPools(pools: Iterable<Pool>): { key: string; address: IpAddress }[] {
    this.#pools = new Map();
    for (const p of pools) if (p.type === "service") this.#pools.set(p.name, p);
    const orphans: { key: string; address: IpAddress }[] = [];
    for (const [key, s] of this.#services) {
      for (const a of s.addresses) if (!this.poolOf(a)) orphans.push({ key, address: a });
    }
    return orphans;
  }

  /** The pools, by name. */
  get pools(): ReadonlyMap<string, Pool> {
    return this.#pools;
  }

  /** The current pool of an address (undefined: in no pool). */
  poolOf(address: IpAddress): Pool | undefined {
    for (const p of this.#pools.values()) if (p.contains(address)) return p;
    return undefined;
  }

  /** A Service's assignment, if it has one. */
  assignmentOf(key: string): ServiceAssignment | undefined {
    const s = this.#services.get(key);
    if (!s) return undefined;
    return { key, addresses: s.addresses.map((a) => this.#assigned(a)) };
  }

  /** The request a Service was last assigned (or restored) with. */
  requestOf(key: string): ServiceRequest | undefined {
    return this.#services.get(key)?.request;
  }

  /** Every assignment, ordered by key. */
  assignments(): ServiceAssignment[] {
    return [...this.#services.keys()].sort().map((k) => this.assignmentOf(k)!);
  }

  /** The Services holding an address (more than one when shared). */
  holdersOf(address: IpAddress): string[] {
    return [...(this.#holders.get(text(address))?.services.keys() ?? [])].sort();
  }

  #assigned(a: IpAddress): AssignedAddress {
    const pool = this.poolOf(a)?.name;
    return pool === undefined ? { address: a } : { address: a, pool };
  }

  /** Usage of a pool (throws {@linkcode UnknownPoolError}). */
  usage(pool: string): PoolUsage {
    const p = this.#pools.get(pool);
    if (!p) throw new UnknownPoolError(pool);
    const out: PoolUsage = { capacity: {}, allocated: {} };
    for (const f of p.families) {
      out.capacity[f] = p.capacity(f);
      out.allocated[f] = p.segmentsOf(f).reduce(
        (n, s) => n + this.#used[f].countIn(s.range.first.value, s.range.last.value),
        0n,
      );
    }
    return out;
  }

  /** Pools the request may use at all (selectors), as an error when it may not. */
  #checkAllowed(pool: Pool, req: ServiceRequest): void {
    if (
      pool.namespaceSelector && !matchesSelector(pool.namespaceSelector, req.namespaceLabels ?? {})
    ) {
      throw new PoolNotAllowedError(
        pool.name,
        `its namespace selector does not match namespace ${
          JSON.stringify(req.namespace)
        } (Service ${req.key})`,
      );
    }
    if (pool.serviceSelector && !matchesSelector(pool.serviceSelector, req.labels ?? {})) {
      throw new PoolNotAllowedError(
        pool.name,
        `its Service selector does not match Service ${req.key}`,
      );
    }
  }

  #namedPools(req: ServiceRequest): Pool[] | undefined {
    if (!req.pools) return undefined;
    return req.pools.map((name) => {
      const p = this.#pools.get(name);
      if (!p) {
        throw new UnknownPoolError(
          name,
          `named by Service ${req.key} but not defined (or not accepted)`,
        );
      }
      if (p.type !== "service") throw new PoolTypeMismatchError(name, "it is not a service pool");
      this.#checkAllowed(p, req);
      return p;
    });
  }

  /** True when `req` may hold `address` given the other holders. */
  #compatible(address: IpAddress, req: ServiceRequest): string | undefined {
    const h = this.#holders.get(text(address));
    if (!h) return undefined;
    for (const [k, other] of h.services) {
      if (k === req.key) continue;
      if (!canShare(req, other)) return k;
    }
    return undefined;
  }

  /** Whether an address the Service holds still satisfies its (new) request. */
  #stillGood(address: IpAddress, req: ServiceRequest, named: Pool[] | undefined): boolean {
    const requested = req.addresses?.find((a) => a.family === address.family);
    if (requested) {
      if (!requested.equals(address)) return false;
    } else {
      const pool = this.poolOf(address);
      if (named && !(pool && named.some((p) => p.name === pool.name))) return false;
      if (pool) {
        try {
          this.#checkAllowed(pool, req);
        } catch {
          return false;
        }
      }
    }
    return this.#compatible(address, req) === undefined;
  }

  #pick(family: IpFamily, req: ServiceRequest, named: Pool[] | undefined): IpAddress {
    const requested = req.addresses?.find((a) => a.family === family);
    if (requested) {
      const pool = this.poolOf(requested);
      if (!pool) throw new AddressOutsidePoolsError(text(requested));
      if (named && !named.some((p) => p.name === pool.name)) {
        throw new AddressOutsidePoolsError(
          text(requested),
          `it is in pool ${pool.name}, not in the pools named by ${req.key} (${
            req.pools!.join(", ")
          })`,
        );
      }
      this.#checkAllowed(pool, req);
      const clash = this.#compatible(requested, req);
      if (clash) {
        throw new AddressTakenError(
          text(requested),
          clash,
          req.sharingKey
            ? "sharing needs the same allow-shared-ip key, distinct ports and compatible traffic policies"
            : "",
        );
      }
      return requested;
    }
    let candidates: Pool[];
    if (named) {
      candidates = named.filter((p) => p.hasFamily(family));
      if (candidates.length === 0) {
        throw new FamilyUnavailableError(
          `IPv${family}`,
          `none of the pools named by ${req.key} (${
            req.pools!.join(", ")
          }) has IPv${family} addresses`,
        );
      }
    } else {
      const auto = [...this.#pools.values()].find((p) => p.autoAssign && p.hasFamily(family));
      if (!auto) {
        throw new FamilyUnavailableError(
          `IPv${family}`,
          `there is no auto-assign IPv${family} service pool`,
        );
      }
      this.#checkAllowed(auto, req);
      candidates = [auto];
    }
    // Sharing: join a compatible Service with the same key in a candidate pool.
    if (req.sharingKey) {
      for (const k of this.#byKey.get(req.sharingKey) ?? []) {
        const h = this.#holders.get(k)!;
        if (h.address.family !== family) continue;
        if (!candidates.some((p) => p.contains(h.address))) continue;
        if (this.#compatible(h.address, req) === undefined) return h.address;
      }
    }
    for (const pool of candidates) {
      const a = this.#lowestFree(pool, family);
      if (a) return a;
    }
    throw new PoolExhaustedError(
      candidates.map((p) => p.name).join(", "),
      `no free IPv${family} address for Service ${req.key}`,
    );
  }

  #lowestFree(pool: Pool, family: IpFamily): IpAddress | undefined {
    const used = this.#used[family];
    for (const seg of pool.segmentsOf(family)) {
      let lo = seg.range.first.value;
      const hi = seg.range.last.value;
      for (;;) {
        const v = used.lowestAbsent(lo, hi);
        if (v === undefined) break;
        if (pool.avoidBuggyIPs && family === 4 && ((v & 255n) === 0n || (v & 255n) === 255n)) {
          lo = v + 1n;
          continue;
        }
        return IpAddress.of(family, v);
      }
    }
    return undefined;
  }

  /**
   * Assigns addresses to a Service (or confirms them). Idempotent: the same request returns the
   * same addresses. Addresses that still satisfy a changed request are kept; only the others
   * are replaced. Throws a typed error and changes nothing when a required family cannot be
   * served.
   */
  assign(req: ServiceRequest): AssignResult {
    const { required, optional } = wantedFamilies(req);
    for (const a of req.addresses ?? []) {
      if (!required.includes(a.family) && !optional.includes(a.family)) {
        throw new BadAnnotationError(
          "tern.dev/loadBalancerIPs",
          text(a),
          `the Service's IP families (${
            [...required, ...optional].map((f) => `IPv${f}`).join(", ")
          }) do not include IPv${a.family}`,
        );
      }
    }
    const named = this.#namedPools(req);
    const current = this.#services.get(req.key)?.addresses ?? [];
    const next: IpAddress[] = [];
    const missing: { family: IpFamily; error: IpamError }[] = [];
    for (const family of [...required, ...optional]) {
      const held = current.find((a) => a.family === family);
      if (held && this.#stillGood(held, req, named)) {
        next.push(held);
        continue;
      }
      try {
        next.push(this.#pick(family, req, named));
      } catch (e) {
        if (e instanceof IpamError && optional.includes(family)) {
          missing.push({ family, error: e });
          continue;
        }
        throw e;
      }
    }
    // Commit.
    const removed = current.filter((a) => !next.some((b) => b.equals(a)));
    const added = next.filter((a) => !current.some((b) => b.equals(a)));
    for (const a of removed) this.#drop(a, req.key);
    for (const a of next) this.#hold(a, req);
    this.#services.set(req.key, { request: req, addresses: next });
    return {
      assignment: { key: req.key, addresses: next.map((a) => this.#assigned(a)) },
      added,
      removed,
      missing,
    };
  }

  #hold(a: IpAddress, req: ServiceRequest): void {
    const k = text(a);
    let h = this.#holders.get(k);
    if (!h) {
      h = { address: a, services: new Map() };
      this.#holders.set(k, h);
      this.#used[a.family].add(a.value);
    }
    const old = h.services.get(req.key);
    h.services.set(req.key, req);
    if (old?.sharingKey && old.sharingKey !== req.sharingKey) this.#unindex(h, k, old.sharingKey);
    if (req.sharingKey) {
      let set = this.#byKey.get(req.sharingKey);
      if (!set) this.#byKey.set(req.sharingKey, set = new Set());
      set.add(k);
    }
  }

  /** Drops `k` from a sharing key's index when no holder of it carries that key any more. */
  #unindex(h: Holder | undefined, k: string, sharingKey: string): void {
    if (h && [...h.services.values()].some((s) => s.sharingKey === sharingKey)) return;
    const set = this.#byKey.get(sharingKey);
    if (!set) return;
    set.delete(k);
    if (set.size === 0) this.#byKey.delete(sharingKey);
  }

  #drop(a: IpAddress, key: string): void {
    const k = text(a);
    const h = this.#holders.get(k);
    if (!h) return;
    const old = h.services.get(key);
    h.services.delete(key);
    if (h.services.size === 0) {
      this.#holders.delete(k);
      this.#used[a.family].delete(a.value);
    }
    if (old?.sharingKey) this.#unindex(this.#holders.get(k), k, old.sharingKey);
  }

  /**
   * Releases a Service's addresses (deleted, or no longer a LoadBalancer of tern's class).
   * Idempotent; returns the addresses that became free (shared ones stay with the others).
   */
  release(key: string): IpAddress[] {
    const s = this.#services.get(key);
    if (!s) return [];
    const freed: IpAddress[] = [];
    for (const a of s.addresses) {
      this.#drop(a, key);
      if (!this.#holders.has(text(a))) freed.push(a);
    }
    this.#services.delete(key);
    return freed;
  }

  /**
   * Takes back the addresses Services already show in their status (after a restart), oldest
   * Service first (the caller orders them). Each address is kept exactly, even outside every
   * pool (reported as an orphan), unless a Service that cannot share it already holds it
   * (reported as a conflict: a double allocation found in the cluster).
   */
  restore(
    entries: Iterable<{ request: ServiceRequest; addresses: string[] }>,
  ): ServiceRestoreReport {
    const report: ServiceRestoreReport = { restored: [], conflicts: [], orphans: [] };
    for (const { request, addresses } of entries) {
      const kept: IpAddress[] = [...(this.#services.get(request.key)?.addresses ?? [])];
      for (const t of addresses) {
        let a: IpAddress;
        try {
          a = IpAddress.parse(t);
        } catch (e) {
          if (e instanceof IpamError) {
            report.conflicts.push({ key: request.key, error: e });
            continue;
          }
          throw e;
        }
        if (kept.some((b) => b.family === a.family)) {
          report.conflicts.push({
            key: request.key,
            error: new AddressTakenError(
              t,
              request.key,
              `the Service already holds an IPv${a.family} address`,
            ),
          });
          continue;
        }
        const clash = this.#compatible(a, request);
        if (clash) {
          report.conflicts.push({
            key: request.key,
            error: new AddressTakenError(t, clash, "double allocation found in the cluster"),
          });
          continue;
        }
        kept.push(a);
        this.#hold(a, request);
        if (!this.poolOf(a)) report.orphans.push({ key: request.key, address: a });
      }
      if (kept.length > 0) {
        this.#services.set(request.key, { request, addresses: kept });
        report.restored.push(this.assignmentOf(request.key)!);
      }
    }
    return report;
  }
}
