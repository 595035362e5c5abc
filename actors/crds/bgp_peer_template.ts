/**
 * BGPPeerTemplate: reusable BGP peer settings that ClusterBGPs refer to by name.
 *
 * @module
 */

import {
  conditions,
  KEEPALIVE_RULE,
  observedGeneration,
  peerSettings,
  type Resource,
} from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { type Infer, obj } from "./schema.ts";

/** BGPPeerTemplate spec schema (the peer settings). */
export const bgpPeerTemplateSpec = obj(peerSettings, {
  description: "BGP peer settings shared by the BGPPeers made from this template.",
  required: ["asn", "addr"],
  validations: [KEEPALIVE_RULE],
});

/** BGPPeerTemplate status schema. */
export const bgpPeerTemplateStatus = obj({
  observedGeneration,
  conditions: conditions("Ready (valid and referenced), or the reason it is not."),
}, { description: "Observed state of a BGPPeerTemplate." });

/** BGPPeerTemplate spec. */
export type BGPPeerTemplateSpec = Infer<typeof bgpPeerTemplateSpec>;
/** BGPPeerTemplate status. */
export type BGPPeerTemplateStatus = Infer<typeof bgpPeerTemplateStatus>;
/** A BGPPeerTemplate object. */
export type BGPPeerTemplate = Resource<
  "BGPPeerTemplate",
  BGPPeerTemplateSpec,
  BGPPeerTemplateStatus
>;

/** The BGPPeerTemplate CRD. */
export const bgpPeerTemplateCrd: CrdDefinition<BGPPeerTemplateSpec, BGPPeerTemplateStatus> = {
  kind: "BGPPeerTemplate",
  plural: "bgppeertemplates",
  singular: "bgppeertemplate",
  shortNames: ["bpt"],
  scope: "Cluster",
  description: "Reusable BGP peer settings (a router every selected node peers with).",
  spec: bgpPeerTemplateSpec,
  status: bgpPeerTemplateStatus,
  columns: [
    { name: "ASN", type: "integer", jsonPath: ".spec.asn" },
    { name: "Address", type: "string", jsonPath: ".spec.addr" },
    { name: "Groups", type: "string", jsonPath: ".spec.groups", priority: 1 },
  ],
};
