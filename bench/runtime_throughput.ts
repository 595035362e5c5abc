/**
 * Actor runtime throughput, side by side with a bare `queueMicrotask` chain doing the same work
 * (adding each message's number to a total): one-way tell (one producer, one actor), ask
 * ping-pong, and fan-in (1000 actors to one). Prints a markdown table with the ratios.
 *
 *   deno run -A bench/runtime_throughput.ts [messages]
 */
import { actor, ActorSystem, type ChildSpec, type ReplyTo, supervisor } from "../runtime/mod.ts";

const N = Number(Deno.args[0] ?? 5_000_000);
const ASKS = Math.min(N, 1_000_000);
const FAN_IN_ACTORS = 1000;

type SinkMsg = { type: "add"; n: number } | { type: "total"; replyTo: ReplyTo<number> };
const sink = actor<SinkMsg>("sink", () => {
  let total = 0;
  return {
    receive(msg) {
      if (msg.type === "add") total += msg.n;
      else msg.replyTo.reply(total);
    },
  };
});

type FeederMsg = { type: "go"; count: number; done: ReplyTo<void> };
function feeder(target: () => { tell(m: SinkMsg): void }) {
  return actor<FeederMsg>("feeder", () => ({
    receive(msg) {
      const t = target();
      for (let i = 0; i < msg.count; i++) t.tell({ type: "add", n: 1 });
      msg.done.reply();
    },
  }));
}

function rate(count: number, ms: number): number {
  return count / (ms / 1000);
}

async function baselineChain(count: number): Promise<number> {
  const t0 = performance.now();
  let total = 0;
  await new Promise<void>((resolve) => {
    let i = 0;
    const step = () => {
      total += 1;
      if (++i === count) resolve();
      else queueMicrotask(step);
    };
    queueMicrotask(step);
  });
  if (total !== count) throw new Error("baseline miscounted");
  return rate(count, performance.now() - t0);
}

async function oneWay(count: number): Promise<number> {
  const system = new ActorSystem({ name: "b", logLevel: "error" });
  await system.start(supervisor("b", {
    strategy: "one_for_one",
    children: [{ id: "sink", def: sink, mailbox: { capacity: 100_000 } }],
  }));
  const ref = system.lookup<SinkMsg>("/b/sink")!;
  const msg: SinkMsg = { type: "add", n: 1 };
  const t0 = performance.now();
  for (let sent = 0; sent < count;) {
    const chunk = Math.min(1_000, count - sent); // below one drain batch
    for (let i = 0; i < chunk; i++) ref.tell(msg);
    sent += chunk;
    await null; // let the actor drain
  }
  const total = await ref.ask<number>((replyTo) => ({ type: "total", replyTo }));
  const r = rate(count, performance.now() - t0);
  if (total !== count) throw new Error(`one-way miscounted: ${total}`);
  await system.shutdown();
  return r;
}

async function pingPong(count: number): Promise<number> {
  const system = new ActorSystem({ name: "b", logLevel: "error" });
  await system.start(supervisor("b", {
    strategy: "one_for_one",
    children: [{ id: "sink", def: sink }],
  }));
  const ref = system.lookup<SinkMsg>("/b/sink")!;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await ref.ask<number>((replyTo) => ({ type: "total", replyTo }));
  }
  const r = rate(count, performance.now() - t0);
  await system.shutdown();
  return r;
}

async function fanIn(count: number): Promise<number> {
  const system = new ActorSystem({ name: "b", logLevel: "error" });
  const children: ChildSpec[] = [{ id: "sink", def: sink, mailbox: { capacity: 2_000_000 } }];
  const target = () => system.lookup<SinkMsg>("/b/sink")!;
  for (let i = 0; i < FAN_IN_ACTORS; i++) {
    children.push({ id: `f${i}`, def: feeder(target) });
  }
  await system.start(supervisor("b", { strategy: "one_for_one", children }));
  const per = Math.floor(count / FAN_IN_ACTORS);
  const rounds = Math.max(1, Math.floor(per / 1000));
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      Array.from(
        { length: FAN_IN_ACTORS },
        (_, i) =>
          system.lookup<FeederMsg>(`/b/f${i}`)!.ask<void>((done) => ({
            type: "go",
            count: Math.floor(per / rounds),
            done,
          })),
      ),
    );
    await target().ask<number>((replyTo) => ({ type: "total", replyTo }), { timeoutMs: 60_000 });
  }
  const total = await target().ask<number>((replyTo) => ({ type: "total", replyTo }));
  const r = rate(total, performance.now() - t0);
  await system.shutdown();
  return r;
}

function fmt(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(0)} k/s`;
}

// Warm up the JIT on every path, then measure.
await baselineChain(200_000);
await oneWay(200_000);
await pingPong(50_000);
await fanIn(100_000);

const base = await baselineChain(N);
const one = await oneWay(N);
const ask = await pingPong(ASKS);
const fan = await fanIn(N);

console.log(`| scenario (N=${N}) | tern | bare queueMicrotask chain | ratio tern/baseline |`);
console.log("|---|---|---|---|");
console.log(
  `| one-way tell, 1 producer → 1 actor | ${fmt(one)} | ${fmt(base)} | ${
    (one / base).toFixed(2)
  } |`,
);
console.log(
  `| ask ping-pong (sequential round trips) | ${fmt(ask)} | ${fmt(base)} | ${
    (ask / base).toFixed(2)
  } |`,
);
console.log(
  `| fan-in, ${FAN_IN_ACTORS} actors → 1 | ${fmt(fan)} | ${fmt(base)} | ${
    (fan / base).toFixed(2)
  } |`,
);
