import assert from "node:assert/strict";
import { AgentConfigError, parseAgentFlags } from "../actors/agent/config.ts";
import { renderConflist } from "../actors/agent/conflist.ts";
import { KeyedQueue } from "../actors/agent/keyed_queue.ts";
import { choosePool } from "../actors/agent/pool_choice.ts";
import { decodeState, encodeState, StateFileError } from "../actors/agent/records.ts";
import { loadState } from "../actors/agent/store.ts";
import { hostIfnameFor } from "../actors/agent/wiring.ts";
import { BadAnnotationError } from "../actors/ipam/mod.ts";

Deno.test("agent flags: static blocks make pools, the first is auto unless named", () => {
  const c = parseAgentFlags([
    "--node",
    "n1",
    "--state-dir=/var/lib/t",
    "--static-block",
    "blue=198.18.0.0/28",
    "--static-block",
    "red=198.18.1.0/28",
    "--static-block",
    "red=fd00:1::/124",
    "--auto-pool",
    "red",
    "--mtu",
    "1400",
    "--chain",
    "portmap,tuning",
  ], "host");
  assert.equal(c.node, "n1");
  assert.equal(c.stateDir, "/var/lib/t");
  assert.equal(c.mtu, 1400);
  assert.deepEqual(c.chain, ["portmap", "tuning"]);
  assert.deepEqual(c.pools.map((p) => [p.name, p.auto, p.blocks.map(String)]), [
    ["blue", false, ["198.18.0.0/28"]],
    ["red", true, ["198.18.1.0/28", "fd00:1::/124"]],
  ]);
  assert.equal(parseAgentFlags(["--static-block", "a=198.18.0.0/28"], "h").pools[0]!.auto, true);
  const blocks = ["--static-block", "a=198.18.0.0/28"];
  assert.equal(parseAgentFlags(blocks, "h").routeRetainMs, 10_000);
  assert.equal(parseAgentFlags([...blocks, "--route-retain-ms", "0"], "h").routeRetainMs, 0);
  for (const v of ["-1", "abc", "3600001"]) {
    assert.throws(
      () => parseAgentFlags([...blocks, "--route-retain-ms", v], "h"),
      AgentConfigError,
      v,
    );
  }
});

Deno.test("agent flags: bad values are AgentConfigError quoting the value", () => {
  const bad = [
    ["--mtu", "9"],
    ["--mtu", "abc"],
    ["--state-dir", "relative"],
    ["--static-block", "blue"],
    ["--static-block", "blue=198.18.0.1/28"],
    ["--static-block", "Blue=198.18.0.0/28"],
    ["--static-block", "a=198.18.0.0/28", "--static-block", "b=198.18.0.0/29"],
    ["--auto-pool", "nope"],
    ["--chain", "rm-rf"],
    ["--frobnicate", "1"],
    ["--node"],
  ];
  for (const args of bad) {
    assert.throws(() => parseAgentFlags(args, "h"), AgentConfigError, args.join(" "));
  }
  try {
    parseAgentFlags(["--mtu", "9"], "h");
  } catch (e) {
    assert.match((e as Error).message, /"9"/);
  }
});

Deno.test("pool choice: config, then pod, then namespace, then auto", () => {
  const ann = (p: string) => ({ "tern.dev/addresspool": p });
  assert.deepEqual(
    choosePool({
      explicit: "x",
      podAnnotations: ann("p"),
      namespaceAnnotations: ann("n"),
      autoPool: "a",
    }),
    { pool: "x", origin: "config" },
  );
  assert.deepEqual(
    choosePool({ podAnnotations: ann("p"), namespaceAnnotations: ann("n"), autoPool: "a" }),
    { pool: "p", origin: "pod" },
  );
  assert.deepEqual(
    choosePool({ podAnnotations: {}, namespaceAnnotations: ann("n"), autoPool: "a" }),
    { pool: "n", origin: "namespace" },
  );
  assert.deepEqual(choosePool({ autoPool: "a" }), { pool: "a", origin: "auto" });
  assert.equal(choosePool({}), undefined);
  assert.throws(() => choosePool({ podAnnotations: ann("a,b") }), BadAnnotationError);
});

