import assert from "node:assert/strict";
import { ActorSystem, supervisor } from "../runtime/mod.ts";
import type { AttachmentService } from "../actors/agent/attachments.ts";
import { cniServer } from "../actors/agent/cni_server.ts";
import { callAgent } from "../actors/cni/client.ts";
import { AgentUnreachableError } from "../actors/cni/plugin.ts";
import type { AgentRequest, AgentResponse } from "../actors/cni/protocol.ts";

async function raw(socket: string, text: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    await conn.write(new TextEncoder().encode(text));
    let out = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return out;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test("cni server: serves requests concurrently, answers bad ones, cuts idle clients", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tn-agent-srv-" });
  const socket = `${dir}/run/cni.sock`;
  let inFlight = 0;
  let maxInFlight = 0;
  const seen: AgentRequest[] = [];
  const fake = {
    async handle(req: AgentRequest): Promise<AgentResponse> {
      seen.push(req);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      return { v: 1, ok: true };
    },
  } as unknown as AttachmentService;
  const system = new ActorSystem({ name: "agent", logLevel: "silent" });
  await system.start(supervisor("agent", {
    strategy: "one_for_one",
    children: [{ id: "cni", def: cniServer({ socket, service: () => fake, readTimeoutMs: 200 }) }],
  }));
  try {
    assert.equal(Deno.statSync(socket).mode! & 0o777, 0o600, "socket mode 0600");
    const reqs = Array.from({ length: 10 }, (_, i): AgentRequest => ({
      v: 1,
      op: "del",
      attachment: { containerId: `c${i}`, ifname: "eth0", network: "tern" },
    }));
    const res = await Promise.all(reqs.map((r) => callAgent(socket, r)));
    assert.ok(res.every((r) => r.ok));
    assert.ok(maxInFlight > 1, "no global lock in the server");
    assert.equal(seen.length, 10);
    const bad = JSON.parse(await raw(socket, "not json\n"));
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, 6);
    // An idle client is disconnected without an answer.
    assert.equal(await raw(socket, ""), "");
    await system.shutdown();
    await assert.rejects(
      callAgent(socket, reqs[0]!),
      (e) => e instanceof AgentUnreachableError,
      "the socket is gone once the server stops",
    );
  } finally {
    await system.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
