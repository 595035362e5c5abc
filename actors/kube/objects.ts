/** The shapes of Kubernetes objects that tern's client layer relies on. */

/** `metadata.ownerReferences[]`. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** `metadata`: the one declaration of its fields (the API server and the CRD types extend it). */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // deno-lint-ignore no-explicit-any
  spec?: any;
  // deno-lint-ignore no-explicit-any
  status?: any;
}

/** A list response. */
export interface KubeList<T extends KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** One event of a watch stream. */
export interface WatchEvent<T extends KubeObject> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

/** A Kubernetes `Status` object (errors and some delete answers). */
export interface KubeStatus {
  kind: "Status";
  status?: "Success" | "Failure";
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: { field?: string; message?: string }[] };
}

/** `namespace/name`, or `name` for cluster-scoped objects: the cache key of an object. */
export function objectKey(obj: { metadata: ObjectMeta }): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${namespace}/${name}` : `${name}`;
}

/** True when `obj` carries a condition of `type` with status "True". */
export function hasTrueCondition(obj: KubeObject, type: string): boolean {
  const conditions = (obj.status?.conditions ?? []) as { type: string; status: string }[];
  return conditions.some((c) => c.type === type && c.status === "True");
}
