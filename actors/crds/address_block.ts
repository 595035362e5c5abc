/**
 * AddressBlock: a piece of a pool. For pod pools, a block of `blockSize` held by one node, from
 * which its agent gives pods addresses; named `<pool>-<cidr with '-'>`.
 *
 * @module
 */

import { cidrString, conditions, objectName, observedGeneration, type Resource } from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { immutable, type Infer, int, obj, oneOf } from "./schema.ts";

/** AddressBlock spec schema. */
export const addressBlockSpec = obj({
  cidr: cidrString(
    "The block's prefix, inside one of the pool's CIDRs and of the pool's block size.",
  ),
  pool: objectName("The AddressPool the block was cut from."),
  node: objectName("The node holding the block (pod blocks)."),
  type: oneOf(["pod", "service"] as const, { description: "The pool's type." }),
  request: objectName(
    "The BlockRequest that produced the block (makes a repeated request return the same block).",
  ),
}, {
  description: "Desired state of an AddressBlock (written by the controller; immutable).",
  required: ["cidr", "pool", "type"],
  validations: [
    immutable("an AddressBlock's spec"),
    { rule: "self.type == 'service' || has(self.node)", message: "pod blocks name their node" },
  ],
});

/** AddressBlock status schema. */
export const addressBlockStatus = obj({
  observedGeneration,
  capacity: int({
    description:
      "Addresses the block can hand out (its size less the reserved first address and, " +
      "for IPv4, last address in blocks of 4 or more).",
    minimum: 0,
    int64: true,
  }),
  used: int({
    description: "Addresses in use (written by the node's agent).",
    minimum: 0,
    int64: true,
  }),
  conditions: conditions("Ready (in use by the node), Full (no free address left)."),
}, { description: "Observed state of an AddressBlock." });

/** AddressBlock spec. */
export type AddressBlockSpec = Infer<typeof addressBlockSpec>;
/** AddressBlock status. */
export type AddressBlockStatus = Infer<typeof addressBlockStatus>;
/** An AddressBlock object. */
export type AddressBlock = Resource<"AddressBlock", AddressBlockSpec, AddressBlockStatus>;

/** The AddressBlock CRD. */
export const addressBlockCrd: CrdDefinition<AddressBlockSpec, AddressBlockStatus> = {
  kind: "AddressBlock",
  plural: "addressblocks",
  singular: "addressblock",
  shortNames: ["ab"],
  scope: "Cluster",
  description: "A block of addresses cut from an AddressPool and held by a node. Created and " +
    "deleted by the controller; not deleted while addresses in it are used.",
  spec: addressBlockSpec,
  status: addressBlockStatus,
  columns: [
    { name: "CIDR", type: "string", jsonPath: ".spec.cidr" },
    { name: "Pool", type: "string", jsonPath: ".spec.pool" },
    { name: "Node", type: "string", jsonPath: ".spec.node" },
    { name: "Type", type: "string", jsonPath: ".spec.type" },
    { name: "Used", type: "integer", jsonPath: ".status.used" },
    { name: "Capacity", type: "integer", jsonPath: ".status.capacity", priority: 1 },
  ],
};
