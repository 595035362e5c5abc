/**
 * The demo as a user runs it (`./ternw demo`, here with `--smoke`): the simulated cluster comes
 * up, the sample manifests apply, the samples' pods run and answer each other across nodes, and
 * everything is removed afterwards.
 */
import assert from "node:assert/strict";
import { namespacesWithPrefix } from "../actors/sim/topology.ts";

Deno.test("e2e demo: --smoke brings the samples up, checks them, removes everything", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", `${root}deno.json`, "-P=demo", `${root}roles/demo.ts`, "--smoke"],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `demo failed:\n${stdout}\n${stderr}`);
  assert.match(stdout, /applying manifests\/samples/);
  assert.doesNotMatch(stderr, /kubectl apply/, "every sample applies");
  assert.match(stdout, /pods Running/);
  assert.match(stdout, /smoke check passed/);
  if (stdout.includes("starting the controller")) {
    assert.match(stdout, /the client reached [0-9.]+: .*test-lb\/app-0/);
  }
  const prefix = /simulated cluster (tn-demo-[0-9a-f]+)/.exec(stdout)?.[1] ??
    /network (tn-demo-[0-9a-f]+)/.exec(stdout)?.[1];
  assert.ok(prefix, "the demo names its run");
  assert.deepEqual(await namespacesWithPrefix(prefix), [], "namespaces left behind");
});
