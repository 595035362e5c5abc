/**
 * The CNI specification 1.1 as tern's plugin needs it, pure: the commands, version
 * negotiation (0.4.0, 1.0.0, 1.1.0), the environment (`CNI_*`), `CNI_ARGS`, the network
 * configuration on stdin (with tern's own keys) and the GC attachment list. Every failure is a
 * {@linkcode CniError} with the spec's code.
 *
 * @module
 */

import { CNI_ERROR, CniError, quote } from "./errors.ts";

/** The versions tern speaks, oldest first. */
export const SUPPORTED_VERSIONS = ["0.4.0", "1.0.0", "1.1.0"] as const;
/** A version tern speaks. */
export type CniVersion = typeof SUPPORTED_VERSIONS[number];
/** The newest version (used when nothing else is known). */
export const LATEST_VERSION: CniVersion = "1.1.0";

/** The CNI commands. */
export const COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"] as const;
/** One CNI command. */
export type CniCommand = typeof COMMANDS[number];

/** Default path of the agent's socket. */
export const DEFAULT_SOCKET = "/run/tern/cni.sock";

/** True for a version tern speaks. */
export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/**
 * Checks the configuration's `cniVersion`: it must be one tern speaks (code 1 otherwise; code
 * 7 when missing or not a string).
 */
export function negotiateVersion(v: unknown): CniVersion {
  if (v === undefined || typeof v !== "string" || v === "") {
    throw new CniError(
      CNI_ERROR.INVALID_CONFIG,
      "Invalid network configuration",
      `cniVersion must be a version string, got ${quote(v)}`,
    );
  }
  if (!isSupportedVersion(v)) {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      "Incompatible CNI version",
      `cniVersion ${quote(v)} is not supported; supported: ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  return v;
}

/** The parameters a runtime passes in the environment. */
export interface CniEnv {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args: Record<string, string>;
  path: string[];
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;

/** True for a valid Linux interface name (at most 15 bytes, no `/`, `:` or white space). */
export function isValidIfname(name: string): boolean {
  return name.length > 0 && new TextEncoder().encode(name).length <= 15 && name !== "." &&
    name !== ".." && !/[\/:\s]/.test(name);
}

function envError(detail: string): CniError {
  return new CniError(CNI_ERROR.INVALID_ENV, "Invalid environment variables", detail);
}

/** Parses `CNI_ARGS` (`K1=V1;K2=V2`). Throws code 4 for a pair without `=` or an empty key. */
export function parseCniArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined || text === "") return out;
  for (const pair of text.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw envError(`CNI_ARGS ${quote(text)}: ${quote(pair)} is not KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * Reads and checks the `CNI_*` variables for the command: `CNI_COMMAND` always;
 * `CNI_CONTAINERID` and `CNI_IFNAME` for ADD, DEL and CHECK; `CNI_NETNS` for ADD and CHECK (an
 * absolute path). Throws code 4 naming the variable and quoting its value.
 */
export function parseEnv(get: (name: string) => string | undefined): CniEnv {
  const raw = get("CNI_COMMAND");
  if (raw === undefined || raw === "") throw envError("CNI_COMMAND is not set");
  if (!(COMMANDS as readonly string[]).includes(raw)) {
    throw envError(`CNI_COMMAND ${quote(raw)} is not one of ${COMMANDS.join(", ")}`);
  }
  const command = raw as CniCommand;
  const env: CniEnv = {
    command,
    args: parseCniArgs(get("CNI_ARGS")),
    path: (get("CNI_PATH") ?? "").split(":").filter((p) => p !== ""),
  };
  if (command === "ADD" || command === "DEL" || command === "CHECK") {
    const id = get("CNI_CONTAINERID");
    if (id === undefined || id === "") throw envError("CNI_CONTAINERID is not set");
    if (!CONTAINER_ID.test(id)) {
      throw envError(
        `CNI_CONTAINERID ${
          quote(id)
        } must be letters, digits, "_", "." and "-", starting with a letter or digit`,
      );
    }
    env.containerId = id;
    const ifname = get("CNI_IFNAME");
    if (ifname === undefined || ifname === "") throw envError("CNI_IFNAME is not set");
    if (!isValidIfname(ifname)) {
      throw envError(`CNI_IFNAME ${quote(ifname)} is not a valid interface name`);
    }
    env.ifname = ifname;
    const netns = get("CNI_NETNS");
    if (netns !== undefined && netns !== "") {
      if (!netns.startsWith("/") || netns.includes("\0") || netns.split("/").includes("..")) {
        throw envError(`CNI_NETNS ${quote(netns)} must be an absolute path without ".."`);
      }
      env.netns = netns;
    } else if (command !== "DEL") {
      throw envError("CNI_NETNS is not set");
    }
  }
  return env;
}

/** One attachment in `cni.dev/valid-attachments` (GC). */
export interface Attachment {
  containerId: string;
  ifname: string;
}

/** tern's network configuration (one plugin entry of a conflist, as the runtime passes it). */
export interface TernNetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  /** Path of the agent's socket. */
  socket: string;
  /** MTU of the pod's interfaces (the agent's default when absent). */
  mtu?: number;
  /** A pool asked for explicitly (`pool` key or `args.cni["tern.dev/addresspool"]`). */
  pool?: string;
  /** The previous plugin's result, as given. */
  prevResult?: Record<string, unknown>;
  /** GC: the attachments still in use. */
  validAttachments?: Attachment[];
  /** Everything else the runtime passed, untouched. */
  raw: Record<string, unknown>;
}

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;
const POOL_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function configError(detail: string): CniError {
  return new CniError(CNI_ERROR.INVALID_CONFIG, "Invalid network configuration", detail);
}

/** Decodes stdin as a JSON object (code 6 otherwise). */
export function decodeConfig(stdin: Uint8Array | string): Record<string, unknown> {
  const text = typeof stdin === "string" ? stdin : new TextDecoder().decode(stdin);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(
      CNI_ERROR.DECODE_FAILURE,
      "Failed to decode the network configuration",
      `${(e as Error).message}; input ${quote(text)}`,
    );
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new CniError(
      CNI_ERROR.DECODE_FAILURE,
      "Failed to decode the network configuration",
      `expected a JSON object, got ${quote(text)}`,
    );
  }
  return v as Record<string, unknown>;
}

