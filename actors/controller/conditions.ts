/** Status conditions (metav1.Condition), pure. */

/** One condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * Returns `conditions` with `next` set: the transition time is kept when the status does not
 * change, other types are kept as they are. The input is not modified.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, "lastTransitionTime">,
  now: string,
): Condition[] {
  const out: Condition[] = [];
  let found = false;
  for (const c of conditions ?? []) {
    if (c.type !== next.type) {
      out.push(c);
      continue;
    }
    found = true;
    out.push({
      ...next,
      lastTransitionTime: c.status === next.status ? c.lastTransitionTime : now,
    });
  }
  if (!found) out.push({ ...next, lastTransitionTime: now });
  return out;
}

/** True when both lists say the same (ignoring transition times and order). */
export function sameConditions(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const key = (c: Condition) =>
    `${c.type}\u0000${c.status}\u0000${c.reason}\u0000${c.message}\u0000${
      c.observedGeneration ?? ""
    }`;
  const ka = (a ?? []).map(key).sort(), kb = (b ?? []).map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

/** The condition of a type, if present. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return (conditions ?? []).find((c) => c.type === type);
}

/** RFC 3339 time without fractions, as conditions carry it. */
export function conditionTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
