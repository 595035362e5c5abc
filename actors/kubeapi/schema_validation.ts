/**
 * OpenAPI v3 structural-schema validation, defaulting and pruning for custom resources.
 *
 * Pure: `validateObject` mutates only the copy it is given (defaults applied, unknown fields
 * pruned) and returns the causes and the unknown-field paths, worded as the real API server
 * words them so kubectl prints the familiar messages.
 */

import {
  type CelAst,
  CelError,
  evalCel,
  parseCel,
  unsupportedFunctions,
  usesOldSelf,
} from "./cel.ts";
import type { StatusCause } from "./errors.ts";
import { isObject, type JsonObject } from "./types.ts";

/** Outcome of validating one object. */
export interface SchemaResult {
  causes: StatusCause[];
  /** Paths of fields the schema does not declare (pruned from the object). */
  unknownFields: string[];
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "null";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const formats: Record<string, (s: string) => boolean> = {
  "int-or-string": () => true,
  "date-time": (s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s),
  ipv4: isIPv4,
  ipv6: isIPv6,
  ip: (s) => isIPv4(s) || isIPv6(s),
  cidr: (s) => {
    const m = s.match(/^(.+)\/(\d{1,3})$/);
    if (!m) return false;
    const bits = Number(m[2]);
    return (isIPv4(m[1]) && bits <= 32) || (isIPv6(m[1]) && bits <= 128);
  },
  hostname: (s) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s),
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  mac: (s) => /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(s),
  byte: (s) => /^[A-Za-z0-9+/]*={0,2}$/.test(s),
};

function isIPv4(s: string): boolean {
  const p = s.split(".");
  return p.length === 4 &&
    p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255 && String(Number(x)) === x);
}

function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  const dbl = s.split("::");
  if (dbl.length > 2) return false;
  const groups = s.split(":").filter((g) => g !== "");
  if (groups.some((g) => g.includes("."))) {
    const last = groups.pop() as string;
    if (!isIPv4(last)) return false;
    groups.push("0", "0");
  }
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? groups.length < 8 : groups.length === 8;
}

/** Validate `obj` (a custom resource) against its CRD version schema. */
export function validateObject(
  obj: JsonObject,
  schema: JsonObject,
  old?: JsonObject,
): SchemaResult {
  const res: SchemaResult = { causes: [], unknownFields: [] };
  const props = isObject(schema.properties) ? schema.properties : {};
  applyDefaults(obj, schema);
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    const sub = props[k];
    if (isObject(sub)) {
      walk(v, sub, k, res, obj, k, old && old[k] !== undefined ? { value: old[k] } : undefined);
    } else if (schema["x-kubernetes-preserve-unknown-fields"] !== true) {
      res.unknownFields.push(k);
      delete obj[k];
    }
  }
  for (const r of asStrings(schema.required)) {
    if (r !== "metadata" && r !== "apiVersion" && r !== "kind" && obj[r] === undefined) {
      res.causes.push({ reason: "FieldValueRequired", message: "Required value", field: r });
    }
  }
  if (!res.causes.some((c) => c.reason === "FieldValueTypeInvalid")) {
    rulesPass(obj, schema, "", res, old ? { value: old } : undefined);
  }
  return res;
}

/** The previous value at the same place, for transition rules (`oldSelf`). */
type Old = { value: unknown } | undefined;

const ruleCache = new Map<string, CelAst | CelError>();

function compiled(rule: string): CelAst | CelError {
  let c = ruleCache.get(rule);
  if (!c) {
    try {
      c = parseCel(rule);
    } catch (e) {
      c = e instanceof CelError ? e : new CelError("parse", String(e));
    }
    ruleCache.set(rule, c);
  }
  return c;
}

/** Problems with a schema's `x-kubernetes-validations` rules (unparsable or unsupported). */
export function ruleProblems(schema: unknown, path = ""): string[] {
  if (!isObject(schema)) return [];
  const out: string[] = [];
  const rules = schema["x-kubernetes-validations"];
  if (Array.isArray(rules)) {
    for (const r of rules) {
      if (!isObject(r) || typeof r.rule !== "string") continue;
      const c = compiled(r.rule);
      if (c instanceof CelError) {
        out.push(`${path || "<root>"}: rule ${JSON.stringify(r.rule)} not evaluated: ${c.message}`);
      } else {
        const missing = unsupportedFunctions(c);
        if (missing.length) {
          out.push(
            `${path || "<root>"}: rule ${JSON.stringify(r.rule)} not evaluated: unsupported ${
              missing.join(", ")
            }`,
          );
        }
      }
    }
  }
  if (isObject(schema.properties)) {
    for (const [k, v] of Object.entries(schema.properties)) {
      out.push(...ruleProblems(v, path ? `${path}.${k}` : k));
    }
  }
  if (isObject(schema.items)) out.push(...ruleProblems(schema.items, `${path}[*]`));
  if (isObject(schema.additionalProperties)) {
    out.push(...ruleProblems(schema.additionalProperties, `${path}[*]`));
  }
  return out;
}

