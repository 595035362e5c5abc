import assert from "node:assert/strict";
import {
  actor,
  type ActorRef,
  backoffDelay,
  type ChildSpec,
  type ExitReason,
  RestartIntensityError,
  type Strategy,
  supervisor,
  type Terminated,
} from "../runtime/mod.ts";
import { probe, type ProbeMsg, settle, testSystem } from "./runtime_fixtures.ts";

async function treeOf(strategy: Strategy, events: string[], restart: ChildSpec["restart"]) {
  const env = testSystem();
  await env.system.start(supervisor("t", {
    strategy,
    intensity: { maxRestarts: 10, withinMs: 1_000 },
    children: ["a", "b", "c"].map((id) => ({
      id,
      def: probe(id, events),
      ...(restart ? { restart } : {}),
    })),
  }));
  return env;
}

function crash(system: ReturnType<typeof testSystem>["system"], path: string) {
  system.lookup<ProbeMsg>(path)!.tell({ type: "crash" });
}

Deno.test("children start in order", async () => {
  const events: string[] = [];
  const { system } = await treeOf("one_for_one", events, "permanent");
  assert.deepEqual(events, ["start:a", "start:b", "start:c"]);
  await system.shutdown();
});

Deno.test("one_for_one restarts only the crashed child", async () => {
  const events: string[] = [];
  const { system } = await treeOf("one_for_one", events, "permanent");
  events.length = 0;
  crash(system, "/t/b");
  await settle();
  assert.deepEqual(events, ["stop:b:error", "start:b"]);
  const b = system.snapshot().root!.children[1]!;
  assert.equal(b.restarts, 1);
  assert.equal(b.failures, 1);
  assert.match(b.lastFailure!.error, /crash of b/);
  assert.equal(system.snapshot().root!.children[0]!.restarts, 0);
  await system.shutdown();
});

Deno.test("one_for_all stops the others in reverse order, then starts all in order", async () => {
  const events: string[] = [];
  const { system } = await treeOf("one_for_all", events, "permanent");
  events.length = 0;
  crash(system, "/t/b");
  await settle();
  assert.deepEqual(events, [
    "stop:b:error",
    "stop:c:shutdown",
    "stop:a:shutdown",
    "start:a",
    "start:b",
    "start:c",
  ]);
  assert.deepEqual(system.snapshot().root!.children.map((c) => c.restarts), [1, 1, 1]);
  await system.shutdown();
});

Deno.test("rest_for_one restarts the crashed child and those started after it", async () => {
  const events: string[] = [];
  const { system } = await treeOf("rest_for_one", events, "permanent");
  events.length = 0;
  crash(system, "/t/b");
  await settle();
  assert.deepEqual(events, ["stop:b:error", "stop:c:shutdown", "start:b", "start:c"]);
  assert.deepEqual(system.snapshot().root!.children.map((c) => c.restarts), [0, 1, 1]);
  await system.shutdown();
});

Deno.test("transient: a normal exit is not restarted, a crash is", async () => {
  const events: string[] = [];
  const { system } = await treeOf("one_for_one", events, "transient");
  events.length = 0;
  crash(system, "/t/a");
  await settle();
  assert.deepEqual(events, ["stop:a:error", "start:a"]);
  events.length = 0;
  system.lookup<ProbeMsg>("/t/a")!.tell({ type: "exit" });
  await settle();
  assert.deepEqual(events, ["stop:a:normal"]);
  assert.deepEqual(system.snapshot().root!.children.map((c) => c.id), ["b", "c"]);
  await system.shutdown();
});

Deno.test("temporary: never restarted, not even after a crash", async () => {
  const events: string[] = [];
  const { system } = await treeOf("one_for_one", events, "temporary");
  events.length = 0;
  crash(system, "/t/a");
  await settle();
  assert.deepEqual(events, ["stop:a:error"]);
  assert.equal(system.lookup("/t/a"), undefined);
  await system.shutdown();
});

Deno.test("permanent: restarted even after a normal exit", async () => {
  const events: string[] = [];
  const { system } = await treeOf("one_for_one", events, "permanent");
  events.length = 0;
  system.lookup<ProbeMsg>("/t/c")!.tell({ type: "exit" });
  await settle();
  assert.deepEqual(events, ["stop:c:normal", "start:c"]);
  await system.shutdown();
});

