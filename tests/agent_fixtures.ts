/**
 * Test fixtures for the agent and plugin tests: a "node" network namespace running the agent
 * role as a real process, pod namespaces, and the plugin run exactly as a container runtime
 * runs it (CNI_* variables, config on stdin, the result on stdout). Everything is named
 * `tn-agent-<random>-…` and removed by {@linkcode TestNode.cleanup}, also after a failure.
 */

import { pluginCommand } from "../actors/cni/launch.ts";

/** The repository root (no trailing slash). */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();

/** Runs a command; throws with its stderr on failure. */
export async function run(
  cmd: string,
  args: string[],
  opts: { stdin?: string; env?: Record<string, string>; allowFail?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(opts.env ? { env: opts.env, clearEnv: true } : {}),
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await p.output();
  const r = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (r.code !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  }
  return r;
}

/** `ip` as the oracle. */
export async function ip(...args: string[]): Promise<string> {
  return (await run("ip", args)).stdout;
}

/** Waits until `cond` holds, polling every 20 ms, failing after `timeoutMs`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** kubectl run inside a node namespace: a failure is returned, not thrown. */
export type NodeKubectl = (
  args: string[],
  stdin?: string,
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** A plugin invocation's outcome. */
export interface PluginRun {
  code: number;
  // deno-lint-ignore no-explicit-any
  json: any;
  stdout: string;
}

/** Options of {@linkcode TestNode.create}. */
export interface NodeOptions {
  /** Agent flags beyond the paths (e.g. `--static-block`). */
  flags: string[];
  /** Runs once the node namespace exists, before the agent starts. */
  beforeAgent?: (node: TestNode) => Promise<void>;
}

/** A node namespace with a tern agent process in it. */
export class TestNode {
  readonly id = `tn-agent-${crypto.randomUUID().slice(0, 6)}`;
  readonly netns = `${this.id}-node`;
  readonly dir: string;
  readonly socket: string;
  readonly conflistDir: string;
  readonly stateDir: string;
  readonly conflist: string;
  /** Where {@linkcode TestNode.startApiServer} writes the embedded API server's kubeconfig. */
  readonly kubeconfig: string;
  readonly pods: string[] = [];
  /** More to undo at cleanup (before the namespaces go), last added first. */
  readonly cleanups: (() => Promise<void>)[] = [];
  agent: Deno.ChildProcess | undefined;
  agentLog = "";
  #flags: string[];
  #logDone: Promise<void> | undefined;

  private constructor(dir: string, flags: string[]) {
    this.dir = dir;
    this.socket = `${dir}/cni.sock`;
    this.conflistDir = `${dir}/net.d`;
    this.stateDir = `${dir}/state`;
    this.conflist = `${dir}/net.d/10-tern.conflist`;
    this.kubeconfig = `${dir}/kubeconfig.yaml`;
    this.#flags = flags;
  }

  /** Creates the node namespace and starts the agent in it. */
  static async create(o: NodeOptions): Promise<TestNode> {
    const dir = await Deno.makeTempDir({ prefix: "tn-agent-" });
    const n = new TestNode(dir, o.flags);
    try {
      await ip("netns", "add", n.netns);
      await ip("-n", n.netns, "link", "set", "lo", "up");
      await o.beforeAgent?.(n);
      await n.startAgent();
    } catch (e) {
      await n.cleanup();
      throw e;
    }
    return n;
  }

  /** Replaces the agent's flags for its next start. */
  setFlags(flags: string[]): void {
    this.#flags = flags;
  }

  /** Starts (or restarts) the agent process and waits for its socket. */
  async startAgent(): Promise<void> {
    for (const f of [this.socket, this.conflist]) {
      try {
        Deno.removeSync(f);
      } catch { /* none */ }
    }
    this.agent = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        this.netns,
        DENO,
        "run",
        "-P=agent",
        `${ROOT}/roles/agent.ts`,
        "--node",
        "node-a",
        "--state-dir",
        this.stateDir,
        "--socket",
        this.socket,
        "--conflist-dir",
        this.conflistDir,
        "--log-level",
        "info",
        ...this.#flags,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const child = this.agent;
    const drain = async (s: ReadableStream<Uint8Array>) => {
      const d = new TextDecoder();
      for await (const c of s) this.agentLog += d.decode(c);
    };
    this.#logDone = Promise.all([drain(child.stdout), drain(child.stderr)]).then(() => {});
    // The conflist is written last, once the socket listens: the runtime's readiness signal.
    await waitFor(
      "the agent's conflist",
      () => exists(this.conflist) || this.agentLog.includes("exiting"),
    );
    if (!exists(this.socket)) throw new Error(`agent did not start:\n${this.agentLog}`);
  }

  /** Stops the agent: SIGTERM (clean) or SIGKILL (crash). */
  async stopAgent(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const a = this.agent;
    if (!a) return;
    this.agent = undefined;
    // `ip netns exec` execs the program, so the pid is the agent's own.
    try {
      a.kill(signal);
    } catch { /* already gone */ }
    await a.status;
    await this.#logDone;
  }

  /** Starts a role process (`deno run <args>`) inside the node namespace; stopped at cleanup. */
  startRole(args: string[]): Deno.ChildProcess {
    const p = new Deno.Command("ip", {
      args: ["netns", "exec", this.netns, DENO, "run", ...args],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.cleanups.push(async () => {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
      await p.status;
    });
    return p;
  }

  /** kubectl inside the node namespace, with the embedded API server's kubeconfig. */
  kubectl: NodeKubectl = (args, stdin) =>
    run("ip", [
      "netns",
      "exec",
      this.netns,
      "kubectl",
      "--kubeconfig",
      this.kubeconfig,
      "--cache-dir",
      `${this.dir}/kcache`,
      "--request-timeout=10s",
      ...args,
    ], { allowFail: true, ...(stdin !== undefined ? { stdin } : {}) });

  /**
   * Starts the embedded API server role inside the node namespace (its kubeconfig at
   * {@linkcode TestNode.kubeconfig}), waits until it answers and applies tern's CRDs.
   */
  async startApiServer(): Promise<void> {
    this.startRole([
      "-P=apiserver",
      `${ROOT}/roles/apiserver.ts`,
      "--listen",
      "127.0.0.1",
      "--port",
      "16443",
      "--kubeconfig",
      this.kubeconfig,
      "--log-level",
      "silent",
    ]);
    await waitFor(
      "the API server",
      async () => (await this.kubectl(["get", "ns", "default"])).code === 0,
      30_000,
    );
    const crds = await this.kubectl(["apply", "-f", `${ROOT}/crds/`]);
    if (crds.code !== 0) throw new Error(`applying the CRDs failed: ${crds.stderr}`);
  }

  /** Applies objects (as one `List`) with kubectl; throws with kubectl's stderr on failure. */
  async apply(objects: unknown[]): Promise<void> {
    const r = await this.kubectl(
      ["apply", "--validate=false", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
    );
    if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
  }

  /** Creates a pod namespace; returns its path. */
  async pod(name: string): Promise<string> {
    const ns = `${this.id}-${name}`;
    await ip("netns", "add", ns);
    this.pods.push(ns);
    return `/run/netns/${ns}`;
  }

  /** Removes a pod namespace (as the runtime does after DEL). */
  async removePod(path: string): Promise<void> {
    const ns = path.slice("/run/netns/".length);
    await run("ip", ["netns", "del", ns], { allowFail: true });
  }

  /** The tern network configuration as the runtime passes it for one plugin. */
  conf(extra: Record<string, unknown> = {}, version = "1.0.0"): Record<string, unknown> {
    return { cniVersion: version, name: "tern", type: "tern", socket: this.socket, ...extra };
  }

  /** Runs the tern plugin as a container runtime does. */
  async plugin(
    command: string,
    conf: Record<string, unknown> | string,
    vars: Record<string, string> = {},
  ): Promise<PluginRun> {
    const env: Record<string, string> = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      CNI_COMMAND: command,
      CNI_PATH: "/usr/lib/cni",
      ...vars,
    };
    for (const k of ["HOME", "DENO_DIR"]) {
      const v = Deno.env.get(k);
      if (v) env[k] = v;
    }
    const [cmd, ...args] = pluginCommand(DENO, ROOT);
    const r = await run(cmd!, args, {
      stdin: typeof conf === "string" ? conf : JSON.stringify(conf),
      env,
      allowFail: true,
    });
    let json: unknown;
    try {
      json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
    } catch {
      json = undefined;
    }
    return { code: r.code, json, stdout: r.stdout };
  }

  /** ADD for a container in a pod namespace. */
  add(containerId: string, netns: string, conf = this.conf(), extra: Record<string, string> = {}) {
    return this.plugin("ADD", conf, {
      CNI_CONTAINERID: containerId,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      ...extra,
    });
  }

  /** DEL for a container. */
  del(containerId: string, netns?: string, conf = this.conf()) {
    return this.plugin("DEL", conf, {
      CNI_CONTAINERID: containerId,
      CNI_IFNAME: "eth0",
      ...(netns ? { CNI_NETNS: netns } : {}),
    });
  }

  /** GET on the agent's API (inside the node namespace), as JSON. */
  // deno-lint-ignore no-explicit-any
  async api(path: string): Promise<any> {
    return JSON.parse(await this.http(path));
  }

  /** GET on the agent's inspection server (inside the node namespace), as text. */
  async http(path: string): Promise<string> {
    const all = [...this.agentLog.matchAll(/"url":"(http:\/\/127\.0\.0\.1:\d+)\/debug\/"/g)];
    const m = all[all.length - 1]; // the latest incarnation of the agent
    if (!m) throw new Error("the agent's inspection URL is not in its log");
    const r = await run("ip", ["netns", "exec", this.netns, "curl", "-sf", `${m[1]}${path}`]);
    return r.stdout;
  }

  /** The allocations on disk. */
  // deno-lint-ignore no-explicit-any
  state(): any[] {
    try {
      return JSON.parse(Deno.readTextFileSync(`${this.stateDir}/allocations.json`)).allocations;
    } catch {
      return [];
    }
  }

  /** Stops the agent and removes every namespace and file. */
  async cleanup(): Promise<void> {
    await this.stopAgent("SIGKILL").catch(() => {});
    for (const f of this.cleanups.reverse()) await f().catch(() => {});
    for (const p of this.pods) await run("ip", ["netns", "del", p], { allowFail: true });
    await run("ip", ["netns", "del", this.netns], { allowFail: true });
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Runs `body` on a new {@linkcode TestNode}, cleaning it up afterwards (also after a failure). */
export async function withNode(o: NodeOptions, body: (node: TestNode) => Promise<void>) {
  const node = await TestNode.create(o);
  try {
    await body(node);
  } finally {
    await node.cleanup();
  }
}