function causeFor(reason: unknown, field: string, type: string, message: string): StatusCause {
  switch (reason) {
    case "FieldValueForbidden":
      return { reason, field, message: `Forbidden: ${message}` };
    case "FieldValueRequired":
      return { reason, field, message: `Required value: ${message}` };
    case "FieldValueDuplicate":
      return { reason, field, message: `Duplicate value: ${JSON.stringify(type)}: ${message}` };
    default:
      return {
        reason: "FieldValueInvalid",
        field,
        message: `Invalid value: ${JSON.stringify(type)}: ${message}`,
      };
  }
}

function checkRules(
  v: unknown,
  schema: JsonObject,
  path: string,
  res: SchemaResult,
  old: Old,
): void {
  const rules = schema["x-kubernetes-validations"];
  if (!Array.isArray(rules)) return;
  const type = typeof schema.type === "string" ? schema.type : typeOf(v);
  for (const r of rules) {
    if (!isObject(r) || typeof r.rule !== "string") continue;
    const ast = compiled(r.rule);
    if (ast instanceof CelError) continue;
    const transition = usesOldSelf(ast);
    if (transition && old === undefined) continue;
    const env: Record<string, unknown> = { self: v };
    if (transition) env.oldSelf = old!.value;
    let ok: boolean;
    let message = typeof r.message === "string" ? r.message : `failed rule: ${r.rule}`;
    try {
      ok = evalCel(ast, env) === true;
      if (!ok && typeof r.messageExpression === "string") {
        const m = compiled(r.messageExpression);
        if (!(m instanceof CelError)) {
          try {
            const text = evalCel(m, env);
            if (typeof text === "string" && text !== "") message = text;
          } catch { /* keep the static message */ }
        }
      }
    } catch (e) {
      if (e instanceof CelError && e.code === "unsupported") continue;
      ok = false;
      message = `${message}: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (!ok) {
      const fp = typeof r.fieldPath === "string" ? r.fieldPath : "";
      const field = `${path}${fp}`.replace(/^\./, "");
      res.causes.push(causeFor(r.reason, field || path, type, message));
    }
  }
}

function asStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function applyDefaults(v: unknown, schema: JsonObject): void {
  if (!isObject(v) || !isObject(schema.properties)) return;
  for (const [k, sub] of Object.entries(schema.properties)) {
    if (!isObject(sub)) continue;
    if (v[k] === undefined && sub.default !== undefined) v[k] = structuredClone(sub.default);
  }
}

function cause(res: SchemaResult, reason: string, field: string, message: string): void {
  res.causes.push({ reason, field, message });
}

function walk(
  v: unknown,
  schema: JsonObject,
  path: string,
  res: SchemaResult,
  parent: JsonObject | unknown[],
  key: string | number,
  old?: Old,
): void {
  walkNode(v, schema, path, res, parent, key, old);
}

/**
 * Evaluate `x-kubernetes-validations` everywhere in the object, as the real server does after
 * schema validation unless a value had the wrong type (a "blocking" error).
 */
function rulesPass(
  v: unknown,
  schema: JsonObject,
  path: string,
  res: SchemaResult,
  old: Old,
): void {
  if (v === null || v === undefined) return;
  if (isObject(v)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    const oldObj = old && isObject(old.value) ? old.value : undefined;
    for (const [k, child] of Object.entries(v)) {
      if (path === "" && (k === "apiVersion" || k === "kind" || k === "metadata")) continue;
      const sub = isObject(props[k])
        ? props[k]
        : isObject(schema.additionalProperties)
        ? schema.additionalProperties
        : undefined;
      if (!isObject(sub)) continue;
      const o: Old = oldObj && oldObj[k] !== undefined ? { value: oldObj[k] } : undefined;
      rulesPass(child, sub, path ? `${path}.${k}` : k, res, o);
    }
  } else if (Array.isArray(v)) {
    forEachItem(v, schema, path, old, (item, items, p, o) => rulesPass(item, items, p, res, o));
  }
  checkRules(v, schema, path, res, old);
}

/**
 * Calls `fn` for each item of the list `v` whose schema has `items`: the item, the items schema,
 * the item's path and the old item it replaces (matched by list-map keys), if any.
 */
function forEachItem(
  v: unknown[],
  schema: JsonObject,
  path: string,
  old: Old,
  fn: (item: unknown, items: JsonObject, path: string, old: Old, index: number) => void,
): void {
  if (!isObject(schema.items)) return;
  const items = schema.items;
  const oldList = old && Array.isArray(old.value) ? old.value : undefined;
  v.forEach((item, i) =>
    fn(item, items, `${path}[${i}]`, oldList ? oldItem(oldList, item, schema) : undefined, i)
  );
}

function oldItem(list: unknown[], item: unknown, schema: JsonObject): Old {
  if (
    schema["x-kubernetes-list-type"] !== "map" ||
    !Array.isArray(schema["x-kubernetes-list-map-keys"])
  ) {
    return undefined;
  }
  const keys = schema["x-kubernetes-list-map-keys"].map(String);
  if (!isObject(item)) return undefined;
  const found = list.find((o) =>
    isObject(o) && keys.every((k) => JSON.stringify(o[k]) === JSON.stringify(item[k]))
  );
  return found === undefined ? undefined : { value: found };
}

function walkNode(
  v: unknown,
  schema: JsonObject,
  path: string,
  res: SchemaResult,
  parent: JsonObject | unknown[],
  key: string | number,
  old?: Old,
): void {
  if (v === null) {
    if (schema.nullable === true) return;
    // A null for a non-nullable field is dropped, as the real server's pruning does for defaults.
    if (schema.default !== undefined) {
      (parent as Record<string | number, unknown>)[key] = structuredClone(schema.default);
      return;
    }
  }
  const intOrString = schema["x-kubernetes-int-or-string"] === true;
  const t = typeof schema.type === "string" ? schema.type : undefined;
  const actual = typeOf(v);
  if (intOrString) {
    if (actual !== "integer" && actual !== "string") {
      cause(
        res,
        "FieldValueTypeInvalid",
        path,
        `Invalid value: ${show(v)}: ${path} in body must be of type int-or-string: ${show(actual)}`,
      );
      return;
    }
  } else if (t && !(t === actual || (t === "number" && actual === "integer"))) {
    cause(
      res,
      "FieldValueTypeInvalid",
      path,
      `Invalid value: ${show(actual)}: ${path} in body must be of type ${t}: ${show(actual)}`,
    );
    return;
  }
  if (
    Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))
  ) {
    cause(
      res,
      "FieldValueNotSupported",
      path,
      `Unsupported value: ${show(v)}: supported values: ${schema.enum.map(show).join(", ")}`,
    );
  }
  if (typeof v === "string") checkString(v, schema, path, res);
  if (typeof v === "number") checkNumber(v, schema, path, res);
  if (Array.isArray(v)) {
    if (typeof schema.maxItems === "number" && v.length > schema.maxItems) {
      cause(
        res,
        "FieldValueTooMany",
        path,
        `Too many: ${v.length}: must have at most ${schema.maxItems} items`,
      );
    }
    if (typeof schema.minItems === "number" && v.length < schema.minItems) {
      cause(
        res,
        "FieldValueInvalid",
        path,
        `Invalid value: ${v.length}: ${path} in body should have at least ${schema.minItems} items`,
      );
    }
    if (schema.uniqueItems === true || schema["x-kubernetes-list-type"] === "set") {
      const seen = new Set<string>();
      v.forEach((item, i) => {
        const s = JSON.stringify(item);
        if (seen.has(s)) {
          cause(res, "FieldValueDuplicate", `${path}[${i}]`, `Duplicate value: ${show(item)}`);
        }
        seen.add(s);
      });
    }
    forEachItem(v, schema, path, old, (item, items, p, o, i) => walk(item, items, p, res, v, i, o));
  }
  if (isObject(v)) walkObject(v, schema, path, res, old);
  for (const combinator of ["allOf", "anyOf", "oneOf"] as const) {
    const list = schema[combinator];
    if (!Array.isArray(list)) continue;
    const passes = list.filter((s) => isObject(s) && quietlyValid(v, s)).length;
    const ok = combinator === "allOf"
      ? passes === list.length
      : combinator === "anyOf"
      ? passes > 0
      : passes === 1;
    if (!ok) {
      cause(
        res,
        "FieldValueInvalid",
        path,
        `Invalid value: ${show(v)}: ${path} in body must validate ${combinator}`,
      );
    }
  }
  if (isObject(schema.not) && quietlyValid(v, schema.not)) {
    cause(
      res,
      "FieldValueInvalid",
      path,
      `Invalid value: ${show(v)}: ${path} in body should not validate the schema`,
    );
  }
}

function quietlyValid(v: unknown, schema: JsonObject): boolean {
  const res: SchemaResult = { causes: [], unknownFields: [] };
  const holder = [structuredClone(v)];
  walk(holder[0], { ...schema, "x-kubernetes-preserve-unknown-fields": true }, "x", res, holder, 0);
  return res.causes.length === 0;
}

function checkString(v: string, schema: JsonObject, path: string, res: SchemaResult): void {
  if (typeof schema.maxLength === "number" && [...v].length > schema.maxLength) {
    cause(
      res,
      "FieldValueTooLong",
      path,
      `Too long: may not be more than ${schema.maxLength} bytes`,
    );
  }
  if (typeof schema.minLength === "number" && [...v].length < schema.minLength) {
    cause(
      res,
      "FieldValueInvalid",
      path,
      `Invalid value: ${
        show(v)
      }: ${path} in body should be at least ${schema.minLength} chars long`,
    );
  }
  if (typeof schema.pattern === "string") {
    let re: RegExp | undefined;
    try {
      re = new RegExp(schema.pattern, "u");
    } catch {
      re = undefined;
    }
    if (re && !re.test(v)) {
      cause(
        res,
        "FieldValueInvalid",
        path,
        `Invalid value: ${show(v)}: ${path} in body should match '${schema.pattern}'`,
      );
    }
  }
  if (typeof schema.format === "string") {
    const check = formats[schema.format];
    if (check && !check(v)) {
      cause(
        res,
        "FieldValueInvalid",
        path,
        `Invalid value: ${show(v)}: ${path} in body must be of type ${schema.format}: ${show(v)}`,
      );
    }
  }
}

function checkNumber(v: number, schema: JsonObject, path: string, res: SchemaResult): void {
  const max = schema.maximum;
  const min = schema.minimum;
  if (typeof max === "number") {
    if (schema.exclusiveMaximum === true ? v >= max : v > max) {
      cause(
        res,
        "FieldValueInvalid",
        path,
        `Invalid value: ${v}: ${path} in body should be less than ${
          schema.exclusiveMaximum === true ? "" : "or equal to "
        }${max}`,
      );
    }
  }
  if (typeof min === "number") {
    if (schema.exclusiveMinimum === true ? v <= min : v < min) {
      cause(
        res,
        "FieldValueInvalid",
        path,
        `Invalid value: ${v}: ${path} in body should be greater than ${
          schema.exclusiveMinimum === true ? "" : "or equal to "
        }${min}`,
      );
    }
  }
  if (
    typeof schema.multipleOf === "number" && schema.multipleOf !== 0 && v % schema.multipleOf !== 0
  ) {
    cause(
      res,
      "FieldValueInvalid",
      path,
      `Invalid value: ${v}: ${path} in body should be a multiple of ${schema.multipleOf}`,
    );
  }
  if (schema.format === "int32" && (v > 2147483647 || v < -2147483648)) {
    cause(
      res,
      "FieldValueInvalid",
      path,
      `Invalid value: ${v}: ${path} in body must be of type int32: "${v}"`,
    );
  }
}

function walkObject(
  v: JsonObject,
  schema: JsonObject,
  path: string,
  res: SchemaResult,
  old?: Old,
): void {
  const oldObj = old && isObject(old.value) ? old.value : undefined;
  const oldOf = (k: string): Old =>
    oldObj && oldObj[k] !== undefined ? { value: oldObj[k] } : undefined;
  applyDefaults(v, schema);
  const props = isObject(schema.properties) ? schema.properties : undefined;
  const additional = schema.additionalProperties;
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
  const embedded = schema["x-kubernetes-embedded-resource"] === true;
  for (const [k, child] of Object.entries(v)) {
    const childPath = `${path}.${k}`;
    const sub = props?.[k];
    if (isObject(sub)) walk(child, sub, childPath, res, v, k, oldOf(k));
    else if (isObject(additional)) walk(child, additional, childPath, res, v, k, oldOf(k));
    else if (additional === true || preserve) continue;
    else if (embedded && (k === "apiVersion" || k === "kind" || k === "metadata")) continue;
    else if (props !== undefined || additional === false || !preserve) {
      res.unknownFields.push(childPath);
      delete v[k];
    }
  }
  for (const r of asStrings(schema.required)) {
    if (v[r] === undefined) {
      res.causes.push({
        reason: "FieldValueRequired",
        message: "Required value",
        field: `${path}.${r}`,
      });
    }
  }
  const n = Object.keys(v).length;
  if (typeof schema.maxProperties === "number" && n > schema.maxProperties) {
    cause(
      res,
      "FieldValueTooMany",
      path,
      `Too many: ${n}: must have at most ${schema.maxProperties} items`,
    );
  }
  if (typeof schema.minProperties === "number" && n < schema.minProperties) {
    cause(
      res,
      "FieldValueInvalid",
      path,
      `Invalid value: ${n}: ${path} in body should have at least ${schema.minProperties} properties`,
    );
  }
}
