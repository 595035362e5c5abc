/** Object shapes and small JSON helpers shared by the API server's parts. */

import type { ObjectMeta as ClientObjectMeta, OwnerReference } from "../kube/objects.ts";

/** A JSON object. */
export type JsonObject = { [key: string]: unknown };

/** An owner reference (metadata.ownerReferences[]). */
export type { OwnerReference };

/** One managedFields entry. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: JsonObject;
  subresource?: string;
}

/** metadata of a stored object: the client's fields and what only the server keeps. */
export interface ObjectMeta extends ClientObjectMeta {
  deletionGracePeriodSeconds?: number;
  managedFields?: ManagedFieldsEntry[];
  [key: string]: unknown;
}

/** A Kubernetes object as stored and served. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** True for plain JSON objects (not arrays, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep copy of a JSON value. */
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Structural equality of JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

/** Value at a dotted path (`spec.nodeName`), or undefined. */
export function getPath(obj: unknown, path: string | string[]): unknown {
  const parts = typeof path === "string" ? path.split(".") : path;
  let cur: unknown = obj;
  for (const p of parts) {
    if (Array.isArray(cur) && /^\d+$/.test(p)) {
      cur = cur[Number(p)];
      continue;
    }
    if (!isObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

/** RFC 3339 timestamp with second precision, as Kubernetes writes them. */
export function timestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Remove keys whose value is undefined (in place) and return the object. */
export function dropUndefined<T extends JsonObject>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
