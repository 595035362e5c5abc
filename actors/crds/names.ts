/**
 * Every name tern puts on Kubernetes objects: the API group, labels, annotations, finalizers,
 * condition types and the load-balancer class. One home, so no component spells them itself.
 *
 * @module
 */

/** The API group of tern's custom resources. */
export const GROUP = "tern.dev";
/** The served and stored version. */
export const VERSION = "v1alpha1";
/** `apiVersion` of tern's objects. */
export const API_VERSION = `${GROUP}/${VERSION}` as const;
/** The category every tern CRD belongs to (`kubectl get tern`). */
export const CATEGORY = "tern";

/** Node label: the node's ASN (read when a ClusterBGP's `asnSelector.from` is `label`). */
export const LABEL_ASN = "tern.dev/asn";
/** Node label: the node's BGP router id (read when `routerIdSelector.from` is `label`). */
export const LABEL_ROUTER_ID = "tern.dev/router-id";
/** Label on AddressBlocks and BlockRequests: the pool they belong to. */
export const LABEL_POOL = "tern.dev/pool";
/** Label on AddressBlocks, BlockRequests and BGPPeers: the node they belong to. */
export const LABEL_NODE = "tern.dev/node";
/** Label on BGPPeers and NodeBGPs: the ClusterBGP that made them. */
export const LABEL_CLUSTER_BGP = "tern.dev/clusterbgp";

/**
 * Annotation on Pods and Namespaces: the pod pool to use (one name); on Services: a
 * comma-separated list of service pools, tried in order.
 */
export const ANNOTATION_ADDRESS_POOL = "tern.dev/addresspool";
/** Service annotation: comma-separated addresses to assign (at most one per IP family). */
export const ANNOTATION_LOAD_BALANCER_IPS = "tern.dev/loadBalancerIPs";
/** Service annotation: Services with the same key may share an address if ports do not clash. */
export const ANNOTATION_ALLOW_SHARED_IP = "tern.dev/allow-shared-ip";
/**
 * Service annotation: other namespaces (comma-separated, or `*`) whose Services may share this
 * Service's address. Without it, sharing stays within the namespace; both sides must allow it.
 */
export const ANNOTATION_SHARED_IP_NAMESPACES = "tern.dev/allow-shared-ip-namespaces";
/** Service annotation: comma-separated peer groups to advertise to (none: every peer). */
export const ANNOTATION_PEER_GROUPS = "tern.dev/peer-groups";
/** Put by the controller on a BGPPeer that duplicates another (same node, ASN and address). */
export const ANNOTATION_DUPLICATE_OF = "tern.dev/duplicate-of";

/** The `spec.loadBalancerClass` tern handles. */
export const LOAD_BALANCER_CLASS = "tern.dev/bgp";

/** Finalizer on AddressPools: not deleted while blocks or addresses are in use. */
export const FINALIZER_POOL = "tern.dev/pool-in-use";
/** Finalizer on AddressBlocks: not deleted while addresses are in use. */
export const FINALIZER_BLOCK = "tern.dev/block-in-use";
/** Finalizer on BGPAdvertisements: withdrawn from every peer before removal. */
export const FINALIZER_ADVERTISEMENT = "tern.dev/withdraw";
/** Finalizer on NodeBGPs: not removed while the node's speaker still has peers. */
export const FINALIZER_NODE_BGP = "tern.dev/speaker-peers";

/** Condition types used in tern status blocks. */
export const CONDITION = {
  /** The object is accepted and in effect. */
  Ready: "Ready",
  /** An AddressPool overlaps another pool or is a second auto pool. */
  Conflict: "Conflict",
  /** An AddressPool has no free block or address left. */
  Exhausted: "Exhausted",
  /** A NodeBGP's speaker is reachable and configured. */
  Available: "Available",
  /** A BGPPeer's session is Established. */
  Established: "Established",
} as const;
