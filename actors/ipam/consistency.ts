/**
 * The consistency check: compares what an allocator holds with what the cluster shows and
 * reports leaked, missing and double allocations. Pure; the controller runs it periodically,
 * reports the findings as Events and metrics, and repairs them when told to.
 *
 * @module
 */

/** Owner → addresses (canonical text), from one side. */
export type AllocationMap = ReadonlyMap<string, readonly string[]>;

/** One address two or more owners hold without being allowed to. */
export interface DoubleAllocation {
  /** The address. */
  address: string;
  /** Its holders, sorted. */
  owners: string[];
}

/** Findings of {@linkcode checkConsistency}. */
export interface ConsistencyReport {
  /** Held by the allocator for an owner, but not shown by the cluster: to free. */
  leaked: { owner: string; address: string }[];
  /** Shown by the cluster, but unknown to the allocator: to take back (or report). */
  missing: { owner: string; address: string }[];
  /** Addresses the cluster shows on several owners that may not share them. */
  doubles: DoubleAllocation[];
  /** True when nothing was found. */
  clean: boolean;
}

/**
 * Compares the allocator's view (`held`) with the cluster's (`observed`). `mayShare(a, b)`
 * says whether two owners may hold one address (shared LoadBalancer IPs); by default nobody
 * may.
 */
export function checkConsistency(
  held: AllocationMap,
  observed: AllocationMap,
  mayShare: (a: string, b: string) => boolean = () => false,
): ConsistencyReport {
  const leaked: { owner: string; address: string }[] = [];
  const missing: { owner: string; address: string }[] = [];
  for (const [owner, addrs] of held) {
    const seen = new Set(observed.get(owner) ?? []);
    for (const a of addrs) if (!seen.has(a)) leaked.push({ owner, address: a });
  }
  for (const [owner, addrs] of observed) {
    const mine = new Set(held.get(owner) ?? []);
    for (const a of addrs) if (!mine.has(a)) missing.push({ owner, address: a });
  }
  const byAddress = new Map<string, Set<string>>();
  for (const [owner, addrs] of observed) {
    for (const a of addrs) {
      let s = byAddress.get(a);
      if (!s) byAddress.set(a, s = new Set());
      s.add(owner);
    }
  }
  const doubles: DoubleAllocation[] = [];
  for (const [address, owners] of byAddress) {
    if (owners.size < 2) continue;
    const list = [...owners].sort();
    let bad = false;
    for (let i = 0; i < list.length && !bad; i++) {
      for (let j = i + 1; j < list.length; j++) {
        if (!mayShare(list[i]!, list[j]!)) {
          bad = true;
          break;
        }
      }
    }
    if (bad) doubles.push({ address, owners: list });
  }
  const order = (x: { owner: string; address: string }, y: { owner: string; address: string }) =>
    x.owner < y.owner
      ? -1
      : x.owner > y.owner
      ? 1
      : x.address < y.address
      ? -1
      : x.address > y.address
      ? 1
      : 0;
  leaked.sort(order);
  missing.sort(order);
  doubles.sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0));
  return {
    leaked,
    missing,
    doubles,
    clean: leaked.length + missing.length + doubles.length === 0,
  };
}
