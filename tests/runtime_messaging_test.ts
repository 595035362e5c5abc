import assert from "node:assert/strict";
import {
  actor,
  ActorCrashedError,
  ActorStoppedError,
  AskTimeoutError,
  MailboxFullError,
  type MailboxOptions,
  type ReplyTo,
  supervisor,
} from "../runtime/mod.ts";
import { probe, type ProbeMsg, settle, testSystem } from "./runtime_fixtures.ts";

type CounterMsg =
  | { type: "add"; n: number }
  | { type: "get"; replyTo: ReplyTo<number> }
  | { type: "never"; replyTo: ReplyTo<number> };

const counter = actor<CounterMsg>("counter", () => {
  let total = 0;
  return {
    receive(msg) {
      if (msg.type === "add") total += msg.n;
      else if (msg.type === "get") msg.replyTo.reply(total);
      // "never" is deliberately left unanswered
    },
  };
});

Deno.test("tell delivers in order and ask returns the typed reply", async () => {
  const { system } = testSystem();
  const ref = await system.start(counter);
  for (let i = 1; i <= 100; i++) ref.tell({ type: "add", n: i });
  const total = await ref.ask<number>((replyTo) => ({ type: "get", replyTo }));
  assert.equal(total, 5050);
  await system.shutdown();
});

Deno.test("ask rejects with AskTimeoutError after its timeout (controlled time)", async () => {
  const { system, clock } = testSystem();
  const ref = await system.start(counter);
  const p = ref.ask<number>((replyTo) => ({ type: "never", replyTo }), { timeoutMs: 250 });
  let settled = false;
  p.catch(() => {}).finally(() => (settled = true));
  clock.advance(200);
  await settle();
  assert.equal(settled, false, "must not time out early");
  clock.advance(60);
  await assert.rejects(p, (e) => e instanceof AskTimeoutError && e.timeoutMs === 250);
  assert.equal(system.pendingAsks, 0);
  await system.shutdown();
});

Deno.test("messages to a stopped actor become counted dead letters and never throw", async () => {
  const { system } = testSystem();
  const events: string[] = [];
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "p", def: probe("p", events), restart: "transient" }],
  }));
  const ref = system.lookup<ProbeMsg>("/t/p")!;
  ref.tell({ type: "exit" });
  await settle();
  assert.equal(system.lookup("/t/p"), undefined, "a transient child that exits is removed");
  const before = system.deadLetters;
  ref.tell({ type: "note", value: "late" }); // must not throw
  ref.tell({ type: "note", value: "later" });
  assert.equal(system.deadLetters, before + 2);
  await assert.rejects(
    ref.ask<string>((replyTo) => ({ type: "ping", replyTo })),
    ActorStoppedError,
  );
  assert.equal(system.deadLetters, before + 3);
  await system.shutdown();
});

Deno.test("an ask whose message crashes the actor rejects with ActorCrashedError", async () => {
  const { system } = testSystem();
  type Msg = { type: "bad"; replyTo: ReplyTo<number> };
  const ref = await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{
      id: "a",
      def: actor<Msg>("bad", () => ({
        receive() {
          throw new Error("nope");
        },
      })),
    }],
  }));
  void ref;
  const a = system.lookup<Msg>("/t/a")!;
  await assert.rejects(a.ask<number>((replyTo) => ({ type: "bad", replyTo })), ActorCrashedError);
  await system.shutdown();
});

/** An actor that blocks on a gate so its mailbox fills up. */
function gated(log: number[], gate: Promise<void>) {
  return actor<{ n: number; replyTo?: ReplyTo<number> }>("gated", () => ({
    async receive(msg) {
      await gate;
      log.push(msg.n);
      msg.replyTo?.reply(msg.n);
    },
  }));
}

