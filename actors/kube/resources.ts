/**
 * Resource descriptors: where a kind lives in the API. Built-in kinds tern uses and tern's own
 * CRDs (group `tern.dev`, version `v1alpha1`).
 */

/** Where a kind is served. */
export interface Resource {
  /** "" for the core group. */
  group: string;
  version: string;
  /** Lower-case plural used in URLs. */
  plural: string;
  kind: string;
  namespaced: boolean;
}

/** `apiVersion` of a resource's objects. */
export function apiVersionOf(r: Resource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The collection path, in a namespace when given (and the resource is namespaced). */
export function collectionPath(r: Resource, namespace?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespaced && namespace
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`
    : `${base}/${r.plural}`;
}

/** The path of one object. */
export function objectPath(r: Resource, name: string, namespace?: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
}

const core = (plural: string, kind: string, namespaced: boolean): Resource => ({
  group: "",
  version: "v1",
  plural,
  kind,
  namespaced,
});

const tern = (plural: string, kind: string, namespaced: boolean): Resource => ({
  group: "tern.dev",
  version: "v1alpha1",
  plural,
  kind,
  namespaced,
});

/** Built-in resources tern reads or writes. */
export const Resources = {
  namespaces: core("namespaces", "Namespace", false),
  nodes: core("nodes", "Node", false),
  pods: core("pods", "Pod", true),
  services: core("services", "Service", true),
  endpoints: core("endpoints", "Endpoints", true),
  secrets: core("secrets", "Secret", true),
  configMaps: core("configmaps", "ConfigMap", true),
  events: core("events", "Event", true),
  serviceAccounts: core("serviceaccounts", "ServiceAccount", true),
  endpointSlices: {
    group: "discovery.k8s.io",
    version: "v1",
    plural: "endpointslices",
    kind: "EndpointSlice",
    namespaced: true,
  } as Resource,
  leases: {
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    kind: "Lease",
    namespaced: true,
  } as Resource,
  addressPools: tern("addresspools", "AddressPool", false),
  addressBlocks: tern("addressblocks", "AddressBlock", false),
  blockRequests: tern("blockrequests", "BlockRequest", false),
  bgpPeerTemplates: tern("bgppeertemplates", "BGPPeerTemplate", false),
  clusterBGPs: tern("clusterbgps", "ClusterBGP", false),
  nodeBGPs: tern("nodebgps", "NodeBGP", false),
  bgpPeers: tern("bgppeers", "BGPPeer", false),
  bgpAdvertisements: tern("bgpadvertisements", "BGPAdvertisement", true),
} as const;