Deno.test("exceeding the restart intensity fails the supervisor and escalates to its parent", async () => {
  const events: string[] = [];
  const { system, clock } = testSystem("top");
  const seen: Terminated[] = [];
  type WMsg = { type: "t"; t: Terminated };
  await system.start(supervisor("top", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 1, withinMs: 60_000 },
    children: [
      {
        id: "mid",
        def: supervisor("mid", {
          strategy: "one_for_one",
          intensity: { maxRestarts: 2, withinMs: 1_000 },
          backoff: { initialMs: 0 },
          children: [{ id: "w", def: probe("w", events) }, { id: "x", def: probe("x", events) }],
        }),
      },
      {
        id: "watcher",
        def: actor<WMsg>("watcher", (ctx) => {
          ctx.watch(ctx.lookup("/top/mid")!, (t) => ({ type: "t", t }));
          return { receive: (m) => void seen.push(m.t) };
        }),
      },
    ],
  }));
  for (let i = 0; i < 3; i++) {
    crash(system, "/top/mid/w");
    await settle();
    clock.advance(10);
  }
  await settle();
  // Two restarts were allowed; the third crash made "mid" give up, stopping x in reverse order.
  assert.deepEqual(events.filter((e) => e.startsWith("stop")), [
    "stop:w:error",
    "stop:w:error",
    "stop:w:error",
    "stop:x:shutdown",
  ]);
  const midExit = seen.find((t) => t.reason.kind === "error");
  assert.ok(midExit, "the parent's watcher saw mid fail");
  assert.ok((midExit.reason as { error: unknown }).error instanceof RestartIntensityError);
  // The top supervisor restarted mid, which started its children afresh.
  const mid = system.snapshot().root!.children[0]!;
  assert.equal(mid.restarts, 1);
  assert.equal(mid.state, "running");
  assert.deepEqual(mid.children.map((c) => [c.id, c.state]), [["w", "running"], [
    "x",
    "running",
  ]]);
  await system.shutdown();
});

Deno.test("when the root gives up, the system ends with the error", async () => {
  const events: string[] = [];
  const { system } = testSystem("root");
  await system.start(supervisor("root", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 0, withinMs: 1_000 },
    children: [{ id: "w", def: probe("w", events) }],
  }));
  crash(system, "/root/w");
  const reason = await system.whenTerminated();
  assert.equal(reason.kind, "error");
  assert.ok((reason as { error: unknown }).error instanceof RestartIntensityError);
  assert.equal(system.snapshot().root, null);
  await system.shutdown();
});

Deno.test("restart backoff grows exponentially, is bounded, and resets after a quiet period", async () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((l) =>
      backoffDelay(l, { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0 })
    ),
    [0, 100, 200, 400, 800, 1_000, 1_000],
  );
  const jittered = [0, 0.25, 0.999].map((r) =>
    backoffDelay(3, { initialMs: 100, maxMs: 10_000, jitter: 0.2 }, () => r)
  );
  assert.ok(jittered.every((d) => d >= 320 && d <= 480), `jitter spread: ${jittered}`);

  const events: string[] = [];
  const { system, clock } = testSystem();
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 100, withinMs: 1_000 },
    backoff: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0, resetAfterMs: 5_000 },
    children: [{ id: "w", def: probe("w", events) }],
  }));
  const starts = () => events.filter((e) => e === "start:w").length;
  const expectRestartAfter = async (delay: number) => {
    const before = starts();
    crash(system, "/t/w");
    await settle();
    if (delay === 0) {
      assert.equal(starts(), before + 1, "immediate restart");
      return;
    }
    assert.equal(system.snapshot().root!.children[0]!.state, "restarting");
    clock.advance(delay - 1);
    await settle();
    assert.equal(starts(), before, `not restarted before ${delay} ms`);
    clock.advance(1);
    await settle();
    assert.equal(starts(), before + 1, `restarted at ${delay} ms`);
  };
  await expectRestartAfter(0);
  await expectRestartAfter(100);
  await expectRestartAfter(200);
  await expectRestartAfter(400);
  await expectRestartAfter(400); // bounded
  clock.advance(5_000); // quiet period: forgotten
  await expectRestartAfter(0);
  await system.shutdown();
});

Deno.test("shutdown stops children in reverse start order, nested trees depth first", async () => {
  const events: string[] = [];
  const { system } = testSystem();
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [
      { id: "a", def: probe("a", events) },
      {
        id: "sub",
        def: supervisor("sub", {
          strategy: "one_for_one",
          children: [{ id: "s1", def: probe("s1", events) }, {
            id: "s2",
            def: probe("s2", events),
          }],
        }),
      },
      { id: "c", def: probe("c", events) },
    ],
  }));
  events.length = 0;
  await system.shutdown();
  assert.deepEqual(events, [
    "stop:c:shutdown",
    "stop:s2:shutdown",
    "stop:s1:shutdown",
    "stop:a:shutdown",
  ]);
  assert.equal(system.exitReason?.kind, "shutdown");
});

