/**
 * Least-privilege RBAC for tern's in-cluster roles, as data: the one source of truth for
 * `manifests/base/rbac_*.yaml` (written by `actors/ship/generate.ts`) and for the tests that run
 * each role's API calls as its ServiceAccount and compare the resources its code touches with
 * what it is granted.
 *
 * Every rule says why it exists. A resource the code does not use has no rule; a verb the code
 * does not issue is not granted (no `*`, no `escalate`, no `bind`, no Secrets).
 *
 * @module
 */

import { Resources } from "../kube/resources.ts";

/** The namespace tern's workloads run in. */
export const SYSTEM_NAMESPACE = "tern-system";

/** A Kubernetes API verb. */
export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

/** One RBAC rule with the reason it is needed. */
export interface Grant {
  /** API group ("" for core). */
  group: string;
  /** Plural resource, with `/subresource` for a subresource (`services/status`). */
  resource: string;
  verbs: Verb[];
  /** Why the role needs it (rendered as a comment and in docs/install.md). */
  why: string;
  /**
   * Where the grant applies: cluster-wide (ClusterRole + ClusterRoleBinding) or only in the
   * system namespace (Role + RoleBinding).
   */
  scope: "cluster" | "system-namespace";
}

/** A role that talks to the API server: its ServiceAccount and its grants. */
export interface RoleRbac {
  role: "controller" | "agent";
  serviceAccount: string;
  grants: Grant[];
}

const READ: Verb[] = ["get", "list", "watch"];
const g = (r: { group: string; plural: string }) => r.group;

/** The controller's grants. */
export const CONTROLLER_RBAC: RoleRbac = {
  role: "controller",
  serviceAccount: "tern-controller",
  grants: [
    {
      group: g(Resources.leases),
      resource: "leases",
      verbs: ["get", "create", "update"],
      why: "leader election: read, create and renew its Lease (leaderElector)",
      scope: "system-namespace",
    },
    {
      group: "",
      resource: "events",
      verbs: ["create", "patch"],
      why: "report user-caused failures (pool exhausted, address taken) as Events",
      scope: "cluster",
    },
    {
      group: "",
      resource: "nodes",
      verbs: READ,
      why: "blocks and NodeBGPs per node; ASN and router id from node labels and addresses",
      scope: "cluster",
    },
    {
      group: "",
      resource: "namespaces",
      verbs: READ,
      why: "pool choice by namespace annotation and pool namespaceSelector",
      scope: "cluster",
    },
    {
      group: "",
      resource: "services",
      verbs: READ,
      why: "LoadBalancer Services: type, class, annotations, ipFamilies",
      scope: "cluster",
    },
    {
      group: "",
      resource: "services/status",
      verbs: ["update", "patch"],
      why: "write status.loadBalancer.ingress and conditions",
      scope: "cluster",
    },
    {
      group: g(Resources.endpointSlices),
      resource: "endpointslices",
      verbs: READ,
      why: "Local traffic policy: advertise only from nodes with ready endpoints",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addresspools",
      verbs: ["get", "list", "watch", "update", "patch"],
      why: "pools to cut and allocate from; the finalizer that keeps a pool with blocks",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addresspools/status",
      verbs: ["update", "patch"],
      why: "pool capacity, allocation and conditions",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addressblocks",
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      why: "hand node blocks out in answer to BlockRequests and free those of deleted nodes",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "blockrequests",
      verbs: READ,
      why: "the agents' requests for another block",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "blockrequests/status",
      verbs: ["update", "patch"],
      why: "answer a BlockRequest (the block given, or why none could be)",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeertemplates",
      verbs: READ,
      why: "peer templates referenced by ClusterBGPs",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "clusterbgps",
      verbs: READ,
      why: "the cluster-wide BGP intent turned into NodeBGPs and BGPPeers",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "clusterbgps/status",
      verbs: ["update", "patch"],
      why: "desired and configured nodes",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "nodebgps",
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      why: "one NodeBGP per matching node, kept in step with node labels",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeers",
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      why: "one BGPPeer per peer of each NodeBGP",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgpadvertisements",
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      why: "advertisements for pod blocks and LoadBalancer addresses, retargeted as peers move",
      scope: "cluster",
    },
  ],
};

/** The node agent's grants. */
export const AGENT_RBAC: RoleRbac = {
  role: "agent",
  serviceAccount: "tern-agent",
  grants: [
    {
      group: "",
      resource: "events",
      verbs: ["create", "patch"],
      why: "report pod wiring and BGP session problems as Events",
      scope: "cluster",
    },
    {
      group: "",
      resource: "nodes",
      verbs: READ,
      why: "its own Node: addresses and labels",
      scope: "cluster",
    },
    {
      group: "",
      resource: "namespaces",
      verbs: READ,
      why: "pool choice by namespace annotation",
      scope: "cluster",
    },
    {
      group: "",
      resource: "pods",
      verbs: READ,
      why: "pool choice by pod annotation; the garbage collector checks pods still exist",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addresspools",
      verbs: READ,
      why: "which pools exist and which is the auto pool",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addressblocks",
      verbs: ["get", "list", "watch", "delete"],
      why: "the blocks the controller gave this node; return one that stayed empty",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "blockrequests",
      verbs: ["get", "list", "watch", "create", "delete"],
      why: "ask the controller for another block, and withdraw the request once answered",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "nodebgps",
      verbs: READ,
      why: "this node's ASN, router id and speaker settings",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "nodebgps/status",
      verbs: ["update", "patch"],
      why: "report whether the node's BGP is configured",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeers",
      verbs: READ,
      why: "this node's BGP sessions",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeers/status",
      verbs: ["update", "patch"],
      why: "each session's state (Idle … Established) and backoff",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgpadvertisements",
      verbs: READ,
      why: "what to announce to which peer",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgpadvertisements/status",
      verbs: ["update", "patch"],
      why: "per-peer advertisement state (Advertised, Withdraw)",
      scope: "cluster",
    },
  ],
};

/** Every role with API access. */
export const ALL_RBAC: RoleRbac[] = [CONTROLLER_RBAC, AGENT_RBAC];

/** A Kubernetes object as plain data. */
export type Manifest = Record<string, unknown>;

function rules(grants: Grant[]): Manifest[] {
  return grants.map((gr) => ({
    apiGroups: [gr.group],
    resources: [gr.resource],
    verbs: [...gr.verbs],
  }));
}

/**
 * The ServiceAccount, ClusterRole, ClusterRoleBinding and (when the role has namespaced grants)
 * Role and RoleBinding of one role.
 */
export function rbacObjects(r: RoleRbac, namespace = SYSTEM_NAMESPACE): Manifest[] {
  const name = r.serviceAccount;
  const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/component": r.role };
  const subject = { kind: "ServiceAccount", name, namespace };
  const cluster = r.grants.filter((x) => x.scope === "cluster");
  const local = r.grants.filter((x) => x.scope === "system-namespace");
  const out: Manifest[] = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace, labels } },
  ];
  if (cluster.length > 0) {
    out.push(
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name, labels },
        rules: rules(cluster),
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [subject],
      },
    );
  }
  if (local.length > 0) {
    out.push(
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name, namespace, labels },
        rules: rules(local),
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name, namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects: [subject],
      },
    );
  }
  return out;
}
