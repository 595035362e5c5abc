import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, describeError, supervisor } from "../runtime/mod.ts";
import {
  type DesiredRoute,
  NetlinkInputError,
  type ReconcileReport,
  type RouteInfo,
  routeTable,
  type RouteTableMsg,
  type RouteTableOptions,
  type RouteTableView,
} from "../actors/netlink/mod.ts";
import { basicLinks, ip, nsPath, routes, waitFor, withNamespaces } from "./netlink_fixtures.ts";

const PROTO = 211;

async function withTable(
  ns: string,
  opts: RouteTableOptions,
  fn: (ref: ActorRef<RouteTableMsg>, system: ActorSystem) => Promise<void>,
): Promise<void> {
  const system = new ActorSystem({
    name: "nl",
    logLevel: Deno.env.get("TERN_TEST_LOGS") ? "debug" : "silent",
  });
  await system.start(supervisor("nl", {
    strategy: "one_for_one",
    children: [{
      id: "routes",
      def: routeTable({ netns: nsPath(ns), protocol: PROTO, retainStaleMs: 0, ...opts }),
      restart: "permanent",
    }],
  }));
  try {
    const ref = system.lookup<RouteTableMsg>("/nl/routes");
    assert.ok(ref);
    await fn(ref, system);
  } finally {
    await system.shutdown();
  }
}

const sync = (ref: ActorRef<RouteTableMsg>, full = false) =>
  ref.ask<ReconcileReport>((replyTo) => ({ type: "sync", full, replyTo }), { timeoutMs: 10_000 });
const view = (ref: ActorRef<RouteTableMsg>) =>
  ref.ask<RouteTableView>((replyTo) => ({ type: "get", replyTo }));
const withdraw = (ref: ActorRef<RouteTableMsg>, source: string, dsts: string[]) =>
  ref.ask<number>((replyTo) => ({ type: "withdraw", source, dsts, replyTo }));
const set = (ref: ActorRef<RouteTableMsg>, source: string, routes: DesiredRoute[]) =>
  ref.ask<number>((replyTo) => ({ type: "set", source, routes, replyTo }));

Deno.test("netlink route table: installs, merges ECMP from sources, withdraws, leaves others alone", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    await ip(ns, ["addr", "add", "192.0.2.9/24", "dev", "vb"]);
    // routes of other protocols, one of them on a prefix we will also want
    await ip(ns, ["route", "add", "203.0.113.0/24", "via", "192.0.2.20", "proto", "static"]);
    await ip(ns, ["route", "add", "198.51.100.64/26", "via", "192.0.2.21", "proto", "196"]);
    await withTable(ns, {}, async (ref, system) => {
      await set(ref, "peer-a", [
        { dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.2" }] },
        { dst: "fd00:1::/64", nexthops: [{ gateway: "fd00:db8::2" }] },
        { dst: "198.18.0.0/15", type: "blackhole" },
        { dst: "203.0.113.0/24", nexthops: [{ gateway: "192.0.2.2" }] },
      ]);
      await set(ref, "peer-b", [{ dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.3" }] }]);
      const rep = await sync(ref);
      assert.equal(rep.failed, 1, "the clash with the static route is refused");
      let ours = await routes(ns, { proto: PROTO });
      const ecmp = ours.find((r) => r.dst === "198.51.100.0/24");
      assert.deepEqual(ecmp?.nexthops?.map((h) => h.gateway).sort(), ["192.0.2.2", "192.0.2.3"]);
      assert.equal(ours.find((r) => r.dst === "198.18.0.0/15")?.type, "blackhole");
      assert.equal((await routes(ns, { v6: true, proto: PROTO }))[0]?.gateway, "fd00:db8::2");
      // the other protocols' routes are untouched, and the clash shows as a conflict
      const statik = (await routes(ns)).filter((r) =>
        r.protocol === "static" || r.protocol === "196"
      );
      assert.deepEqual(
        statik.map((r) => [r.dst, r.gateway]).sort(),
        [["198.51.100.64/26", "192.0.2.21"], ["203.0.113.0/24", "192.0.2.20"]],
      );
      let v = await view(ref);
      assert.match(v.conflicts["203.0.113.0/24"], /EEXIST/);
      assert.deepEqual(v.sources, { "peer-a": 4, "peer-b": 1 });
      // full reconcile leaves the others alone too
      await sync(ref, true);
      assert.equal(
        (await routes(ns)).filter((r) => r.protocol === "static" || r.protocol === "196").length,
        2,
      );
      // peer-b withdraws: back to a single path; peer-a's whole set shrinks
      await withdraw(ref, "peer-b", ["198.51.100.0/24"]);
      await sync(ref);
      ours = await routes(ns, { proto: PROTO });
      const single = ours.find((r) => r.dst === "198.51.100.0/24");
      assert.equal(single?.gateway, "192.0.2.2");
      assert.equal(single?.nexthops, undefined);
      await ref.ask<number>((replyTo) => ({
        type: "replace_source",
        source: "peer-a",
        routes: [{ dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.2" }] }],
        replyTo,
      }));
      await sync(ref);
      ours = await routes(ns, { proto: PROTO });
      assert.deepEqual(ours.map((r) => r.dst), ["198.51.100.0/24"]);
      assert.deepEqual(await routes(ns, { v6: true, proto: PROTO }), []);
      v = await view(ref);
      assert.equal(v.installed, 1);
      const listed = await ref.ask<RouteInfo[]>((replyTo) => ({ type: "routes", replyTo }));
      assert.deepEqual(listed.map((r) => [r.dst, r.gateway, r.protocol]), [
        ["198.51.100.0/24", "192.0.2.2", PROTO],
      ]);
      assert.ok(v.runs.full >= 2 && v.runs.incremental >= 3, JSON.stringify(v.runs));
      // metrics and inspection
      const metrics = system.metrics.render();
      assert.match(metrics, /tern_netlink_routes_installed\{[^}]*protocol="211"[^}]*\} 1/);
      assert.match(metrics, /tern_netlink_reconcile_runs_total\{[^}]*kind="full"/);
      assert.match(metrics, /tern_netlink_route_errors_total\{[^}]*errno="EEXIST"[^}]*\} [1-9]/);
      assert.match(metrics, /tern_netlink_reconcile_duration_seconds_count/);
      const snap = JSON.stringify(system.snapshot());
      assert.match(snap, /route-table/);
      assert.match(snap, /"installed":1/);
    });
    // the actor's routes stay after it stops (a restart must not blackhole traffic)
    assert.equal((await routes(ns, { proto: PROTO })).length, 1);
  });
});

