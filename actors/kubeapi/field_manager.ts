/**
 * Server-side apply and managedFields bookkeeping.
 *
 * Field ownership is tracked as sets of leaf paths (`f:spec`, `f:replicas`; list items of
 * associative lists as `k:{"name":"c"}`, of set lists as `v:"x"`; atomic lists are one leaf).
 * `apply` merges an applied configuration into the live object, removes the fields this manager
 * applied before and no longer applies (unless another manager owns them), and reports conflicts
 * with other managers unless forced. `recordUpdate` assigns the fields a plain write changed to
 * its manager. Pure: no I/O.
 */

import { ApiError } from "./errors.ts";
import { clone, deepEqual, isObject, type JsonObject, type ManagedFieldsEntry } from "./types.ts";

/** How the list at a dotted field path (names only) is keyed: keys, a set, or atomic. */
export type ListKeys = (fieldPath: string) => string[] | "set" | undefined;

type Path = string[];

const skipMeta = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
]);

function itemSegment(item: unknown, keys: string[] | "set"): string {
  if (keys === "set") return `v:${JSON.stringify(item)}`;
  const k: JsonObject = {};
  for (const key of keys) if (isObject(item)) k[key] = item[key];
  return `k:${JSON.stringify(k)}`;
}

/** Leaf paths of a value, as field ownership sees them. */
export function leafPaths(obj: JsonObject, listKeys: ListKeys): Path[] {
  const out: Path[] = [];
  const walk = (v: unknown, path: Path, names: string[]): void => {
    if (isObject(v)) {
      const entries = Object.entries(v);
      if (entries.length === 0) {
        out.push(path);
        return;
      }
      for (const [k, child] of entries) {
        if (path.length === 1 && path[0] === "f:metadata" && skipMeta.has(k)) continue;
        walk(child, [...path, `f:${k}`], [...names, k]);
      }
      return;
    }
    if (Array.isArray(v)) {
      const keys = listKeys(names.join("."));
      if (keys === undefined || v.length === 0) {
        out.push(path);
        return;
      }
      for (const item of v) {
        const seg = itemSegment(item, keys);
        if (keys === "set" || !isObject(item)) out.push([...path, seg]);
        else {
          out.push([...path, seg, "."]);
          for (const [k, child] of Object.entries(item)) {
            walk(child, [...path, seg, `f:${k}`], [...names, k]);
          }
        }
      }
      return;
    }
    out.push(path);
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind") continue;
    walk(v, [`f:${k}`], [k]);
  }
  return out.filter((p) => !(p.length === 1 && p[0] === "f:metadata"));
}

/** Encode a set of paths as a FieldsV1 object. */
export function encodeFields(paths: Iterable<Path>): JsonObject {
  const root: JsonObject = {};
  for (const p of paths) {
    let cur = root;
    for (const seg of p) {
      if (!isObject(cur[seg])) cur[seg] = {};
      cur = cur[seg] as JsonObject;
    }
  }
  return root;
}

/** Decode a FieldsV1 object into leaf paths. */
export function decodeFields(fields: JsonObject): Path[] {
  const out: Path[] = [];
  const walk = (o: JsonObject, path: Path) => {
    const keys = Object.keys(o);
    if (keys.length === 0 && path.length > 0) {
      out.push(path);
      return;
    }
    for (const k of keys) if (isObject(o[k])) walk(o[k] as JsonObject, [...path, k]);
  };
  walk(fields, []);
  return out;
}

function valueAt(obj: unknown, path: Path): { found: boolean; value?: unknown } {
  let cur: unknown = obj;
  for (const seg of path) {
    if (seg === ".") return { found: cur !== undefined, value: cur };
    if (seg.startsWith("f:")) {
      if (!isObject(cur) || !Object.hasOwn(cur, seg.slice(2))) return { found: false };
      cur = cur[seg.slice(2)];
    } else if (seg.startsWith("k:")) {
      const key = JSON.parse(seg.slice(2)) as JsonObject;
      if (!Array.isArray(cur)) return { found: false };
      cur = cur.find((it) =>
        isObject(it) && Object.entries(key).every(([k, v]) => deepEqual(it[k], v))
      );
      if (cur === undefined) return { found: false };
    } else if (seg.startsWith("v:")) {
      const want = JSON.parse(seg.slice(2));
      if (!Array.isArray(cur) || !cur.some((x) => deepEqual(x, want))) return { found: false };
      return { found: true, value: want };
    }
  }
  return { found: true, value: cur };
}

