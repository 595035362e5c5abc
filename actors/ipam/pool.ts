/**
 * Address pools as the allocators see them: parsed, validated and checked against each other
 * (no overlaps, at most one auto-assign pool per type and family).
 *
 * @module
 */

import { type IpAddress, type IpFamily } from "./address.ts";
import { Cidr } from "./cidr.ts";
import {
  DuplicateAutoPoolError,
  InvalidBlockSizeError,
  InvalidPoolError,
  IpamError,
  OverlappingPoolsError,
} from "./errors.ts";
import type { LabelSelector } from "./label_selector.ts";
import { AddressRange } from "./range.ts";
import { MAX_BITMAP_BITS } from "./bitmap.ts";

/** What a pool's addresses are for. */
export type PoolType = "pod" | "service";

/** Default prefix length of IPv4 pod blocks (64 addresses, as Calico). */
export const DEFAULT_BLOCK_SIZE_V4 = 26;
/** Default prefix length of IPv6 pod blocks (64 addresses, as Calico). */
export const DEFAULT_BLOCK_SIZE_V6 = 122;
/** Shortest IPv4 pod block (2^16 addresses, the bitmap limit). */
export const MIN_BLOCK_SIZE_V4 = 32 - Math.log2(MAX_BITMAP_BITS);
/** Shortest IPv6 pod block (2^16 addresses, the bitmap limit). */
export const MIN_BLOCK_SIZE_V6 = 128 - Math.log2(MAX_BITMAP_BITS);

/** A pool definition as written in an AddressPool spec (plus ordering metadata). */
export interface PoolInput {
  /** Pool name (the AddressPool's metadata.name). */
  name: string;
  /** `pod` or `service`. */
  type: PoolType;
  /** CIDR prefixes (IPv4 and/or IPv6). */
  cidrs?: string[];
  /** Explicit inclusive ranges `first-last` (service pools only). */
  ranges?: string[];
  /** Allocation method; only `bit` (lowest free first) exists. */
  allocType?: string;
  /** Prefix length of IPv4 pod blocks (default 26, or the CIDR's own length if longer). */
  blockSize?: number;
  /** Prefix length of IPv6 pod blocks (default 122, or the CIDR's own length if longer). */
  blockSizeV6?: number;
  /** Whether the pool is used without being named. */
  autoAssign?: boolean;
  /** Service pools: never hand out IPv4 addresses ending in .0 or .255. */
  avoidBuggyIPs?: boolean;
  /** Service pools: only Services in namespaces matching this selector may use the pool. */
  namespaceSelector?: LabelSelector;
  /** Service pools: only Services matching this selector may use the pool. */
  serviceSelector?: LabelSelector;
  /** Covering prefix length announced for IPv4 service addresses (default 32). */
  aggregationLength?: number;
  /** Covering prefix length announced for IPv6 service addresses (default 128). */
  aggregationLengthV6?: number;
  /** RFC 3339 creation time: on conflicts the older pool wins. */
  creationTimestamp?: string;
}

/** One contiguous piece of a pool: a CIDR or a range, with the pod block size for CIDRs. */
export interface PoolSegment {
  /** The addresses. */
  range: AddressRange;
  /** The CIDR it was written as, if any. */
  cidr?: Cidr;
  /** Prefix length of pod blocks cut from this CIDR. */
  blockSize?: number;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True for a valid Kubernetes object name (DNS-1123 subdomain). */
export function isValidObjectName(name: string): boolean {
  return typeof name === "string" && name.length <= 253 && NAME.test(name);
}

/**
 * A validated pool.
 *
 * @example
 * ```ts
 * const p = Pool.from({ name: "lb", type: "service", cidrs: ["203.0.113.0/24"], autoAssign: true });
 * p.capacity(4); // 256n
 * ```
 */
export class Pool {
  /** Pool name. */
  readonly name: string;
  /** Pool type. */
  readonly type: PoolType;
  /** Segments sorted by family then address. */
  readonly segments: readonly PoolSegment[];
  /** Whether it is used without being named. */
  readonly autoAssign: boolean;
  /** Skip .0 and .255 (IPv4 service pools). */
  readonly avoidBuggyIPs: boolean;
  /** Namespace selector (service pools). */
  readonly namespaceSelector?: LabelSelector;
  /** Service selector (service pools). */
  readonly serviceSelector?: LabelSelector;
  /** IPv4 aggregation length. */
  readonly aggregationLength: number;
  /** IPv6 aggregation length. */
  readonly aggregationLengthV6: number;
  /** The input it was built from. */
  readonly input: PoolInput;

