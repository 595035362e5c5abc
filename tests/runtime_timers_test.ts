import assert from "node:assert/strict";
import { actor, ActorSystem, type ReplyTo, supervisor } from "../runtime/mod.ts";
import { settle, testSystem, waitUntil } from "./runtime_fixtures.ts";

type TickMsg = { type: "tick" } | { type: "once" } | { type: "crash" } | {
  type: "count";
  replyTo: ReplyTo<{ ticks: number; once: number }>;
};

/** Counts periodic and one-shot timer deliveries; `ticks` is shared across incarnations. */
function ticker(shared: { ticks: number; once: number; incarnations: number }) {
  return actor<TickMsg>("ticker", (ctx) => {
    shared.incarnations++;
    ctx.timers.every("tick", 100, { type: "tick" });
    ctx.timers.once("once", 250, { type: "once" });
    return {
      receive(msg) {
        if (msg.type === "tick") shared.ticks++;
        else if (msg.type === "once") shared.once++;
        else if (msg.type === "crash") throw new Error("crash");
        else msg.replyTo.reply({ ticks: shared.ticks, once: shared.once });
      },
    };
  });
}

Deno.test("periodic and one-shot timers deliver to the actor on schedule", async () => {
  const { system, clock } = testSystem();
  const shared = { ticks: 0, once: 0, incarnations: 0 };
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "k", def: ticker(shared) }],
  }));
  for (let i = 0; i < 5; i++) {
    clock.advance(100);
    await settle();
  }
  assert.equal(shared.ticks, 5);
  assert.equal(shared.once, 1);
  await system.shutdown();
  assert.equal(clock.pending, 0, "no timer outlives the system");
});

Deno.test("timers die with the incarnation and are recreated by the restarted one", async () => {
  const { system, clock } = testSystem();
  const shared = { ticks: 0, once: 0, incarnations: 0 };
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "k", def: ticker(shared) }],
  }));
  clock.advance(150);
  await settle();
  assert.equal(shared.ticks, 1);
  system.lookup<TickMsg>("/t/k")!.tell({ type: "crash" });
  await settle();
  assert.equal(shared.incarnations, 2);
  // Exactly one periodic and one one-shot timer: the dead incarnation's are gone.
  assert.equal(clock.pending, 2);
  clock.advance(100);
  await settle();
  assert.equal(shared.ticks, 2, "one tick per period, not two");
  clock.advance(200);
  await settle();
  assert.equal(shared.once, 1, "the old one-shot never fired; the new one fired once");
  await system.shutdown();
  assert.equal(clock.pending, 0);
});

Deno.test("timers are cancelled when the actor stops", async () => {
  const { system, clock } = testSystem();
  const shared = { ticks: 0, once: 0, incarnations: 0 };
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "k", def: ticker(shared), restart: "temporary" }],
  }));
  assert.equal(clock.pending, 2);
  await system.lookup("/t")!.ask((replyTo) => ({ type: "terminate_child", id: "k", replyTo }));
  // Only the deadline of the ask just made is left (the ask wheel keeps one timer armed).
  assert.equal(clock.pending, 1);
  clock.advance(1_000);
  await settle();
  assert.equal(shared.ticks, 0);
  await system.shutdown();
});

Deno.test("a real-clock system leaves no timer or op behind after shutdown", async () => {
  // The ops and resources sanitizers of this test fail it if anything leaks.
  const system = new ActorSystem({ name: "real", logLevel: "silent" });
  const shared = { ticks: 0, once: 0, incarnations: 0 };
  await system.start(supervisor("real", {
    strategy: "one_for_one",
    children: [{ id: "k", def: ticker(shared), mailbox: { capacity: 100 } }],
  }));
  await waitUntil(() => shared.ticks >= 2, 5_000, "two real ticks");
  const k = system.lookup<TickMsg>("/real/k")!;
  const pending = k.ask((replyTo) => ({ type: "count", replyTo }), { timeoutMs: 60_000 });
  await pending;
  await system.shutdown();
});