/**
 * Checks a decoded configuration for `command`: `cniVersion` (negotiated), `name`, `type`,
 * tern's `socket`, `mtu` and `pool`, and for GC `cni.dev/valid-attachments`. An `ipam` section
 * is refused with code 2 (tern does its own address management).
 */
export function parseNetConf(raw: Record<string, unknown>, command: CniCommand): TernNetConf {
  const cniVersion = negotiateVersion(raw.cniVersion);
  const name = raw.name;
  if (typeof name !== "string" || !NETWORK_NAME.test(name)) {
    throw configError(`name ${quote(name)} must be letters, digits, "_", "." and "-"`);
  }
  const type = raw.type;
  if (typeof type !== "string" || type === "") {
    throw configError(`type ${quote(type)} must be the plugin's name`);
  }
  if (raw.ipam !== undefined) {
    throw new CniError(
      CNI_ERROR.UNSUPPORTED_FIELD,
      "Unsupported field in network configuration",
      `"ipam" (${quote(raw.ipam)}): tern allocates addresses itself; remove the ipam section`,
    );
  }
  const socket = raw.socket ?? DEFAULT_SOCKET;
  if (typeof socket !== "string" || !socket.startsWith("/") || socket.includes("\0")) {
    throw configError(`socket ${quote(socket)} must be an absolute path`);
  }
  const conf: TernNetConf = { cniVersion, name, type, socket, raw };
  if (raw.mtu !== undefined) {
    const mtu = raw.mtu;
    if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw configError(`mtu ${quote(mtu)} must be an integer from 68 to 65535`);
    }
    conf.mtu = mtu;
  }
  let pool = raw.pool;
  const args = raw.args;
  if (args !== undefined && (args === null || typeof args !== "object" || Array.isArray(args))) {
    throw configError(`args ${quote(args)} must be an object`);
  }
  const cniArgs = (args as { cni?: unknown } | undefined)?.cni;
  if (cniArgs && typeof cniArgs === "object" && !Array.isArray(cniArgs)) {
    const p = (cniArgs as Record<string, unknown>)["tern.dev/addresspool"];
    if (p !== undefined) pool = p;
  }
  if (pool !== undefined) {
    if (typeof pool !== "string" || !POOL_NAME.test(pool)) {
      throw configError(`pool ${quote(pool)} is not a valid pool name`);
    }
    conf.pool = pool;
  }
  if (raw.prevResult !== undefined) {
    const p = raw.prevResult;
    if (p === null || typeof p !== "object" || Array.isArray(p)) {
      throw configError(`prevResult ${quote(p)} must be an object`);
    }
    conf.prevResult = p as Record<string, unknown>;
  }
  if (command === "GC") {
    const list = raw["cni.dev/valid-attachments"] ?? [];
    if (!Array.isArray(list)) {
      throw configError(`cni.dev/valid-attachments ${quote(list)} must be a list`);
    }
    conf.validAttachments = list.map((a) => {
      if (
        a === null || typeof a !== "object" || typeof a.containerID !== "string" ||
        typeof a.ifname !== "string"
      ) {
        throw configError(
          `cni.dev/valid-attachments entry ${quote(a)} needs "containerID" and "ifname"`,
        );
      }
      return { containerId: a.containerID as string, ifname: a.ifname as string };
    });
  }
  return conf;
}
