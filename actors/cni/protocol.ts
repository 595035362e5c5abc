/**
 * The socket protocol between the CNI plugin and the agent, pure (shared by both sides).
 *
 * One request per connection over a Unix stream socket: the plugin writes one JSON object and a
 * newline, the agent answers with one JSON object and a newline and closes. Every message
 * carries `v` (the protocol version, {@linkcode PROTOCOL_VERSION}); an agent answers a request of
 * another version with an error of code 1 (incompatible version). A line is at most
 * {@linkcode MAX_LINE} bytes. Decoders throw only {@linkcode ProtocolError}.
 *
 * @module
 */

import { CNI_ERROR, CniError, quote } from "./errors.ts";
import type { PodNetwork } from "./result.ts";

/** The protocol version. */
export const PROTOCOL_VERSION = 1;
/** Largest message, newline included. */
export const MAX_LINE = 1 << 20;

/** The pod an attachment belongs to (from `CNI_ARGS`: `K8S_POD_NAMESPACE`, ...). */
export interface PodRef {
  namespace: string;
  name: string;
  uid?: string;
}

/** One attachment as the plugin describes it. */
export interface AttachmentSpec {
  containerId: string;
  ifname: string;
  /** Namespace path (absent on a DEL without one). */
  netns?: string;
  /** The network's name (from the configuration). */
  network: string;
  pod?: PodRef;
  /** A pool asked for explicitly. */
  pool?: string;
  mtu?: number;
}

/** A request from the plugin. */
export type AgentRequest =
  | { v: number; op: "add"; attachment: AttachmentSpec }
  | { v: number; op: "del"; attachment: AttachmentSpec }
  | { v: number; op: "check"; attachment: AttachmentSpec }
  | { v: number; op: "status"; network: string }
  | {
    v: number;
    op: "gc";
    network: string;
    valid: { containerId: string; ifname: string }[];
  };

/** The agent's answer. */
export type AgentResponse =
  | { v: number; ok: true; result?: PodNetwork }
  | { v: number; ok: false; error: { code: number; msg: string; details?: string } };

/** A message that is not a valid protocol message. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  /** Discriminator. */
  readonly code = "bad_message";
  constructor(readonly detail: string, readonly value: string) {
    super(`Bad protocol message: ${detail}; got ${quote(value)}`);
  }
}

/** Encodes a message as one line. */
export function encodeMessage(m: AgentRequest | AgentResponse): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(m) + "\n");
  if (bytes.length > MAX_LINE) {
    throw new ProtocolError(`message of ${bytes.length} bytes exceeds ${MAX_LINE}`, "");
  }
  return bytes;
}

function parseLine(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new ProtocolError(`not JSON (${(e as Error).message})`, line);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new ProtocolError("not an object", line);
  }
  const o = v as Record<string, unknown>;
  if (typeof o.v !== "number" || !Number.isInteger(o.v)) {
    throw new ProtocolError('"v" must be the protocol version', line);
  }
  return o;
}

function str(o: Record<string, unknown>, k: string, line: string, optional = false) {
  const v = o[k];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || v === "") {
    throw new ProtocolError(`${JSON.stringify(k)} must be a non-empty string`, line);
  }
  return v;
}

function attachment(v: unknown, line: string): AttachmentSpec {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new ProtocolError('"attachment" must be an object', line);
  }
  const o = v as Record<string, unknown>;
  const a: AttachmentSpec = {
    containerId: str(o, "containerId", line)!,
    ifname: str(o, "ifname", line)!,
    network: str(o, "network", line)!,
  };
  const netns = str(o, "netns", line, true);
  if (netns !== undefined) a.netns = netns;
  const pool = str(o, "pool", line, true);
  if (pool !== undefined) a.pool = pool;
  if (o.mtu !== undefined) {
    if (typeof o.mtu !== "number" || !Number.isInteger(o.mtu)) {
      throw new ProtocolError('"mtu" must be an integer', line);
    }
    a.mtu = o.mtu;
  }
  if (o.pod !== undefined) {
    const p = o.pod as Record<string, unknown>;
    if (p === null || typeof p !== "object") {
      throw new ProtocolError('"pod" must be an object', line);
    }
    a.pod = { namespace: str(p, "namespace", line)!, name: str(p, "name", line)! };
    const uid = str(p, "uid", line, true);
    if (uid !== undefined) a.pod.uid = uid;
  }
  return a;
}