Deno.test("state file: round trip, and refusal of damaged files", () => {
  const rec = {
    containerId: "c1",
    ifname: "eth0",
    network: "tern",
    netns: "/run/netns/p",
    pod: { namespace: "ns", name: "p" },
    pool: "default",
    addresses: [{ address: "198.18.0.1", block: "198.18.0.0/28" }],
    hostIfname: "tern0123456789a",
    created: "2026-11-23T00:00:00.000Z",
  };
  const text = encodeState("n1", [rec]);
  assert.deepEqual(decodeState(text), { node: "n1", records: [rec] });
  for (
    const bad of [
      "",
      "{",
      '{"format":2,"node":"n","allocations":[]}',
      '{"format":1,"node":"n","allocations":[{"containerId":"c"}]}',
      text.replace('"198.18.0.1"', "7"),
    ]
  ) {
    assert.throws(() => decodeState(bad), StateFileError, bad.slice(0, 40));
  }
});

Deno.test("host interface names: tern + 11 hex digits, stable, distinct for close ids", () => {
  const a = hostIfnameFor("cp1", "eth0");
  assert.match(a, /^tern[0-9a-f]{11}$/);
  assert.equal(a, hostIfnameFor("cp1", "eth0"));
  assert.notEqual(a, hostIfnameFor("cp2", "eth0"));
  assert.notEqual(a, hostIfnameFor("cp1", "net1"));
  const names = new Set<string>();
  for (let i = 0; i < 10_000; i++) names.add(hostIfnameFor(`container-${i}`, "eth0"));
  assert.equal(names.size, 10_000);
});

Deno.test("keyed queue: one key runs in order, different keys overlap", async () => {
  const q = new KeyedQueue();
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const a1 = q.run("a", async () => {
    log.push("a1 start");
    await gate;
    log.push("a1 end");
  });
  const a2 = q.run("a", () => {
    log.push("a2");
    return Promise.resolve();
  });
  const b1 = q.run("b", () => {
    log.push("b1");
    return Promise.resolve();
  });
  await b1;
  assert.deepEqual(log, ["a1 start", "b1"], "b does not wait for a");
  release();
  await Promise.all([a1, a2]);
  assert.deepEqual(log, ["a1 start", "b1", "a1 end", "a2"]);
  const failing = q.run("c", () => Promise.reject(new Error("x")));
  await assert.rejects(failing);
  assert.equal(await q.run("c", () => Promise.resolve(5)), 5, "a failure does not block the key");
});

Deno.test("conflist: tern first, then the chained plugins, in the configured version", () => {
  const c = parseAgentFlags(["--chain", "portmap,bandwidth,tuning", "--mtu", "1450"], "h");
  const l = renderConflist(c) as { cniVersion: string; name: string; plugins: { type: string }[] };
  assert.equal(l.cniVersion, "1.0.0");
  assert.equal(l.name, "tern");
  assert.deepEqual(l.plugins.map((p) => p.type), ["tern", "portmap", "bandwidth", "tuning"]);
  assert.deepEqual(l.plugins[0], { type: "tern", socket: "/run/tern/cni.sock", mtu: 1450 });
});

Deno.test("state file: another node's file or a damaged one is refused, none is empty", () => {
  const dir = Deno.makeTempDirSync({ prefix: "tn-agent-state-" });
  try {
    assert.deepEqual(loadState(dir, "n1"), []);
    Deno.writeTextFileSync(`${dir}/allocations.json`, encodeState("n2", []));
    assert.throws(() => loadState(dir, "n1"), StateFileError);
    assert.deepEqual(loadState(dir, "n2"), []);
    Deno.writeTextFileSync(`${dir}/allocations.json`, '{"format":1,"node":"n1","alloc');
    assert.throws(() => loadState(dir, "n1"), StateFileError);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
