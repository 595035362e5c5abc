/**
 * Schema pieces shared by several CRDs: addresses, label selectors, conditions, BGP peer
 * settings, and the object envelope types.
 *
 * @module
 */

import type { ObjectMeta as KubeObjectMeta } from "../kube/objects.ts";
import { API_VERSION } from "./names.ts";
import {
  bool,
  int,
  list,
  map,
  obj,
  oneOf,
  type Schema,
  str,
  type ValidationRule,
} from "./schema.ts";

/** Longest textual IP address (IPv6 with an embedded IPv4). */
export const MAX_IP_LENGTH = 45;
/** Longest textual CIDR. */
export const MAX_CIDR_LENGTH = 49;

/** A rule: the string is an IP address (Kubernetes CEL IP library). */
export const IS_IP: ValidationRule = {
  rule: "isIP(self)",
  message: "must be an IPv4 or IPv6 address",
};
/** A rule: the string is a canonical CIDR (no host bits set). */
export const IS_CIDR: ValidationRule = {
  rule: "isCIDR(self) && cidr(self) == cidr(self).masked()",
  message: "must be a CIDR such as 198.18.0.0/16 or fd00:10::/64 with no host bits set",
};

/** An IP address string. */
export function ipAddress(description: string): Schema<string> {
  return str({ description, maxLength: MAX_IP_LENGTH, validations: [IS_IP] });
}

/** A CIDR string. */
export function cidrString(description: string): Schema<string> {
  return str({ description, maxLength: MAX_CIDR_LENGTH, validations: [IS_CIDR] });
}

