import assert from "node:assert/strict";
import fc from "fast-check";
import { IpAddress } from "../actors/ipam/address.ts";
import { ServiceAllocator, type ServiceRequest } from "../actors/ipam/service_allocator.ts";
import { Pool, type PoolInput, resolvePools } from "../actors/ipam/pool.ts";
import { checkConsistency } from "../actors/ipam/consistency.ts";
import {
  parseLoadBalancerIPs,
  parsePeerGroups,
  parseServicePools,
  parseSharingKey,
  parseSharingNamespaces,
} from "../actors/ipam/annotations.ts";
import {
  AddressOutsidePoolsError,
  AddressTakenError,
  BadAnnotationError,
  FamilyUnavailableError,
  PoolExhaustedError,
  PoolNotAllowedError,
  UnknownPoolError,
} from "../actors/ipam/errors.ts";

const ip = (s: string) => IpAddress.parse(s);
const POOLS: PoolInput[] = [
  {
    name: "default-lb-pool",
    type: "service",
    cidrs: ["203.0.113.0/24", "fd00:203::/120"],
    autoAssign: true,
  },
  { name: "non-default-lb-pool", type: "service", cidrs: ["198.51.100.0/28"] },
  { name: "tiny", type: "service", ranges: ["198.51.100.100-198.51.100.101"] },
  {
    name: "team-a",
    type: "service",
    cidrs: ["198.51.100.128/28"],
    namespaceSelector: { matchLabels: { team: "a" } },
  },
  { name: "pods", type: "pod", cidrs: ["198.18.0.0/16"], autoAssign: true },
];
function allocator(inputs = POOLS): ServiceAllocator {
  const { accepted, rejected } = resolvePools(inputs);
  assert.equal(rejected.size, 0);
  return new ServiceAllocator(accepted.values());
}
const svc = (name: string, extra: Partial<ServiceRequest> = {}): ServiceRequest => ({
  key: `test/${name}`,
  namespace: "test",
  ports: [{ protocol: "TCP", port: 80 }],
  ...extra,
});
const addrs = (a: ServiceAllocator, key: string) =>
  a.assignmentOf(key)?.addresses.map((x) => `${x.address}@${x.pool ?? "-"}`);

Deno.test("ipam services: sart's scenarios (auto, annotated pool, exact address)", () => {
  const a = allocator();
  a.assign(svc("app-svc-cluster"));
  a.assign(svc("app-svc-local", { pools: ["default-lb-pool"], trafficPolicy: "Local" }));
  a.assign(
    svc("app-svc-cluster2", { pools: ["non-default-lb-pool"], addresses: [ip("198.51.100.10")] }),
  );
  assert.deepEqual(addrs(a, "test/app-svc-cluster"), ["203.0.113.0@default-lb-pool"]);
  assert.deepEqual(addrs(a, "test/app-svc-local"), ["203.0.113.1@default-lb-pool"]);
  assert.deepEqual(addrs(a, "test/app-svc-cluster2"), ["198.51.100.10@non-default-lb-pool"]);
  // Idempotent.
  const again = a.assign(svc("app-svc-cluster"));
  assert.deepEqual(again.added, []);
  assert.deepEqual(again.removed, []);
  assert.deepEqual(a.usage("default-lb-pool"), {
    capacity: { 4: 256n, 6: 256n },
    allocated: { 4: 2n, 6: 0n },
  });
});

