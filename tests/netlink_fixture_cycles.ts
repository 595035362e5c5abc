/**
 * Run by `netlink_scale_test.ts` with `--v8-flags=--expose-gc`: adds and removes N routes through
 * the route-table actor C times inside the namespace at argv[0] and prints, as JSON, the heap in
 * use after a full GC and the open fds after each cycle.
 */
import { ActorSystem, supervisor } from "../runtime/mod.ts";
import { type ReconcileReport, routeTable, type RouteTableMsg } from "../actors/netlink/mod.ts";
import { openFds } from "./netlink_fixtures.ts";

const [path, nText, cText] = Deno.args;
const n = Number(nText);
const cycles = Number(cText);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

const routes = Array.from({ length: n }, (_, i) => ({
  dst: `198.18.${(i >> 8) & 255}.${i & 255}/32`,
  nexthops: [{ gateway: "192.0.2.2" }],
}));
const heap: number[] = [];
const fdCounts: number[] = [];
const installed: number[] = [];
for (let c = 0; c < cycles; c++) {
  const system = new ActorSystem({ name: "cyc", logLevel: "silent" });
  await system.start(supervisor("cyc", {
    strategy: "one_for_one",
    children: [{ id: "rt", def: routeTable({ netns: path, protocol: 211 }) }],
  }));
  const ref = system.lookup<RouteTableMsg>("/cyc/rt")!;
  const sync = () =>
    ref.ask<ReconcileReport>((replyTo) => ({ type: "sync", replyTo }), { timeoutMs: 60_000 });
  ref.tell({ type: "replace_source", source: "bulk", routes });
  installed.push((await sync()).installed);
  ref.tell({ type: "replace_source", source: "bulk", routes: [] });
  installed.push((await sync()).installed);
  await system.shutdown();
  gc();
  await new Promise((r) => setTimeout(r, 10));
  gc();
  heap.push(Deno.memoryUsage().heapUsed);
  fdCounts.push(openFds());
}
console.log(JSON.stringify({ heap, fds: fdCounts, installed }));