function removeAt(obj: JsonObject, path: Path): void {
  const chain: Array<[unknown, string]> = [];
  let cur: unknown = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i];
    chain.push([cur, seg]);
    if (seg.startsWith("f:") && isObject(cur)) cur = cur[seg.slice(2)];
    else if (seg.startsWith("k:") && Array.isArray(cur)) {
      const key = JSON.parse(seg.slice(2)) as JsonObject;
      cur = cur.find((it) =>
        isObject(it) && Object.entries(key).every(([k, v]) => deepEqual(it[k], v))
      );
    } else return;
    if (cur === undefined) return;
  }
  const last = path[path.length - 1];
  if (last === ".") {
    const list = chain[chain.length - 1]?.[0];
    if (Array.isArray(list)) {
      const idx = list.indexOf(cur);
      if (idx >= 0) list.splice(idx, 1);
    }
    return;
  }
  if (last.startsWith("f:") && isObject(cur)) delete cur[last.slice(2)];
  else if (last.startsWith("v:") && Array.isArray(cur)) {
    const want = JSON.parse(last.slice(2));
    const idx = cur.findIndex((x) => deepEqual(x, want));
    if (idx >= 0) cur.splice(idx, 1);
  }
  // maps emptied by the removal go too (as with the real server's field removal)
  for (let i = chain.length - 1; i >= 0; i--) {
    const [parent, seg] = chain[i];
    const child = isObject(parent) && seg.startsWith("f:") ? parent[seg.slice(2)] : undefined;
    if (!isObject(child) || Object.keys(child).length > 0 || !isObject(parent)) break;
    delete parent[seg.slice(2)];
  }
}

/** Merge an applied configuration into `live` (maps recursively, keyed lists by key). */
export function mergeApplied(
  live: unknown,
  applied: unknown,
  listKeys: ListKeys,
  names: string[] = [],
): unknown {
  if (isObject(applied)) {
    const out: JsonObject = isObject(live) ? clone(live) : {};
    for (const [k, v] of Object.entries(applied)) {
      out[k] = mergeApplied(out[k], v, listKeys, [...names, k]);
    }
    return out;
  }
  if (Array.isArray(applied)) {
    const keys = listKeys(names.join("."));
    if (keys === undefined || !Array.isArray(live)) return clone(applied);
    const out = clone(live);
    for (const item of applied) {
      const seg = itemSegment(item, keys);
      const idx = out.findIndex((x) => itemSegment(x, keys) === seg);
      if (idx < 0) out.push(clone(item));
      else out[idx] = keys === "set" ? clone(item) : mergeApplied(out[idx], item, listKeys, names);
    }
    return out;
  }
  return clone(applied);
}

function key(p: Path): string {
  return JSON.stringify(p);
}

function isPrefix(prefix: Path, p: Path): boolean {
  if (prefix.length > p.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== p[i]) return false;
  return true;
}

function entrySets(entries: ManagedFieldsEntry[]): Array<{ e: ManagedFieldsEntry; paths: Path[] }> {
  return entries.map((e) => ({ e, paths: decodeFields(e.fieldsV1 ?? {}) }));
}