Deno.test("ipam services: exact addresses may span pools; errors are typed and change nothing", () => {
  const a = allocator();
  const r = a.assign(svc("dual", {
    families: [4, 6],
    addresses: [ip("198.51.100.3"), ip("fd00:203::9")],
  }));
  assert.deepEqual(r.assignment.addresses.map((x) => `${x.address}@${x.pool}`), [
    "198.51.100.3@non-default-lb-pool",
    "fd00:203::9@default-lb-pool",
  ]);
  a.assign(svc("x"));
  const before = JSON.stringify(a.assignments());
  const cases: [ServiceRequest, new (...args: never[]) => Error][] = [
    [svc("y", { addresses: [ip("192.0.2.1")] }), AddressOutsidePoolsError],
    [svc("y", { addresses: [ip("198.51.100.3")] }), AddressTakenError],
    [
      svc("y", { pools: ["non-default-lb-pool"], addresses: [ip("203.0.113.50")] }),
      AddressOutsidePoolsError,
    ],
    [svc("y", { pools: ["nope"] }), UnknownPoolError],
    [svc("y", { pools: ["pods"] }), UnknownPoolError], // pod pools are not service pools
    [svc("y", { pools: ["team-a"] }), PoolNotAllowedError],
    [svc("y", { pools: ["non-default-lb-pool"], families: [6] }), FamilyUnavailableError],
    [svc("y", { families: [4, 6], addresses: [ip("fd00:203::9")] }), AddressTakenError],
    [svc("y", { addresses: [ip("fd00:203::20")] }), BadAnnotationError], // IPv6 on an IPv4-only Service
  ];
  for (const [req, cls] of cases) assert.throws(() => a.assign(req), cls, JSON.stringify(req));
  assert.equal(JSON.stringify(a.assignments()), before);
  assert.equal(a.assignmentOf("test/y"), undefined);
  // A pool of the wrong type named directly.
  const withPod = new ServiceAllocator([Pool.from(POOLS[0]!)]);
  assert.throws(() => withPod.usage("pods"), UnknownPoolError);
});

Deno.test("ipam services: dual-stack policies", () => {
  const a = allocator();
  assert.deepEqual(
    a.assign(svc("req", { families: [6, 4] })).assignment.addresses.map((x) => `${x.address}`),
    [
      "fd00:203::",
      "203.0.113.0",
    ],
  );
  // PreferDualStack in a pool with only IPv4: gets IPv4, reports the missing family.
  const r = a.assign(
    svc("prefer", {
      families: [4, 6],
      familyPolicy: "PreferDualStack",
      pools: ["non-default-lb-pool"],
    }),
  );
  assert.deepEqual(r.assignment.addresses.map((x) => `${x.address}`), ["198.51.100.0"]);
  assert.equal(r.missing.length, 1);
  assert.equal(r.missing[0]!.family, 6);
  assert.ok(r.missing[0]!.error instanceof FamilyUnavailableError);
  // RequireDualStack in the same pool fails as a whole.
  assert.throws(
    () =>
      a.assign(
        svc("require", {
          families: [4, 6],
          familyPolicy: "RequireDualStack",
          pools: ["non-default-lb-pool"],
        }),
      ),
    FamilyUnavailableError,
  );
  assert.equal(a.assignmentOf("test/require"), undefined);
});

Deno.test("ipam services: exhaustion falls through named pools in order", () => {
  const a = allocator();
  a.assign(svc("t1", { pools: ["tiny", "non-default-lb-pool"] }));
  a.assign(svc("t2", { pools: ["tiny", "non-default-lb-pool"] }));
  const third = a.assign(svc("t3", { pools: ["tiny", "non-default-lb-pool"] }));
  assert.deepEqual(
    ["t1", "t2", "t3"].map((n) => a.assignmentOf(`test/${n}`)!.addresses[0]!.address.toString()),
    ["198.51.100.100", "198.51.100.101", "198.51.100.0"],
  );
  assert.equal(third.assignment.addresses[0]!.pool, "non-default-lb-pool");
  a.assign(svc("t4", { pools: ["non-default-lb-pool"] }));
  for (let i = 5; i < 20; i++) {
    try {
      a.assign(svc(`t${i}`, { pools: ["tiny"] }));
      assert.fail("tiny must be exhausted");
    } catch (e) {
      assert.ok(e instanceof PoolExhaustedError);
      assert.equal(e.reason, "PoolExhausted");
    }
  }
});