Deno.test("a child that does not stop within its shutdown time is killed", async () => {
  const { system, clock } = testSystem();
  const events: string[] = [];
  let releaseHook!: () => void;
  const stuck = actor<{ type: "x" }>("stuck", () => ({
    receive() {},
    stop: () => new Promise<void>((r) => (releaseHook = r)),
  }));
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [
      { id: "a", def: probe("a", events) },
      { id: "s", def: stuck, shutdown: 500 },
    ],
  }));
  events.length = 0;
  const done = system.shutdown();
  await settle();
  assert.deepEqual(events, [], "a waits until s is gone");
  clock.advance(499);
  await settle();
  assert.deepEqual(events, []);
  clock.advance(1);
  await done;
  assert.deepEqual(events, ["stop:a:shutdown"]);
  releaseHook();
});

Deno.test("brutal_kill skips the stop hook", async () => {
  const { system } = testSystem();
  const events: string[] = [];
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "a", def: probe("a", events), shutdown: "brutal_kill" }],
  }));
  await system.shutdown();
  assert.deepEqual(events, ["start:a"]);
});

Deno.test("a monitor receives Terminated with the reason, for restarts and final stops", async () => {
  const { system } = testSystem();
  const events: string[] = [];
  const seen: Terminated[] = [];
  type WMsg = { type: "down"; t: Terminated };
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [
      { id: "a", def: probe("a", events), restart: "transient" },
      {
        id: "w",
        def: actor<WMsg>("watcher", (ctx) => {
          ctx.watch(ctx.lookup("/t/a")!, (t) => ({ type: "down", t }));
          const ghost = { path: "/t/ghost", tell() {} } as unknown as ActorRef<never>;
          ctx.watch(ghost, (t) => ({
            type: "down",
            t,
          }));
          return { receive: (m) => void seen.push(m.t) };
        }),
      },
    ],
  }));
  await settle();
  crash(system, "/t/a");
  await settle();
  system.lookup<ProbeMsg>("/t/a")!.tell({ type: "exit" });
  await settle();
  const summary = seen.map((t) => [t.path, t.reason.kind, t.restarting]);
  assert.deepEqual(summary, [
    ["/t/ghost", "noproc", false],
    ["/t/a", "error", true],
    ["/t/a", "normal", false],
  ]);
  const err = seen[1]!.reason as Extract<ExitReason, { kind: "error" }>;
  assert.match(String(err.error), /crash of a/);
  await system.shutdown();
});

Deno.test("dynamic children: startChild, duplicate ids refused, terminateChild", async () => {
  const { system } = testSystem();
  const events: string[] = [];
  type Msg = { type: "add"; id: string } | { type: "remove"; id: string };
  const errors: string[] = [];
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{
      id: "owner",
      def: actor<Msg>("owner", (ctx) => ({
        async receive(msg) {
          try {
            if (msg.type === "add") {
              await ctx.parent!.startChild({ id: msg.id, def: probe(msg.id, events) });
            } else await ctx.parent!.terminateChild(msg.id);
          } catch (e) {
            errors.push((e as Error).name);
          }
        },
      })),
    }],
  }));
  const owner = system.lookup<Msg>("/t/owner")!;
  owner.tell({ type: "add", id: "peer-192.0.2.1" });
  owner.tell({ type: "add", id: "peer-192.0.2.2" });
  owner.tell({ type: "add", id: "peer-192.0.2.1" });
  owner.tell({ type: "add", id: "bad/id" });
  owner.tell({ type: "remove", id: "peer-192.0.2.1" });
  owner.tell({ type: "remove", id: "nobody" });
  await settle(20);
  assert.deepEqual(events, [
    "start:peer-192.0.2.1",
    "start:peer-192.0.2.2",
    "stop:peer-192.0.2.1:shutdown",
  ]);
  assert.deepEqual(errors, ["DuplicateChildError", "InvalidChildIdError", "UnknownChildError"]);
  assert.deepEqual(system.snapshot().root!.children.map((c) => c.id), ["owner", "peer-192.0.2.2"]);
  // A dynamic child crashing is restarted alone; its siblings do not notice.
  crash(system, "/t/peer-192.0.2.2");
  await settle();
  assert.deepEqual(events.slice(-2), ["stop:peer-192.0.2.2:error", "start:peer-192.0.2.2"]);
  await system.shutdown();
});

Deno.test("a failing start function counts as a crash and is retried", async () => {
  const { system } = testSystem();
  let attempts = 0;
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    backoff: { initialMs: 0 },
    children: [{
      id: "flaky",
      def: actor<never>("flaky", () => {
        attempts++;
        if (attempts < 3) throw new Error("not yet");
        return { receive() {} };
      }),
    }],
  }));
  await settle(10);
  assert.equal(attempts, 3);
  const flaky = system.snapshot().root!.children[0]!;
  assert.equal(flaky.state, "running");
  assert.equal(flaky.restarts, 2);
  await system.shutdown();
});
