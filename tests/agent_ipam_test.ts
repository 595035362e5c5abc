import assert from "node:assert/strict";
import { ActorSystem, ManualClock, supervisor } from "../runtime/mod.ts";
import { staticBlockSource } from "../actors/agent/block_source.ts";
import { parseAgentFlags } from "../actors/agent/config.ts";
import { type BlockUsage, nodeIpam, type NodeIpamMsg } from "../actors/agent/node_ipam.ts";
import type { RecordAddress } from "../actors/agent/records.ts";
import { allocationStore, type StoreMsg } from "../actors/agent/store.ts";

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

async function start(dir: string, flags: string[], clock = new ManualClock(1_000_000)) {
  const cfg = parseAgentFlags(flags, "node-a");
  const system = new ActorSystem({ name: "agent", clock, logLevel: "silent" });
  await system.start(supervisor("agent", {
    strategy: "rest_for_one",
    children: [
      { id: "store", def: allocationStore(dir, "node-a") },
      { id: "blocks", def: staticBlockSource(cfg.pools) },
      {
        id: "ipam",
        def: supervisor("ipam", {
          strategy: "one_for_one",
          children: cfg.pools.map((p) => ({
            id: `pool-${p.name}`,
            def: nodeIpam({
              pool: p.name,
              storePath: "/agent/store",
              sourcePath: "/agent/blocks",
              blockGraceMs: 10_000,
              sweepMs: 1_000,
            }),
          })),
        }),
      },
    ],
  }));
  const pool = (name: string) => system.lookup<NodeIpamMsg>(`/agent/ipam/pool-${name}`)!;
  const allocate = (name: string, owner: string) =>
    pool(name).ask<RecordAddress[]>((replyTo) => ({ type: "allocate", owner, replyTo }));
  const usage = (name: string) =>
    pool(name).ask<BlockUsage[]>((replyTo) => ({ type: "usage", replyTo }));
  const store = system.lookup<StoreMsg>("/agent/store")!;
  return { system, clock, pool, allocate, usage, store };
}

type Agent = Awaited<ReturnType<typeof start>>;

/** Runs `body` on an agent with these `pool=cidr` static blocks, in a fresh state directory. */
async function withAgent(blocks: string[], body: (t: Agent) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tn-agent-ipam-" });
  const t = await start(dir, blocks.flatMap((b) => ["--static-block", b]));
  try {
    await body(t);
  } finally {
    await t.system.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("node ipam: dual-stack pods get one address per family, lowest first", async () => {
  await withAgent(["default=198.18.0.0/29", "default=fd00:18::/125"], async (t) => {
    assert.deepEqual(await t.allocate("default", "c1/eth0"), [
      { address: "198.18.0.1", block: "198.18.0.0/29" },
      { address: "fd00:18::1", block: "fd00:18::/125" },
    ]);
    assert.deepEqual(await t.allocate("default", "c2/eth0"), [
      { address: "198.18.0.2", block: "198.18.0.0/29" },
      { address: "fd00:18::2", block: "fd00:18::/125" },
    ]);
    // idempotent for the same owner
    assert.equal((await t.allocate("default", "c1/eth0"))[0]!.address, "198.18.0.1");
  });
});

Deno.test("node ipam: a full block brings another; an exhausted pool fails and keeps nothing", async () => {
  // /30 blocks: 2 usable addresses each (network and broadcast are never handed out)
  await withAgent(["p=198.18.0.0/30", "p=198.18.0.4/30"], async (t) => {
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push((await t.allocate("p", `c${i}/eth0`))[0]!.address);
    assert.deepEqual(got, ["198.18.0.1", "198.18.0.2", "198.18.0.5", "198.18.0.6"]);
    assert.deepEqual((await t.usage("p")).map((u) => [u.block, u.used]), [
      ["198.18.0.0/30", 2],
      ["198.18.0.4/30", 2],
    ]);
    await assert.rejects(t.allocate("p", "c9/eth0"), /in use/);
    assert.equal((await t.usage("p")).reduce((n, u) => n + u.used, 0), 4);
  });
});

Deno.test("node ipam: a dual-stack pod whose IPv6 side is exhausted keeps no IPv4 address", async () => {
  await withAgent(["p=198.18.0.0/29", "p=fd00:18::/127"], async (t) => {
    await t.allocate("p", "a/eth0");
    await t.allocate("p", "b/eth0");
    await assert.rejects(t.allocate("p", "c/eth0"));
    const u = await t.usage("p");
    assert.equal(u.find((x) => x.family === 4)!.used, 2, "c's IPv4 address was given back");
  });
});

Deno.test("node ipam: empty blocks go back after the grace period", async () => {
  await withAgent(["p=198.18.0.0/30", "p=198.18.0.4/30"], async (t) => {
    for (let i = 0; i < 3; i++) await t.allocate("p", `c${i}/eth0`);
    await t.pool("p").ask<string[]>((replyTo) => ({ type: "release", owner: "c2/eth0", replyTo }));
    assert.equal((await t.usage("p")).length, 2);
    t.clock.advance(5_000);
    await settle();
    assert.equal((await t.usage("p")).length, 2, "still within the grace period");
    t.clock.advance(6_000);
    await settle();
    assert.deepEqual((await t.usage("p")).map((u) => u.block), ["198.18.0.0/30"]);
    // the returned block can be had again
    assert.equal((await t.allocate("p", "c7/eth0"))[0]!.address, "198.18.0.5");
  });
});

Deno.test("node ipam: a restarted agent rebuilds from the store and gives nothing twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tn-agent-ipam-" });
  const flags = ["--static-block", "p=198.18.0.0/29"];
  const now = new Date().toISOString();
  let t = await start(dir, flags);
  try {
    for (const c of ["a", "b", "c"]) {
      const addresses = await t.allocate("p", `${c}/eth0`);
      await t.store.ask<void>((replyTo) => ({
        type: "put",
        record: {
          containerId: c,
          ifname: "eth0",
          network: "tern",
          pool: "p",
          addresses,
          hostIfname: "x",
          created: now,
        },
        replyTo,
      }));
    }
    await t.store.ask<boolean>((replyTo) => ({ type: "remove", key: "b/eth0", replyTo }));
    await t.system.shutdown();
    t = await start(dir, flags);
    const u = await t.usage("p");
    assert.equal(u[0]!.used, 2, "a and c are held again, b is free");
    assert.equal((await t.allocate("p", "d/eth0"))[0]!.address, "198.18.0.2");
    assert.equal((await t.allocate("p", "a/eth0"))[0]!.address, "198.18.0.1");
  } finally {
    await t.system.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