Deno.test("ipam services: shared IPs by allow-shared-ip key when ports do not clash", () => {
  const a = allocator();
  const dns = a.assign(
    svc("dns-udp", { sharingKey: "dns", ports: [{ protocol: "UDP", port: 53 }] }),
  );
  const tcp = a.assign(
    svc("dns-tcp", { sharingKey: "dns", ports: [{ protocol: "TCP", port: 53 }] }),
  );
  assert.ok(dns.assignment.addresses[0]!.address.equals(tcp.assignment.addresses[0]!.address));
  assert.deepEqual(a.holdersOf(ip("203.0.113.0")), ["test/dns-tcp", "test/dns-udp"]);
  // Same port: no sharing, a new address.
  const clash = a.assign(
    svc("dns-udp2", { sharingKey: "dns", ports: [{ protocol: "UDP", port: 53 }] }),
  );
  assert.equal(clash.assignment.addresses[0]!.address.toString(), "203.0.113.1");
  // Another key, exact request for a shared address: taken.
  assert.throws(
    () => a.assign(svc("other", { sharingKey: "web", addresses: [ip("203.0.113.0")] })),
    AddressTakenError,
  );
  // Local policy shares only with the same selector.
  assert.throws(
    () =>
      a.assign(
        svc("loc", {
          sharingKey: "dns",
          trafficPolicy: "Local",
          selectorKey: "app=x",
          ports: [{ protocol: "TCP", port: 853 }],
          addresses: [ip("203.0.113.0")],
        }),
      ),
    AddressTakenError,
  );
  // Releasing one sharer keeps the address for the other.
  assert.deepEqual(a.release("test/dns-udp"), []);
  assert.deepEqual(a.holdersOf(ip("203.0.113.0")), ["test/dns-tcp"]);
  assert.deepEqual(a.release("test/dns-tcp").map(String), ["203.0.113.0"]);
  assert.deepEqual(a.release("test/dns-tcp"), []); // idempotent
});

Deno.test("ipam services: addresses never move because of other Services or restarts", () => {
  const a = allocator();
  for (let i = 0; i < 10; i++) a.assign(svc(`s${i}`));
  a.release("test/s3");
  // s3's address is free again; nobody else moved.
  for (let i = 0; i < 10; i++) {
    if (i === 3) continue;
    assert.equal(a.assign(svc(`s${i}`)).added.length, 0);
    assert.equal(a.assignmentOf(`test/s${i}`)!.addresses[0]!.address.toString(), `203.0.113.${i}`);
  }
  // Changing the pool annotation moves only that Service.
  const moved = a.assign(svc("s5", { pools: ["non-default-lb-pool"] }));
  assert.deepEqual(moved.removed.map(String), ["203.0.113.5"]);
  assert.deepEqual(moved.added.map(String), ["198.51.100.0"]);
  // Adding the pool that already holds it keeps it.
  assert.equal(
    a.assign(svc("s5", { pools: ["default-lb-pool", "non-default-lb-pool"] })).added.length,
    0,
  );
  // Restart: a new allocator restored from the Services' status gives the same answers.
  const b = allocator();
  const rep = b.restore(
    a.assignments().map((s) => ({
      request: svc(s.key.split("/")[1]!),
      addresses: s.addresses.map((x) => x.address.toString()),
    })),
  );
  assert.equal(rep.conflicts.length, 0);
  assert.deepEqual(b.assignments(), a.assignments());
  assert.equal(b.assign(svc("new")).assignment.addresses[0]!.address.toString(), "203.0.113.3");
});

Deno.test("ipam services: restore reports doubles and orphans, keeps orphans", () => {
  const b = allocator();
  const rep = b.restore([
    { request: svc("a"), addresses: ["203.0.113.7"] },
    { request: svc("b"), addresses: ["203.0.113.7"] }, // double in the cluster
    { request: svc("c"), addresses: ["192.0.2.9"] }, // its pool was deleted
    { request: svc("d"), addresses: ["203.0.113.8", "203.0.113.9"] }, // two IPv4
    { request: svc("e"), addresses: ["bogus"] },
  ]);
  assert.deepEqual(rep.restored.map((r) => r.key), ["test/a", "test/c", "test/d"]);
  assert.deepEqual(rep.conflicts.map((c) => `${c.key}:${c.error.code}`), [
    "test/b:address_taken",
    "test/d:address_taken",
    "test/e:invalid_address",
  ]);
  assert.deepEqual(rep.orphans.map((o) => `${o.key}:${o.address}`), ["test/c:192.0.2.9"]);
  // The orphan keeps its address on assign (no annotation asks otherwise).
  assert.equal(b.assign(svc("c")).added.length, 0);
  // But an annotation naming a pool moves it into the pool.
  assert.equal(
    b.assign(svc("c", { pools: ["default-lb-pool"] })).added[0]!.toString(),
    "203.0.113.0",
  );
});

