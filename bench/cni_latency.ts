/**
 * CNI ADD and DEL latency, tern against the reference chain `ptp` + `host-local` (Debian's
 * containernetworking-plugins), side by side in one run, on real network namespaces.
 *
 *   deno run -A bench/cni_latency.ts [--n 200] [--concurrency 20] [--burst 100] [--baseline DIR]
 *
 * `--baseline DIR` also runs the plugin of another checkout (e.g. `/work/main`, the plugin before
 * a change) the way it was launched before `actors/cni/launch.ts` (`deno run -P=cni`), in the
 * sequential ADD/DEL and start-up measures, against this checkout's agent, in the same run.
 *
 * Both tools run as a container runtime runs them: one process per operation, configuration on
 * stdin, `CNI_*` in the environment, entered into the benchmark's "node" namespace with
 * `nsenter --net` (the same cost for both). Pod namespaces are made beforehand and are not timed.
 * Also measured: the plugin's start-up alone (VERSION, no agent involved), the agent's own share
 * (the same ADD/DEL sent over the socket from this process, no plugin process), and a 100-pod
 * burst (all ADDs at once). Prints a markdown table with ratios (tern / reference).
 */
import { callAgent } from "../actors/cni/client.ts";
import { pluginCommand } from "../actors/cni/launch.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();

function flag(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}
const N = flag("n", 200);
const CONC = flag("concurrency", 20);
const BURST = flag("burst", 100);
const baselineAt = Deno.args.indexOf("--baseline");
const BASE = baselineAt >= 0 ? Deno.args[baselineAt + 1]!.replace(/\/$/, "") : undefined;

const id = `tn-bench-${crypto.randomUUID().slice(0, 6)}`;
const nodeNs = `${id}-node`;
const dir = await Deno.makeTempDir({ prefix: "tn-bench-" });
const socket = `${dir}/cni.sock`;

async function sh(cmd: string, args: string[], stdin?: string, env?: Record<string, string>) {
  const p = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(env ? { env, clearEnv: true } : {}),
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await p.output();
  return { code: o.code, out: new TextDecoder().decode(o.stdout) };
}

const baseEnv: Record<string, string> = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
for (const k of ["HOME", "DENO_DIR"]) {
  const v = Deno.env.get(k);
  if (v) baseEnv[k] = v;
}

type Tool = "tern" | "ref" | "base";
/** The tools of the sequential and start-up measures. */
const TOOLS: Tool[] = BASE ? ["tern", "base", "ref"] : ["tern", "ref"];
/** The plugin of the baseline checkout, launched as it was before `launch.ts`. */
const baseCommand =
  () => [DENO, "run", "-P=cni", "--config", `${BASE}/deno.json`, `${BASE}/roles/cni.ts`];
const ternConf = JSON.stringify({ cniVersion: "1.0.0", name: "tern", type: "tern", socket });
const refConf = JSON.stringify({
  cniVersion: "1.0.0",
  name: "ref",
  type: "ptp",
  ipMasq: false,
  ipam: {
    type: "host-local",
    subnet: "198.19.0.0/16",
    routes: [{ dst: "0.0.0.0/0" }],
    dataDir: `${dir}/host-local`,
  },
});