/**
 * Decodes a request line. A request of another protocol version decodes to its `v` and `op`
 * only, so the agent can answer "incompatible version"; see {@linkcode versionMismatch}.
 */
export function decodeRequest(line: string): AgentRequest {
  const o = parseLine(line);
  const op = o.op;
  if (o.v !== PROTOCOL_VERSION) return { v: o.v as number, op: "status", network: "" };
  switch (op) {
    case "add":
    case "del":
    case "check":
      return { v: PROTOCOL_VERSION, op, attachment: attachment(o.attachment, line) };
    case "status":
      return { v: PROTOCOL_VERSION, op, network: str(o, "network", line)! };
    case "gc": {
      if (!Array.isArray(o.valid)) throw new ProtocolError('"valid" must be a list', line);
      const valid = o.valid.map((x) => {
        const e = x as Record<string, unknown>;
        if (e === null || typeof e !== "object") {
          throw new ProtocolError('"valid" entries must be objects', line);
        }
        return { containerId: str(e, "containerId", line)!, ifname: str(e, "ifname", line)! };
      });
      return { v: PROTOCOL_VERSION, op, network: str(o, "network", line)!, valid };
    }
    default:
      throw new ProtocolError(`unknown "op" ${quote(op)}`, line);
  }
}

/** The error for a request of another protocol version, or undefined when it matches. */
export function versionMismatch(req: AgentRequest): CniError | undefined {
  if (req.v === PROTOCOL_VERSION) return undefined;
  return new CniError(
    CNI_ERROR.INCOMPATIBLE_VERSION,
    "Incompatible plugin and agent",
    `the plugin speaks protocol version ${req.v}, the agent ${PROTOCOL_VERSION}`,
  );
}

/** Decodes a response line. */
export function decodeResponse(line: string): AgentResponse {
  const o = parseLine(line);
  if (o.ok === true) {
    if (o.result === undefined) return { v: o.v as number, ok: true };
    const r = o.result as Record<string, unknown>;
    if (
      r === null || typeof r !== "object" || !Array.isArray(r.interfaces) ||
      !Array.isArray(r.ips) || !Array.isArray(r.routes)
    ) {
      throw new ProtocolError('"result" must have interfaces, ips and routes', line);
    }
    return { v: o.v as number, ok: true, result: o.result as PodNetwork };
  }
  if (o.ok === false) {
    const e = o.error as Record<string, unknown>;
    if (e === null || typeof e !== "object" || typeof e.code !== "number") {
      throw new ProtocolError('"error" must have a numeric code', line);
    }
    const error: { code: number; msg: string; details?: string } = {
      code: e.code,
      msg: typeof e.msg === "string" ? e.msg : "",
    };
    if (typeof e.details === "string") error.details = e.details;
    return { v: o.v as number, ok: false, error };
  }
  throw new ProtocolError('"ok" must be true or false', line);
}

/** The response for an error. */
export function errorResponse(e: CniError): AgentResponse {
  const error: { code: number; msg: string; details?: string } = { code: e.code, msg: e.msg };
  if (e.details) error.details = e.details;
  return { v: PROTOCOL_VERSION, ok: false, error };
}

/** Splits a byte stream into lines, refusing lines longer than {@linkcode MAX_LINE}. */
export class LineReader {
  #buf = "";
  #decoder = new TextDecoder();

  /** Feeds bytes; returns the complete lines. Throws {@linkcode ProtocolError} when too long. */
  push(chunk: Uint8Array): string[] {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    let nl: number;
    while ((nl = this.#buf.indexOf("\n")) >= 0) {
      out.push(this.#buf.slice(0, nl));
      this.#buf = this.#buf.slice(nl + 1);
    }
    if (this.#buf.length > MAX_LINE) {
      throw new ProtocolError(`line longer than ${MAX_LINE} bytes`, this.#buf.slice(0, 64));
    }
    return out;
  }
}