Deno.test("ipam services: burst of random operations never double-allocates; consistency check", () => {
  const ops = fc.array(
    fc.oneof(
      fc.record({
        op: fc.constant("assign" as const),
        n: fc.integer({ min: 0, max: 30 }),
        pool: fc.constantFrom(undefined, "tiny", "non-default-lb-pool"),
        share: fc.boolean(),
        port: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({ op: fc.constant("release" as const), n: fc.integer({ min: 0, max: 30 }) }),
    ),
    { maxLength: 150 },
  );
  fc.assert(fc.property(ops, (list) => {
    const a = allocator();
    const reqs = new Map<string, ServiceRequest>();
    for (const o of list) {
      const key = `test/s${o.n}`;
      if (o.op === "assign") {
        const req = svc(`s${o.n}`, {
          ...(o.pool ? { pools: [o.pool] } : {}),
          ...(o.share ? { sharingKey: "k" } : {}),
          ports: [{ protocol: "TCP", port: o.port }],
        });
        try {
          a.assign(req);
          reqs.set(key, req);
        } catch (e) {
          assert.ok(e instanceof PoolExhaustedError, String(e));
        }
      } else {
        a.release(key);
        reqs.delete(key);
      }
    }
    const held = new Map(
      a.assignments().map((s) => [s.key, s.addresses.map((x) => x.address.toString())]),
    );
    const report = checkConsistency(held, held, (x, y) => {
      const rx = reqs.get(x)!, ry = reqs.get(y)!;
      return !!rx.sharingKey && rx.sharingKey === ry.sharingKey &&
        !rx.ports!.some((p) => ry.ports!.some((q) => q.port === p.port));
    });
    assert.ok(report.clean, JSON.stringify(report));
    // Restore into a fresh allocator: identical state, no conflicts.
    const b = allocator();
    const rep = b.restore(
      [...reqs.values()].filter((r) => held.has(r.key)).map((r) => ({
        request: r,
        addresses: held.get(r.key)!,
      })),
    );
    assert.equal(rep.conflicts.length, 0);
    assert.deepEqual(b.assignments(), a.assignments());
  }));
});

Deno.test("ipam consistency: leaked, missing and double allocations", () => {
  const held = new Map([["test/a", ["203.0.113.1"]], ["test/b", ["203.0.113.2"]]]);
  const observed = new Map([["test/a", ["203.0.113.1"]], ["test/c", ["203.0.113.1"]], ["test/d", [
    "203.0.113.4",
  ]]]);
  const r = checkConsistency(held, observed);
  assert.deepEqual(r.leaked, [{ owner: "test/b", address: "203.0.113.2" }]);
  assert.deepEqual(r.missing, [
    { owner: "test/c", address: "203.0.113.1" },
    { owner: "test/d", address: "203.0.113.4" },
  ]);
  assert.deepEqual(r.doubles, [{ address: "203.0.113.1", owners: ["test/a", "test/c"] }]);
  assert.equal(r.clean, false);
  assert.equal(checkConsistency(observed, observed, () => true).clean, true);
});

Deno.test("ipam annotations: parsing with typed errors", () => {
  assert.deepEqual(parseServicePools({ "tern.dev/addresspool": "a, b" }), ["a", "b"]);
  assert.equal(parseServicePools({}), undefined);
  assert.deepEqual(
    parseLoadBalancerIPs({ "tern.dev/loadBalancerIPs": "203.0.113.5,FD00::1" })!.map(String),
    [
      "203.0.113.5",
      "fd00::1",
    ],
  );
  assert.equal(parseSharingKey({ "tern.dev/allow-shared-ip": "dns" }), "dns");
  assert.deepEqual(parsePeerGroups({ "tern.dev/peer-groups": "to-spine0,to-spine1,to-spine0" }), [
    "to-spine0",
    "to-spine1",
  ]);
  const bad: [() => unknown, string][] = [
    [() => parseServicePools({ "tern.dev/addresspool": " , " }), "tern.dev/addresspool"],
    [() => parseServicePools({ "tern.dev/addresspool": "Bad_Pool" }), "tern.dev/addresspool"],
    [() => parseServicePools({ "tern.dev/addresspool": "a,a" }), "tern.dev/addresspool"],
    [
      () => parseLoadBalancerIPs({ "tern.dev/loadBalancerIPs": "203.0.113.5,203.0.113.6" }),
      "tern.dev/loadBalancerIPs",
    ],
    [
      () => parseLoadBalancerIPs({ "tern.dev/loadBalancerIPs": "203.0.113.300" }),
      "tern.dev/loadBalancerIPs",
    ],
    [() => parseSharingKey({ "tern.dev/allow-shared-ip": "-x" }), "tern.dev/allow-shared-ip"],
    [() => parsePeerGroups({ "tern.dev/peer-groups": "UPPER" }), "tern.dev/peer-groups"],
  ];
  for (const [f, key] of bad) {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof BadAnnotationError);
      assert.equal(e.key, key);
      assert.equal(e.code, "bad_annotation");
      return true;
    });
  }
});

