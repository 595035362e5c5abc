/**
 * The agent's allocation records and their file, pure: one record per attachment (container
 * id and interface), with the pod, the pool, each address and the block it came from, and the
 * host end of the veth. The file is JSON with a format version; decoding checks every field and
 * throws only {@linkcode StateFileError}.
 *
 * @module
 */

/** One address of an attachment. */
export interface RecordAddress {
  /** Address without prefix length. */
  address: string;
  /** The block (CIDR) it came from. */
  block: string;
}

/** One attachment's allocation. */
export interface AllocationRecord {
  containerId: string;
  ifname: string;
  network: string;
  netns?: string;
  pod?: { namespace: string; name: string; uid?: string };
  pool: string;
  addresses: RecordAddress[];
  hostIfname: string;
  /** When it was made (ISO 8601). */
  created: string;
}

/** Key of an attachment. */
export function attachmentKey(containerId: string, ifname: string): string {
  return `${containerId}/${ifname}`;
}

/** Format version of the file. */
export const STATE_FORMAT = 1;

/** A state file that cannot be used. */
export class StateFileError extends Error {
  override readonly name = "StateFileError";
  /** Discriminator. */
  readonly code = "bad_state_file";
  constructor(readonly detail: string, readonly value: string) {
    super(`Bad allocation state file: ${detail}; got ${value.slice(0, 200)}`);
  }
}

/** Renders the file. */
export function encodeState(node: string, records: Iterable<AllocationRecord>): string {
  const allocations = [...records].sort((a, b) =>
    attachmentKey(a.containerId, a.ifname).localeCompare(attachmentKey(b.containerId, b.ifname))
  );
  return JSON.stringify({ format: STATE_FORMAT, node, allocations }, null, 1) + "\n";
}

function isStr(v: unknown): v is string {
  return typeof v === "string" && v !== "";
}

/** Parses the file; throws {@linkcode StateFileError}. */
export function decodeState(text: string): { node: string; records: AllocationRecord[] } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new StateFileError(`not JSON (${(e as Error).message})`, text);
  }
  const o = v as Record<string, unknown>;
  if (o === null || typeof o !== "object" || o.format !== STATE_FORMAT) {
    throw new StateFileError(`expected an object with format ${STATE_FORMAT}`, text);
  }
  if (!isStr(o.node) || !Array.isArray(o.allocations)) {
    throw new StateFileError("expected node and allocations", text);
  }
  const records = o.allocations.map((r: Record<string, unknown>) => {
    const bad = () => new StateFileError("bad allocation", JSON.stringify(r));
    if (r === null || typeof r !== "object") throw bad();
    for (const k of ["containerId", "ifname", "network", "pool", "hostIfname", "created"]) {
      if (!isStr(r[k])) throw bad();
    }
    if (r.netns !== undefined && !isStr(r.netns)) throw bad();
    if (!Array.isArray(r.addresses)) throw bad();
    for (const a of r.addresses as Record<string, unknown>[]) {
      if (a === null || typeof a !== "object" || !isStr(a.address) || !isStr(a.block)) throw bad();
    }
    if (r.pod !== undefined) {
      const p = r.pod as Record<string, unknown>;
      if (p === null || typeof p !== "object" || !isStr(p.namespace) || !isStr(p.name)) {
        throw bad();
      }
    }
    return r as unknown as AllocationRecord;
  });
  return { node: o.node, records };
}
