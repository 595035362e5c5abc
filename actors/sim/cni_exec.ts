/**
 * Calling CNI plugins exactly as a container runtime does (CNI specification 1.x): for each
 * plugin of a network configuration list, in order for ADD and in reverse for DEL, execute the
 * plugin binary found in `CNI_PATH` inside the node's network namespace, with `CNI_COMMAND`,
 * `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_ARGS` and `CNI_PATH` in its environment and
 * the plugin's configuration (with `name`, `cniVersion` and, when chained, `prevResult`) on stdin.
 * @module
 */
import { run } from "./exec.ts";

/** A network configuration list (`*.conflist`). */
export interface NetConfList {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string }>;
}

/** Parameters of one attachment. */
export interface CniAttachment {
  containerId: string;
  /** Path of the pod's network namespace (`/run/netns/NAME`). */
  netns: string;
  ifname: string;
  podNamespace: string;
  podName: string;
  podUid: string;
}

/** One plugin invocation, as prepared (pure). */
export interface PluginCall {
  binary: string;
  env: Record<string, string>;
  stdin: string;
}

/** A plugin answered with an error (or nothing parseable). */
export class CniError extends Error {
  /** Discriminator. */
  readonly code = "cni_failed";
  /** Build one quoting the plugin's error. */
  constructor(
    readonly command: string,
    readonly plugin: string,
    readonly cniCode: number | undefined,
    readonly detail: string,
  ) {
    super(`CNI ${command} via ${JSON.stringify(plugin)} failed: ${detail}`);
    this.name = "CniError";
  }
}

/** Validates a conflist; throws {@link CniError} quoting the bad part. */
export function parseConfList(text: string): NetConfList {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError("LOAD", "", undefined, `invalid JSON: ${(e as Error).message}`);
  }
  const o = v as Partial<NetConfList>;
  if (
    typeof o !== "object" || o === null || typeof o.cniVersion !== "string" ||
    typeof o.name !== "string" || !Array.isArray(o.plugins) || o.plugins.length === 0 ||
    o.plugins.some((p) => typeof p !== "object" || p === null || typeof p.type !== "string")
  ) {
    throw new CniError("LOAD", "", undefined, `bad conflist ${JSON.stringify(text.slice(0, 200))}`);
  }
  return o as NetConfList;
}

/** The invocations of an ADD or DEL, without `prevResult` (added as ADD proceeds). Pure. */
export function pluginCalls(
  command: "ADD" | "DEL" | "CHECK",
  list: NetConfList,
  a: CniAttachment,
  cniPath: string[],
): PluginCall[] {
  const env = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netns,
    CNI_IFNAME: a.ifname,
    CNI_ARGS:
      `IgnoreUnknown=1;K8S_POD_NAMESPACE=${a.podNamespace};K8S_POD_NAME=${a.podName};K8S_POD_INFRA_CONTAINER_ID=${a.containerId};K8S_POD_UID=${a.podUid}`,
    CNI_PATH: cniPath.join(":"),
  };
  const calls = list.plugins.map((p) => ({
    binary: p.type,
    env,
    stdin: JSON.stringify({ ...p, name: list.name, cniVersion: list.cniVersion }),
  }));
  return command === "DEL" ? calls.reverse() : calls;
}

/** An ADD's final result (the parts the simulator uses). */
export interface CniResult {
  ips: Array<{ address: string; gateway?: string }>;
  raw: Record<string, unknown>;
}

async function findBinary(name: string, cniPath: string[]): Promise<string> {
  for (const dir of cniPath) {
    try {
      const st = await Deno.stat(`${dir}/${name}`);
      if (st.isFile) return `${dir}/${name}`;
    } catch { /* next */ }
  }
  throw new CniError("FIND", name, undefined, `no plugin ${JSON.stringify(name)} in ${cniPath}`);
}

async function exec(
  call: PluginCall,
  command: string,
  cniPath: string[],
  nodeNs: string,
  stdin: string,
): Promise<Record<string, unknown>> {
  const bin = await findBinary(call.binary, cniPath);
  const r = await run([bin], { ns: nodeNs, env: call.env, stdin, check: false, timeoutMs: 60_000 });
  let out: Record<string, unknown> = {};
  if (r.stdout.trim()) {
    try {
      out = JSON.parse(r.stdout);
    } catch {
      throw new CniError(command, call.binary, undefined, `unparseable output ${r.stdout}`);
    }
  }
  if (r.code !== 0) {
    const msg = typeof out.msg === "string" ? out.msg : r.stderr.trim() || r.stdout.trim();
    const details = typeof out.details === "string" ? `: ${out.details}` : "";
    throw new CniError(command, call.binary, Number(out.code ?? r.code), msg + details);
  }
  return out;
}

/** Runs ADD through the whole chain inside `nodeNs`; returns the last plugin's result. */
export async function cniAdd(
  list: NetConfList,
  a: CniAttachment,
  cniPath: string[],
  nodeNs: string,
): Promise<CniResult> {
  let prev: Record<string, unknown> | undefined;
  for (const call of pluginCalls("ADD", list, a, cniPath)) {
    const conf = JSON.parse(call.stdin);
    if (prev) conf.prevResult = prev;
    prev = await exec(call, "ADD", cniPath, nodeNs, JSON.stringify(conf));
  }
  const ips = Array.isArray(prev?.ips) ? prev.ips as CniResult["ips"] : [];
  if (ips.length === 0) throw new CniError("ADD", list.name, undefined, "result has no ips");
  return { ips, raw: prev! };
}

/** Runs DEL through the chain in reverse inside `nodeNs` (every plugin, even after an error). */
export async function cniDel(
  list: NetConfList,
  a: CniAttachment,
  cniPath: string[],
  nodeNs: string,
): Promise<void> {
  let first: unknown;
  for (const call of pluginCalls("DEL", list, a, cniPath)) {
    try {
      await exec(call, "DEL", cniPath, nodeNs, call.stdin);
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}