/** A DNS-1123 label (group names). */
export function dnsLabel(description: string): Schema<string> {
  return str({ description, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" });
}

/** A Kubernetes object name (DNS-1123 subdomain). */
export function objectName(description: string): Schema<string> {
  return str({
    description,
    maxLength: 253,
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
  });
}

/** A four-octet AS number. */
export function asn(description: string): Schema<number> {
  return int({ description, minimum: 1, maximum: 4294967295, int64: true });
}

/** Plain `key: value` label map (a node selector in its simple form). */
export function labelMap(description: string): Schema<Record<string, string>> {
  return map(str({ description: "Label value.", maxLength: 63 }), {
    description,
    maxProperties: 64,
  });
}

/** A Kubernetes label selector (matchLabels and matchExpressions). */
export function labelSelector(description: string) {
  return obj({
    matchLabels: labelMap("Labels that must all be present with these values."),
    matchExpressions: list(
      obj({
        key: str({ description: "The label key.", maxLength: 317 }),
        operator: oneOf(["In", "NotIn", "Exists", "DoesNotExist"] as const, {
          description: "How the key relates to the values.",
        }),
        values: list(str({ description: "A label value.", maxLength: 63 }), {
          description: "Values for In and NotIn; empty for Exists and DoesNotExist.",
          maxItems: 64,
          listType: "atomic",
        }),
      }, {
        description: "A requirement on one label.",
        required: ["key", "operator"],
        validations: [{
          rule:
            "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
          message: "In and NotIn need values; Exists and DoesNotExist take none",
        }],
      }),
      { description: "Requirements that must all hold.", maxItems: 32, listType: "atomic" },
    ),
  }, { description });
}

/** A status condition (the shape of metav1.Condition). */
export const condition = obj({
  type: str({ description: "Condition type, e.g. Ready.", maxLength: 316 }),
  status: oneOf(["True", "False", "Unknown"] as const, { description: "True, False or Unknown." }),
  observedGeneration: int({
    description: "The metadata.generation the condition was computed from.",
    minimum: 0,
    int64: true,
  }),
  lastTransitionTime: str({ description: "When the status last changed.", format: "date-time" }),
  reason: str({
    description: "CamelCase reason for the last transition, e.g. PoolExhausted.",
    maxLength: 1024,
  }),
  message: str({ description: "Human-readable details.", maxLength: 32768 }),
}, {
  description: "One aspect of the object's state.",
  required: ["type", "status", "lastTransitionTime", "reason", "message"],
});

/** The conditions list of a status. */
export function conditions(description: string) {
  return list(condition, { description, maxItems: 16, listType: "map", mapKeys: ["type"] });
}

/** `status.observedGeneration`. */
export const observedGeneration = int({
  description: "The metadata.generation last acted on by the controller.",
  minimum: 0,
  int64: true,
});

/** A reference to a key of a Secret. */
export const secretKeyRef = obj({
  name: objectName("Name of the Secret."),
  namespace: objectName("Namespace of the Secret (default: tern's own namespace)."),
  key: str({ description: "Key in the Secret's data.", maxLength: 253, default: "password" }),
}, { description: "A key of a Secret.", required: ["name"] });

/** Address families of a BGP session. */
export const BGP_FAMILIES = ["ipv4-unicast", "ipv6-unicast"] as const;

/** The BGP session settings shared by BGPPeerTemplate, inline peers and BGPPeer. */
export const peerSettings = {
  asn: asn("The peer's AS number (1 to 4294967295)."),
  addr: ipAddress("The peer's address (IPv4 or IPv6)."),
  port: int({ description: "The peer's TCP port.", minimum: 1, maximum: 65535, default: 179 }),
  holdTime: int({
    description: "Proposed hold time in seconds: 0 (no keepalives) or 3 to 65535 (RFC 4271).",
    minimum: 0,
    maximum: 65535,
    default: 90,
    validations: [{ rule: "self == 0 || self >= 3", message: "holdTime must be 0 or at least 3" }],
  }),
  keepaliveTime: int({
    description: "Keepalive interval in seconds; when absent, a third of the negotiated hold " +
      "time (RFC 4271 10), so changing holdTime alone is enough.",
    minimum: 1,
    maximum: 21845,
  }),
  connectRetryTime: int({
    description: "Seconds between connection attempts (RFC 4271 ConnectRetryTimer).",
    minimum: 1,
    maximum: 65535,
    default: 30,
  }),
  groups: list(dnsLabel("A group name."), {
    description: "Groups this peer belongs to; Services annotated with tern.dev/peer-groups and " +
      "BGPAdvertisements with groups are sent only to peers of those groups.",
    maxItems: 32,
    listType: "set",
  }),
  families: list(oneOf(BGP_FAMILIES, { description: "An address family." }), {
    description: "Address families to negotiate (default: the family of addr).",
    maxItems: 2,
    listType: "set",
  }),
  maxPrefixes: int({
    description:
      "Maximum prefixes accepted from the peer before the session is closed (0: no limit).",
    minimum: 0,
    int64: true,
    default: 0,
  }),
  ebgpMultihop: int({
    description:
      "TTL for eBGP sessions to peers more than one hop away (default 1: directly connected).",
    minimum: 1,
    maximum: 255,
  }),
  passwordSecretRef: secretKeyRef,
} as const;

/** Object-level rule: keepalive shorter than the hold time. */
export const KEEPALIVE_RULE: ValidationRule = {
  rule:
    "!has(self.holdTime) || !has(self.keepaliveTime) || self.holdTime == 0 || self.keepaliveTime < self.holdTime",
  message: "keepaliveTime must be shorter than holdTime",
};

/** The speaker endpoint settings of ClusterBGP and NodeBGP. */
export const speakerSettings = obj({
  path: str({
    description:
      "Where the node's speaker listens for tern's agent (a Unix socket path or host:port).",
    maxLength: 256,
    default: "/run/tern/speaker.sock",
  }),
  timeoutSeconds: int({
    description: "Timeout of one call to the speaker, in seconds.",
    minimum: 1,
    maximum: 300,
    default: 10,
  }),
  multipath: bool({
    description: "Install equal-cost paths learnt from several peers (ECMP).",
    default: false,
  }),
}, { description: "How the node agent reaches the node's BGP speaker." });

/** Metadata of an object (the fields tern reads and writes); a tern object always has a name. */
export interface ObjectMeta extends KubeObjectMeta {
  /** Object name. */
  name: string;
}

/** A tern object: apiVersion, kind, metadata, spec and status. */
export interface Resource<K extends string, Spec, Status> {
  /** Always `tern.dev/v1alpha1`. */
  apiVersion: typeof API_VERSION;
  /** The kind. */
  kind: K;
  /** Metadata. */
  metadata: ObjectMeta;
  /** Desired state. */
  spec: Spec;
  /** Observed state. */
  status?: Status;
}
