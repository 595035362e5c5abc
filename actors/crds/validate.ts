/**
 * Checks on CRD schemas and objects, pure:
 * - {@linkcode structuralProblems}: whether a schema is structural in the sense of
 *   apiextensions.k8s.io/v1 (every node typed, no mixed properties/additionalProperties, list
 *   types consistent, defaults valid against their own schema, metadata left alone);
 * - {@linkcode validateValue}: an object against a schema (types, enums, required, patterns,
 *   bounds, unknown fields), as the API server's OpenAPI validation does before CEL rules.
 *
 * @module
 */

import type { JsonSchema } from "./schema.ts";

/** One problem, with the JSON path it is at. */
export interface SchemaProblem {
  /** Path such as `spec.cidrs[0]`. */
  path: string;
  /** What is wrong. */
  message: string;
}

/** Problems that make a schema non-structural (empty when it is structural). */
export function structuralProblems(schema: JsonSchema, path = ""): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const at = path || "<root>";
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
  if (!schema.type) out.push({ path: at, message: "missing type" });
  if (schema.properties && schema.additionalProperties) {
    out.push({ path: at, message: "properties and additionalProperties are mutually exclusive" });
  }
  if (schema.type !== "object" && (schema.properties || schema.additionalProperties)) {
    out.push({ path: at, message: "properties on a non-object" });
  }
  if (schema.type === "array" && !schema.items) {
    out.push({ path: at, message: "array without items" });
  }
  if (schema.type !== "array" && schema.items) {
    out.push({ path: at, message: "items on a non-array" });
  }
  for (const r of schema.required ?? []) {
    if (!schema.properties?.[r]) {
      out.push({ path: at, message: `required field ${r} is not a property` });
    }
  }
  const lt = schema["x-kubernetes-list-type"];
  if (lt && schema.type !== "array") out.push({ path: at, message: "list type on a non-array" });
  if (
    lt === "set" && schema.items &&
    (schema.items.type === "object" || schema.items.type === "array")
  ) {
    out.push({ path: at, message: "set lists need scalar items" });
  }
  if (lt === "map") {
    const keys = schema["x-kubernetes-list-map-keys"] ?? [];
    if (keys.length === 0) out.push({ path: at, message: "map lists need list-map-keys" });
    for (const k of keys) {
      const item = schema.items;
      if (!item?.properties?.[k]) {
        out.push({ path: at, message: `map key ${k} is not an item property` });
      } else if (!(item.required ?? []).includes(k) && item.properties[k]!.default === undefined) {
        out.push({ path: at, message: `map key ${k} must be required or defaulted` });
      }
    }
  }
  if (schema.enum && schema.type) {
    for (const v of schema.enum) {
      const ok = schema.type === "string" ? typeof v === "string" : typeof v === "number";
      if (!ok) {
        out.push({ path: at, message: `enum value ${JSON.stringify(v)} is not a ${schema.type}` });
      }
    }
  }
  if (schema.default !== undefined) {
    for (const p of validateValue(schema.default, schema, `${at}(default)`)) out.push(p);
  }
  if (!preserve && schema.type === "object" && !schema.properties && !schema.additionalProperties) {
    if (path !== "metadata") {
      out.push({ path: at, message: "object without properties (would prune everything)" });
    }
  }
  for (const v of schema["x-kubernetes-validations"] ?? []) {
    const problem = celShapeProblem(v.rule);
    if (problem) out.push({ path: at, message: `rule ${JSON.stringify(v.rule)}: ${problem}` });
    if (!v.message) out.push({ path: at, message: "rule without message" });
    if (v.fieldPath !== undefined) {
      let node: JsonSchema | undefined = schema;
      for (const part of v.fieldPath.split(".").slice(1)) node = node?.properties?.[part];
      if (!v.fieldPath.startsWith(".") || !node) {
        out.push({ path: at, message: `fieldPath ${v.fieldPath} is not a field of this object` });
      }
    }
  }
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    out.push(...structuralProblems(v, path ? `${path}.${k}` : k));
  }
  if (schema.additionalProperties) {
    out.push(...structuralProblems(schema.additionalProperties, `${path}{}`));
  }
  if (schema.items) out.push(...structuralProblems(schema.items, `${path}[]`));
  return out;
}

