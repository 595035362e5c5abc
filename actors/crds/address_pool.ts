/**
 * AddressPool: addresses for pods (cut into per-node AddressBlocks) or for LoadBalancer
 * Services.
 *
 * @module
 */

import {
  cidrString,
  conditions,
  labelSelector,
  MAX_IP_LENGTH,
  observedGeneration,
  type Resource,
} from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { bool, immutable, type Infer, int, list, obj, oneOf, str } from "./schema.ts";

const rangeRule = [
  "self.split('-').size() == 2",
  "isIP(self.split('-')[0].trim())",
  "isIP(self.split('-')[1].trim())",
  "ip(self.split('-')[0].trim()).family() == ip(self.split('-')[1].trim()).family()",
].join(" && ");

/** AddressPool spec schema. */
export const addressPoolSpec = obj({
  type: oneOf(["pod", "service"] as const, {
    description: "What the addresses are for: pod (cut into AddressBlocks, one or more per node) " +
      "or service (LoadBalancer addresses). Immutable.",
    validations: [immutable("type")],
  }),
  cidrs: list(cidrString("An IPv4 or IPv6 prefix, e.g. 198.18.0.0/16 or fd00:10::/64."), {
    description: "Prefixes of the pool. IPv4 and IPv6 may be mixed (a dual-stack pool). " +
      "Prefixes may be added; removing one still in use is refused by the controller.",
    maxItems: 64,
    listType: "set",
  }),
  ranges: list(
    str({
      description: "An inclusive range first-last, e.g. 203.0.113.10-203.0.113.20.",
      maxLength: 2 * MAX_IP_LENGTH + 3,
      validations: [{
        rule: rangeRule,
        message: "must be two addresses of one family separated by '-'",
      }],
    }),
    {
      description: "Explicit address ranges (service pools only), besides or instead of cidrs.",
      maxItems: 64,
      listType: "set",
    },
  ),
  allocType: oneOf(["bit"] as const, {
    description: "Allocation method: bit (a bitmap per block, lowest free address first).",
    default: "bit",
  }),
  blockSize: int({
    description: "Pod pools: prefix length of the IPv4 blocks given to nodes (16 to 32; default " +
      "26, or the CIDR's own length when that is longer). Immutable.",
    minimum: 16,
    maximum: 32,
    validations: [immutable("blockSize")],
  }),
  blockSizeV6: int({
    description:
      "Pod pools: prefix length of the IPv6 blocks given to nodes (112 to 128; default " +
      "122, or the CIDR's own length when that is longer). Immutable.",
    minimum: 112,
    maximum: 128,
    validations: [immutable("blockSizeV6")],
  }),
  autoAssign: bool({
    description:
      "Use this pool when none is named (by the tern.dev/addresspool annotation). At most " +
      "one pool per type and IP family may auto-assign; a later one is rejected (condition Conflict).",
    default: false,
  }),
  avoidBuggyIPs: bool({
    description:
      "Service pools: never hand out IPv4 addresses ending in .0 or .255 automatically " +
      "(some clients reject them); they can still be requested exactly.",
    default: false,
  }),
  namespaceSelector: labelSelector(
    "Service pools: only Services in namespaces matching this selector may use the pool.",
  ),
  serviceSelector: labelSelector(
    "Service pools: only Services whose labels match this selector may use the pool.",
  ),
  aggregationLength: int({
    description: "Service pools: announce IPv4 addresses as their covering prefix of this length " +
      "instead of one /32 each (default 32).",
    minimum: 0,
    maximum: 32,
  }),
  aggregationLengthV6: int({
    description: "Service pools: announce IPv6 addresses as their covering prefix of this length " +
      "instead of one /128 each (default 128).",
    minimum: 0,
    maximum: 128,
  }),
}, {
  description: "Desired state of an AddressPool.",
  required: ["type"],
  validations: [
    {
      rule:
        "(has(self.cidrs) && size(self.cidrs) > 0) || (has(self.ranges) && size(self.ranges) > 0)",
      message: "a pool needs at least one CIDR or range",
    },
    {
      rule: "self.type == 'service' || !has(self.ranges)",
      message: "ranges are for service pools; pod pools take CIDRs only",
      fieldPath: ".ranges",
    },
    {
      rule:
        "self.type == 'service' || (!has(self.namespaceSelector) && !has(self.serviceSelector) && " +
        "!has(self.aggregationLength) && !has(self.aggregationLengthV6) && !self.avoidBuggyIPs)",
      message:
        "namespaceSelector, serviceSelector, aggregationLength(V6) and avoidBuggyIPs are for service pools",
    },
    {
      rule: "self.type == 'pod' || (!has(self.blockSize) && !has(self.blockSizeV6))",
      message: "blockSize and blockSizeV6 are for pod pools",
    },
    {
      rule:
        "has(self.blockSize) == has(oldSelf.blockSize) && has(self.blockSizeV6) == has(oldSelf.blockSizeV6)",
      message: "blockSize and blockSizeV6 cannot be added or removed after creation",
    },
  ],
});

