import assert from "node:assert/strict";
import { AgentUnreachableError, type PluginIo, runPlugin } from "../actors/cni/plugin.ts";
import type { AgentRequest, AgentResponse } from "../actors/cni/protocol.ts";

function io(
  vars: Record<string, string>,
  stdin: string,
  agent?: (socket: string, r: AgentRequest) => AgentResponse,
): PluginIo & { calls: AgentRequest[] } {
  const calls: AgentRequest[] = [];
  return {
    calls,
    env: (n) => vars[n],
    readStdin: () => Promise.resolve(new TextEncoder().encode(stdin)),
    call: (socket, r) => {
      calls.push(r);
      if (!agent) return Promise.reject(new AgentUnreachableError(socket, "ENOENT"));
      return Promise.resolve(agent(socket, r));
    },
  };
}

const addEnv = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c1",
  CNI_IFNAME: "eth0",
  CNI_NETNS: "/run/netns/p",
  CNI_ARGS: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_UID=u",
};
const conf = JSON.stringify({ cniVersion: "0.4.0", name: "tern", type: "tern", socket: "/s.sock" });

Deno.test("plugin: ADD sends the attachment and prints the result in the config's version", async () => {
  const x = io(addEnv, conf, () => ({
    v: 1,
    ok: true,
    result: {
      interfaces: [{ name: "eth0", sandbox: "/run/netns/p" }],
      ips: [{ address: "198.18.0.2/32", gateway: "169.254.1.1", interface: 0 }],
      routes: [{ dst: "0.0.0.0/0", gw: "169.254.1.1" }],
      dns: {},
    },
  }));
  const out = await runPlugin(x);
  assert.equal(out.exitCode, 0);
  const r = JSON.parse(out.stdout);
  assert.equal(r.cniVersion, "0.4.0");
  assert.equal(r.ips[0].version, "4");
  const req = x.calls[0]!;
  assert.equal(req.op, "add");
  if (req.op !== "add") return;
  assert.deepEqual(req.attachment.pod, { namespace: "default", name: "web", uid: "u" });
  assert.equal(req.attachment.netns, "/run/netns/p");
});

Deno.test("plugin: an unreachable agent is code 11 (50 for STATUS), exit non-zero", async () => {
  const add = await runPlugin(io(addEnv, conf));
  assert.equal(add.exitCode, 1);
  assert.equal(JSON.parse(add.stdout).code, 11);
  assert.equal(JSON.parse(add.stdout).cniVersion, "0.4.0");
  const st = await runPlugin(io({ CNI_COMMAND: "STATUS" }, conf));
  assert.equal(JSON.parse(st.stdout).code, 50);
});

Deno.test("plugin: the agent's error is printed as the spec's error", async () => {
  const out = await runPlugin(
    io(
      addEnv,
      conf,
      () => ({ v: 1, ok: false, error: { code: 7, msg: "Unknown pool", details: "x" } }),
    ),
  );
  assert.equal(out.exitCode, 1);
  assert.deepEqual(JSON.parse(out.stdout), {
    cniVersion: "0.4.0",
    code: 7,
    msg: "Unknown pool",
    details: "x",
  });
});

Deno.test("plugin: bad input never reaches the agent", async () => {
  const cases: [Record<string, string>, string, number][] = [
    [{ ...addEnv, CNI_COMMAND: "NOPE" }, conf, 4],
    [addEnv, "{broken", 6],
    [addEnv, JSON.stringify({ cniVersion: "0.3.1", name: "tern", type: "tern" }), 1],
    [addEnv, JSON.stringify({ cniVersion: "1.0.0", name: "tern", type: "tern", ipam: {} }), 2],
    [addEnv, JSON.stringify({ cniVersion: "1.0.0", type: "tern" }), 7],
  ];
  for (const [vars, stdin, code] of cases) {
    const x = io(vars, stdin, () => assert.fail("must not be called"));
    const out = await runPlugin(x);
    assert.equal(out.exitCode, 1);
    assert.equal(JSON.parse(out.stdout).code, code, stdin);
    assert.equal(x.calls.length, 0);
  }
});

Deno.test("plugin: VERSION answers without config or agent; DEL and GC print nothing", async () => {
  const v = await runPlugin(io({ CNI_COMMAND: "VERSION" }, ""));
  assert.equal(v.exitCode, 0);
  assert.deepEqual(JSON.parse(v.stdout).supportedVersions, ["0.4.0", "1.0.0", "1.1.0"]);
  const okAgent = () => ({ v: 1, ok: true as const });
  const del = await runPlugin(io({ ...addEnv, CNI_COMMAND: "DEL", CNI_NETNS: "" }, conf, okAgent));
  assert.deepEqual(del, { stdout: "", exitCode: 0 });
  const gcConf = JSON.stringify({
    cniVersion: "1.1.0",
    name: "tern",
    type: "tern",
    "cni.dev/valid-attachments": [{ containerID: "c9", ifname: "eth0" }],
  });
  const x = io({ CNI_COMMAND: "GC" }, gcConf, okAgent);
  assert.deepEqual(await runPlugin(x), { stdout: "", exitCode: 0 });
  assert.deepEqual(x.calls[0], {
    v: 1,
    op: "gc",
    network: "tern",
    valid: [{ containerId: "c9", ifname: "eth0" }],
  });
});
