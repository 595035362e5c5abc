/**
 * The simulated cluster's long-running processes (API server, controller, agents, stand-in
 * speakers, the node simulator runner): started detached in their namespace, logging to a file,
 * with a pid file and a recipe file in the run directory so any later command (`sim down`, a
 * test's cleanup, a fault injection) can find, kill and restart them.
 * @module
 */
import { run } from "./exec.ts";
import { killAndWait } from "./topology.ts";

/** How to start a process. */
export interface ProcSpec {
  /** Unique name in the run (`apiserver`, `agent-node-1`, …). */
  name: string;
  argv: string[];
  /** Network namespace (absent: the root namespace). */
  ns?: string;
  env?: Record<string, string>;
  /** Where it serves its inspection page, when it has one. */
  inspectUrl?: string;
}

/** Files of a process. */
export function procFiles(runDir: string, name: string) {
  const dir = `${runDir}/procs`;
  return {
    dir,
    pid: `${dir}/${name}.pid`,
    log: `${dir}/${name}.log`,
    spec: `${dir}/${name}.json`,
  };
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Starts a process detached (own session), appending its output to its log file. */
export async function startProc(runDir: string, spec: ProcSpec): Promise<number> {
  const f = procFiles(runDir, spec.name);
  await Deno.mkdir(f.dir, { recursive: true });
  await Deno.writeTextFile(f.spec, JSON.stringify(spec, null, 2));
  const argv = spec.ns ? ["ip", "netns", "exec", spec.ns, ...spec.argv] : spec.argv;
  const envs = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${shq(v)}`).join(" ");
  const script = `echo $$ > ${shq(f.pid)}; exec env ${envs} ${argv.map(shq).join(" ")} >> ${
    shq(f.log)
  } 2>&1 < /dev/null`;
  await run(["setsid", "-f", "sh", "-c", script]);
  for (let i = 0; i < 100; i++) {
    const pid = await readPid(f.pid);
    if (pid !== undefined) return pid;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process ${spec.name} did not start (no pid file ${f.pid})`);
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of a running process of the run, if it runs. */
export async function procPid(runDir: string, name: string): Promise<number | undefined> {
  const pid = await readPid(procFiles(runDir, name).pid);
  if (pid === undefined) return undefined;
  try {
    Deno.kill(pid, "SIGCONT");
    return pid;
  } catch {
    return undefined;
  }
}

/** Stops a process: `SIGTERM` then `SIGKILL`, or `SIGKILL` at once when `hard`. */
export async function stopProc(runDir: string, name: string, hard = false): Promise<void> {
  const pid = await procPid(runDir, name);
  if (pid !== undefined) {
    if (hard) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await killAndWait(pid);
  }
  await Deno.remove(procFiles(runDir, name).pid).catch(() => {});
}

/** Starts a stopped process again from its recorded spec. */
export async function restartProc(runDir: string, name: string): Promise<number> {
  await stopProc(runDir, name);
  const spec = JSON.parse(await Deno.readTextFile(procFiles(runDir, name).spec)) as ProcSpec;
  return await startProc(runDir, spec);
}

/** Every recorded process of a run, with whether it runs. */
export async function listProcs(
  runDir: string,
): Promise<Array<ProcSpec & { pid: number | undefined }>> {
  const out: Array<ProcSpec & { pid: number | undefined }> = [];
  try {
    for await (const e of Deno.readDir(`${runDir}/procs`)) {
      if (!e.name.endsWith(".json")) continue;
      const spec = JSON.parse(await Deno.readTextFile(`${runDir}/procs/${e.name}`)) as ProcSpec;
      out.push({ ...spec, pid: await procPid(runDir, spec.name) });
    }
  } catch { /* no procs */ }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The last `lines` lines of a process's log (for error messages). */
export async function tailLog(runDir: string, name: string, lines = 20): Promise<string> {
  try {
    const t = await Deno.readTextFile(procFiles(runDir, name).log);
    return t.split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "";
  }
}
