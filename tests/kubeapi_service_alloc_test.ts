/**
 * ClusterIP and NodePort allocation of the embedded API server: the slot range (high-water mark
 * plus free set), the index the store keeps over stored Services (reuse after delete, explicit
 * addresses, two node ports of one Service, a full range, dry runs, restore), checked against a
 * model with fast-check.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ApiError, Store } from "../actors/kubeapi/mod.ts";
import { ServiceAddressIndex, SlotRange } from "../actors/kubeapi/service_allocator.ts";
import type { KubeObject } from "../actors/kubeapi/types.ts";

function svcType(store: Store) {
  return store.registry.get("", "v1", "services")!;
}

function create(store: Store, name: string, spec: Record<string, unknown> = {}): KubeObject {
  return store.create(svcType(store), "default", {
    metadata: { name },
    spec: { ports: [{ port: 80 }], ...spec },
  }, {}).object;
}

const ipOf = (o: KubeObject) => (o.spec as { clusterIP: string }).clusterIP;

Deno.test("kubeapi service alloc: slot range hands out free slots, reuses released ones", () => {
  const r = new SlotRange(10, 14);
  const got: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = r.candidate(new Set())!;
    r.use(s);
    got.push(s);
  }
  assert.deepEqual(got, [10, 11, 12, 13, 14]);
  assert.equal(r.candidate(new Set()), undefined, "full");
  r.release(12);
  assert.equal(r.candidate(new Set()), 12);
  assert.equal(r.candidate(new Set([12])), undefined, "skip set honoured");
  r.use(12);
  r.use(12); // counted twice
  r.release(12);
  assert.equal(r.candidate(new Set()), undefined, "still used once");
  r.release(12);
  assert.equal(r.candidate(new Set()), 12);
  r.use(99); // outside: ignored
  assert.equal(r.used(99), false);
});

Deno.test("kubeapi service alloc: slot range agrees with a set model", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant("alloc" as const) }),
          fc.record({ op: fc.constant("use" as const), slot: fc.integer({ min: 0, max: 40 }) }),
          fc.record({
            op: fc.constant("release" as const),
            slot: fc.integer({ min: 0, max: 40 }),
          }),
        ),
        { maxLength: 200 },
      ),
      (ops) => {
        const r = new SlotRange(5, 35);
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.op === "alloc") {
            const s = r.candidate(new Set());
            const free = [...Array(31).keys()].map((i) => i + 5).filter((i) => !model.has(i));
            if (free.length === 0) assert.equal(s, undefined);
            else {
              assert.ok(s !== undefined && free.includes(s), `candidate ${s} is free`);
              r.use(s);
              model.set(s, 1);
            }
          } else if (o.op === "use") {
            r.use(o.slot);
            if (o.slot >= 5 && o.slot <= 35) model.set(o.slot, (model.get(o.slot) ?? 0) + 1);
          } else {
            r.release(o.slot);
            const n = model.get(o.slot);
            if (n === 1) model.delete(o.slot);
            else if (n) model.set(o.slot, n - 1);
          }
          assert.equal(r.usedCount, model.size);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("kubeapi service alloc: a bad service CIDR is a typed error", () => {
  for (const bad of ["198.19.0.0", "198.19.0.0/33", "fd00::/112", "300.1.1.1/20", "1.2.3.4/4"]) {
    assert.throws(
      () => new ServiceAddressIndex(bad),
      (e: unknown) => e instanceof ApiError && e.code === 400 && e.message.includes(bad),
      bad,
    );
  }
});

Deno.test("kubeapi service alloc: the store reuses, refuses duplicates, fills, restores", () => {
  const store = new Store({ serviceCIDR: "203.0.113.0/28" }); // offsets 10..14: 5 addresses
  store.bootstrap();
  const ips = ["a", "b", "c"].map((n) => ipOf(create(store, n)));
  assert.deepEqual(ips, ["203.0.113.10", "203.0.113.11", "203.0.113.12"]);
  // A dry run hands out an address but does not take it.
  const dry = store.create(svcType(store), "default", {
    metadata: { name: "dry" },
    spec: { ports: [{ port: 80 }] },
  }, { dryRun: true }).object;
  assert.equal(ipOf(dry), "203.0.113.13");
  assert.equal(ipOf(create(store, "d")), "203.0.113.13");
  // An explicit address that is taken is refused; a free one is accepted.
  assert.throws(
    () => create(store, "dup", { clusterIP: "203.0.113.11" }),
    (e: unknown) => e instanceof ApiError && e.code === 422 && /already allocated/.test(e.message),
  );
  assert.equal(ipOf(create(store, "e", { clusterIP: "203.0.113.14" })), "203.0.113.14");
  // Full.
  assert.throws(
    () => create(store, "f"),
    (e: unknown) => e instanceof ApiError && e.code === 500 && /203\.0\.113\.0\/28/.test(e.message),
  );
  // Deleting frees the address for the next create.
  store.delete(svcType(store), "default", "b", {});
  assert.equal(ipOf(create(store, "g")), "203.0.113.11");
  // Headless Services take nothing.
  assert.equal(ipOf(create(store, "h", { clusterIP: "None" })), "None");

  // Node ports: two ports of one Service get two ports; deleting frees them.
  const np = create(store, "np", {
    clusterIP: "None",
    type: "NodePort",
    ports: [{ name: "a", port: 80 }, { name: "b", port: 81 }],
  });
  const ports = (np.spec as { ports: { nodePort: number }[] }).ports.map((p) => p.nodePort);
  assert.equal(new Set(ports).size, 2, `distinct node ports ${ports}`);
  const np2 = create(store, "np2", {
    clusterIP: "None",
    type: "NodePort",
    ports: [{ port: 80 }],
  });
  const p2 = (np2.spec as { ports: { nodePort: number }[] }).ports[0].nodePort;
  assert.ok(!ports.includes(p2));

  // Restore rebuilds the index from the snapshot: taken addresses stay taken.
  const snap = store.snapshot();
  const again = new Store({ serviceCIDR: "203.0.113.0/28" });
  again.restore(snap);
  assert.throws(
    () => create(again, "x"),
    (e: unknown) => e instanceof ApiError && e.code === 500,
    "range still full after restore",
  );
  again.delete(svcType(again), "default", "c", {});
  assert.equal(ipOf(create(again, "y")), "203.0.113.12");
  const np3 = create(again, "np3", { clusterIP: "None", type: "NodePort", ports: [{ port: 9 }] });
  const p3 = (np3.spec as { ports: { nodePort: number }[] }).ports[0].nodePort;
  assert.ok(![...ports, p2].includes(p3), "restored node ports stay taken");
});
