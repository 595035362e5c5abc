/**
 * Kubernetes label selectors (`matchLabels` and `matchExpressions`), evaluated purely.
 *
 * @module
 */

import { BadAnnotationError } from "./errors.ts";

/** A `matchExpressions` entry. */
export interface LabelSelectorRequirement {
  /** The label key. */
  key: string;
  /** `In`, `NotIn`, `Exists` or `DoesNotExist`. */
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** Values for `In` and `NotIn`. */
  values?: string[];
}

/** A Kubernetes label selector. An empty selector matches everything. */
export interface LabelSelector {
  /** Labels that must all be present with these values. */
  matchLabels?: Record<string, string>;
  /** Requirements that must all hold. */
  matchExpressions?: LabelSelectorRequirement[];
}

/** Labels of an object. */
export type Labels = Record<string, string | undefined>;

/**
 * True when `labels` satisfy `selector` (undefined selector: true). An unknown operator, or
 * `In`/`NotIn` without values, throws a typed error naming the selector key.
 */
export function matchesSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key) && labels[req.key] !== undefined;
    const value = labels[req.key];
    switch (req.operator) {
      case "In":
      case "NotIn": {
        if (!req.values || req.values.length === 0) {
          throw new BadAnnotationError(
            `selector ${req.key}`,
            req.operator,
            "operators In and NotIn need at least one value",
          );
        }
        const inSet = has && req.values.includes(value!);
        if (req.operator === "In" ? !inSet : inSet) return false;
        break;
      }
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        throw new BadAnnotationError(
          `selector ${req.key}`,
          String((req as { operator: unknown }).operator),
          "unknown operator (expected In, NotIn, Exists or DoesNotExist)",
        );
    }
  }
  return true;
}