/** One plugin invocation as a runtime makes it; returns its wall time in ms. */
async function op(tool: Tool, command: string, cid: string, netns?: string): Promise<number> {
  const env = {
    ...baseEnv,
    CNI_COMMAND: command,
    CNI_CONTAINERID: cid,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/usr/lib/cni",
    ...(netns ? { CNI_NETNS: netns } : {}),
  };
  const args = [
    `--net=/run/netns/${nodeNs}`,
    ...(tool === "tern"
      ? pluginCommand(DENO, ROOT)
      : tool === "base"
      ? baseCommand()
      : ["/usr/lib/cni/ptp"]),
  ];
  const t0 = performance.now();
  const r = await sh("nsenter", args, tool === "ref" ? refConf : ternConf, env);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${tool} ${command} ${cid} failed: ${r.out}`);
  return ms;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

const pods: Record<Tool, string[]> = { tern: [], ref: [], base: [] };
let agent: Deno.ChildProcess | undefined;
const rows: [string, string, string, string][] = [];
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const row = (name: string, t: number, r: number | undefined) =>
  rows.push([
    name,
    fmt(t),
    r === undefined ? "—" : fmt(r),
    r === undefined ? "—" : (t / r).toFixed(2),
  ]);

try {
  const load0 = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  await sh("ip", ["netns", "add", nodeNs]);
  await sh("ip", ["-n", nodeNs, "link", "set", "lo", "up"]);
  const size = Math.max(N, BURST);
  for (const t of TOOLS) {
    for (let i = 0; i < (t === "base" ? N : size); i++) {
      const ns = `${id}-${t}${i}`;
      await sh("ip", ["netns", "add", ns]);
      pods[t].push(`/run/netns/${ns}`);
    }
  }
  agent = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      nodeNs,
      DENO,
      "run",
      "-P=agent",
      `${ROOT}/roles/agent.ts`,
      "--node=bench",
      `--state-dir=${dir}/state`,
      `--socket=${socket}`,
      `--conflist-dir=${dir}/net.d`,
      "--log-level=warn",
      ...[0, 1, 2, 3].map((b) => `--static-block=default=198.18.${b}.0/24`),
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0; i < 500; i++) {
    try {
      Deno.statSync(`${dir}/net.d/10-tern.conflist`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // Warm-up (module cache, first veth), not counted.
  for (const t of TOOLS) {
    await op(t, "ADD", "warm", pods[t][0]);
    await op(t, "DEL", "warm", pods[t][0]);
  }

  // Sequential, interleaved so both see the same machine load.
  const seq = {
    tern: { add: [] as number[], del: [] as number[] },
    ref: { add: [] as number[], del: [] as number[] },
    base: { add: [] as number[], del: [] as number[] },
  };
  for (let i = 0; i < N; i++) {
    for (const t of TOOLS) {
      seq[t].add.push(await op(t, "ADD", `${t === "base" ? "bs" : "s"}${i}`, pods[t][i]));
    }
  }
  for (let i = 0; i < N; i++) {
    for (const t of TOOLS) {
      seq[t].del.push(await op(t, "DEL", `${t === "base" ? "bs" : "s"}${i}`, pods[t][i]));
    }
  }
  row(`ADD median, ${N} sequential`, pct(seq.tern.add, 50), pct(seq.ref.add, 50));
  row(`ADD p99, ${N} sequential`, pct(seq.tern.add, 99), pct(seq.ref.add, 99));
  row(`DEL median, ${N} sequential`, pct(seq.tern.del, 50), pct(seq.ref.del, 50));
  row(`DEL p99, ${N} sequential`, pct(seq.tern.del, 99), pct(seq.ref.del, 99));
  if (BASE) {
    row(
      `ADD median, ${N} sequential, baseline plugin`,
      pct(seq.base.add, 50),
      pct(seq.ref.add, 50),
    );
    row(
      `DEL median, ${N} sequential, baseline plugin`,
      pct(seq.base.del, 50),
      pct(seq.ref.del, 50),
    );
  }

  // 20-way concurrent.
  const conc: Record<Tool, { add: number[]; del: number[] }> = {
    tern: { add: [], del: [] },
    ref: { add: [], del: [] },
    base: { add: [], del: [] },
  };
  for (const t of ["tern", "ref"] as Tool[]) {
    conc[t].add = await pool(N, CONC, (i) => op(t, "ADD", `c${i}`, pods[t][i]));
    conc[t].del = await pool(N, CONC, (i) => op(t, "DEL", `c${i}`, pods[t][i]));
  }
  row(`ADD median, ${CONC}-way concurrent`, pct(conc.tern.add, 50), pct(conc.ref.add, 50));
  row(`ADD p99, ${CONC}-way concurrent`, pct(conc.tern.add, 99), pct(conc.ref.add, 99));
  row(`DEL median, ${CONC}-way concurrent`, pct(conc.tern.del, 50), pct(conc.ref.del, 50));
  row(`DEL p99, ${CONC}-way concurrent`, pct(conc.tern.del, 99), pct(conc.ref.del, 99));

  // The burst: every ADD at once.
  const burst: Record<Tool, number> = { tern: 0, ref: 0, base: 0 };
  for (const t of ["tern", "ref"] as Tool[]) {
    const t0 = performance.now();
    await Promise.all(pods[t].slice(0, BURST).map((p, i) => op(t, "ADD", `b${i}`, p)));
    burst[t] = performance.now() - t0;
    await pool(BURST, CONC, (i) => op(t, "DEL", `b${i}`, pods[t][i]));
  }
  row(`${BURST}-pod burst, all ADDs done`, burst.tern, burst.ref);

  // Where tern's time goes: the plugin's start-up alone, and the agent's share alone.
  const start = { tern: [] as number[], ref: [] as number[], base: [] as number[] };
  for (let i = 0; i < 50; i++) {
    for (const t of TOOLS) {
      const args = t === "tern"
        ? pluginCommand(DENO, ROOT)
        : t === "base"
        ? baseCommand()
        : ["/usr/lib/cni/ptp"];
      const t0 = performance.now();
      await sh(args[0]!, args.slice(1), "{}", { ...baseEnv, CNI_COMMAND: "VERSION" });
      start[t].push(performance.now() - t0);
    }
  }
  row("plugin start-up (VERSION) median", pct(start.tern, 50), pct(start.ref, 50));
  if (BASE) {
    row(
      "plugin start-up (VERSION) median, baseline plugin",
      pct(start.base, 50),
      pct(start.ref, 50),
    );
  }
  const agentAdd: number[] = [];
  const agentDel: number[] = [];
  for (let i = 0; i < N; i++) {
    const a = { containerId: `a${i}`, ifname: "eth0", netns: pods.tern[i]!, network: "tern" };
    let t0 = performance.now();
    const r = await callAgent(socket, { v: 1, op: "add", attachment: a });
    agentAdd.push(performance.now() - t0);
    if (!r.ok) throw new Error(JSON.stringify(r));
    t0 = performance.now();
    await callAgent(socket, { v: 1, op: "del", attachment: a });
    agentDel.push(performance.now() - t0);
  }
  row("agent's share of ADD (socket, no plugin process) median", pct(agentAdd, 50), undefined);
  row("agent's share of DEL median", pct(agentDel, 50), undefined);
  const t0 = performance.now();
  await Promise.all(
    pods.tern.slice(0, BURST).map((p, i) =>
      callAgent(socket, {
        v: 1,
        op: "add",
        attachment: { containerId: `ab${i}`, ifname: "eth0", netns: p, network: "tern" },
      })
    ),
  );
  row(`agent's share of the ${BURST}-pod burst`, performance.now() - t0, undefined);
  const delTimes = await pool(BURST, CONC, async (i) => {
    const s = performance.now();
    await callAgent(socket, {
      v: 1,
      op: "del",
      attachment: { containerId: `ab${i}`, ifname: "eth0", network: "tern" },
    });
    return performance.now() - s;
  });
  row(`agent's share of DEL, ${CONC}-way concurrent, median`, pct(delTimes, 50), undefined);
  const load1 = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

  console.log(
    `\nCNI latency: tern vs ptp + host-local (${new Date().toISOString().slice(0, 10)}, ` +
      `load average ${load0} → ${load1})\n`,
  );
  console.log("| measure | tern | ptp + host-local | ratio |");
  console.log("| --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log(
    "\nTargets: ADD median ≤ 3x, DEL median ≤ 2x the reference; 100-pod burst ≤ 3 s.",
  );
} finally {
  if (agent) {
    try {
      agent.kill("SIGTERM");
    } catch { /* gone */ }
    await agent.status;
  }
  for (const t of TOOLS) {
    for (const p of pods[t]) await sh("ip", ["netns", "del", p.slice("/run/netns/".length)]);
  }
  await sh("ip", ["netns", "del", nodeNs]);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
