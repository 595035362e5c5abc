import assert from "node:assert/strict";
import { ipamCommands, runIpamCommand } from "../actors/ctl/ipam_commands.ts";

const fakeFetch = (bodies: Record<string, unknown>, status = 200): typeof fetch =>
  ((input: URL) =>
    Promise.resolve(
      new Response(JSON.stringify(bodies[input.pathname] ?? { error: "not found" }), {
        status: bodies[input.pathname] ? status : 404,
      }),
    )) as unknown as typeof fetch;

const api = {
  "/api/ipam/blocks": {
    blocks: [
      { pool: "default", block: "198.18.0.0/26", family: 4, capacity: 62, used: 3 },
      { pool: "default", block: "fd00:18::/122", family: 6, capacity: 63, used: 3 },
    ],
  },
  "/api/ipam/pods": {
    pods: [{
      containerId: "0123456789abcdef",
      ifname: "eth0",
      pod: { namespace: "default", name: "web-0" },
      pool: "default",
      addresses: [{ address: "198.18.0.1", block: "198.18.0.0/26" }, {
        address: "fd00:18::1",
        block: "fd00:18::/122",
      }],
      hostIfname: "tern0123456789a",
      created: "2026-11-23T00:00:00Z",
    }],
  },
};

Deno.test("ctl ipam blocks and pods: tables and JSON from the agent's API", async () => {
  const b = await runIpamCommand(["blocks"], { fetch: fakeFetch(api) });
  assert.equal(b.exitCode, 0);
  assert.equal(
    b.stdout,
    "POOL     BLOCK          FAMILY  USED  CAPACITY  FREE\n" +
      "default  198.18.0.0/26  IPv4    3     62        59\n" +
      "default  fd00:18::/122  IPv6    3     63        60\n",
  );
  const p = await runIpamCommand(["pods", "--agent", "http://127.0.0.1:1"], {
    fetch: fakeFetch(api),
  });
  assert.match(p.stdout, /^POD\s+CONTAINER\s+IFNAME\s+POOL\s+ADDRESSES\s+HOST-IF\n/);
  assert.match(
    p.stdout,
    /default\/web-0\s+0123456789ab\s+eth0\s+default\s+198\.18\.0\.1,fd00:18::1\s+tern0123456789a/,
  );
  const j = await runIpamCommand(["pods", "-o", "json"], { fetch: fakeFetch(api) });
  assert.deepEqual(JSON.parse(j.stdout), api["/api/ipam/pods"].pods);
});

Deno.test("ctl ipam: usage errors and an unreachable agent", async () => {
  assert.equal((await runIpamCommand([], { fetch: fakeFetch(api) })).exitCode, 2);
  assert.equal((await runIpamCommand(["frob"], { fetch: fakeFetch(api) })).exitCode, 2);
  assert.equal(
    (await runIpamCommand(["pods", "-o", "yaml"], { fetch: fakeFetch(api) })).exitCode,
    2,
  );
  const down = await runIpamCommand(["blocks"], {
    fetch: (() => Promise.reject(new TypeError("connection refused"))) as unknown as typeof fetch,
  });
  assert.equal(down.exitCode, 1);
  assert.match(down.stderr, /cannot reach the agent/);
});

Deno.test("ctl ipam: the command group for ctl's dispatcher", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = {
    api: "http://127.0.0.1:9",
    json: false,
    out: (l: string) => out.push(l),
    err: (l: string) => err.push(l),
    fetch: fakeFetch(api),
  };
  assert.equal(await ipamCommands.commands.blocks.run({ positional: [] }, ctx), 0);
  assert.match(out.join("\n"), /^POOL\s+BLOCK/);
  assert.equal(
    await ipamCommands.commands.pods.run({ positional: [] }, { ...ctx, json: true }),
    0,
  );
  assert.equal(JSON.parse(out[1]!)[0].containerId, "0123456789abcdef");
  assert.equal(await ipamCommands.commands.pods.run({ positional: ["x"] }, ctx), 2);
  assert.match(err.join("\n"), /usage: ctl ipam pods/);
});
