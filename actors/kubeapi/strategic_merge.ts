/**
 * Strategic merge patch for the built-in kinds tern uses.
 *
 * Lists with a patch merge key (containers by `name`, container ports by `containerPort`,
 * service ports by `port`, conditions by `type`, …) are merged element by element; other lists
 * are replaced. Directives: `$patch: replace|delete|merge`, `$deleteFromPrimitiveList/<field>`,
 * `$setElementOrder/<field>` (accepted and used for ordering), `$retainKeys`.
 */

import { badRequest } from "./errors.ts";
import { clone, isObject, type JsonObject } from "./types.ts";

/** How one list field merges: by a key (associative) or as a set of primitives. */
export type ListStrategy = { mergeKey: string } | { primitiveMerge: true };

/** Merge strategies by kind and by field path (list indices omitted, `*` for any field). */
const strategies: Record<string, Record<string, ListStrategy>> = {
  "*": {
    "metadata.finalizers": { primitiveMerge: true },
    "metadata.ownerReferences": { mergeKey: "uid" },
    "status.conditions": { mergeKey: "type" },
  },
  Pod: podSpec("spec"),
  Node: {
    "status.addresses": { mergeKey: "type" },
    "status.images": { mergeKey: "names" },
    "spec.podCIDRs": { primitiveMerge: true },
  },
  Service: { "spec.ports": { mergeKey: "port" } },
  Deployment: podSpec("spec.template.spec"),
  DaemonSet: podSpec("spec.template.spec"),
  ReplicaSet: podSpec("spec.template.spec"),
  StatefulSet: podSpec("spec.template.spec"),
  ServiceAccount: { "secrets": { mergeKey: "name" }, "imagePullSecrets": { mergeKey: "name" } },
  Event: {},
};

function podSpec(prefix: string): Record<string, ListStrategy> {
  const out: Record<string, ListStrategy> = {
    [`${prefix}.volumes`]: { mergeKey: "name" },
    [`${prefix}.imagePullSecrets`]: { mergeKey: "name" },
    [`${prefix}.hostAliases`]: { mergeKey: "ip" },
    [`${prefix}.tolerations`]: { mergeKey: "key" },
    "status.podIPs": { mergeKey: "ip" },
    "status.conditions": { mergeKey: "type" },
  };
  for (const c of ["containers", "initContainers", "ephemeralContainers"]) {
    out[`${prefix}.${c}`] = { mergeKey: "name" };
    out[`${prefix}.${c}.ports`] = { mergeKey: "containerPort" };
    out[`${prefix}.${c}.env`] = { mergeKey: "name" };
    out[`${prefix}.${c}.volumeMounts`] = { mergeKey: "mountPath" };
    out[`${prefix}.${c}.volumeDevices`] = { mergeKey: "devicePath" };
  }
  return out;
}

/** The list strategy for a field of a kind, if the list is not atomic. */
export function listStrategy(kind: string, path: string): ListStrategy | undefined {
  return strategies[kind]?.[path] ?? strategies["*"][path];
}

/** Whether a kind supports strategic merge patch here (built-ins only). */
export function supportsStrategicMerge(isCustom: boolean): boolean {
  return !isCustom;
}

/** Apply a strategic merge patch to an object of `kind`, returning a new object. */
export function strategicMergePatch(
  kind: string,
  original: JsonObject,
  patch: unknown,
): JsonObject {
  if (!isObject(patch)) throw badRequest("strategic merge patch must be a JSON object");
  return mergeMap(kind, "", clone(original), patch);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function mergeMap(kind: string, path: string, orig: JsonObject, patch: JsonObject): JsonObject {
  const directive = patch["$patch"];
  if (directive === "replace") {
    const copy = clone(patch);
    delete copy["$patch"];
    return copy;
  }
  if (directive === "delete") return {};
  let out = orig;
  const retain = patch["$retainKeys"];
  if (Array.isArray(retain)) {
    const keep = new Set(retain.map(String));
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch" || key === "$retainKeys" || key.startsWith("$setElementOrder/")) continue;
    if (key.startsWith("$deleteFromPrimitiveList/")) {
      const field = key.slice("$deleteFromPrimitiveList/".length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(value)) {
        out[field] = cur.filter((x) => !value.some((d) => d === x));
      }
      continue;
    }
    const fieldPath = join(path, key);
    if (value === null) {
      delete out[key];
      continue;
    }
    const current = out[key];
    if (isObject(value)) {
      out[key] = mergeMap(kind, fieldPath, isObject(current) ? current : {}, value);
      if (isObject(value) && value["$patch"] === "delete") delete out[key];
      continue;
    }
    if (Array.isArray(value)) {
      const strategy = listStrategy(kind, fieldPath);
      const order = patch[`$setElementOrder/${key}`];
      out[key] = strategy
        ? mergeList(kind, fieldPath, Array.isArray(current) ? current : [], value, strategy, order)
        : value.filter((v) => !(isObject(v) && v["$patch"] !== undefined)).map((v) => clone(v));
      continue;
    }
    out[key] = value;
  }
  return out;
}

function mergeList(
  kind: string,
  path: string,
  orig: unknown[],
  patch: unknown[],
  strategy: ListStrategy,
  order: unknown,
): unknown[] {
  if (patch.some((p) => isObject(p) && p["$patch"] === "replace")) {
    return patch.filter((p) => !(isObject(p) && p["$patch"] === "replace")).map((p) => clone(p));
  }
  if ("primitiveMerge" in strategy) {
    const out = [...orig];
    for (const v of patch) if (!out.some((o) => o === v)) out.push(v);
    return out;
  }
  const key = strategy.mergeKey;
  const out = orig.map((o) => clone(o));
  for (const item of patch) {
    if (!isObject(item)) {
      throw badRequest(`expected a map in list ${path}, got ${JSON.stringify(item)}`);
    }
    const k = item[key];
    const idx = out.findIndex((o) => isObject(o) && o[key] === k);
    if (item["$patch"] === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = mergeMap(kind, path, out[idx] as JsonObject, item);
    else {
      const copy = clone(item);
      delete copy["$patch"];
      out.push(copy);
    }
  }
  if (Array.isArray(order)) {
    const rank = (o: unknown) => {
      const i = order.findIndex((e) => isObject(e) && isObject(o) && e[key] === o[key]);
      return i < 0 ? order.length : i;
    };
    out.sort((a, b) => rank(a) - rank(b));
  }
  return out;
}
