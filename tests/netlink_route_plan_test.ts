import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkDesired,
  type Contribution,
  mergeContributions,
  planChanges,
  routeMatches,
} from "../actors/netlink/route_plan.ts";
import { NetlinkInputError } from "../actors/netlink/errors.ts";
import type { RouteInfo } from "../actors/netlink/route_codec.ts";

const S = { table: 254, protocol: 211 };
const hops = (...gws: string[]): Contribution => ({
  kind: "nexthops",
  nexthops: gws.map((gateway) => ({ gateway })),
});

Deno.test("netlink route plan: next hops of several sources merge into one multipath route", () => {
  const r = mergeContributions("198.51.100.0/24", [hops("192.0.2.3"), hops("192.0.2.2")], S);
  assert.deepEqual(r, {
    dst: "198.51.100.0/24",
    table: 254,
    protocol: 211,
    priority: 0,
    nexthops: [{ gateway: "192.0.2.2" }, { gateway: "192.0.2.3" }],
  });
  // the same gateway from two sources counts once, with the weights added
  const dup = mergeContributions("198.51.100.0/24", [hops("192.0.2.2"), hops("192.0.2.2")], S);
  assert.deepEqual(dup?.gateway, "192.0.2.2");
  const dup2 = mergeContributions(
    "198.51.100.0/24",
    [hops("192.0.2.2"), hops("192.0.2.2"), hops("192.0.2.9")],
    S,
  );
  assert.deepEqual(dup2?.nexthops, [{ gateway: "192.0.2.2", weight: 2 }, { gateway: "192.0.2.9" }]);
  // next hops beat special types; blackhole beats unreachable
  assert.equal(
    mergeContributions("198.51.100.0/24", [{ kind: "blackhole" }, hops("192.0.2.2")], S)?.gateway,
    "192.0.2.2",
  );
  assert.equal(
    mergeContributions("198.51.100.0/24", [{ kind: "unreachable" }, { kind: "blackhole" }], S)
      ?.type,
    "blackhole",
  );
  assert.equal(mergeContributions("198.51.100.0/24", [], S), undefined);
  // IPv6 routes get the kernel's default metric so they compare equal once installed
  assert.equal(mergeContributions("fd00::/64", [hops("fd00::1")], S)?.priority, 1024);
});

Deno.test("netlink route plan: the merge does not depend on the order of sources", () => {
  const gw = fc.integer({ min: 1, max: 6 }).map((i) => `192.0.2.${i}`);
  fc.assert(
    fc.property(fc.array(fc.array(gw, { minLength: 1, maxLength: 3 }), { maxLength: 5 }), (cs) => {
      const a = mergeContributions("203.0.113.0/24", cs.map((g) => hops(...g)), S);
      const b = mergeContributions("203.0.113.0/24", [...cs].reverse().map((g) => hops(...g)), S);
      assert.deepEqual(a, b);
    }),
  );
});

Deno.test("netlink route plan: compare with the kernel's view and plan add, replace, delete", () => {
  const want = mergeContributions("198.51.100.0/24", [hops("192.0.2.2")], S)!;
  const have: RouteInfo = {
    family: 2,
    dst: "198.51.100.0/24",
    table: 254,
    protocol: 211,
    scope: 0,
    type: "unicast",
    flags: 0,
    gateway: "192.0.2.2",
    oif: 3, // filled in by the kernel: not asked for, so not compared
    priority: 0,
  };
  assert.ok(routeMatches(want, have));
  assert.ok(!routeMatches(want, { ...have, gateway: "192.0.2.9" }));
  assert.ok(!routeMatches(want, { ...have, type: "blackhole" }));
  assert.ok(!routeMatches(want, { ...have, priority: 5 }));
  const ecmp = mergeContributions("198.51.100.0/24", [hops("192.0.2.2", "192.0.2.3")], S)!;
  assert.ok(!routeMatches(ecmp, have));
  assert.ok(routeMatches(ecmp, {
    ...have,
    gateway: undefined,
    oif: undefined,
    nexthops: [{ gateway: "192.0.2.3", oif: 3, weight: 1 }, {
      gateway: "192.0.2.2",
      oif: 3,
      weight: 1,
    }],
  }));
  const desired = new Map([["198.51.100.0/24", want], ["203.0.113.0/24", want]]);
  const installed = new Map<string, RouteInfo>([
    ["198.51.100.0/24", { ...have, gateway: "192.0.2.9" }],
    ["198.18.0.0/15", { ...have, dst: "198.18.0.0/15" }],
  ]);
  const ops = planChanges(
    ["198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15"],
    (d) => desired.get(d),
    (d) => installed.get(d),
  );
  assert.deepEqual(ops.map((o) => [o.op, o.dst]), [
    ["replace", "198.51.100.0/24"],
    ["add", "203.0.113.0/24"],
    ["delete", "198.18.0.0/15"],
  ]);
  // deletes name the exact key, so nothing else is hit
  assert.deepEqual(ops[2].route, {
    dst: "198.18.0.0/15",
    table: 254,
    protocol: 211,
    type: "unicast",
    priority: 0,
  });
});

Deno.test("netlink route plan: desired routes are validated and canonicalised", () => {
  assert.deepEqual(checkDesired({ dst: "fd00:0::/64", nexthops: [{ gateway: "fd00:0::1" }] }), {
    dst: "fd00::/64",
    contribution: { kind: "nexthops", nexthops: [{ gateway: "fd00::1" }] },
  });
  assert.equal(checkDesired({ dst: "198.51.100.7", type: "blackhole" }).dst, "198.51.100.7/32");
  for (
    const bad of [
      { dst: "198.51.100.1/24", nexthops: [{ gateway: "192.0.2.1" }] },
      { dst: "198.51.100.0/24" },
      { dst: "198.51.100.0/24", nexthops: [{}] },
      { dst: "198.51.100.0/24", nexthops: [{ gateway: "fd00::1" }] },
      { dst: "198.51.100.0/24", nexthops: [{ gateway: "192.0.2.1", weight: 300 }] },
      { dst: "198.51.100.0/24", type: "blackhole", nexthops: [{ gateway: "192.0.2.1" }] },
      { dst: "198.51.100.0/24", type: "local" },
    ]
  ) {
    assert.throws(() => checkDesired(bad as never), NetlinkInputError, JSON.stringify(bad));
  }
});
