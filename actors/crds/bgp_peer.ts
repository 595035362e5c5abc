/**
 * BGPPeer: one BGP session of one node, made by the controller from a ClusterBGP's peers (or
 * created by hand). Its status is the session's state as the node's speaker reports it.
 *
 * @module
 */

import {
  conditions,
  KEEPALIVE_RULE,
  objectName,
  observedGeneration,
  peerSettings,
  type Resource,
} from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { type Infer, int, obj, oneOf, str } from "./schema.ts";

/** BGP finite-state-machine states (RFC 4271 8.2.2). */
export const SESSION_STATES = [
  "Idle",
  "Connect",
  "Active",
  "OpenSent",
  "OpenConfirm",
  "Established",
] as const;

/** BGPPeer spec schema. */
export const bgpPeerSpec = obj({
  ...peerSettings,
  node: objectName("The node whose speaker holds the session. Immutable."),
  clusterBGP: objectName("The ClusterBGP it was made from (none when created by hand)."),
  peerTemplate: objectName("The BGPPeerTemplate it was made from, if any."),
}, {
  description: "Desired BGP session.",
  required: ["asn", "addr", "node"],
  validations: [
    KEEPALIVE_RULE,
    { rule: "self.asn == oldSelf.asn", message: "asn is immutable", fieldPath: ".asn" },
    { rule: "self.addr == oldSelf.addr", message: "addr is immutable", fieldPath: ".addr" },
    { rule: "self.node == oldSelf.node", message: "node is immutable", fieldPath: ".node" },
  ],
});

/** BGPPeer status schema. */
export const bgpPeerStatus = obj({
  observedGeneration,
  sessionState: oneOf(SESSION_STATES, { description: "The session's FSM state." }),
  establishedSince: str({
    description: "When the session last became Established (its uptime).",
    format: "date-time",
  }),
  prefixesReceived: int({
    description: "Prefixes accepted from the peer.",
    minimum: 0,
    int64: true,
  }),
  prefixesAdvertised: int({
    description: "Prefixes advertised to the peer.",
    minimum: 0,
    int64: true,
  }),
  lastError: str({
    description: "The last error: a NOTIFICATION sent or received (code/subcode and text) or a " +
      "connection failure.",
    maxLength: 1024,
  }),
  lastErrorTime: str({ description: "When lastError happened.", format: "date-time" }),
  backoff: int({
    description: "Failed connection attempts since the last Established.",
    minimum: 0,
  }),
  conditions: conditions(
    "Established (True while the session is up), with the FSM state as reason.",
  ),
}, { description: "Observed state of the session, reported by the node's speaker." });

/** BGPPeer spec. */
export type BGPPeerSpec = Infer<typeof bgpPeerSpec>;
/** BGPPeer status. */
export type BGPPeerStatus = Infer<typeof bgpPeerStatus>;
/** A BGPPeer object. */
export type BGPPeer = Resource<"BGPPeer", BGPPeerSpec, BGPPeerStatus>;

/** The BGPPeer CRD. */
export const bgpPeerCrd: CrdDefinition<BGPPeerSpec, BGPPeerStatus> = {
  kind: "BGPPeer",
  plural: "bgppeers",
  singular: "bgppeer",
  shortNames: ["bgpp"],
  scope: "Cluster",
  description: "One BGP session of one node. The same (node, asn, addr) may not appear twice.",
  spec: bgpPeerSpec,
  status: bgpPeerStatus,
  columns: [
    { name: "Node", type: "string", jsonPath: ".spec.node" },
    { name: "ASN", type: "integer", jsonPath: ".spec.asn" },
    { name: "Address", type: "string", jsonPath: ".spec.addr" },
    { name: "State", type: "string", jsonPath: ".status.sessionState" },
    { name: "Up Since", type: "date", jsonPath: ".status.establishedSince" },
    { name: "Received", type: "integer", jsonPath: ".status.prefixesReceived", priority: 1 },
    { name: "Advertised", type: "integer", jsonPath: ".status.prefixesAdvertised", priority: 1 },
    { name: "ClusterBGP", type: "string", jsonPath: ".spec.clusterBGP", priority: 1 },
    { name: "Last Error", type: "string", jsonPath: ".status.lastError", priority: 1 },
  ],
};
