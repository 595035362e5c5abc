/** Shared helpers for the runtime tests. */
import { setImmediate } from "node:timers";
import {
  actor,
  type ActorDef,
  ActorSystem,
  type ActorSystemOptions,
  type Clock,
  type ExitReason,
  ManualClock,
  type ReplyTo,
} from "../runtime/mod.ts";

/** Lets every pending microtask and a few macrotasks run. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls `cond` until it holds, failing after `timeoutMs` of real time. */
export async function waitUntil(cond: () => boolean, timeoutMs = 5_000, what = "condition") {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await settle(1);
  }
}

/** A system with a manual clock and silent logs (unless TERN_TEST_LOGS is set). */
export function testSystem(
  name = "t",
  options: Partial<ActorSystemOptions> = {},
): { system: ActorSystem; clock: ManualClock } {
  const clock = new ManualClock(1_000_000);
  const system = new ActorSystem({
    name,
    clock: options.clock ?? clock,
    logLevel: Deno.env.get("TERN_TEST_LOGS") ? "debug" : "silent",
    random: () => 0.5,
    ...options,
  });
  return { system, clock: (options.clock as ManualClock | undefined) ?? clock };
}

/** Messages of the probe actor. */
export type ProbeMsg =
  | { type: "crash"; why?: string }
  | { type: "exit" }
  | { type: "ping"; replyTo: ReplyTo<string> }
  | { type: "note"; value: string };

/**
 * An actor that records its lifecycle into `events` as `start:<id>` and `stop:<id>:<reason>`,
 * crashes on `crash`, exits normally on `exit` and answers `ping` with its id.
 */
export function probe(id: string, events: string[], clock?: Clock): ActorDef<ProbeMsg> {
  return actor<ProbeMsg>("probe", (ctx) => {
    events.push(`start:${id}`);
    const notes: string[] = [];
    return {
      receive(msg) {
        switch (msg.type) {
          case "crash":
            throw new Error(msg.why ?? `crash of ${id}`);
          case "exit":
            ctx.stop();
            return;
          case "ping":
            msg.replyTo.reply(id);
            return;
          case "note":
            notes.push(msg.value);
            return;
        }
      },
      stop(reason: ExitReason) {
        events.push(`stop:${id}:${reason.kind}`);
        void clock;
      },
      inspect: () => ({ notes: notes.length }),
    };
  });
}
