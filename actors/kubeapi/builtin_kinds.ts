/** The built-in resource types the server serves, with their default printer columns. */

import { type PrinterColumn, type ResourceType, storageKeyOf } from "./resource_types.ts";

const age: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

interface Spec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  columns?: PrinterColumn[];
  extraSubresources?: string[];
}

const specs: Spec[] = [
  {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
    shortNames: ["ns"],
    status: true,
    columns: [{ name: "Status", type: "string", jsonPath: ".status.phase" }, age],
  },
  {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    namespaced: false,
    shortNames: ["no"],
    status: true,
    columns: [
      {
        name: "Status",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      },
      { name: "Roles", type: "string", jsonPath: ".metadata.labels.kubernetes\\.io/role" },
      age,
      { name: "Version", type: "string", jsonPath: ".status.nodeInfo.kubeletVersion" },
      {
        name: "Internal-IP",
        type: "string",
        priority: 1,
        jsonPath: '.status.addresses[?(@.type=="InternalIP")].address',
      },
    ],
  },
  {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    namespaced: true,
    shortNames: ["po"],
    categories: ["all"],
    status: true,
    columns: [
      { name: "Status", type: "string", jsonPath: ".status.phase" },
      { name: "Restarts", type: "integer", jsonPath: ".status.containerStatuses[0].restartCount" },
      age,
      { name: "IP", type: "string", jsonPath: ".status.podIP", priority: 1 },
      { name: "Node", type: "string", jsonPath: ".spec.nodeName", priority: 1 },
    ],
  },
  {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    namespaced: true,
    shortNames: ["svc"],
    categories: ["all"],
    status: true,
    columns: [
      { name: "Type", type: "string", jsonPath: ".spec.type" },
      { name: "Cluster-IP", type: "string", jsonPath: ".spec.clusterIP" },
      { name: "External-IP", type: "string", jsonPath: ".status.loadBalancer.ingress[*].ip" },
      { name: "Port(s)", type: "string", jsonPath: ".spec.ports[*].port" },
      age,
    ],
  },
  {
    group: "",
    version: "v1",
    kind: "Endpoints",
    plural: "endpoints",
    namespaced: true,
    shortNames: ["ep"],
    columns: [
      { name: "Endpoints", type: "string", jsonPath: ".subsets[*].addresses[*].ip" },
      age,
    ],
  },
  {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    namespaced: true,
    columns: [
      { name: "Type", type: "string", jsonPath: ".type" },
      { name: "Data", type: "integer", jsonPath: ".data" },
      age,
    ],
  },
  {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    namespaced: true,
    shortNames: ["cm"],
    columns: [{ name: "Data", type: "integer", jsonPath: ".data" }, age],
  },
  {
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    namespaced: true,
    shortNames: ["ev"],
    columns: [
      { name: "Type", type: "string", jsonPath: ".type" },
      { name: "Reason", type: "string", jsonPath: ".reason" },
      { name: "Object", type: "string", jsonPath: ".involvedObject.name" },
      { name: "Message", type: "string", jsonPath: ".message" },
      age,
    ],
  },
  {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    namespaced: true,
    shortNames: ["sa"],
    extraSubresources: ["token"],
  },
  {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    namespaced: true,
    columns: [
      { name: "AddressType", type: "string", jsonPath: ".addressType" },
      { name: "Ports", type: "string", jsonPath: ".ports[*].port" },
      { name: "Endpoints", type: "string", jsonPath: ".endpoints[*].addresses[0]" },
      age,
    ],
  },
  {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    namespaced: true,
    columns: [{ name: "Holder", type: "string", jsonPath: ".spec.holderIdentity" }, age],
  },
  {
    group: "events.k8s.io",
    version: "v1",
    kind: "Event",
    plural: "events",
    namespaced: true,
    shortNames: ["ev"],
    columns: [
      { name: "Type", type: "string", jsonPath: ".type" },
      { name: "Reason", type: "string", jsonPath: ".reason" },
      { name: "Object", type: "string", jsonPath: ".regarding.name" },
      { name: "Note", type: "string", jsonPath: ".note" },
      age,
    ],
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    namespaced: true,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    namespaced: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    namespaced: true,
    columns: [{ name: "Role", type: "string", jsonPath: ".roleRef.name" }, age],
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
    columns: [{ name: "Role", type: "string", jsonPath: ".roleRef.name" }, age],
  },
  {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
    shortNames: ["crd", "crds"],
    categories: ["api-extensions"],
    status: true,
    columns: [{ name: "Created At", type: "string", jsonPath: ".metadata.creationTimestamp" }],
  },
];

/** The built-in resource types. */
export function builtinKinds(): ResourceType[] {
  return specs.map((s) => ({
    group: s.group,
    version: s.version,
    kind: s.kind,
    listKind: `${s.kind}List`,
    plural: s.plural,
    singular: s.kind.toLowerCase(),
    namespaced: s.namespaced,
    shortNames: s.shortNames ?? [],
    categories: s.categories ?? [],
    statusSubresource: s.status ?? false,
    storageKey: storageKeyOf(s.group, s.plural),
    printerColumns: s.columns ?? [age],
    storage: true,
    extraSubresources: s.extraSubresources,
  }));
}