Deno.test("netlink route table: IPv6 next hops from two sources become one multipath route", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    await withTable(ns, { table: 300 }, async (ref) => {
      await set(ref, "peer-a", [{ dst: "fd00:5::/64", nexthops: [{ gateway: "fd00:db8::2" }] }]);
      await set(ref, "peer-b", [{ dst: "fd00:5::/64", nexthops: [{ gateway: "fd00:db8::3" }] }]);
      const rep = await sync(ref);
      assert.equal(rep.failed, 0, JSON.stringify(await view(ref)));
      const r6 = await routes(ns, { v6: true, table: 300 });
      assert.equal(r6.length, 1);
      assert.equal(r6[0].dst, "fd00:5::/64");
      assert.deepEqual(r6[0].nexthops?.map((h) => h.gateway).sort(), [
        "fd00:db8::2",
        "fd00:db8::3",
      ]);
      // a full reconcile sees the kernel's multipath route as what is wanted: nothing to do
      const again = await sync(ref, true);
      assert.deepEqual([again.added, again.replaced, again.deleted], [0, 0, 0]);
      await withdraw(ref, "peer-a", ["fd00:5::/64"]);
      await sync(ref);
      const single = await routes(ns, { v6: true, table: 300 });
      assert.deepEqual(single.map((r) => [r.dst, r.gateway]), [["fd00:5::/64", "fd00:db8::3"]]);
    });
  });
});

Deno.test("netlink route table: a route of ours deleted by someone else comes back", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    await withTable(ns, { resyncDelayMs: 20 }, async (ref) => {
      await set(ref, "pods", [
        { dst: "198.51.100.0/25", nexthops: [{ gateway: "192.0.2.2" }] },
        { dst: "fd00:3::/64", nexthops: [{ gateway: "fd00:db8::2" }] },
      ]);
      await sync(ref);
      await ip(ns, ["route", "del", "198.51.100.0/25", "proto", String(PROTO)]);
      await ip(ns, ["-6", "route", "del", "fd00:3::/64", "proto", String(PROTO)]);
      await waitFor(
        async () => (await routes(ns, { proto: PROTO })).some((r) => r.dst === "198.51.100.0/25"),
        "the IPv4 route to come back",
      );
      await waitFor(
        async () =>
          (await routes(ns, { v6: true, proto: PROTO })).some((r) => r.dst === "fd00:3::/64"),
        "the IPv6 route to come back",
      );
      // someone changes our route's gateway: it is put back as well
      await ip(ns, [
        "route",
        "replace",
        "198.51.100.0/25",
        "via",
        "192.0.2.9",
        "proto",
        String(PROTO),
      ]);
      await waitFor(
        async () =>
          (await routes(ns, { proto: PROTO })).find((r) => r.dst === "198.51.100.0/25")?.gateway ===
            "192.0.2.2",
        "the gateway to be restored",
      );
      // someone adds a route with our protocol that nobody wants: it goes
      await ip(ns, [
        "route",
        "add",
        "198.51.100.128/25",
        "via",
        "192.0.2.2",
        "proto",
        String(PROTO),
      ]);
      await waitFor(
        async () =>
          !(await routes(ns, { proto: PROTO })).some((r) => r.dst === "198.51.100.128/25"),
        "the stray route of our protocol to be removed",
      );
    });
  });
});

