/** AddressPool objects as the ipam layer sees them, pure. */
import type { AddressPool } from "../crds/address_pool.ts";
import { type IpamError, type Pool, type PoolInput, resolvePools } from "../ipam/mod.ts";

/** The ipam input of an AddressPool object. */
export function poolInputOf(obj: AddressPool): PoolInput {
  const s = obj.spec ?? ({} as AddressPool["spec"]);
  const input: PoolInput = { name: obj.metadata.name, type: s.type };
  if (s.cidrs) input.cidrs = [...s.cidrs];
  if (s.ranges) input.ranges = [...s.ranges];
  if (s.blockSize !== undefined) input.blockSize = s.blockSize;
  if (s.blockSizeV6 !== undefined) input.blockSizeV6 = s.blockSizeV6;
  if (s.autoAssign !== undefined) input.autoAssign = s.autoAssign;
  if (s.avoidBuggyIPs !== undefined) input.avoidBuggyIPs = s.avoidBuggyIPs;
  if (s.namespaceSelector) {
    input.namespaceSelector = s.namespaceSelector as PoolInput["namespaceSelector"];
  }
  if (s.serviceSelector) input.serviceSelector = s.serviceSelector as PoolInput["serviceSelector"];
  if (s.aggregationLength !== undefined) input.aggregationLength = s.aggregationLength;
  if (s.aggregationLengthV6 !== undefined) input.aggregationLengthV6 = s.aggregationLengthV6;
  if (obj.metadata.creationTimestamp) input.creationTimestamp = obj.metadata.creationTimestamp;
  return input;
}

/**
 * Resolves every pool object: accepted pools, and the reason each other one is rejected.
 * Pools being deleted still count (their addresses are still in use until they go).
 */
export function resolvePoolObjects(objects: Iterable<AddressPool>): {
  accepted: Map<string, Pool>;
  rejected: Map<string, IpamError>;
} {
  return resolvePools([...objects].map(poolInputOf));
}