const perFamilyCount = (what: string, unit: string) =>
  obj({
    ipv4: str({ description: `${what} of IPv4 ${unit} (decimal).`, maxLength: 40 }),
    ipv6: str({
      description: `${what} of IPv6 ${unit} (decimal; may exceed 64 bits).`,
      maxLength: 40,
    }),
  }, { description: `${what} per IP family, as decimal strings (IPv6 counts exceed 64 bits).` });

/** AddressPool status schema. */
export const addressPoolStatus = obj({
  observedGeneration,
  capacity: perFamilyCount("Number", "addresses in the pool"),
  allocated: perFamilyCount("Number", "addresses held by pods or Services"),
  blocks: int({
    description: "Pod pools: number of AddressBlocks cut from the pool.",
    minimum: 0,
    int64: true,
  }),
  blockCapacity: perFamilyCount("Number", "blocks the pool can be cut into"),
  conditions: conditions(
    "Ready (accepted and in use), Conflict (overlaps another pool or is a second auto pool: " +
      "the reason names the other pool), Exhausted (no free block or address).",
  ),
}, { description: "Observed state of an AddressPool, written by the controller." });

/** AddressPool spec. */
export type AddressPoolSpec = Infer<typeof addressPoolSpec>;
/** AddressPool status. */
export type AddressPoolStatus = Infer<typeof addressPoolStatus>;
/** An AddressPool object. */
export type AddressPool = Resource<"AddressPool", AddressPoolSpec, AddressPoolStatus>;

/** The AddressPool CRD. */
export const addressPoolCrd: CrdDefinition<AddressPoolSpec, AddressPoolStatus> = {
  kind: "AddressPool",
  plural: "addresspools",
  singular: "addresspool",
  shortNames: ["ap"],
  scope: "Cluster",
  description: "A pool of IPv4 and/or IPv6 addresses for pods or LoadBalancer Services. Cluster " +
    "scoped. Pools may not overlap. Deleted only when no block or address of it is in use.",
  spec: addressPoolSpec,
  status: addressPoolStatus,
  columns: [
    { name: "Type", type: "string", jsonPath: ".spec.type" },
    { name: "CIDRs", type: "string", jsonPath: ".spec.cidrs" },
    { name: "Auto", type: "boolean", jsonPath: ".spec.autoAssign" },
    { name: "BlockSize", type: "integer", jsonPath: ".spec.blockSize" },
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: "Allocated", type: "string", jsonPath: ".status.allocated.ipv4", priority: 1 },
    { name: "Capacity", type: "string", jsonPath: ".status.capacity.ipv4", priority: 1 },
    { name: "Ranges", type: "string", jsonPath: ".spec.ranges", priority: 1 },
  ],
};
