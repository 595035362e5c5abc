/**
 * NodeBGP: the BGP settings of one node (named after it), made by the controller from the
 * ClusterBGPs that select the node.
 *
 * @module
 */

import {
  asn,
  conditions,
  ipAddress,
  objectName,
  observedGeneration,
  type Resource,
  speakerSettings,
} from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { type Infer, int, list, obj } from "./schema.ts";

/** NodeBGP spec schema. */
export const nodeBGPSpec = obj({
  asn: asn("The node's own ASN."),
  routerId: ipAddress("The node's BGP router id (an IPv4 address)."),
  speaker: speakerSettings,
  peers: list(
    obj({
      name: objectName("The BGPPeer's name."),
      asn: asn("The peer's ASN."),
      addr: ipAddress("The peer's address."),
      clusterBGP: objectName("The ClusterBGP the peer comes from."),
    }, { description: "A BGPPeer of this node.", required: ["name", "asn", "addr"] }),
    {
      description: "The node's peers (each also a BGPPeer object).",
      maxItems: 256,
      listType: "map",
      mapKeys: ["name"],
    },
  ),
}, {
  description: "Desired BGP state of the node.",
  required: ["asn", "routerId"],
  validations: [{
    rule: "ip(self.routerId).family() == 4",
    message: "routerId must be an IPv4 address",
    fieldPath: ".routerId",
  }],
});

/** NodeBGP status schema. */
export const nodeBGPStatus = obj({
  observedGeneration,
  clusterBGPs: list(objectName("A ClusterBGP name."), {
    description: "The ClusterBGPs selecting this node.",
    maxItems: 64,
    listType: "set",
  }),
  backoff: int({
    description: "Failed attempts to configure the speaker since the last success.",
    minimum: 0,
  }),
  conditions: conditions(
    "Available (the speaker answers) and Configured (it runs these settings), or the reason not.",
  ),
}, { description: "Observed state of the node's speaker." });

/** NodeBGP spec. */
export type NodeBGPSpec = Infer<typeof nodeBGPSpec>;
/** NodeBGP status. */
export type NodeBGPStatus = Infer<typeof nodeBGPStatus>;
/** A NodeBGP object. */
export type NodeBGP = Resource<"NodeBGP", NodeBGPSpec, NodeBGPStatus>;

/** The NodeBGP CRD. */
export const nodeBGPCrd: CrdDefinition<NodeBGPSpec, NodeBGPStatus> = {
  kind: "NodeBGP",
  plural: "nodebgps",
  singular: "nodebgp",
  shortNames: ["nbgp"],
  scope: "Cluster",
  description:
    "BGP settings of one node, named after it. Not removed while its speaker still has peers.",
  spec: nodeBGPSpec,
  status: nodeBGPStatus,
  columns: [
    { name: "ASN", type: "integer", jsonPath: ".spec.asn" },
    { name: "Router ID", type: "string", jsonPath: ".spec.routerId" },
    { name: "Backoff", type: "integer", jsonPath: ".status.backoff" },
    {
      name: "Available",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="Available")].status',
    },
  ],
};
