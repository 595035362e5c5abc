/**
 * ClusterBGP: which nodes speak BGP, with which ASN and router id, and to which peers. The
 * controller makes a NodeBGP per matching node and a BGPPeer per peer of each NodeBGP.
 *
 * @module
 */

import {
  asn,
  conditions,
  ipAddress,
  KEEPALIVE_RULE,
  labelMap,
  objectName,
  observedGeneration,
  peerSettings,
  type Resource,
  speakerSettings,
} from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { type Infer, int, list, obj, oneOf } from "./schema.ts";

/** ClusterBGP spec schema. */
export const clusterBGPSpec = obj({
  nodeSelector: labelMap("Nodes this ClusterBGP applies to (all nodes when empty)."),
  asnSelector: obj({
    from: oneOf(["asn", "label"] as const, {
      description: "asn: the fixed asn below; label: the node's tern.dev/asn label.",
    }),
    asn: asn("The ASN of every selected node (from: asn)."),
  }, {
    description: "Where each node's own ASN comes from.",
    required: ["from"],
    validations: [{ rule: "self.from != 'asn' || has(self.asn)", message: "from: asn needs asn" }],
  }),
  routerIdSelector: obj({
    from: oneOf(["internalAddress", "label", "routerId"] as const, {
      description: "internalAddress: the node's first IPv4 InternalIP; label: the node's " +
        "tern.dev/router-id label; routerId: the fixed routerId below.",
    }),
    routerId: ipAddress("The router id (from: routerId), an IPv4 address."),
  }, {
    description: "Where each node's BGP router id comes from.",
    required: ["from"],
    validations: [{
      rule: "self.from != 'routerId' || (has(self.routerId) && ip(self.routerId).family() == 4)",
      message: "from: routerId needs an IPv4 routerId",
    }],
  }),
  speaker: speakerSettings,
  peers: list(
    obj({
      name: objectName("Name of this peer entry (unique in the list; part of the BGPPeer names)."),
      peerTemplateRef: objectName("The BGPPeerTemplate to take the settings from."),
      peerConfig: obj(peerSettings, {
        description: "Inline peer settings, instead of a template.",
        required: ["asn", "addr"],
        validations: [KEEPALIVE_RULE],
      }),
      nodeBGPSelector: labelMap(
        "Only NodeBGPs with these labels (copied from their Node) get this peer.",
      ),
    }, {
      description: "A peer of every selected node.",
      required: ["name"],
      validations: [{
        rule: "has(self.peerTemplateRef) != has(self.peerConfig)",
        message: "give exactly one of peerTemplateRef and peerConfig",
      }],
    }),
    {
      description: "Peers of the selected nodes.",
      maxItems: 64,
      listType: "map",
      mapKeys: ["name"],
    },
  ),
}, {
  description: "Desired state of a ClusterBGP.",
  required: ["asnSelector", "routerIdSelector"],
});

/** ClusterBGP status schema. */
export const clusterBGPStatus = obj({
  observedGeneration,
  desiredNodes: int({ description: "Nodes matching nodeSelector.", minimum: 0, int64: true }),
  nodes: list(objectName("A node name."), {
    description: "Nodes whose NodeBGP carries this ClusterBGP's settings.",
    maxItems: 5000,
    listType: "set",
  }),
  conditions: conditions("Ready, or the reason (e.g. MissingAsnLabel, UnknownTemplate) it is not."),
}, { description: "Observed state of a ClusterBGP." });

/** ClusterBGP spec. */
export type ClusterBGPSpec = Infer<typeof clusterBGPSpec>;
/** ClusterBGP status. */
export type ClusterBGPStatus = Infer<typeof clusterBGPStatus>;
/** A ClusterBGP object. */
export type ClusterBGP = Resource<"ClusterBGP", ClusterBGPSpec, ClusterBGPStatus>;

/** The ClusterBGP CRD. */
export const clusterBGPCrd: CrdDefinition<ClusterBGPSpec, ClusterBGPStatus> = {
  kind: "ClusterBGP",
  plural: "clusterbgps",
  singular: "clusterbgp",
  shortNames: ["cbgp"],
  scope: "Cluster",
  description: "BGP for a set of nodes: their ASN and router id, their speaker, and their peers.",
  spec: clusterBGPSpec,
  status: clusterBGPStatus,
  columns: [
    { name: "ASN From", type: "string", jsonPath: ".spec.asnSelector.from" },
    { name: "Router ID From", type: "string", jsonPath: ".spec.routerIdSelector.from" },
    { name: "Desired", type: "integer", jsonPath: ".status.desiredNodes" },
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  ],
};
