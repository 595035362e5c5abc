/**
 * The status the controller writes on an AddressPool, computed purely from the pool's
 * resolution (accepted or rejected, and why) and its usage. Conditions keep their
 * lastTransitionTime while their status does not change.
 *
 * @module
 */

import type { AddressPoolStatus } from "../crds/address_pool.ts";
import { CONDITION } from "../crds/names.ts";
import type { IpFamily } from "./address.ts";
import type { IpamError } from "./errors.ts";
import type { Pool } from "./pool.ts";

/** A condition as stored in status. */
export interface Condition {
  /** Condition type. */
  type: string;
  /** True, False or Unknown. */
  status: "True" | "False" | "Unknown";
  /** Generation it was computed from. */
  observedGeneration?: number;
  /** When the status last changed. */
  lastTransitionTime: string;
  /** CamelCase reason. */
  reason: string;
  /** Details. */
  message: string;
}

/** Usage figures of a pool. */
export interface PoolUsageInput {
  /** Addresses held, per family. */
  allocated: Partial<Record<IpFamily, bigint>>;
  /** Pod pools: blocks cut, and blocks possible per family. */
  blocks?: { count: bigint; capacity: Partial<Record<IpFamily, bigint>>; exhausted: boolean };
}

/** Inputs of {@linkcode addressPoolStatus}. */
export interface PoolStatusInput {
  /** The accepted pool, or undefined when rejected. */
  pool?: Pool;
  /** Why it was rejected. */
  rejection?: IpamError;
  /** Usage (accepted pools). */
  usage?: PoolUsageInput;
  /** The object's metadata.generation. */
  generation?: number;
  /** The current status (to keep transition times). */
  previous?: AddressPoolStatus;
  /** Now, RFC 3339. */
  now: string;
}

/** Sets a condition in a list, keeping lastTransitionTime when the status is unchanged. */
export function setCondition(
  list: readonly Condition[],
  next: Omit<Condition, "lastTransitionTime">,
  now: string,
): Condition[] {
  const old = list.find((c) => c.type === next.type);
  const cond: Condition = {
    ...next,
    lastTransitionTime: old && old.status === next.status ? old.lastTransitionTime : now,
  };
  return [...list.filter((c) => c.type !== next.type), cond].sort((a, b) =>
    a.type.localeCompare(b.type)
  );
}

/** The AddressPool status to write. */
export function addressPoolStatus(input: PoolStatusInput): AddressPoolStatus {
  const gen = input.generation === undefined ? {} : { observedGeneration: input.generation };
  let conds: Condition[] = (input.previous?.conditions ?? []) as Condition[];
  const status: AddressPoolStatus = { ...gen };
  if (!input.pool) {
    const e = input.rejection;
    conds = setCondition(conds, {
      type: CONDITION.Ready,
      status: "False",
      reason: e?.reason ?? "Invalid",
      message: e?.message ?? "The pool was not accepted",
      ...gen,
    }, input.now);
    conds = setCondition(conds, {
      type: CONDITION.Conflict,
      status: e && (e.code === "overlapping_pools" || e.code === "duplicate_auto_pool")
        ? "True"
        : "False",
      reason: e?.reason ?? "Invalid",
      message: e?.message ?? "",
      ...gen,
    }, input.now);
    status.conditions = conds;
    return status;
  }
  const pool = input.pool;
  const capacity: { ipv4?: string; ipv6?: string } = {};
  const allocated: { ipv4?: string; ipv6?: string } = {};
  let full = true;
  for (const f of pool.families) {
    const k = f === 4 ? "ipv4" : "ipv6";
    const cap = pool.capacity(f);
    const used = input.usage?.allocated[f] ?? 0n;
    capacity[k] = cap.toString();
    allocated[k] = used.toString();
    if (used < cap) full = false;
  }
  status.capacity = capacity;
  status.allocated = allocated;
  if (pool.type === "pod") {
    const b = input.usage?.blocks;
    status.blocks = Number(b?.count ?? 0n);
    const bc: { ipv4?: string; ipv6?: string } = {};
    for (const f of pool.families) {
      bc[f === 4 ? "ipv4" : "ipv6"] = (b?.capacity[f] ?? 0n).toString();
    }
    status.blockCapacity = bc;
    full = b?.exhausted ?? false;
  }
  conds = setCondition(conds, {
    type: CONDITION.Ready,
    status: "True",
    reason: "Accepted",
    message: `Pool of ${
      pool.families.map((f) => `${capacity[f === 4 ? "ipv4" : "ipv6"]} IPv${f}`).join(" and ")
    } addresses`,
    ...gen,
  }, input.now);
  conds = setCondition(conds, {
    type: CONDITION.Conflict,
    status: "False",
    reason: "NoConflict",
    message: "",
    ...gen,
  }, input.now);
  conds = setCondition(conds, {
    type: CONDITION.Exhausted,
    status: full ? "True" : "False",
    reason: full ? "PoolExhausted" : "SpaceLeft",
    message: full
      ? (pool.type === "pod" ? "No free block is left" : "No free address is left")
      : "",
    ...gen,
  }, input.now);
  status.conditions = conds;
  return status;
}
