import assert from "node:assert/strict";

const fixture = new URL("./fixtures/role_that_gives_up.ts", import.meta.url).pathname;

function startRole(env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=ctl", fixture, "--log-level", "info"],
    env: { ...env, TERN_INSPECT_ADDRESS: "127.0.0.1:0" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return new TextDecoder().decode(value).split("\n")[0]!;
}

Deno.test("a role whose root gives up logs why and exits with status 1", async () => {
  const child = startRole({ CRASH_AFTER_MS: "100" });
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  assert.equal(status.code, 1);
  assert.match(stdout, /^inspect http:\/\/127\.0\.0\.1:\d+/);
  // Deno prints a warning about permission sets being experimental before the JSON lines.
  const lines = stderr.trim().split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l)
  );
  const last = lines.at(-1);
  assert.equal(last.level, "error");
  assert.match(last.msg, /root supervisor gave up/);
  assert.match(last.error, /RestartIntensityError.*the disk is on fire/);
  assert.equal(
    lines.filter((l) => l.msg === "actor crashed" && l.path === "/fixture/doomed").length,
    2,
  );
});

Deno.test("SIGTERM stops a role in order and exits 0; it serves /healthz until then", async () => {
  const child = startRole({});
  const url = (await firstLine(child.stdout)).replace("inspect ", "");
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  child.kill("SIGTERM");
  const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
  await child.stdout.cancel();
  assert.equal(status.code, 0);
  assert.match(stderr, /"msg":"stopping","why":"SIGTERM"/);
});
