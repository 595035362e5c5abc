/**
 * BlockRequest (internal): a node agent asks its pool for one more block. The controller
 * answers with an AddressBlock and writes its name into the status; asking again with the same
 * request returns the same block. The agent deletes the request once it has the block.
 *
 * @module
 */

import { conditions, objectName, observedGeneration, type Resource } from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { cidrString } from "./common.ts";
import { immutable, type Infer, obj, oneOf } from "./schema.ts";

/** BlockRequest spec schema. */
export const blockRequestSpec = obj({
  pool: objectName("The pod AddressPool to cut a block from."),
  node: objectName("The node asking."),
  family: oneOf(["ipv4", "ipv6"] as const, {
    description: "The IP family wanted.",
    default: "ipv4",
  }),
}, {
  description: "What the agent asks for. Immutable.",
  required: ["pool", "node"],
  validations: [immutable("a BlockRequest's spec")],
});

/** BlockRequest status schema. */
export const blockRequestStatus = obj({
  observedGeneration,
  addressBlock: objectName("Name of the AddressBlock given."),
  cidr: cidrString("Prefix of the AddressBlock given."),
  conditions: conditions(
    "Complete (the block exists) or Failed (reason PoolExhausted, UnknownPool, ...).",
  ),
}, { description: "The controller's answer." });

/** BlockRequest spec. */
export type BlockRequestSpec = Infer<typeof blockRequestSpec>;
/** BlockRequest status. */
export type BlockRequestStatus = Infer<typeof blockRequestStatus>;
/** A BlockRequest object. */
export type BlockRequest = Resource<"BlockRequest", BlockRequestSpec, BlockRequestStatus>;

/** The BlockRequest CRD. */
export const blockRequestCrd: CrdDefinition<BlockRequestSpec, BlockRequestStatus> = {
  kind: "BlockRequest",
  plural: "blockrequests",
  singular: "blockrequest",
  shortNames: ["breq"],
  scope: "Cluster",
  description: "Internal: a node agent's request for one more AddressBlock from a pod pool.",
  spec: blockRequestSpec,
  status: blockRequestStatus,
  columns: [
    { name: "Pool", type: "string", jsonPath: ".spec.pool" },
    { name: "Node", type: "string", jsonPath: ".spec.node" },
    { name: "Family", type: "string", jsonPath: ".spec.family" },
    { name: "Block", type: "string", jsonPath: ".status.addressBlock" },
    {
      name: "Complete",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="Complete")].status',
    },
  ],
};