/** Conflict raised by an apply that would take fields from other managers. */
export function applyConflict(conflicts: Array<{ manager: string; field: string }>): ApiError {
  const lines = conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`);
  return new ApiError(
    409,
    "Conflict",
    `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}: ${
      lines.join(", ")
    }`,
    {
      causes: conflicts.map((c) => ({
        reason: "FieldManagerConflict",
        message: `conflict with "${c.manager}"`,
        field: c.field,
      })),
    },
  );
}

function showPath(p: Path): string {
  return "." +
    p.filter((s) => s !== ".").map((s) => s.startsWith("f:") ? s.slice(2) : `[${s.slice(2)}]`).join(
      ".",
    );
}

/** Result of a server-side apply. */
export interface ApplyResult {
  object: JsonObject;
  managedFields: ManagedFieldsEntry[];
}

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined for a create).
 * Throws a 409 Conflict {@link ApiError} listing the contested fields unless `force`.
 */
export function apply(
  live: JsonObject | undefined,
  applied: JsonObject,
  opts: {
    manager: string;
    force: boolean;
    listKeys: ListKeys;
    apiVersion: string;
    now: string;
    subresource?: string;
  },
): ApplyResult {
  const entries = entrySets(
    (live?.metadata as JsonObject | undefined)?.managedFields as ManagedFieldsEntry[] ?? [],
  );
  const appliedPaths = leafPaths(applied, opts.listKeys);
  const appliedKeys = new Set(appliedPaths.map(key));
  const conflicts: Array<{ manager: string; field: string; path: Path }> = [];
  for (const { e, paths } of entries) {
    if (e.manager === opts.manager && e.operation === "Apply") continue;
    for (const p of paths) {
      if (!appliedKeys.has(key(p)) || p[p.length - 1] === ".") continue;
      const a = valueAt(live, p);
      const b = valueAt(applied, p);
      if (a.found && !deepEqual(a.value, b.value)) {
        conflicts.push({ manager: e.manager, field: showPath(p), path: p });
      }
    }
  }
  if (conflicts.length > 0 && !opts.force) throw applyConflict(conflicts);
  let merged = mergeApplied(live ?? {}, applied, opts.listKeys) as JsonObject;
  const mine = entries.find(({ e }) => e.manager === opts.manager && e.operation === "Apply");
  const othersOwn = new Set<string>();
  for (const { e, paths } of entries) {
    if (mine && e === mine.e) continue;
    for (const p of paths) othersOwn.add(key(p));
  }
  if (mine) {
    merged = clone(merged);
    const stale = mine.paths.filter((p) => !appliedKeys.has(key(p)) && !othersOwn.has(key(p)));
    // remove deepest first so item markers go after their fields
    stale.sort((a, b) => b.length - a.length);
    for (const p of stale) {
      if (
        p[p.length - 1] === "." &&
        [...othersOwn].some((o) => isPrefix(p.slice(0, -1), JSON.parse(o)))
      ) continue;
      removeAt(merged, p);
    }
  }
  const out: ManagedFieldsEntry[] = [];
  for (const { e, paths } of entries) {
    if (mine && e === mine.e) continue;
    // Forcing takes over only the contested fields; equal values stay co-owned.
    const taken = new Set(conflicts.filter((c) => c.manager === e.manager).map((c) => key(c.path)));
    const kept = opts.force ? paths.filter((p) => !taken.has(key(p))) : paths;
    if (kept.length > 0) out.push({ ...e, fieldsV1: encodeFields(kept) });
  }
  out.push({
    manager: opts.manager,
    operation: "Apply",
    apiVersion: opts.apiVersion,
    time: opts.now,
    fieldsType: "FieldsV1",
    fieldsV1: encodeFields(appliedPaths),
    ...(opts.subresource ? { subresource: opts.subresource } : {}),
  });
  return { object: merged, managedFields: out };
}

/** managedFields after a plain write (create/update/patch) by `manager`. */
export function recordUpdate(
  oldObj: JsonObject | undefined,
  newObj: JsonObject,
  opts: {
    manager: string;
    listKeys: ListKeys;
    apiVersion: string;
    now: string;
    subresource?: string;
  },
): ManagedFieldsEntry[] {
  const entries = entrySets(
    (oldObj?.metadata as JsonObject | undefined)?.managedFields as ManagedFieldsEntry[] ?? [],
  );
  const newPaths = leafPaths(newObj, opts.listKeys);
  const newKeys = new Set(newPaths.map(key));
  const changed = newPaths.filter((p) => {
    if (!oldObj) return true;
    const a = valueAt(oldObj, p);
    const b = valueAt(newObj, p);
    return !a.found || !deepEqual(a.value, b.value);
  });
  const changedKeys = new Set(changed.map(key));
  const out: ManagedFieldsEntry[] = [];
  let mineFound = false;
  for (const { e, paths } of entries) {
    const isMine = e.manager === opts.manager && e.operation === "Update" &&
      (e.subresource ?? "") === (opts.subresource ?? "");
    let kept = paths.filter((p) => newKeys.has(key(p)) && (isMine || !changedKeys.has(key(p))));
    if (isMine) {
      mineFound = true;
      const have = new Set(kept.map(key));
      kept = [...kept, ...changed.filter((p) => !have.has(key(p)))];
    }
    if (kept.length > 0) {
      out.push({ ...e, fieldsV1: encodeFields(kept), ...(isMine ? { time: opts.now } : {}) });
    }
  }
  if (!mineFound && changed.length > 0) {
    out.push({
      manager: opts.manager,
      operation: "Update",
      apiVersion: opts.apiVersion,
      time: opts.now,
      fieldsType: "FieldsV1",
      fieldsV1: encodeFields(changed),
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    });
  }
  return out;
}