Deno.test("netlink route table: routes the kernel drops with a downed link come back when it is up", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    await withTable(ns, { resyncDelayMs: 20 }, async (ref) => {
      await set(ref, "pods", [{ dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.2" }] }]);
      await sync(ref);
      assert.equal((await routes(ns, { proto: PROTO })).length, 1);
      // IPv4 routes of a link that goes down vanish without an RTM_DELROUTE notification
      await ip(ns, ["link", "set", "va", "down"]);
      await waitFor(async () => (await routes(ns, { proto: PROTO })).length === 0, "routes gone");
      await waitFor(
        async () => (await view(ref)).conflicts["198.51.100.0/24"] !== undefined,
        "the re-add to be refused while the link is down",
      );
      await ip(ns, ["link", "set", "va", "up"]);
      await waitFor(
        async () => (await routes(ns, { proto: PROTO })).length === 1,
        "the route to come back with the link",
      );
      assert.deepEqual((await view(ref)).conflicts, {});
    });
  });
});

Deno.test("netlink route table: routes of a previous run are kept for a while after start", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    const old = ["198.51.100.0/25", "198.51.100.128/25"];
    for (const d of old) await ip(ns, ["route", "add", d, "via", "192.0.2.2", "proto", `${PROTO}`]);
    await withTable(ns, { retainStaleMs: 300 }, async (ref) => {
      // a source states one of them again right away; the other is stale
      await set(ref, "pods", [{ dst: "198.51.100.0/25", nexthops: [{ gateway: "192.0.2.2" }] }]);
      await sync(ref, true);
      assert.deepEqual((await routes(ns, { proto: PROTO })).map((r) => r.dst).sort(), old);
      assert.notEqual((await view(ref)).retainingStaleUntil, null);
      await waitFor(
        async () => (await routes(ns, { proto: PROTO })).length === 1,
        "the stale route to go once the grace period is over",
      );
      assert.equal((await routes(ns, { proto: PROTO }))[0].dst, "198.51.100.0/25");
    });
  });
});

Deno.test("netlink route table: invalid routes are refused with typed errors and change nothing", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    await withTable(ns, {}, async (ref) => {
      await set(ref, "a", [{ dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.2" }] }]);
      await sync(ref);
      const bad: DesiredRoute[][] = [
        [{ dst: "198.51.100.1/24", nexthops: [{ gateway: "192.0.2.2" }] }],
        [{ dst: "203.0.113.0/24", nexthops: [{ gateway: "fd00::1" }] }],
        [{ dst: "203.0.113.0/24", nexthops: [] }],
        // one good and one bad: nothing of it is taken
        [{ dst: "203.0.113.0/24", nexthops: [{ gateway: "192.0.2.2" }] }, { dst: "nonsense" }],
      ];
      for (const routes of bad) {
        await assert.rejects(set(ref, "a", routes), (e) => e instanceof NetlinkInputError);
      }
      await sync(ref);
      assert.deepEqual((await routes(ns, { proto: PROTO })).map((r) => r.dst), ["198.51.100.0/24"]);
      const v = await view(ref);
      assert.equal(v.desired, 1);
      assert.deepEqual(v.conflicts, {});
    });
  });
});

Deno.test("netlink route table: a missing namespace fails the start with a typed error", async () => {
  const system = new ActorSystem({ name: "nl", logLevel: "silent" });
  try {
    await system.start(supervisor("nl", {
      strategy: "one_for_one",
      intensity: { maxRestarts: 0, withinMs: 1000 },
      children: [{ id: "routes", def: routeTable({ netns: "/run/netns/tn-nl-none" }) }],
    })).catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reason = await Promise.race([
      system.whenTerminated(),
      new Promise<null>((r) => timer = setTimeout(() => r(null), 5000)),
    ]);
    clearTimeout(timer);
    assert.ok(reason && reason.kind === "error", JSON.stringify(reason));
    assert.match(describeError(reason.error), /tn-nl-none/);
  } finally {
    await system.shutdown();
  }
  assert.throws(() => routeTable({ protocol: 0 }), NetlinkInputError);
  assert.throws(() => routeTable({ protocol: 300 }), NetlinkInputError);
});
