/**
 * ClusterIP and NodePort allocation for Services. Pure (no I/O).
 *
 * The store keeps one {@link ServiceAddressIndex} up to date as Services are stored and removed
 * (and rebuilt on restore, since restore stores every object again), so a create costs O(1)
 * amortised instead of a scan of every Service: each range has a high-water mark below which
 * every free slot is in a free set, and above which slots are found by moving the mark past the
 * used ones (each slot is passed once). Addresses are handed out from the high-water mark first,
 * then reused from the free set.
 */

import { ApiError, badRequest } from "./errors.ts";
import type { Allocators } from "./kind_hooks.ts";
import { isObject, type KubeObject } from "./types.ts";

/** A range of integer slots `[first, last]` with use counts, a high-water mark and a free set. */
export class SlotRange {
  readonly first: number;
  readonly last: number;
  #counts = new Map<number, number>();
  #hwm: number;
  #freed = new Set<number>();

  /** A range of slots `first..last` (inclusive), all free. */
  constructor(first: number, last: number) {
    this.first = first;
    this.last = last;
    this.#hwm = first;
  }

  /** Whether `slot` is within the range. */
  contains(slot: number): boolean {
    return slot >= this.first && slot <= this.last;
  }

  /** Whether `slot` is in use. */
  used(slot: number): boolean {
    return this.#counts.has(slot);
  }

  /** Number of slots in use. */
  get usedCount(): number {
    return this.#counts.size;
  }

  /** Mark `slot` used (counted: a slot named by two objects stays used until both release it). */
  use(slot: number): void {
    if (!this.contains(slot)) return;
    const n = this.#counts.get(slot) ?? 0;
    this.#counts.set(slot, n + 1);
    if (n === 0) this.#freed.delete(slot);
  }

  /** Release one use of `slot`. */
  release(slot: number): void {
    const n = this.#counts.get(slot);
    if (n === undefined) return;
    if (n > 1) {
      this.#counts.set(slot, n - 1);
      return;
    }
    this.#counts.delete(slot);
    if (slot < this.#hwm) this.#freed.add(slot);
  }

  /**
   * A free slot not in `skip` (slots already handed out by the request being prepared), or
   * undefined when the range is full. Does not mark it used: the store does when it commits.
   */
  candidate(skip: ReadonlySet<number>): number | undefined {
    while (this.#hwm <= this.last && this.#counts.has(this.#hwm)) this.#hwm++;
    for (let s = this.#hwm; s <= this.last; s++) {
      if (!this.#counts.has(s) && !skip.has(s)) return s;
      if (skip.size === 0) break;
    }
    for (const s of this.#freed) if (!skip.has(s)) return s;
    return undefined;
  }
}

function ipv4ToNumber(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((a, p) => a * 256 + p, 0);
}

function numberToIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The first NodePort of the default range. */
export const NODE_PORT_FIRST = 30000;
/** The last NodePort of the default range. */
export const NODE_PORT_LAST = 32767;

/** ClusterIPs and NodePorts held by the stored Services, kept up to date by the store. */
export class ServiceAddressIndex {
  readonly cidr: string;
  readonly #ips: SlotRange;
  readonly #ports = new SlotRange(NODE_PORT_FIRST, NODE_PORT_LAST);
  /** Every clusterIP string in use (also those outside the range), with use counts. */
  readonly #ipCounts = new Map<string, number>();

  /** An index over the IPv4 service range `cidr` (the first 10 and the last address reserved). */
  constructor(cidr: string) {
    const [base, bitsText] = cidr.split("/");
    const start = ipv4ToNumber(base);
    const bits = Number(bitsText);
    if (start === undefined || !/^\d+$/.test(bitsText ?? "") || bits < 8 || bits > 28) {
      throw badRequest(`invalid service CIDR "${cidr}": want an IPv4 prefix from /8 to /28`);
    }
    const size = 2 ** (32 - bits);
    const network = start - (start % size);
    this.cidr = cidr;
    this.#ips = new SlotRange(network + 10, network + size - 2);
  }

  /** Count a stored Service's clusterIP and node ports as used. */
  add(svc: KubeObject): void {
    const { ip, ports } = held(svc);
    if (ip !== undefined) {
      this.#ipCounts.set(ip, (this.#ipCounts.get(ip) ?? 0) + 1);
      const n = ipv4ToNumber(ip);
      if (n !== undefined) this.#ips.use(n);
    }
    for (const p of ports) this.#ports.use(p);
  }

  /** Release what a Service that is no longer stored (or is being replaced) held. */
  remove(svc: KubeObject): void {
    const { ip, ports } = held(svc);
    if (ip !== undefined) {
      const c = this.#ipCounts.get(ip) ?? 0;
      if (c <= 1) this.#ipCounts.delete(ip);
      else this.#ipCounts.set(ip, c - 1);
      const n = ipv4ToNumber(ip);
      if (n !== undefined) this.#ips.release(n);
    }
    for (const p of ports) this.#ports.release(p);
  }

  /** Number of clusterIPs (in the range) and node ports in use. */
  get usage(): { clusterIPs: number; nodePorts: number } {
    return { clusterIPs: this.#ips.usedCount, nodePorts: this.#ports.usedCount };
  }

  /**
   * Allocators for one request: what it is handed is not marked used until the store commits
   * the Service, and is not handed out twice within the request (two ports, two node ports).
   */
  allocators(): Allocators {
    const givenIPs = new Set<number>();
    const givenPorts = new Set<number>();
    return {
      allocateClusterIP: () =>
        numberToIPv4(take(this.#ips, givenIPs, `serviceIP: range ${this.cidr} is full`)),
      clusterIPInUse: (ip) => this.#ipCounts.has(ip),
      allocateNodePort: () => take(this.#ports, givenPorts, "nodePort: range is full"),
    };
  }
}

/** A free slot of `range` not yet `given` in this request, now given; a full range is a 500. */
function take(range: SlotRange, given: Set<number>, failure: string): number {
  const n = range.candidate(given);
  if (n === undefined) {
    throw new ApiError(
      500,
      "InternalError",
      `Internal error occurred: failed to allocate a ${failure}`,
    );
  }
  given.add(n);
  return n;
}

function held(svc: KubeObject): { ip: string | undefined; ports: number[] } {
  const spec = isObject(svc.spec) ? svc.spec : {};
  const ip = typeof spec.clusterIP === "string" && spec.clusterIP !== "" &&
      spec.clusterIP !== "None"
    ? spec.clusterIP
    : undefined;
  const ports: number[] = [];
  for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
    if (isObject(p) && typeof p.nodePort === "number") ports.push(p.nodePort);
  }
  return { ip, ports };
}
