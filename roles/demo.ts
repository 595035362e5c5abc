/**
 * The demo: starts tern's processes on this machine and prints where to look.
 *
 * Today it runs the actor runtime's own showcase tree (a worker that crashes on a schedule under
 * a supervisor, so the live page shows restarts as they happen); later issues grow it into the
 * simulated cluster. Stop it with Ctrl-C.
 */
import { actor, runRole, supervisor, takeCommonFlags } from "../runtime/mod.ts";

type ChaosMsg = { type: "tick" };

/** A worker that crashes every `everyMs`, to show supervision at work. */
function chaos(everyMs: number) {
  return actor<ChaosMsg>("chaos-monkey", (ctx) => {
    ctx.timers.once("crash", everyMs, { type: "tick" });
    return {
      receive() {
        throw new Error(`scheduled crash after ${everyMs} ms (restart ${ctx.restarts + 1})`);
      },
    };
  });
}

type HeartbeatMsg = { type: "beat" };

/** A worker that counts heartbeats, to show a healthy neighbour that never notices. */
const heartbeat = actor<HeartbeatMsg>("heartbeat", (ctx) => {
  let beats = 0;
  ctx.timers.every("beat", 1_000, { type: "beat" });
  return {
    receive() {
      beats++;
    },
    inspect: () => ({ beats }),
  };
});

const { common } = takeCommonFlags(Deno.args);
await runRole({
  name: "demo",
  common,
  required: ["/demo/healthy/heartbeat"],
  root: supervisor("demo", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 20, withinMs: 60_000 },
    children: [
      {
        id: "healthy",
        def: supervisor("healthy", {
          strategy: "one_for_one",
          children: [{ id: "heartbeat", def: heartbeat }],
        }),
      },
      {
        id: "chaos",
        def: supervisor("chaos", {
          strategy: "one_for_one",
          intensity: { maxRestarts: 10, withinMs: 60_000 },
          backoff: { initialMs: 500, maxMs: 4_000 },
          children: [{ id: "monkey", def: chaos(3_000) }],
        }),
      },
    ],
  }),
  onStarted: ({ inspectUrl }) => {
    console.log(`tern demo running. Supervision tree: ${inspectUrl}/debug/`);
    console.log(`  JSON: ${inspectUrl}/debug/supervision   metrics: ${inspectUrl}/metrics`);
    console.log("Press Ctrl-C to stop.");
  },
});
