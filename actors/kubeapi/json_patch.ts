/**
 * JSON merge patch (RFC 7386) and JSON patch (RFC 6902). Pure functions over JSON values;
 * a malformed patch or a failed `test` operation is a typed {@link ApiError}.
 */

import { ApiError } from "./errors.ts";
import { clone, deepEqual, isObject } from "./types.ts";

/** Apply an RFC 7386 merge patch to `target`, returning a new value. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function patchError(message: string): ApiError {
  return new ApiError(422, "Invalid", message);
}

function parsePointer(ptr: string): string[] {
  if (ptr === "") return [];
  if (!ptr.startsWith("/")) throw patchError(`invalid JSON pointer "${ptr}"`);
  return ptr.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

type Container = Record<string, unknown> | unknown[];

function resolveParent(doc: unknown, parts: string[], ptr: string): [Container, string] {
  let cur: unknown = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw patchError(`doc is missing path: "${ptr}"`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw patchError(`doc is missing path: "${ptr}"`);
  return [cur, parts[parts.length - 1]];
}

function getAt(doc: unknown, ptr: string): unknown {
  let cur: unknown = doc;
  for (const p of parsePointer(ptr)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw patchError(`doc is missing path: "${ptr}"`);
  }
  return cur;
}

function arrayIndex(arr: unknown[], key: string, forAdd: boolean, ptr: string): number {
  if (key === "-" && forAdd) return arr.length;
  if (!/^\d+$/.test(key)) throw patchError(`invalid array index "${key}" in "${ptr}"`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i >= arr.length)) {
    throw patchError(`array index out of bounds ${i} in "${ptr}"`);
  }
  return i;
}

function addAt(doc: unknown, ptr: string, value: unknown): unknown {
  const parts = parsePointer(ptr);
  if (parts.length === 0) return clone(value);
  const [parent, key] = resolveParent(doc, parts, ptr);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, ptr), 0, clone(value));
  else parent[key] = clone(value);
  return doc;
}

function removeAt(doc: unknown, ptr: string): unknown {
  const parts = parsePointer(ptr);
  if (parts.length === 0) throw patchError("cannot remove the whole document");
  const [parent, key] = resolveParent(doc, parts, ptr);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false, ptr), 1);
  else {
    if (!Object.hasOwn(parent, key)) throw patchError(`unable to remove nonexistent key: ${key}`);
    delete parent[key];
  }
  return doc;
}

/** Apply an RFC 6902 JSON patch (array of operations), returning a new value. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, "BadRequest", "json patch must be an array");
  let doc = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw new ApiError(400, "BadRequest", `invalid json patch operation: ${JSON.stringify(raw)}`);
    }
    const path = raw.path;
    switch (raw.op) {
      case "add":
        doc = addAt(doc, path, raw.value);
        break;
      case "remove":
        doc = removeAt(doc, path);
        break;
      case "replace":
        getAt(doc, path);
        doc = removeAt(doc, path);
        doc = addAt(doc, path, raw.value);
        break;
      case "move": {
        const from = String(raw.from ?? "");
        const v = getAt(doc, from);
        doc = removeAt(doc, from);
        doc = addAt(doc, path, v);
        break;
      }
      case "copy":
        doc = addAt(doc, path, getAt(doc, String(raw.from ?? "")));
        break;
      case "test":
        if (!deepEqual(getAt(doc, path), raw.value)) {
          throw patchError(`testing value ${path} failed`);
        }
        break;
      default:
        throw new ApiError(400, "BadRequest", `unexpected json patch operation "${raw.op}"`);
    }
  }
  return doc;
}
