/**
 * The CNI plugin's logic, with its I/O handed in: read the environment and stdin, check them,
 * ask the agent over its socket, and render the answer (or the error) as the spec wants it.
 * `roles/cni.ts` only supplies the real environment, stdin and socket.
 *
 * @module
 */

import { CNI_ERROR, CniError } from "./errors.ts";
import {
  type AgentRequest,
  type AgentResponse,
  type AttachmentSpec,
  PROTOCOL_VERSION,
} from "./protocol.ts";
import { formatResult, versionResult } from "./result.ts";
import {
  type CniEnv,
  type CniVersion,
  decodeConfig,
  LATEST_VERSION,
  parseEnv,
  parseNetConf,
  type TernNetConf,
} from "./spec.ts";

/** The agent could not be reached (no socket, refused, closed early, timed out). */
export class AgentUnreachableError extends Error {
  override readonly name = "AgentUnreachableError";
  /** Discriminator. */
  readonly code = "agent_unreachable";
  constructor(readonly socket: string, readonly why: string) {
    super(`Cannot reach the tern agent at ${JSON.stringify(socket)}: ${why}`);
  }
}

/** What the plugin needs from the outside world. */
export interface PluginIo {
  env(name: string): string | undefined;
  readStdin(): Promise<Uint8Array>;
  /** One request to the agent; throws {@linkcode AgentUnreachableError} when it cannot. */
  call(socket: string, request: AgentRequest): Promise<AgentResponse>;
}

/** What to print and how to exit. */
export interface PluginOutcome {
  stdout: string;
  exitCode: number;
}

function errorOutcome(e: CniError, version: string): PluginOutcome {
  return { stdout: JSON.stringify(e.toJSON(version)) + "\n", exitCode: 1 };
}

function podRef(env: CniEnv): AttachmentSpec["pod"] {
  const ns = env.args.K8S_POD_NAMESPACE;
  const name = env.args.K8S_POD_NAME;
  if (!ns || !name) return undefined;
  const pod: NonNullable<AttachmentSpec["pod"]> = { namespace: ns, name };
  if (env.args.K8S_POD_UID) pod.uid = env.args.K8S_POD_UID;
  return pod;
}

function attachment(env: CniEnv, conf: TernNetConf): AttachmentSpec {
  const a: AttachmentSpec = {
    containerId: env.containerId!,
    ifname: env.ifname!,
    network: conf.name,
  };
  if (env.netns !== undefined) a.netns = env.netns;
  const pod = podRef(env);
  if (pod) a.pod = pod;
  if (conf.pool !== undefined) a.pool = conf.pool;
  if (conf.mtu !== undefined) a.mtu = conf.mtu;
  return a;
}

function request(env: CniEnv, conf: TernNetConf): AgentRequest {
  const v = PROTOCOL_VERSION;
  switch (env.command) {
    case "ADD":
      return { v, op: "add", attachment: attachment(env, conf) };
    case "DEL":
      return { v, op: "del", attachment: attachment(env, conf) };
    case "CHECK":
      return { v, op: "check", attachment: attachment(env, conf) };
    case "STATUS":
      return { v, op: "status", network: conf.name };
    case "GC":
      return { v, op: "gc", network: conf.name, valid: conf.validAttachments ?? [] };
    case "VERSION":
      throw new Error("unreachable: VERSION needs no request");
  }
}

/** Runs one plugin invocation. Never throws: every failure becomes the spec's error output. */
export async function runPlugin(io: PluginIo): Promise<PluginOutcome> {
  let version: CniVersion | string = LATEST_VERSION;
  try {
    const env = parseEnv((n) => io.env(n));
    let stdin: Uint8Array;
    try {
      stdin = await io.readStdin();
    } catch (e) {
      throw new CniError(CNI_ERROR.IO_FAILURE, "Cannot read stdin", (e as Error).message);
    }
    if (env.command === "VERSION") {
      let requested: unknown;
      try {
        requested = decodeConfig(stdin).cniVersion;
      } catch {
        requested = undefined;
      }
      return { stdout: JSON.stringify(versionResult(requested)) + "\n", exitCode: 0 };
    }
    const raw = decodeConfig(stdin);
    if (typeof raw.cniVersion === "string") version = raw.cniVersion;
    const conf = parseNetConf(raw, env.command);
    version = conf.cniVersion;
    let res: AgentResponse;
    try {
      res = await io.call(conf.socket, request(env, conf));
    } catch (e) {
      if (!(e instanceof AgentUnreachableError)) throw e;
      if (env.command === "STATUS") {
        throw new CniError(CNI_ERROR.NOT_AVAILABLE, "The tern agent is not available", e.message);
      }
      throw new CniError(CNI_ERROR.TRY_AGAIN_LATER, "The tern agent is unreachable", e.message);
    }
    if (!res.ok) throw new CniError(res.error.code, res.error.msg, res.error.details ?? "");
    if (env.command === "ADD") {
      if (!res.result) {
        throw new CniError(CNI_ERROR.INTERNAL, "The agent answered ADD without a result");
      }
      return {
        stdout: JSON.stringify(formatResult(conf.cniVersion, res.result)) + "\n",
        exitCode: 0,
      };
    }
    return { stdout: "", exitCode: 0 };
  } catch (e) {
    if (e instanceof CniError) return errorOutcome(e, version);
    return errorOutcome(
      new CniError(CNI_ERROR.INTERNAL, "Internal error of the tern plugin", String(e)),
      version,
    );
  }
}
