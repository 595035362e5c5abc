/**
 * Least-privilege RBAC for tern's in-cluster roles, as data: the one source of truth for
 * `manifests/base/rbac_*.yaml` (written by `actors/ship/generate.ts`) and for the tests that run
 * each role's API calls as its ServiceAccount and compare the resources its code touches with
 * what it is granted.
 *
 * Every rule says why it exists. A resource the code does not use has no rule; a verb the code
 * does not issue is not granted (no `*`, no `escalate`, no `bind`; Secrets only `get` by the
 * agent, for the TCP-MD5 passwords its BGPPeers reference).
 *
 * @module
 */

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

/** The controller's grants: exactly the calls its code makes (tests/ship_rbac_test.ts). */
export const CONTROLLER_RBAC: RoleRbac = {
  role: "controller",
  serviceAccount: "tern-controller",
  grants: [
    {
      group: "coordination.k8s.io",
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
      verbs: ["list", "watch"],
      why: "informer: blocks and NodeBGPs per node, ASN and router id from labels and addresses",
      scope: "cluster",
    },
    {
      group: "",
      resource: "namespaces",
      verbs: ["list", "watch"],
      why: "informer: pool choice by namespace annotation and pool namespaceSelector",
      scope: "cluster",
    },
    {
      group: "",
      resource: "services",
      verbs: ["list", "watch"],
      why: "informer: LoadBalancer Services (type, class, annotations, ipFamilies)",
      scope: "cluster",
    },
    {
      group: "",
      resource: "services/status",
      verbs: ["patch"],
      why: "write status.loadBalancer.ingress and conditions",
      scope: "cluster",
    },
    {
      group: "discovery.k8s.io",
      resource: "endpointslices",
      verbs: ["list", "watch"],
      why: "informer: Local traffic policy advertises only from nodes with ready endpoints",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addresspools",
      verbs: ["list", "watch", "patch"],
      why: "informer; the finalizer that keeps a pool while blocks exist",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addresspools/status",
      verbs: ["patch"],
      why: "pool capacity, allocation and conditions",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addressblocks",
      verbs: ["get", "list", "watch", "create", "delete"],
      why: "hand node blocks out in answer to BlockRequests, free those of deleted nodes",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "blockrequests",
      verbs: ["list", "watch"],
      why: "informer: the agents' requests for another block",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "blockrequests/status",
      verbs: ["patch"],
      why: "answer a BlockRequest (the block given, or why none could be)",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeertemplates",
      verbs: ["list", "watch"],
      why: "informer: peer templates referenced by ClusterBGPs",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "clusterbgps",
      verbs: ["list", "watch"],
      why: "informer: the cluster-wide BGP intent",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "clusterbgps/status",
      verbs: ["patch"],
      why: "desired and configured nodes",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "nodebgps",
      verbs: ["list", "watch", "create", "update", "patch", "delete"],
      why: "one NodeBGP per matching node, kept in step with node labels",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeers",
      verbs: ["list", "watch", "create", "update", "patch", "delete"],
      why:
        "one BGPPeer per peer of each NodeBGP; marks hand-made duplicates (tern.dev/duplicate-of)",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgpadvertisements",
      verbs: ["list", "watch", "create", "patch", "delete"],
      why: "advertisements for pod blocks and LoadBalancer addresses, retargeted as peers move",
      scope: "cluster",
    },
  ],
};

/** The node agent's grants: exactly the calls its code makes (tests/ship_rbac_test.ts). */
export const AGENT_RBAC: RoleRbac = {
  role: "agent",
  serviceAccount: "tern-agent",
  grants: [
    {
      group: "",
      resource: "namespaces",
      verbs: ["get"],
      why: "pool choice by namespace annotation",
      scope: "cluster",
    },
    {
      group: "",
      resource: "pods",
      verbs: ["get"],
      why: "pool choice by pod annotation; the garbage collector checks a pod still exists",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addresspools",
      verbs: ["list"],
      why: "which pools exist and which is the auto pool",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "addressblocks",
      verbs: ["list", "delete"],
      why: "the blocks the controller gave this node; return one that stayed empty",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "blockrequests",
      verbs: ["get", "create", "delete"],
      why: "ask the controller for another block, wait for its answer, withdraw the request",
      scope: "cluster",
    },
    {
      group: "",
      resource: "secrets",
      verbs: ["get"],
      why:
        "TCP-MD5 passwords of this node's BGPPeers (passwordSecretRef, any namespace), read again periodically",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "nodebgps",
      verbs: ["list", "watch"],
      why: "informer (BGP wiring): this node's ASN, router id and speaker settings",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeers",
      verbs: ["list", "watch"],
      why: "informer (BGP wiring): this node's BGP sessions",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgppeers/status",
      verbs: ["patch"],
      why: "each session's state (Idle … Established) and backoff",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgpadvertisements",
      verbs: ["list", "watch"],
      why: "informer (BGP wiring): what to announce to which peer",
      scope: "cluster",
    },
    {
      group: "tern.dev",
      resource: "bgpadvertisements/status",
      verbs: ["patch"],
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
