/**
 * CNI errors: the codes of the CNI specification 1.1 ("Error" section) and one typed error class
 * that carries a code, a message and details, and renders as the spec's error JSON.
 *
 * @module
 */

/** The error codes of the CNI specification (0-99 are reserved for it). */
export const CNI_ERROR = {
  /** Incompatible CNI version. */
  INCOMPATIBLE_VERSION: 1,
  /** Unsupported field in network configuration. */
  UNSUPPORTED_FIELD: 2,
  /** Container unknown or does not exist (the runtime need not clean up). */
  UNKNOWN_CONTAINER: 3,
  /** Invalid necessary environment variables (CNI_COMMAND, CNI_CONTAINERID, ...). */
  INVALID_ENV: 4,
  /** I/O failure (e.g. reading stdin). */
  IO_FAILURE: 5,
  /** Failed to decode content (e.g. the configuration is not JSON). */
  DECODE_FAILURE: 6,
  /** Invalid network configuration. */
  INVALID_CONFIG: 7,
  /** Try again later (a transient condition: the agent is unreachable, a block is on its way). */
  TRY_AGAIN_LATER: 11,
  /** STATUS: the plugin is not available (cannot serve ADD). */
  NOT_AVAILABLE: 50,
  /** STATUS: the plugin is available but with limited connectivity. */
  LIMITED_CONNECTIVITY: 51,
  /** tern-specific (>= 100): the pool asked for does not exist on this node. */
  UNKNOWN_POOL: 100,
  /** tern-specific: the pool has no free address and no block could be had. */
  POOL_EXHAUSTED: 101,
  /** tern-specific: wiring the pod's network (netlink) failed. */
  WIRING_FAILED: 102,
  /** tern-specific: CHECK found the pod's network differs from its allocation. */
  CHECK_FAILED: 103,
  /** tern-specific: an internal failure of the agent. */
  INTERNAL: 199,
} as const;

/** A CNI error code (spec or tern-specific). */
export type CniErrorCode = number;

/** The spec's error JSON. */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/**
 * A failure to report to the container runtime. `code` is the CNI code, `msg` a short
 * description, `details` the longer story (the offending value quoted).
 */
export class CniError extends Error {
  override readonly name = "CniError";
  /** CNI error code. */
  readonly code: CniErrorCode;
  /** Short message (the spec's `msg`). */
  readonly msg: string;
  /** Longer explanation (the spec's `details`). */
  readonly details: string;

  constructor(code: CniErrorCode, msg: string, details = "") {
    super(details ? `${msg}: ${details}` : msg);
    this.code = code;
    this.msg = msg;
    this.details = details;
  }

  /** The spec's error object for `cniVersion`. */
  toJSON(cniVersion = "1.1.0"): CniErrorJson {
    const out: CniErrorJson = { cniVersion, code: this.code, msg: this.msg };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Quotes a value for an error message (strings as JSON, long values cut). */
export function quote(value: unknown): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 200 ? s.slice(0, 197) + "..." : s;
}