/** Cheap shape check of a CEL expression: balanced brackets and closed string literals. */
export function celShapeProblem(rule: string): string | undefined {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  for (let i = 0; i < rule.length; i++) {
    const c = rule[i]!;
    if (c === "'" || c === '"') {
      const end = rule.indexOf(c, i + 1);
      if (end < 0) return "unterminated string literal";
      i = end;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") stack.push(c);
    else if (c in pairs) {
      if (stack.pop() !== pairs[c]) return `unbalanced ${c}`;
    }
  }
  if (stack.length) return `unclosed ${stack[stack.length - 1]}`;
  if (/[^=!<>]=[^=]/.test(rule.replace(/'[^']*'/g, "''"))) return "single '=' (use '==')";
  return undefined;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

/**
 * Validates a value against a schema the way OpenAPI validation in the API server does
 * (without CEL rules). Unknown fields are reported (the server would prune them; tern's
 * samples must not rely on that).
 */
export function validateValue(value: unknown, schema: JsonSchema, path = ""): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const at = path || "<root>";
  const t = typeName(value);
  switch (schema.type) {
    case "object": {
      if (t !== "object") return [{ path: at, message: `expected object, got ${t}` }];
      const o = value as Record<string, unknown>;
      for (const r of schema.required ?? []) {
        if (o[r] === undefined) out.push({ path: at, message: `missing required field ${r}` });
      }
      if (schema.maxProperties !== undefined && Object.keys(o).length > schema.maxProperties) {
        out.push({ path: at, message: `more than ${schema.maxProperties} entries` });
      }
      for (const [k, v] of Object.entries(o)) {
        const sub = schema.properties?.[k] ?? schema.additionalProperties;
        const p = path ? `${path}.${k}` : k;
        if (!sub) {
          if (!schema["x-kubernetes-preserve-unknown-fields"] && path !== "metadata") {
            out.push({ path: p, message: "unknown field" });
          }
          continue;
        }
        out.push(...validateValue(v, sub, p));
      }
      return out;
    }
    case "array": {
      if (t !== "array") return [{ path: at, message: `expected array, got ${t}` }];
      const a = value as unknown[];
      if (schema.maxItems !== undefined && a.length > schema.maxItems) {
        out.push({ path: at, message: `more than ${schema.maxItems} items` });
      }
      if (schema.minItems !== undefined && a.length < schema.minItems) {
        out.push({ path: at, message: `fewer than ${schema.minItems} items` });
      }
      if (schema["x-kubernetes-list-type"] === "set") {
        const seen = new Set(a.map((x) => JSON.stringify(x)));
        if (seen.size !== a.length) out.push({ path: at, message: "duplicate items in a set" });
      }
      if (schema["x-kubernetes-list-type"] === "map") {
        const keys = schema["x-kubernetes-list-map-keys"] ?? [];
        const seen = new Set(
          a.map((x) => JSON.stringify(keys.map((k) => (x as Record<string, unknown>)?.[k]))),
        );
        if (seen.size !== a.length) {
          out.push({ path: at, message: `duplicate keys (${keys.join(", ")})` });
        }
      }
      a.forEach((x, i) => out.push(...validateValue(x, schema.items!, `${path}[${i}]`)));
      return out;
    }
    case "string": {
      if (t !== "string") return [{ path: at, message: `expected string, got ${t}` }];
      const s = value as string;
      if (schema.enum && !schema.enum.includes(s)) {
        out.push({
          path: at,
          message: `${JSON.stringify(s)} is not one of ${schema.enum.join(", ")}`,
        });
      }
      if (schema.maxLength !== undefined && s.length > schema.maxLength) {
        out.push({ path: at, message: `longer than ${schema.maxLength}` });
      }
      if (schema.minLength !== undefined && s.length < schema.minLength) {
        out.push({ path: at, message: `shorter than ${schema.minLength}` });
      }
      if (schema.pattern && !new RegExp(schema.pattern).test(s)) {
        out.push({ path: at, message: `${JSON.stringify(s)} does not match ${schema.pattern}` });
      }
      if (schema.format === "date-time" && Number.isNaN(Date.parse(s))) {
        out.push({ path: at, message: `${JSON.stringify(s)} is not a date-time` });
      }
      return out;
    }
    case "integer":
    case "number": {
      if (t !== "integer" && !(schema.type === "number" && t === "number")) {
        return [{ path: at, message: `expected ${schema.type}, got ${t}` }];
      }
      const n = value as number;
      if (schema.minimum !== undefined && n < schema.minimum) {
        out.push({ path: at, message: `below ${schema.minimum}` });
      }
      if (schema.maximum !== undefined && n > schema.maximum) {
        out.push({ path: at, message: `above ${schema.maximum}` });
      }
      if (schema.enum && !schema.enum.includes(n)) {
        out.push({ path: at, message: `not one of ${schema.enum.join(", ")}` });
      }
      return out;
    }
    case "boolean":
      return t === "boolean" ? [] : [{ path: at, message: `expected boolean, got ${t}` }];
    default:
      return [];
  }
}

/**
 * A copy of `value` with the schema's defaults filled in, as the API server does before
 * validating (defaults apply to absent object properties, recursively).
 */
export function applyDefaults(value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value)) {
    return schema.items ? value.map((v) => applyDefaults(v, schema.items!)) : value;
  }
  if (value === null || typeof value !== "object" || schema.type !== "object") return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  if (schema.properties) {
    for (const [k, sub] of Object.entries(schema.properties)) {
      if (out[k] === undefined && sub.default !== undefined) out[k] = structuredClone(sub.default);
      if (out[k] !== undefined) out[k] = applyDefaults(out[k], sub);
    }
  } else if (schema.additionalProperties) {
    for (const k of Object.keys(out)) out[k] = applyDefaults(out[k], schema.additionalProperties);
  }
  return out;
}