Deno.test("ipam services: stability property: no operation on one Service moves another", () => {
  const ops = fc.array(
    fc.oneof(
      fc.record({
        op: fc.constant("assign" as const),
        n: fc.integer({ min: 0, max: 20 }),
        pool: fc.constantFrom(undefined, "tiny", "non-default-lb-pool", "default-lb-pool"),
        exact: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
        dual: fc.boolean(),
      }),
      fc.record({ op: fc.constant("release" as const), n: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ op: fc.constant("pools" as const), drop: fc.boolean() }),
    ),
    { maxLength: 120 },
  );
  fc.assert(fc.property(ops, (list) => {
    const a = allocator();
    const all = resolvePools(POOLS).accepted;
    for (const o of list) {
      const before = new Map(
        a.assignments().map((s) => [s.key, JSON.stringify(s.addresses.map((x) => `${x.address}`))]),
      );
      let touched: string | undefined;
      if (o.op === "assign") {
        touched = `test/s${o.n}`;
        const req = svc(`s${o.n}`, {
          ...(o.pool ? { pools: [o.pool] } : {}),
          ...(o.exact !== undefined ? { addresses: [ip(`198.51.100.${o.exact}`)] } : {}),
          ...(o.dual && o.exact === undefined
            ? { families: [4, 6] as (4 | 6)[], familyPolicy: "PreferDualStack" as const }
            : {}),
        });
        const snapshot = JSON.stringify(a.assignments());
        try {
          const r1 = a.assign(req);
          // Idempotent: the same request again changes nothing.
          const r2 = a.assign(req);
          assert.deepEqual(r2.added, []);
          assert.deepEqual(r2.removed, []);
          assert.deepEqual(r2.assignment, r1.assignment);
        } catch (e) {
          assert.ok(e instanceof Error && "code" in e, String(e));
          assert.equal(JSON.stringify(a.assignments()), snapshot, "a failed assign changed state");
        }
      } else if (o.op === "release") {
        touched = `test/s${o.n}`;
        a.release(touched);
      } else {
        // Pools change (the non-default pool deleted or restored): nobody moves.
        a.setPools([...all.values()].filter((p) => !(o.drop && p.name === "non-default-lb-pool")));
      }
      for (const s of a.assignments()) {
        if (s.key === touched) continue;
        assert.equal(
          JSON.stringify(s.addresses.map((x) => `${x.address}`)),
          before.get(s.key),
          `${s.key} moved`,
        );
      }
      // No address is held by two Services (no sharing keys here).
      const seen = new Set<string>();
      for (const s of a.assignments()) {
        for (const x of s.addresses) {
          assert.ok(!seen.has(`${x.address}`), `${x.address} given twice`);
          seen.add(`${x.address}`);
        }
      }
    }
  }));
});

