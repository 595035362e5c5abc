import assert from "node:assert/strict";
import { IpAddress } from "../actors/ipam/address.ts";
import {
  DuplicateAutoPoolError,
  InvalidBlockSizeError,
  InvalidCidrError,
  InvalidPoolError,
  InvalidRangeError,
  OverlappingPoolsError,
} from "../actors/ipam/errors.ts";
import { Pool, resolvePools } from "../actors/ipam/pool.ts";
import { matchesSelector } from "../actors/ipam/label_selector.ts";

Deno.test("ipam pool: validation with typed errors", () => {
  const p = Pool.from({
    name: "lb",
    type: "service",
    cidrs: ["203.0.113.0/25", "fd00:0:0:1::/120"],
    ranges: ["203.0.113.200-203.0.113.210"],
  });
  assert.deepEqual(p.families, [4, 6]);
  assert.equal(p.capacity(4), 128n + 11n);
  assert.equal(p.capacity(6), 256n);
  assert.ok(p.contains(IpAddress.parse("203.0.113.205")));
  assert.ok(!p.contains(IpAddress.parse("203.0.113.150")));

  const pods = Pool.from({ name: "pods", type: "pod", cidrs: ["198.18.0.0/16", "fd00:10::/64"] });
  assert.equal(pods.segmentsOf(4)[0]!.blockSize, 26); // default
  assert.equal(pods.segmentsOf(6)[0]!.blockSize, 122);
  const small = Pool.from({ name: "small", type: "pod", cidrs: ["198.18.0.0/29"] });
  assert.equal(small.segmentsOf(4)[0]!.blockSize, 29); // default capped to the CIDR

  const bad: [Parameters<typeof Pool.from>[0], new (...a: never[]) => Error][] = [
    [{ name: "Bad_Name", type: "pod", cidrs: ["198.18.0.0/24"] }, InvalidPoolError],
    [{ name: "x", type: "pod", cidrs: [] }, InvalidPoolError],
    [{ name: "x", type: "pod", cidrs: ["198.18.0.1/24"] }, InvalidCidrError],
    [{ name: "x", type: "service", ranges: ["203.0.113.9-203.0.113.1"] }, InvalidRangeError],
    [
      { name: "x", type: "pod", cidrs: ["198.18.0.0/24"], ranges: ["198.18.1.1-198.18.1.2"] },
      InvalidPoolError,
    ],
    [{ name: "x", type: "pod", cidrs: ["198.18.0.0/24"], blockSize: 23 }, InvalidBlockSizeError],
    [{ name: "x", type: "pod", cidrs: ["198.18.0.0/15"], blockSize: 15 }, InvalidBlockSizeError], // > 2^16 per block
    [
      {
        name: "x",
        type: "service",
        cidrs: ["203.0.113.0/24"],
        ranges: ["203.0.113.5-203.0.113.6"],
      },
      InvalidPoolError,
    ],
    [
      { name: "x", type: "service", cidrs: ["203.0.113.0/24"], aggregationLength: 33 },
      InvalidPoolError,
    ],
    [{ name: "x", type: "other" as "pod", cidrs: ["203.0.113.0/24"] }, InvalidPoolError],
    [{ name: "x", type: "pod", cidrs: ["198.18.0.0/24"], allocType: "random" }, InvalidPoolError],
  ];
  for (const [input, cls] of bad) assert.throws(() => Pool.from(input), cls, JSON.stringify(input));
});

Deno.test("ipam pool: conflicts resolved oldest first, new pools never take from old ones", () => {
  const { accepted, rejected } = resolvePools([
    {
      name: "b-late",
      type: "service",
      cidrs: ["203.0.113.128/25"],
      creationTimestamp: "2026-01-02T00:00:00Z",
    },
    {
      name: "a-early",
      type: "service",
      cidrs: ["203.0.113.0/24"],
      autoAssign: true,
      creationTimestamp: "2026-01-01T00:00:00Z",
    },
    {
      name: "c-auto",
      type: "service",
      cidrs: ["198.51.100.0/24"],
      autoAssign: true,
      creationTimestamp: "2026-01-03T00:00:00Z",
    },
    {
      name: "d-auto6",
      type: "service",
      cidrs: ["fd00:5::/112"],
      autoAssign: true,
      creationTimestamp: "2026-01-03T00:00:00Z",
    },
    {
      name: "e-pod-auto",
      type: "pod",
      cidrs: ["198.18.0.0/16"],
      autoAssign: true,
      creationTimestamp: "2026-01-04T00:00:00Z",
    },
    {
      name: "f-pod-overlap",
      type: "pod",
      cidrs: ["198.18.128.0/17"],
      creationTimestamp: "2026-01-05T00:00:00Z",
    },
    {
      name: "g-broken",
      type: "pod",
      cidrs: ["198.19.0.0/33"],
      creationTimestamp: "2026-01-05T00:00:00Z",
    },
  ]);
  assert.deepEqual([...accepted.keys()].sort(), ["a-early", "d-auto6", "e-pod-auto"]);
  const late = rejected.get("b-late");
  assert.ok(late instanceof OverlappingPoolsError);
  assert.equal(late.other, "a-early");
  assert.match(late.message, /203\.0\.113\.128\/25 overlaps 203\.0\.113\.0\/24/);
  const auto = rejected.get("c-auto");
  assert.ok(auto instanceof DuplicateAutoPoolError);
  assert.equal(auto.other, "a-early");
  assert.equal(auto.reason, "DuplicateAutoPool");
  assert.ok(rejected.get("f-pod-overlap") instanceof OverlappingPoolsError);
  assert.ok(rejected.get("g-broken") instanceof InvalidCidrError);
});

Deno.test("ipam label selector: matchLabels and matchExpressions", () => {
  const labels = { team: "a", tier: "web" };
  assert.ok(matchesSelector(undefined, labels));
  assert.ok(matchesSelector({}, labels));
  assert.ok(matchesSelector({ matchLabels: { team: "a" } }, labels));
  assert.ok(!matchesSelector({ matchLabels: { team: "b" } }, labels));
  assert.ok(
    matchesSelector(
      { matchExpressions: [{ key: "tier", operator: "In", values: ["web", "db"] }] },
      labels,
    ),
  );
  assert.ok(
    !matchesSelector(
      { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["web"] }] },
      labels,
    ),
  );
  assert.ok(
    matchesSelector(
      { matchExpressions: [{ key: "x", operator: "NotIn", values: ["web"] }] },
      labels,
    ),
  );
  assert.ok(matchesSelector({ matchExpressions: [{ key: "team", operator: "Exists" }] }, labels));
  assert.ok(
    !matchesSelector({ matchExpressions: [{ key: "team", operator: "DoesNotExist" }] }, labels),
  );
  assert.throws(
    () => matchesSelector({ matchExpressions: [{ key: "t", operator: "In" }] }, labels),
    /need at least one value/,
  );
});
