/**
 * BGPAdvertisement (namespaced): a prefix to announce, to which peers, with which attributes.
 * The controller makes one per pod block (aimed at that node's peers) and one per LoadBalancer
 * address or aggregate (aimed per traffic policy); its status tracks every peer.
 *
 * @module
 */

import {
  cidrString,
  conditions,
  dnsLabel,
  labelSelector,
  objectName,
  observedGeneration,
  type Resource,
} from "./common.ts";
import type { CrdDefinition } from "./crd.ts";
import { type Infer, int, list, map, obj, oneOf, str } from "./schema.ts";

/** Per-peer advertisement states. */
export const ADVERTISEMENT_STATES = ["NotAdvertised", "Advertised", "Withdrawn"] as const;

/** BGPAdvertisement spec schema. */
export const bgpAdvertisementSpec = obj({
  cidr: cidrString("The prefix to announce."),
  type: oneOf(["pod", "service"] as const, {
    description: "pod (a pod block) or service (LoadBalancer addresses).",
  }),
  family: oneOf(["ipv4", "ipv6"] as const, {
    description: "The prefix's family (must match cidr).",
  }),
  attributes: obj({
    communities: list(
      str({
        description: "A standard community ASN:value (RFC 1997), each part 0 to 65535.",
        maxLength: 11,
        pattern: "^[0-9]{1,5}:[0-9]{1,5}$",
      }),
      { description: "Standard communities.", maxItems: 32, listType: "set" },
    ),
    largeCommunities: list(
      str({
        description:
          "A large community global:local1:local2 (RFC 8092), each part 0 to 4294967295.",
        maxLength: 32,
        pattern: "^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$",
      }),
      { description: "Large communities.", maxItems: 32, listType: "set" },
    ),
    localPref: int({
      description: "LOCAL_PREF for iBGP peers.",
      minimum: 0,
      maximum: 4294967295,
      int64: true,
    }),
  }, { description: "Path attributes to attach." }),
  peers: list(objectName("A BGPPeer name."), {
    description: "Announce only to these BGPPeers (with groups and nodeSelector: to the union).",
    maxItems: 1024,
    listType: "set",
  }),
  groups: list(dnsLabel("A peer group."), {
    description: "Announce only to peers in these groups.",
    maxItems: 32,
    listType: "set",
  }),
  nodeSelector: labelSelector("Announce only from nodes matching this selector."),
}, {
  description: "What to announce and to whom. Without peers, groups and nodeSelector: every peer.",
  required: ["cidr", "type", "family"],
  validations: [{
    rule: "(self.family == 'ipv4') == (cidr(self.cidr).ip().family() == 4)",
    message: "family must match the family of cidr",
    fieldPath: ".family",
  }],
});

/** BGPAdvertisement status schema. */
export const bgpAdvertisementStatus = obj({
  observedGeneration,
  peers: map(oneOf(ADVERTISEMENT_STATES, { description: "State towards that peer." }), {
    description: "Per BGPPeer name: NotAdvertised, Advertised or Withdrawn. On deletion every " +
      "peer goes to Withdrawn before the object is removed.",
    maxProperties: 4096,
  }),
  conditions: conditions("Ready (advertised to every target peer that is Established)."),
}, { description: "Observed state per peer." });

/** BGPAdvertisement spec. */
export type BGPAdvertisementSpec = Infer<typeof bgpAdvertisementSpec>;
/** BGPAdvertisement status. */
export type BGPAdvertisementStatus = Infer<typeof bgpAdvertisementStatus>;
/** A BGPAdvertisement object. */
export type BGPAdvertisement = Resource<
  "BGPAdvertisement",
  BGPAdvertisementSpec,
  BGPAdvertisementStatus
>;

/** The BGPAdvertisement CRD. */
export const bgpAdvertisementCrd: CrdDefinition<BGPAdvertisementSpec, BGPAdvertisementStatus> = {
  kind: "BGPAdvertisement",
  plural: "bgpadvertisements",
  singular: "bgpadvertisement",
  shortNames: ["bgpadv"],
  scope: "Namespaced",
  description: "A prefix to announce over BGP, to which peers and with which attributes.",
  spec: bgpAdvertisementSpec,
  status: bgpAdvertisementStatus,
  columns: [
    { name: "CIDR", type: "string", jsonPath: ".spec.cidr" },
    { name: "Type", type: "string", jsonPath: ".spec.type" },
    { name: "Family", type: "string", jsonPath: ".spec.family" },
    { name: "Groups", type: "string", jsonPath: ".spec.groups", priority: 1 },
  ],
};
