/**
 * Label selectors (equality and set-based) and field selectors, parsed from their query-string
 * form. Parsing is pure; a malformed selector is a 400 {@link ApiError}.
 */

import { ApiError } from "./errors.ts";
import { getPath, type KubeObject } from "./types.ts";

/** One label requirement. */
export type LabelRequirement =
  | { op: "exists" | "notexists"; key: string }
  | { op: "=" | "!="; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "gt" | "lt"; key: string; value: number };

/** A parsed label selector: all requirements must match. */
export type LabelSelector = LabelRequirement[];

const keyRe = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const valueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function bad(sel: string, why: string): ApiError {
  return new ApiError(400, "BadRequest", `unable to parse requirement: ${why} in "${sel}"`);
}

/** Split on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== "");
}

function checkKey(sel: string, key: string): string {
  if (!keyRe.test(key) || key.length > 317) throw bad(sel, `invalid label key "${key}"`);
  return key;
}

function checkValue(sel: string, v: string): string {
  if (!valueRe.test(v) || v.length > 63) throw bad(sel, `invalid label value "${v}"`);
  return v;
}

/** Parse a label selector string (`a=b,c in (d,e),!f`). Empty means everything. */
export function parseLabelSelector(sel: string): LabelSelector {
  const reqs: LabelSelector = [];
  for (const part of splitTopLevel(sel)) {
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*(\S+)$/))) {
      reqs.push({ op: "notexists", key: checkKey(sel, m[1]) });
    } else if ((m = part.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const values = m[3].split(",").map((v) => v.trim()).filter((v) => v !== "")
        .map((v) => checkValue(sel, v));
      reqs.push({ op: m[2] as "in" | "notin", key: checkKey(sel, m[1]), values });
    } else if ((m = part.match(/^([^=!<>\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      const op = m[2] === "!=" ? "!=" : "=";
      reqs.push({ op, key: checkKey(sel, m[1]), value: checkValue(sel, m[3]) });
    } else if ((m = part.match(/^([^=!<>\s]+)\s*(>|<)\s*(-?\d+)$/))) {
      reqs.push({ op: m[2] === ">" ? "gt" : "lt", key: checkKey(sel, m[1]), value: Number(m[3]) });
    } else if ((m = part.match(/^([^=!<>\s(),]+)$/))) {
      reqs.push({ op: "exists", key: checkKey(sel, m[1]) });
    } else {
      throw bad(sel, `unexpected requirement "${part}"`);
    }
  }
  return reqs;
}

/** Does a label map satisfy every requirement? */
export function matchLabels(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  for (const r of selector) {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case "exists":
        if (!has) return false;
        break;
      case "notexists":
        if (has) return false;
        break;
      case "=":
        if (!has || v !== r.value) return false;
        break;
      case "!=":
        if (has && v === r.value) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v)) return false;
        break;
      case "notin":
        if (has && r.values.includes(v)) return false;
        break;
      case "gt":
      case "lt": {
        if (!has || !/^-?\d+$/.test(v)) return false;
        const n = Number(v);
        if (r.op === "gt" ? !(n > r.value) : !(n < r.value)) return false;
        break;
      }
    }
  }
  return true;
}

/** A label selector in its structured form (`matchLabels` / `matchExpressions`). */
export interface StructuredLabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** Convert a structured selector (as in specs) into requirements. */
export function fromStructured(s: StructuredLabelSelector): LabelSelector {
  const reqs: LabelSelector = [];
  for (const [key, value] of Object.entries(s.matchLabels ?? {})) {
    reqs.push({ op: "=", key, value });
  }
  for (const e of s.matchExpressions ?? []) {
    switch (e.operator) {
      case "In":
        reqs.push({ op: "in", key: e.key, values: e.values ?? [] });
        break;
      case "NotIn":
        reqs.push({ op: "notin", key: e.key, values: e.values ?? [] });
        break;
      case "Exists":
        reqs.push({ op: "exists", key: e.key });
        break;
      case "DoesNotExist":
        reqs.push({ op: "notexists", key: e.key });
        break;
      default:
        throw new ApiError(
          400,
          "BadRequest",
          `"${e.operator}" is not a valid label selector operator`,
        );
    }
  }
  return reqs;
}

/** One field requirement. */
export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** A parsed field selector. */
export type FieldSelector = FieldRequirement[];

function unescapeField(v: string): string {
  return v.replace(/\\(.)/g, "$1");
}

/** Parse a field selector (`metadata.name=x,status.phase!=Running`). */
export function parseFieldSelector(sel: string): FieldSelector {
  const out: FieldSelector = [];
  const parts = sel.split(/(?<!\\),/).map((p) => p.trim()).filter((p) => p !== "");
  for (const part of parts) {
    const m = part.match(/^([A-Za-z0-9_.\-\/]+)\s*(==|=|!=)(.*)$/);
    if (!m) {
      throw new ApiError(
        400,
        "BadRequest",
        `invalid selector: '${sel}'; can't understand '${part}'`,
      );
    }
    out.push({ field: m[1], op: m[2] === "!=" ? "!=" : "=", value: unescapeField(m[3]) });
  }
  return out;
}

/** Field value of an object as field selectors see it (missing → ""). */
export function fieldValue(obj: KubeObject, field: string): string {
  const v = getPath(obj, field);
  if (v === undefined || v === null) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Does an object satisfy every field requirement? */
export function matchFields(selector: FieldSelector, obj: KubeObject): boolean {
  for (const r of selector) {
    const v = fieldValue(obj, r.field);
    if (r.op === "=" ? v !== r.value : v === r.value) return false;
  }
  return true;
}