Deno.test("ipam services: sharing across namespaces needs both sides to allow it", () => {
  const a = allocator();
  const other = (
    name: string,
    ns: string,
    extra: Partial<ServiceRequest> = {},
  ): ServiceRequest => ({
    key: `${ns}/${name}`,
    namespace: ns,
    sharingKey: "dns",
    ...extra,
  });
  const first = a.assign(other("udp", "team-a", { ports: [{ protocol: "UDP", port: 53 }] }));
  const shared = first.assignment.addresses[0]!.address;
  // Another namespace with the same key: not shared (no takeover by guessing the key).
  const stranger = a.assign(other("tcp", "team-b", { ports: [{ protocol: "TCP", port: 53 }] }));
  assert.ok(!stranger.assignment.addresses[0]!.address.equals(shared));
  assert.throws(
    () =>
      a.assign(
        other("tcp2", "team-b", { ports: [{ protocol: "TCP", port: 853 }], addresses: [shared] }),
      ),
    AddressTakenError,
  );
  // Only one side allowing is not enough either.
  assert.throws(
    () =>
      a.assign(other("tcp3", "team-c", {
        ports: [{ protocol: "TCP", port: 5353 }],
        addresses: [shared],
        sharingNamespaces: ["team-a"],
      })),
    AddressTakenError,
  );
  // Both sides allowing: shared.
  a.assign(
    other("udp", "team-a", {
      ports: [{ protocol: "UDP", port: 53 }],
      sharingNamespaces: ["team-c"],
    }),
  );
  const ok = a.assign(other("tcp3", "team-c", {
    ports: [{ protocol: "TCP", port: 5353 }],
    addresses: [shared],
    sharingNamespaces: ["*"],
  }));
  assert.ok(ok.assignment.addresses[0]!.address.equals(shared));
  assert.deepEqual(a.holdersOf(shared), ["team-a/udp", "team-c/tcp3"]);
  // Withdrawing the permission moves only the Service whose annotation changed; the other keeps
  // the address.
  assert.equal(
    a.assign(other("udp", "team-a", { ports: [{ protocol: "UDP", port: 53 }] })).added.length,
    1,
    "team-a/udp no longer allows team-c: it is the one that must move off the shared address",
  );
  assert.deepEqual(a.holdersOf(shared), ["team-c/tcp3"]);
});

Deno.test("ipam annotations: a list annotation with no item says what is missing", () => {
  const empty: [() => unknown, string][] = [
    [() => parseServicePools({ "tern.dev/addresspool": " , " }), "no pool name given"],
    [() => parseLoadBalancerIPs({ "tern.dev/loadBalancerIPs": "," }), "no address given"],
    [
      () => parseSharingNamespaces({ "tern.dev/allow-shared-ip-namespaces": " " }),
      "no namespace given",
    ],
    [() => parsePeerGroups({ "tern.dev/peer-groups": "" }), "no group given"],
  ];
  for (const [f, why] of empty) {
    assert.throws(f, (e: unknown) => e instanceof BadAnnotationError && e.message.endsWith(why));
  }
});

Deno.test("ipam annotations: allow-shared-ip-namespaces", () => {
  assert.deepEqual(parseSharingNamespaces({ "tern.dev/allow-shared-ip-namespaces": "a, b,a" }), [
    "a",
    "b",
  ]);
  assert.deepEqual(parseSharingNamespaces({ "tern.dev/allow-shared-ip-namespaces": "*" }), ["*"]);
  assert.equal(parseSharingNamespaces({}), undefined);
  assert.throws(
    () => parseSharingNamespaces({ "tern.dev/allow-shared-ip-namespaces": "Bad" }),
    BadAnnotationError,
  );
  assert.throws(
    () => parseSharingNamespaces({ "tern.dev/allow-shared-ip-namespaces": "," }),
    BadAnnotationError,
  );
});
