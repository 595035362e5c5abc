/** The built-in resource types the server serves, with their default printer columns. */

import { eventFromCore, eventToCore } from "./event_conversion.ts";
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
  convert?: ResourceType["convert"];
  storageKey?: string;
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
      { name: "Ready", type: "string", jsonPath: ".status.containerStatuses" },
      { name: "Status", type: "string", jsonPath: ".status.phase" },
      { name: "Restarts", type: "integer", jsonPath: ".status.containerStatuses[*].restartCount" },
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
    storageKey: "/events",
    convert: { toStorage: eventToCore, fromStorage: eventFromCore },
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
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    namespaced: true,
    shortNames: ["deploy"],
    categories: ["all"],
    status: true,
    extraSubresources: ["scale"],
    columns: [
      { name: "Ready", type: "string", jsonPath: ".status.readyReplicas" },
      { name: "Up-to-date", type: "integer", jsonPath: ".status.updatedReplicas" },
      { name: "Available", type: "integer", jsonPath: ".status.availableReplicas" },
      age,
    ],
  },
  {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    plural: "daemonsets",
    namespaced: true,
    shortNames: ["ds"],
    categories: ["all"],
    status: true,
    columns: [
      { name: "Desired", type: "integer", jsonPath: ".status.desiredNumberScheduled" },
      { name: "Current", type: "integer", jsonPath: ".status.currentNumberScheduled" },
      { name: "Ready", type: "integer", jsonPath: ".status.numberReady" },
      { name: "Up-to-date", type: "integer", jsonPath: ".status.updatedNumberScheduled" },
      { name: "Available", type: "integer", jsonPath: ".status.numberAvailable" },
      age,
    ],
  },
  {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    namespaced: true,
    shortNames: ["rs"],
    categories: ["all"],
    status: true,
    extraSubresources: ["scale"],
    columns: [
      { name: "Desired", type: "integer", jsonPath: ".spec.replicas" },
      { name: "Current", type: "integer", jsonPath: ".status.replicas" },
      { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas" },
      age,
    ],
  },
  {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    plural: "statefulsets",
    namespaced: true,
    shortNames: ["sts"],
    categories: ["all"],
    status: true,
    extraSubresources: ["scale"],
    columns: [{ name: "Ready", type: "string", jsonPath: ".status.readyReplicas" }, age],
  },
  {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    namespaced: true,
    shortNames: ["pdb"],
    status: true,
    columns: [
      { name: "Min Available", type: "string", jsonPath: ".spec.minAvailable" },
      { name: "Max Unavailable", type: "string", jsonPath: ".spec.maxUnavailable" },
      { name: "Allowed Disruptions", type: "integer", jsonPath: ".status.disruptionsAllowed" },
      age,
    ],
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
    storageKey: s.storageKey ?? storageKeyOf(s.group, s.plural),
    printerColumns: s.columns ?? [age],
    storage: s.convert === undefined,
    extraSubresources: s.extraSubresources,
    convert: s.convert,
  }));
}