  private constructor(input: PoolInput, segments: PoolSegment[]) {
    this.name = input.name;
    this.type = input.type;
    this.segments = segments;
    this.autoAssign = input.autoAssign ?? false;
    this.avoidBuggyIPs = input.avoidBuggyIPs ?? false;
    if (input.namespaceSelector) this.namespaceSelector = input.namespaceSelector;
    if (input.serviceSelector) this.serviceSelector = input.serviceSelector;
    this.aggregationLength = input.aggregationLength ?? 32;
    this.aggregationLengthV6 = input.aggregationLengthV6 ?? 128;
    this.input = input;
  }

  /**
   * Validates a pool definition. Throws {@linkcode InvalidPoolError},
   * {@linkcode InvalidCidrError}, {@linkcode InvalidRangeError} or
   * {@linkcode InvalidBlockSizeError} quoting what is wrong.
   */
  static from(input: PoolInput): Pool {
    if (!isValidObjectName(input.name)) {
      throw new InvalidPoolError(String(input.name), "the name is not a DNS-1123 subdomain");
    }
    if (input.type !== "pod" && input.type !== "service") {
      throw new InvalidPoolError(
        input.name,
        `type ${JSON.stringify(input.type)} is not pod or service`,
      );
    }
    if (input.allocType !== undefined && input.allocType !== "bit") {
      throw new InvalidPoolError(
        input.name,
        `allocType ${JSON.stringify(input.allocType)} is not supported (only "bit")`,
      );
    }
    const cidrs = (input.cidrs ?? []).map((c) => Cidr.parse(c));
    const ranges = (input.ranges ?? []).map((r) => AddressRange.parse(r));
    if (cidrs.length + ranges.length === 0) {
      throw new InvalidPoolError(input.name, "a pool needs at least one CIDR or range");
    }
    if (input.type === "pod" && ranges.length > 0) {
      throw new InvalidPoolError(
        input.name,
        "pod pools are cut into aligned blocks, so they take CIDRs only, not ranges",
      );
    }
    const segments: PoolSegment[] = [];
    for (const c of cidrs) {
      const seg: PoolSegment = { range: AddressRange.fromCidr(c), cidr: c };
      if (input.type === "pod") seg.blockSize = podBlockSize(input, c);
      segments.push(seg);
    }
    for (const r of ranges) segments.push({ range: r });
    segments.sort((a, b) => a.range.first.compare(b.range.first));
    for (let i = 1; i < segments.length; i++) {
      const a = segments[i - 1]!, b = segments[i]!;
      if (a.range.overlaps(b.range)) {
        throw new InvalidPoolError(
          input.name,
          `${describe(a)} and ${describe(b)} overlap within the pool`,
        );
      }
    }
    for (
      const [field, v, max] of [
        ["aggregationLength", input.aggregationLength, 32],
        ["aggregationLengthV6", input.aggregationLengthV6, 128],
      ] as const
    ) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max)) {
        throw new InvalidPoolError(input.name, `${field} ${v} is not 0 to ${max}`);
      }
    }
    return new Pool(input, segments);
  }

  /** Families the pool has addresses of. */
  get families(): IpFamily[] {
    const fams = new Set(this.segments.map((s) => s.range.family));
    return ([4, 6] as const).filter((f) => fams.has(f));
  }

  /** True when the pool has addresses of `family`. */
  hasFamily(family: IpFamily): boolean {
    return this.segments.some((s) => s.range.family === family);
  }

  /** Segments of one family, in address order. */
  segmentsOf(family: IpFamily): PoolSegment[] {
    return this.segments.filter((s) => s.range.family === family);
  }

  /** True when the address lies in the pool. */
  contains(address: IpAddress): boolean {
    return this.segments.some((s) => s.range.contains(address));
  }

  /** Number of addresses of a family. */
  capacity(family: IpFamily): bigint {
    return this.segmentsOf(family).reduce((n, s) => n + s.range.size, 0n);
  }

  /** Describes the first overlap with another pool, or undefined. */
  overlapWith(other: Pool): string | undefined {
    for (const a of this.segments) {
      for (const b of other.segments) {
        if (a.range.overlaps(b.range)) return `${describe(a)} overlaps ${describe(b)}`;
      }
    }
    return undefined;
  }
}

