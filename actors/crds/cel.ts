/**
 * Evaluation of CRD `x-kubernetes-validations` rules, with the part of the Kubernetes CEL
 * library tern's rules use: `isIP`, `isCIDR`, `ip()`, `cidr()`, `IP.family()`,
 * `CIDR.ip()`, `CIDR.masked()`, `CIDR.prefixLength()`, `CIDR.containsIP()`, equality of IPs and
 * CIDRs, plus the standard string extensions (`split`, `trim`). Built on `@marcbachmann/cel-js`.
 *
 * It runs a rule where the API server would: on every node of the (defaulted) object that
 * carries rules, with `self` the node's value and, for transition rules, `oldSelf` the previous
 * value (skipped on create). Tests use it to prove the samples pass the rules and bad objects
 * fail them; an embedded API server can use it to enforce them.
 *
 * @module
 */

import { Environment } from "@marcbachmann/cel-js";
import { IpAddress } from "../ipam/address.ts";
import { Cidr } from "../ipam/cidr.ts";
import type { JsonSchema } from "./schema.ts";
import type { SchemaProblem } from "./validate.ts";

/** A CEL IP value. */
export class CelIp {
  /** The address. */
  readonly address: IpAddress;
  constructor(address: IpAddress) {
    this.address = address;
  }
}

/** A CEL CIDR value (keeps host bits, like Kubernetes' `cidr()`). */
export class CelCidr {
  /** The address as written. */
  readonly address: IpAddress;
  /** The prefix length. */
  readonly length: number;
  constructor(address: IpAddress, length: number) {
    this.address = address;
    this.length = length;
  }
}

/** Kubernetes' `isIP`: an IPv4 or IPv6 address without zone (IPv4-mapped IPv6 is refused). */
function parseIp(text: string): IpAddress | undefined {
  const a = IpAddress.tryParse(text);
  if (!a) return undefined;
  if (a.family === 6 && a.value >> 32n === 0xffffn) return undefined;
  return a;
}

function parseCidr(text: string): CelCidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const a = parseIp(text.slice(0, slash));
  if (!a || !Cidr.tryParse(text, { strict: false })) return undefined;
  return new CelCidr(a, Number(text.slice(slash + 1)));
}

function buildEnvironment(): Environment {
  return new Environment({ unlistedVariablesAreDyn: true })
    .registerType("IP", CelIp)
    .registerType("CIDR", CelCidr)
    .registerFunction("isIP(string): bool", (s: string) => parseIp(s) !== undefined)
    .registerFunction("isCIDR(string): bool", (s: string) => parseCidr(s) !== undefined)
    .registerFunction("ip(string): IP", (s: string) => {
      const a = parseIp(s);
      if (!a) throw new Error(`IP Address ${JSON.stringify(s)} parse error`);
      return new CelIp(a);
    })
    .registerFunction("cidr(string): CIDR", (s: string) => {
      const c = parseCidr(s);
      if (!c) throw new Error(`network address parse error during conversion from string: ${s}`);
      return c;
    })
    .registerFunction({
      name: "family",
      receiverType: "IP",
      returnType: "int",
      handler: (i: CelIp) => BigInt(i.address.family),
      params: [],
    })
    .registerFunction({
      name: "ip",
      receiverType: "CIDR",
      returnType: "IP",
      handler: (c: CelCidr) => new CelIp(c.address),
      params: [],
    })
    .registerFunction({
      name: "masked",
      receiverType: "CIDR",
      returnType: "CIDR",
      handler: (c: CelCidr) => new CelCidr(Cidr.containing(c.address, c.length).network, c.length),
      params: [],
    })
    .registerFunction({
      name: "prefixLength",
      receiverType: "CIDR",
      returnType: "int",
      handler: (c: CelCidr) => BigInt(c.length),
      params: [],
    })
    .registerFunction({
      name: "containsIP",
      receiverType: "CIDR",
      returnType: "bool",
      handler: (c: CelCidr, i: CelIp) => Cidr.containing(c.address, c.length).contains(i.address),
      params: [{ name: "ip", type: "IP" }],
    })
    .registerOperator("IP == IP", (a: CelIp, b: CelIp) => a.address.equals(b.address))
    .registerOperator(
      "CIDR == CIDR",
      (a: CelCidr, b: CelCidr) => a.length === b.length && a.address.equals(b.address),
    );
}

let env: Environment | undefined;
const compiled = new Map<string, (ctx: Record<string, unknown>) => unknown>();

/** Compiles a rule (cached); throws when it does not parse. */
export function compileRule(rule: string): (ctx: Record<string, unknown>) => unknown {
  let f = compiled.get(rule);
  if (!f) {
    env ??= buildEnvironment();
    const parsed = env.parse(rule);
    f = (ctx) => parsed(ctx);
    compiled.set(rule, f);
  }
  return f;
}

/** JSON value → CEL value: integers become bigints (CEL `int`). */
function toCel(v: unknown): unknown {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCel(x)]),
    );
  }
  return v;
}

function keyOf(item: unknown, keys: string[]): string {
  return JSON.stringify(keys.map((k) => (item as Record<string, unknown>)?.[k]));
}

/**
 * Evaluates every rule of `schema` on `value` (already defaulted). With `oldValue`, transition
 * rules (those naming `oldSelf`) run too, where an old value exists at the same place (map
 * lists correlate by key). Returns one problem per failed or erroring rule.
 */
export function evaluateRules(
  value: unknown,
  schema: JsonSchema,
  oldValue?: unknown,
  path = "",
): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  if (value === undefined) return out;
  const at = path || "<root>";
  for (const r of schema["x-kubernetes-validations"] ?? []) {
    const transition = /\boldSelf\b/.test(r.rule);
    if (transition && oldValue === undefined && !r.optionalOldSelf) continue;
    let ok: unknown;
    try {
      ok = compileRule(r.rule)({ self: toCel(value), oldSelf: toCel(oldValue) });
    } catch (e) {
      out.push({ path: at, message: `${r.message} (rule error: ${(e as Error).message})` });
      continue;
    }
    if (ok !== true) out.push({ path: at + (r.fieldPath ?? ""), message: r.message });
  }
  if (schema.type === "object" && value && typeof value === "object" && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const old = oldValue && typeof oldValue === "object"
      ? oldValue as Record<string, unknown>
      : undefined;
    for (const [k, v] of Object.entries(o)) {
      const sub = schema.properties?.[k] ?? schema.additionalProperties;
      if (sub) out.push(...evaluateRules(v, sub, old?.[k], path ? `${path}.${k}` : k));
    }
  }
  if (schema.type === "array" && Array.isArray(value) && schema.items) {
    const keys = schema["x-kubernetes-list-map-keys"];
    const olds = new Map<string, unknown>();
    if (schema["x-kubernetes-list-type"] === "map" && keys && Array.isArray(oldValue)) {
      for (const x of oldValue) olds.set(keyOf(x, keys), x);
    }
    value.forEach((x, i) => {
      const old = keys ? olds.get(keyOf(x, keys)) : undefined;
      out.push(...evaluateRules(x, schema.items!, old, `${path}[${i}]`));
    });
  }
  return out;
}
