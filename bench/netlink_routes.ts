/**
 * Installs, then deletes, N IPv4 /32 routes in a fresh network namespace through tern's
 * route-table actor (batched netlink through libmnl) and through `ip -n NS -batch FILE`
 * (iproute2, one request and one ACK at a time), side by side, and prints a markdown table.
 *
 *   deno run -A bench/netlink_routes.ts [N=100000] [ROUNDS=3]
 *
 * Each round uses a fresh namespace per tool; the median round is reported. The kernel's route
 * count is checked with iproute2 after every phase (outside the timed part).
 */
import { ActorSystem, supervisor } from "../runtime/mod.ts";
import {
  loadNetlinkLibraries,
  type ReconcileReport,
  routeTable,
  type RouteTableMsg,
  type RouteTableView,
} from "../actors/netlink/mod.ts";

const N = Number(Deno.args[0] ?? 100_000);
const ROUNDS = Number(Deno.args[1] ?? 3);
const PROTO = 211;
const GW = "192.0.2.2";
if (N > 131_072) throw new Error("N must fit in 198.18.0.0/15");

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function freshNamespace(): Promise<string> {
  const ns = `tn-nl-bench-${crypto.randomUUID().slice(0, 6)}`;
  await sh("ip", ["netns", "add", ns]);
  await sh("ip", ["-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb"]);
  await sh("ip", ["-n", ns, "link", "set", "va", "up"]);
  await sh("ip", ["-n", ns, "link", "set", "vb", "up"]);
  await sh("ip", ["-n", ns, "addr", "add", "192.0.2.1/24", "dev", "va"]);
  return ns;
}

async function countRoutes(ns: string): Promise<number> {
  const text = await sh("ip", ["-n", ns, "route", "show", "proto", String(PROTO)]);
  return text.split("\n").filter((l) => l.trim()).length;
}

const dst = (i: number) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

interface Phase {
  install: number;
  remove: number;
  note?: string;
}

async function ternRound(): Promise<Phase> {
  const ns = await freshNamespace();
  const system = new ActorSystem({ name: "bench", logLevel: "error" });
  try {
    await system.start(supervisor("bench", {
      strategy: "one_for_one",
      children: [{
        id: "routes",
        def: routeTable({ netns: `/run/netns/${ns}`, protocol: PROTO }),
      }],
    }));
    const ref = system.lookup<RouteTableMsg>("/bench/routes")!;
    const sync = () =>
      ref.ask<ReconcileReport>((replyTo) => ({ type: "sync", replyTo }), { timeoutMs: 120_000 });
    await sync(); // started and idle
    const routes = Array.from({ length: N }, (_, i) => ({
      dst: `${dst(i)}/32`,
      nexthops: [{ gateway: GW }],
    }));
    let t0 = performance.now();
    ref.tell({ type: "replace_source", source: "bench", routes });
    const r1 = await sync();
    const install = (performance.now() - t0) / 1000;
    if (r1.added !== N || r1.failed) throw new Error(`install: ${JSON.stringify(r1)}`);
    if ((await countRoutes(ns)) !== N) throw new Error("install: kernel count differs");
    t0 = performance.now();
    ref.tell({ type: "replace_source", source: "bench", routes: [] });
    const r2 = await sync();
    const remove = (performance.now() - t0) / 1000;
    if (r2.deleted !== N || r2.failed) throw new Error(`remove: ${JSON.stringify(r2)}`);
    if ((await countRoutes(ns)) !== 0) throw new Error("remove: kernel count differs");
    const v = await ref.ask<RouteTableView>((replyTo) => ({ type: "get", replyTo }));
    return {
      install,
      remove,
      note: `full reconciles ${v.runs.full}, event overruns ${v.overruns}`,
    };
  } finally {
    await system.shutdown();
    await sh("ip", ["netns", "del", ns]);
  }
}

async function ipRound(): Promise<Phase & { flush: number }> {
  const ns = await freshNamespace();
  const file = await Deno.makeTempFile({ prefix: "tn-nl-bench-", suffix: ".batch" });
  try {
    const add: string[] = [];
    const del: string[] = [];
    for (let i = 0; i < N; i++) {
      add.push(`route add ${dst(i)}/32 via ${GW} proto ${PROTO}`);
      del.push(`route del ${dst(i)}/32 via ${GW} proto ${PROTO}`);
    }
    await Deno.writeTextFile(file, add.join("\n") + "\n");
    let t0 = performance.now();
    await sh("ip", ["-n", ns, "-batch", file]);
    const install = (performance.now() - t0) / 1000;
    if ((await countRoutes(ns)) !== N) throw new Error("ip install: kernel count differs");
    await Deno.writeTextFile(file, del.join("\n") + "\n");
    t0 = performance.now();
    await sh("ip", ["-n", ns, "-batch", file]);
    const remove = (performance.now() - t0) / 1000;
    if ((await countRoutes(ns)) !== 0) throw new Error("ip remove: kernel count differs");
    // the other way iproute2 removes many routes: flush (dump + deletes without ACKs)
    await Deno.writeTextFile(file, add.join("\n") + "\n");
    await sh("ip", ["-n", ns, "-batch", file]);
    t0 = performance.now();
    await sh("ip", ["-n", ns, "route", "flush", "proto", String(PROTO)]);
    const flush = (performance.now() - t0) / 1000;
    if ((await countRoutes(ns)) !== 0) throw new Error("ip flush: kernel count differs");
    return { install, remove, flush };
  } finally {
    await Deno.remove(file);
    await sh("ip", ["netns", "del", ns]);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

loadNetlinkLibraries();
const tern: Phase[] = [];
const ipb: (Phase & { flush: number })[] = [];
for (let r = 0; r < ROUNDS; r++) {
  ipb.push(await ipRound());
  tern.push(await ternRound());
}
const rate = (s: number) =>
  `${Math.round(N / s).toLocaleString("en-US")} routes/s (${s.toFixed(2)} s)`;
const ti = median(tern.map((p) => p.install));
const tr = median(tern.map((p) => p.remove));
const ii = median(ipb.map((p) => p.install));
const ir = median(ipb.map((p) => p.remove));
const fl = median(ipb.map((p) => p.flush));
console.log(
  `N = ${
    N.toLocaleString("en-US")
  } IPv4 /32 routes via a veth neighbour, median of ${ROUNDS} rounds, ` +
    `${new Date().toISOString().slice(0, 10)}\n`,
);
console.log("| phase   | tern route-table actor | `ip -batch` | ratio (tern/ip) |");
console.log("| ------- | ---------------------- | ----------- | --------------- |");
console.log(`| install | ${rate(ti)} | ${rate(ii)} | ${(ii / ti).toFixed(2)} |`);
console.log(`| delete  | ${rate(tr)} | ${rate(ir)} | ${(ir / tr).toFixed(2)} |`);
console.log(
  `\nFor reference, \`ip route flush proto ${PROTO}\` (dump, then deletes without ACKs): ${
    rate(fl)
  }; ` +
    `tern/flush ratio ${(fl / tr).toFixed(2)}.`,
);
console.log(`tern rounds: ${tern.map((p) => p.note).join("; ")}`);
console.log(
  `raw (s): tern install ${tern.map((p) => p.install.toFixed(3))}, delete ${
    tern.map((p) => p.remove.toFixed(3))
  }; ip install ${ipb.map((p) => p.install.toFixed(3))}, delete ${
    ipb.map((p) => p.remove.toFixed(3))
  }`,
);
