/**
 * A small schema builder: one definition yields the CRD's structural OpenAPI v3 schema, the
 * TypeScript type of the object (through {@linkcode Infer}) and the field reference in
 * `docs/crds.md`. Only what apiextensions.k8s.io/v1 structural schemas allow can be built.
 *
 * @module
 */

/** A CEL validation rule (`x-kubernetes-validations` entry). */
export interface ValidationRule {
  /** The CEL expression; `self` is the value, `oldSelf` the previous one. */
  rule: string;
  /** Message shown when the rule fails. */
  message: string;
  /** Optional field path the failure is reported on (e.g. `.asn`). */
  fieldPath?: string;
  /** Optional reason (FieldValueInvalid, FieldValueForbidden, ...). */
  reason?:
    | "FieldValueInvalid"
    | "FieldValueForbidden"
    | "FieldValueRequired"
    | "FieldValueDuplicate";
  /** Whether the rule also runs when `oldSelf` is absent (for transition rules). */
  optionalOldSelf?: boolean;
}

/** The OpenAPI v3 schema subset used by structural CRD schemas. */
export interface JsonSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  format?: string;
  enum?: (string | number)[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  default?: unknown;
  nullable?: boolean;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-validations"?: ValidationRule[];
}

/** A schema node carrying the TypeScript type `T` it describes (phantom). */
export interface Schema<T> {
  /** The OpenAPI form. */
  readonly json: JsonSchema;
  /** Phantom: never set. */
  readonly __type?: T;
}

/** The TypeScript type a schema describes. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** Options common to every node. */
export interface Common {
  /** What the field means (required: it feeds the docs). */
  description: string;
  /** CEL rules on this node. */
  validations?: ValidationRule[];
  /** Value filled in by the API server when absent. */
  default?: unknown;
}

function node<T>(json: JsonSchema, o: Common): Schema<T> {
  const out: JsonSchema = { ...json, description: o.description };
  if (o.default !== undefined) out.default = o.default;
  if (o.validations?.length) out["x-kubernetes-validations"] = o.validations;
  return { json: out };
}

/** A string. */
export function str(
  o: Common & { pattern?: string; minLength?: number; maxLength?: number; format?: string },
): Schema<string> {
  const j: JsonSchema = { type: "string" };
  if (o.format) j.format = o.format;
  if (o.pattern) j.pattern = o.pattern;
  if (o.minLength !== undefined) j.minLength = o.minLength;
  if (o.maxLength !== undefined) j.maxLength = o.maxLength;
  return node(j, o);
}

/** A string restricted to the given values. */
export function oneOf<const V extends readonly string[]>(values: V, o: Common): Schema<V[number]> {
  return node({ type: "string", enum: [...values] }, o);
}

/** An integer (int32 unless `int64`). */
export function int(
  o: Common & { minimum?: number; maximum?: number; int64?: boolean },
): Schema<number> {
  const j: JsonSchema = { type: "integer", format: o.int64 ? "int64" : "int32" };
  if (o.minimum !== undefined) j.minimum = o.minimum;
  if (o.maximum !== undefined) j.maximum = o.maximum;
  return node(j, o);
}

/** A boolean. */
export function bool(o: Common): Schema<boolean> {
  return node({ type: "boolean" }, o);
}

/** A list. `set` lists have unique scalar items; `map` lists are keyed by `mapKeys`. */
export function list<T>(
  item: Schema<T>,
  o: Common & {
    maxItems: number;
    minItems?: number;
    listType?: "atomic" | "set" | "map";
    mapKeys?: string[];
  },
): Schema<T[]> {
  const j: JsonSchema = { type: "array", items: item.json, maxItems: o.maxItems };
  if (o.minItems !== undefined) j.minItems = o.minItems;
  if (o.listType) j["x-kubernetes-list-type"] = o.listType;
  if (o.mapKeys) j["x-kubernetes-list-map-keys"] = o.mapKeys;
  return node(j, o);
}

/** A string-keyed map. */
export function map<T>(
  value: Schema<T>,
  o: Common & { maxProperties?: number },
): Schema<Record<string, T>> {
  const j: JsonSchema = { type: "object", additionalProperties: value.json };
  if (o.maxProperties !== undefined) j.maxProperties = o.maxProperties;
  return node(j, o);
}

type Props = Record<string, Schema<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & unknown;
/** The object type of properties `P` with required keys `R`. */
export type ObjectOf<P extends Props, R extends keyof P> = Simplify<
  & { [K in R]: Infer<P[K]> }
  & { [K in Exclude<keyof P, R>]?: Infer<P[K]> }
>;

/** An object with known properties. */
export function obj<P extends Props, const R extends keyof P & string = never>(
  props: P,
  o: Common & { required?: readonly R[] },
): Schema<ObjectOf<P, R>> {
  const properties: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(props)) properties[k] = v.json;
  const j: JsonSchema = { type: "object", properties };
  if (o.required?.length) j.required = [...o.required];
  return node(j, o);
}

/** An object whose content the API server keeps as is (used sparingly). */
export function opaque(o: Common): Schema<Record<string, unknown>> {
  return node({ type: "object", "x-kubernetes-preserve-unknown-fields": true }, o);
}

/** Rule helper: the value may not change once set. */
export function immutable(what: string): ValidationRule {
  return { rule: "self == oldSelf", message: `${what} is immutable` };
}