function describe(s: PoolSegment): string {
  return s.cidr ? s.cidr.toString() : s.range.toString();
}

function podBlockSize(input: PoolInput, c: Cidr): number {
  const explicit = c.family === 4 ? input.blockSize : input.blockSizeV6;
  const field = c.family === 4 ? "blockSize" : "blockSizeV6";
  const min = c.family === 4 ? MIN_BLOCK_SIZE_V4 : MIN_BLOCK_SIZE_V6;
  if (explicit === undefined) {
    return Math.max(c.family === 4 ? DEFAULT_BLOCK_SIZE_V4 : DEFAULT_BLOCK_SIZE_V6, c.length);
  }
  if (!Number.isInteger(explicit) || explicit < c.length || explicit > c.bits) {
    throw new InvalidBlockSizeError(
      String(explicit),
      `${field} of pool ${
        JSON.stringify(input.name)
      } must be from ${c.length} (the length of ${c.toString()}) to ${c.bits}`,
    );
  }
  if (explicit < min) {
    throw new InvalidBlockSizeError(
      String(explicit),
      `${field} of pool ${
        JSON.stringify(input.name)
      } must be at least ${min} (at most ${MAX_BITMAP_BITS} addresses per block)`,
    );
  }
  return explicit;
}

/** Result of {@linkcode resolvePools}. */
export interface ResolvedPools {
  /** Accepted pools by name. */
  accepted: Map<string, Pool>;
  /** Rejected pools by name, with the reason. */
  rejected: Map<string, IpamError>;
}

function olderFirst(a: PoolInput, b: PoolInput): number {
  const ta = a.creationTimestamp ?? "", tb = b.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Validates every pool and resolves conflicts deterministically: pools are taken oldest first
 * (creation time, then name); a pool that overlaps an accepted pool, or is a second auto-assign
 * pool for a type and family, is rejected with the reason. A new pool therefore never takes
 * anything from an existing one.
 */
export function resolvePools(inputs: Iterable<PoolInput>): ResolvedPools {
  const accepted = new Map<string, Pool>();
  const rejected = new Map<string, IpamError>();
  const autoOwner = new Map<string, string>(); // `${type}/${family}` -> pool name
  for (const input of [...inputs].sort(olderFirst)) {
    let pool: Pool;
    try {
      if (accepted.has(input.name) || rejected.has(input.name)) {
        throw new InvalidPoolError(input.name, "the name is used twice");
      }
      pool = Pool.from(input);
    } catch (e) {
      if (e instanceof IpamError) {
        rejected.set(input.name, e);
        continue;
      }
      throw e;
    }
    let error: IpamError | undefined;
    for (const other of accepted.values()) {
      const overlap = pool.overlapWith(other);
      if (overlap) {
        error = new OverlappingPoolsError(pool.name, other.name, overlap);
        break;
      }
    }
    if (!error && pool.autoAssign) {
      for (const f of pool.families) {
        const owner = autoOwner.get(`${pool.type}/${f}`);
        if (owner) {
          error = new DuplicateAutoPoolError(pool.name, owner, `IPv${f} ${pool.type} addresses`);
          break;
        }
      }
    }
    if (error) {
      rejected.set(pool.name, error);
      continue;
    }
    accepted.set(pool.name, pool);
    if (pool.autoAssign) {
      for (const f of pool.families) autoOwner.set(`${pool.type}/${f}`, pool.name);
    }
  }
  return { accepted, rejected };
}
