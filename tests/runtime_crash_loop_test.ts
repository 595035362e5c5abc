import assert from "node:assert/strict";
import { actor, type ReplyTo, supervisor } from "../runtime/mod.ts";
import { settle, testSystem } from "./runtime_fixtures.ts";

type Msg = { type: "crash" } | { type: "ping"; replyTo: ReplyTo<number> };

Deno.test("a child crashed 1000 times: exact counts and flat memory", async () => {
  const { system } = testSystem();
  let starts = 0;
  let stops = 0;
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 1_000_000, withinMs: 1_000 },
    backoff: { initialMs: 0 },
    children: [{
      id: "w",
      def: actor<Msg>("crashy", (ctx) => {
        starts++;
        ctx.timers.every("t", 1_000, { type: "crash" }); // a timer per incarnation, too
        const ballast = new Uint8Array(64 * 1024); // per-incarnation state that must be freed
        return {
          receive(msg) {
            if (msg.type === "crash") throw new Error(`crash ${ballast.length}`);
            msg.replyTo.reply(starts);
          },
          stop() {
            stops++;
          },
        };
      }),
    }],
  }));
  const w = system.lookup<Msg>("/t/w")!;
  const crashRounds = async (n: number) => {
    for (let i = 0; i < n; i++) {
      w.tell({ type: "crash" });
      await settle(1);
    }
    await settle();
  };
  const heap = () => {
    // Each measurement after the same number of rounds, so garbage left per round shows up.
    return Deno.memoryUsage().heapUsed;
  };
  await crashRounds(200); // warm up
  const before = heap();
  await crashRounds(800);
  const after = heap();
  const snap = system.snapshot().root!.children[0]!;
  assert.equal(snap.restarts, 1000);
  assert.equal(snap.failures, 1000);
  assert.equal(starts, 1001);
  assert.equal(stops, 1000);
  assert.equal(await w.ask<number>((replyTo) => ({ type: "ping", replyTo })), 1001);
  // 800 incarnations each held 64 KiB: 50 MiB if any were retained. Allow GC noise.
  const grown = after - before;
  assert.ok(grown < 16 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);
  await system.shutdown();
});