/** A system whose one actor `/t/g` blocks on a gate, with the given mailbox. */
async function gatedTree(mailbox: MailboxOptions) {
  const { system } = testSystem();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const log: number[] = [];
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "g", def: gated(log, gate), mailbox }],
  }));
  const ref = system.lookup<{ n: number; replyTo?: ReplyTo<number> }>("/t/g")!;
  return { system, ref, log, open };
}

Deno.test("overflow drop_newest keeps the first messages", async () => {
  const { system, ref, log, open } = await gatedTree({ capacity: 3, overflow: "drop_newest" });
  ref.tell({ n: 0 }); // taken at once, blocks on the gate
  await settle();
  for (let i = 1; i <= 6; i++) ref.tell({ n: i });
  open();
  await settle();
  assert.deepEqual(log, [0, 1, 2, 3]);
  assert.equal(system.snapshot().root!.children[0]!.mailbox.dropped, 3);
  await system.shutdown();
});

Deno.test("overflow drop_oldest keeps the last messages and fails an evicted ask", async () => {
  const { system, ref, log, open } = await gatedTree({ capacity: 3, overflow: "drop_oldest" });
  ref.tell({ n: 0 });
  await settle();
  const evicted = ref.ask<number>((replyTo) => ({ n: 1, replyTo }));
  for (let i = 2; i <= 6; i++) ref.tell({ n: i });
  await assert.rejects(evicted, MailboxFullError);
  open();
  await settle();
  assert.deepEqual(log, [0, 4, 5, 6]);
  await system.shutdown();
});

Deno.test("overflow fail_sender throws MailboxFullError at the sender", async () => {
  const { system, ref, log, open } = await gatedTree({ capacity: 2, overflow: "fail_sender" });
  ref.tell({ n: 0 });
  await settle();
  ref.tell({ n: 1 });
  ref.tell({ n: 2 });
  assert.throws(() => ref.tell({ n: 3 }), MailboxFullError);
  await assert.rejects(ref.ask<number>((replyTo) => ({ n: 4, replyTo })), MailboxFullError);
  open();
  await settle();
  assert.deepEqual(log, [0, 1, 2]);
  await system.shutdown();
});

Deno.test("an async receive handles one message at a time while other actors run", async () => {
  const { system } = testSystem();
  const trace: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  type Msg = { type: "slow" | "fast"; tag: string };
  const slow = actor<Msg>("slow", () => ({
    async receive(msg) {
      trace.push(`begin:${msg.tag}`);
      if (msg.type === "slow") await gate;
      trace.push(`end:${msg.tag}`);
    },
  }));
  const other = actor<Msg>("other", () => ({
    receive(msg) {
      trace.push(`other:${msg.tag}`);
    },
  }));
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "s", def: slow }, { id: "o", def: other }],
  }));
  const s = system.lookup<Msg>("/t/s")!;
  const o = system.lookup<Msg>("/t/o")!;
  s.tell({ type: "slow", tag: "a" });
  s.tell({ type: "fast", tag: "b" });
  o.tell({ type: "fast", tag: "x" });
  await settle();
  assert.deepEqual(trace, ["begin:a", "other:x"]);
  release();
  await settle();
  assert.deepEqual(trace, ["begin:a", "other:x", "end:a", "begin:b", "end:b"]);
  await system.shutdown();
});

Deno.test("lookup by path finds every actor of the tree", async () => {
  const { system } = testSystem("agent");
  const events: string[] = [];
  await system.start(supervisor("agent", {
    strategy: "one_for_one",
    children: [{
      id: "bgp",
      def: supervisor("bgp", {
        strategy: "one_for_one",
        children: [{ id: "peer-192.0.2.1", def: probe("peer", events) }],
      }),
    }],
  }));
  const peer = system.lookup<ProbeMsg>("/agent/bgp/peer-192.0.2.1");
  assert.ok(peer);
  assert.equal(await peer.ask<string>((replyTo) => ({ type: "ping", replyTo })), "peer");
  assert.ok(system.lookup("/agent/bgp"));
  assert.equal(system.lookup("/agent/nothing"), undefined);
  await system.shutdown();
});
