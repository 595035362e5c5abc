/**
 * How the plugin is launched and its start-up path: the shell launcher runs exactly the flags of
 * `actors/cni/launch.ts`, a large stdin is read whole by the synchronous reader, and the client's
 * deadline (an `AbortSignal.timeout`, not `setTimeout`) still cuts off an agent that never answers.
 */
import assert from "node:assert/strict";
import { callAgent } from "../actors/cni/client.ts";
import { pluginCommand, pluginDenoFlags } from "../actors/cni/launch.ts";
import { AgentUnreachableError } from "../actors/cni/plugin.ts";
import { run } from "./agent_fixtures.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
const LAUNCHER = `${ROOT}/actors/cni/tern_cni.sh`;

function env(extra: Record<string, string>): Record<string, string> {
  const e: Record<string, string> = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...extra };
  for (const k of ["HOME", "DENO_DIR"]) {
    const v = Deno.env.get(k);
    if (v) e[k] = v;
  }
  return e;
}

Deno.test("cni launch: the shell launcher execs exactly pluginCommand's flags", () => {
  const text = Deno.readTextFileSync(LAUNCHER);
  const exec = text.split("\n").find((l) => l.startsWith("exec "));
  assert.ok(exec, "the launcher has an exec line");
  const words = exec.replaceAll('"', "").split(" ");
  assert.deepEqual(words, ["exec", "$deno", ...pluginDenoFlags("$root"), "$root/roles/cni.ts"]);
  assert.deepEqual(pluginCommand("deno", "/r").slice(0, 3), ["deno", "run", "-P=cni"]);
});

Deno.test("cni launch: launcher and pluginCommand answer VERSION alike", async () => {
  const vars = env({ CNI_COMMAND: "VERSION", TERN_DENO: DENO });
  const conf = JSON.stringify({ cniVersion: "0.4.0" });
  const viaShell = await run(LAUNCHER, [], { stdin: conf, env: vars });
  const [cmd, ...args] = pluginCommand(DENO, ROOT);
  const direct = await run(cmd!, args, { stdin: conf, env: vars });
  assert.equal(viaShell.stdout, direct.stdout);
  assert.deepEqual(JSON.parse(direct.stdout), {
    cniVersion: "0.4.0",
    supportedVersions: ["0.4.0", "1.0.0", "1.1.0"],
  });
  // --quiet: no Deno diagnostics for the runtime's log
  assert.equal(viaShell.stderr, "");
});

Deno.test("cni launch: a stdin larger than one read is read whole", async () => {
  // 300 KiB of configuration: several reads of the 64 KiB buffer; the cniVersion comes last.
  const pad = "x".repeat(300 * 1024);
  const conf = `{"pad":"${pad}","cniVersion":"1.0.0"}`;
  const [cmd, ...args] = pluginCommand(DENO, ROOT);
  const r = await run(cmd!, args, { stdin: conf, env: env({ CNI_COMMAND: "VERSION" }) });
  assert.equal(JSON.parse(r.stdout).cniVersion, "1.0.0");
  // and an empty stdin is an empty configuration (VERSION falls back to the latest version)
  const e = await run(cmd!, args, { stdin: "", env: env({ CNI_COMMAND: "VERSION" }) });
  assert.equal(JSON.parse(e.stdout).cniVersion, "1.1.0");
});

Deno.test("cni client: an agent that never answers is cut off at the deadline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tn-cni-" });
  const path = `${dir}/agent.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c); // accepts, never answers
  })();
  try {
    // A guard so that a broken deadline fails the test instead of hanging it.
    let guard: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      callAgent(path, { v: 1, op: "status", network: "tern" }, 200).then(
        () => "answered",
        (e: unknown) => e,
      ),
      new Promise((r) => guard = setTimeout(() => r("no deadline"), 15_000)),
    ]);
    clearTimeout(guard);
    assert.ok(outcome instanceof AgentUnreachableError, String(outcome));
    assert.equal(outcome.socket, path);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});
