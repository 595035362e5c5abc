import assert from "node:assert/strict";
import { IpAddress } from "../actors/ipam/address.ts";
import { resolvePools } from "../actors/ipam/pool.ts";
import { ServiceAllocator } from "../actors/ipam/service_allocator.ts";
import {
  decideService,
  restoreFromServices,
  SERVICE_CONDITION,
  servicePrefixes,
} from "../actors/ipam/lb_decision.ts";
import type { ServiceObject } from "../actors/ipam/service_request.ts";
import { addressPoolStatus } from "../actors/ipam/pool_status.ts";
import { BlockAllocator } from "../actors/ipam/block_allocator.ts";

const POOLS = resolvePools([
  {
    name: "auto",
    type: "service",
    cidrs: ["203.0.113.0/24", "fd00:203::/120"],
    autoAssign: true,
    aggregationLength: 24,
  },
  { name: "small", type: "service", ranges: ["198.51.100.10-198.51.100.11"] },
  {
    name: "late-overlap",
    type: "service",
    cidrs: ["203.0.113.128/25"],
    creationTimestamp: "2099-01-01T00:00:00Z",
  },
]);

function alloc(): ServiceAllocator {
  return new ServiceAllocator(POOLS.accepted.values());
}

function svc(name: string, opts: {
  annotations?: Record<string, string>;
  cls?: string | null;
  type?: string;
  ingress?: string[];
  families?: string[];
  policy?: string;
  created?: string;
} = {}): ServiceObject {
  const spec: NonNullable<ServiceObject["spec"]> = {
    type: opts.type ?? "LoadBalancer",
    ports: [{ protocol: "TCP", port: 80 }],
    selector: { app: name },
  };
  if (opts.cls !== null) spec.loadBalancerClass = opts.cls ?? "tern.dev/bgp";
  if (opts.families) spec.ipFamilies = opts.families;
  if (opts.policy) spec.ipFamilyPolicy = opts.policy;
  const o: ServiceObject = {
    metadata: {
      name,
      namespace: "test",
      annotations: opts.annotations ?? {},
      ...(opts.created ? { creationTimestamp: opts.created } : {}),
    },
    spec,
  };
  if (opts.ingress) {
    o.status = {
      loadBalancer: { ingress: opts.ingress.map((ip) => ({ ip, ipMode: "VIP" as const })) },
    };
  }
  return o;
}

Deno.test("ipam lb decision: assign, write ingress once, report Events and condition", () => {
  const a = alloc();
  const d = decideService(a, "test/web", svc("web"));
  assert.deepEqual(d.writeIngress, [{ ip: "203.0.113.0", ipMode: "VIP" }]);
  assert.deepEqual(d.added.map(String), ["203.0.113.0"]);
  assert.equal(d.condition?.type, SERVICE_CONDITION);
  assert.equal(d.condition?.status, "True");
  assert.deepEqual(d.events.map((e) => e.reason), ["AddressAssigned"]);
  assert.match(d.events[0]!.message, /203\.0\.113\.0 \(auto\)/);
  // Status already written: nothing to write, no new Event.
  const again = decideService(a, "test/web", svc("web", { ingress: ["203.0.113.0"] }));
  assert.equal(again.writeIngress, undefined);
  assert.deepEqual(again.events, []);
  assert.equal(again.condition?.status, "True");
});

Deno.test("ipam lb decision: class handling and release", () => {
  const a = alloc();
  assert.deepEqual(
    decideService(a, "test/other", svc("other", { cls: "example.com/lb" })).added,
    [],
  );
  assert.deepEqual(decideService(a, "test/noclass", svc("noclass", { cls: null })).added, []);
  assert.deepEqual(
    decideService(a, "test/noclass", svc("noclass", { cls: null }), { handleUnclassed: true }).added
      .map(String),
    ["203.0.113.0"],
  );
  // Stops being a LoadBalancer: released, ingress cleared.
  const d = decideService(
    a,
    "test/noclass",
    svc("noclass", { cls: null, type: "ClusterIP", ingress: ["203.0.113.0"] }),
    {
      handleUnclassed: true,
    },
  );
  assert.deepEqual(d.freed.map(String), ["203.0.113.0"]);
  assert.deepEqual(d.writeIngress, []);
  assert.deepEqual(d.events.map((e) => e.reason), ["AddressReleased"]);
  // Deleted and unknown: nothing to do.
  const gone = decideService(a, "test/never", undefined);
  assert.deepEqual([gone.freed, gone.events, gone.writeIngress], [[], [], undefined]);
});

Deno.test("ipam lb decision: user errors become Warning Events and False conditions, nothing changes", () => {
  const a = alloc();
  decideService(a, "test/keep", svc("keep"));
  const before = JSON.stringify(a.assignments());
  const cases: [ServiceObject, string][] = [
    [svc("x", { annotations: { "tern.dev/loadBalancerIPs": "192.0.2.1" } }), "AddressOutsidePools"],
    [svc("x", { annotations: { "tern.dev/loadBalancerIPs": "203.0.113.0" } }), "AddressTaken"],
    [svc("x", { annotations: { "tern.dev/addresspool": "nope" } }), "UnknownPool"],
    [svc("x", { annotations: { "tern.dev/addresspool": "late-overlap" } }), "UnknownPool"], // rejected pool
    [svc("x", { annotations: { "tern.dev/loadBalancerIPs": "not-an-ip" } }), "BadAnnotation"],
    [svc("x", { annotations: { "tern.dev/allow-shared-ip": "" } }), "BadAnnotation"],
  ];
  for (const [s, reason] of cases) {
    const d = decideService(a, "test/x", s);
    assert.equal(d.error?.reason, reason, JSON.stringify(s.metadata.annotations));
    assert.equal(d.condition?.status, "False");
    assert.equal(d.condition?.reason, reason);
    assert.deepEqual(d.events.map((e) => [e.type, e.reason]), [["Warning", reason]]);
    assert.equal(d.writeIngress, undefined);
  }
  assert.equal(JSON.stringify(a.assignments()), before);
  // Exhaustion, and a bad annotation on a Service that has an address keeps the address.
  decideService(a, "test/s1", svc("s1", { annotations: { "tern.dev/addresspool": "small" } }));
  decideService(a, "test/s2", svc("s2", { annotations: { "tern.dev/addresspool": "small" } }));
  const full = decideService(
    a,
    "test/s3",
    svc("s3", { annotations: { "tern.dev/addresspool": "small" } }),
  );
  assert.equal(full.error?.reason, "PoolExhausted");
  const bad = decideService(
    a,
    "test/s1",
    svc("s1", { annotations: { "tern.dev/addresspool": "Not Valid" } }),
  );
  assert.equal(bad.error?.reason, "BadAnnotation");
  assert.match(bad.condition!.message, /keeping 198\.51\.100\.10/);
  assert.deepEqual(a.assignmentOf("test/s1")!.addresses.map((x) => x.address.toString()), [
    "198.51.100.10",
  ]);
});

Deno.test("ipam lb decision: the deprecated spec.loadBalancerIP is honoured, the annotation wins", () => {
  const a = alloc();
  const legacy = svc("legacy");
  legacy.spec!.loadBalancerIP = "203.0.113.77";
  assert.deepEqual(decideService(a, "test/legacy", legacy).writeIngress?.map((i) => i.ip), [
    "203.0.113.77",
  ]);
  const both = svc("both", { annotations: { "tern.dev/loadBalancerIPs": "203.0.113.78" } });
  both.spec!.loadBalancerIP = "203.0.113.79";
  assert.deepEqual(decideService(a, "test/both", both).writeIngress?.map((i) => i.ip), [
    "203.0.113.78",
  ]);
});

Deno.test("ipam lb decision: dual-stack and PreferDualStack partial success", () => {
  const a = alloc();
  const d = decideService(
    a,
    "test/dual",
    svc("dual", { families: ["IPv6", "IPv4"], policy: "RequireDualStack" }),
  );
  assert.deepEqual(d.writeIngress?.map((i) => i.ip), ["fd00:203::", "203.0.113.0"]);
  const p = decideService(
    a,
    "test/prefer",
    svc("prefer", {
      families: ["IPv4", "IPv6"],
      policy: "PreferDualStack",
      annotations: { "tern.dev/addresspool": "small" },
    }),
  );
  assert.deepEqual(p.writeIngress?.map((i) => i.ip), ["198.51.100.10"]);
  assert.equal(p.condition?.status, "False");
  assert.equal(p.condition?.reason, "FamilyUnavailable");
  assert.deepEqual(p.events.map((e) => e.type), ["Normal", "Warning"]);
});

Deno.test("ipam lb decision: restart rebuilds from Service status, oldest wins a double", () => {
  const services = [
    svc("b", { ingress: ["203.0.113.5"], created: "2026-01-02T00:00:00Z" }),
    svc("a", { ingress: ["203.0.113.5"], created: "2026-01-01T00:00:00Z" }), // older: keeps it
    svc("c", {
      ingress: ["203.0.113.7"],
      created: "2026-01-03T00:00:00Z",
      annotations: { "tern.dev/addresspool": "!!" },
    }),
    svc("d", { ingress: ["203.0.113.9"], cls: "example.com/lb" }), // not ours: ignored
    svc("e", { created: "2026-01-04T00:00:00Z" }), // no status yet
  ];
  const a = alloc();
  const rep = restoreFromServices(a, services);
  assert.deepEqual(rep.restored.map((r) => r.key), ["test/a", "test/c"]);
  assert.deepEqual(rep.conflicts.map((c) => `${c.key}:${c.error.code}`), ["test/b:address_taken"]);
  // Then reconciling: a keeps, b moves off the double, e gets the lowest free, c's bad
  // annotation is reported while it keeps its address.
  const results = Object.fromEntries(services.map((s) => {
    const d = decideService(a, `test/${s.metadata.name}`, s);
    return [
      s.metadata.name,
      a.assignmentOf(`test/${s.metadata.name}`)?.addresses.map((x) => x.address.toString()) ??
        d.error?.reason,
    ];
  }));
  assert.deepEqual(results, {
    a: ["203.0.113.5"],
    b: ["203.0.113.0"],
    c: ["203.0.113.7"],
    d: undefined,
    e: ["203.0.113.1"],
  });
});

Deno.test("ipam lb decision: advertised prefixes honour the pool's aggregation length", () => {
  const a = alloc();
  decideService(a, "test/one", svc("one"));
  decideService(a, "test/two", svc("two"));
  decideService(a, "test/six", svc("six", { families: ["IPv6"] }));
  decideService(a, "test/r", svc("r", { annotations: { "tern.dev/addresspool": "small" } }));
  const local = svc("loc");
  local.spec!.externalTrafficPolicy = "Local";
  decideService(a, "test/loc", local);
  const show = () =>
    servicePrefixes(a).map((p) => `${p.cidr}:${p.pool}:${p.trafficPolicy}:${p.services.join("+")}`);
  assert.deepEqual(show(), [
    "198.51.100.10/32:small:Cluster:test/r",
    "203.0.113.0/24:auto:Cluster:test/one+test/two",
    "203.0.113.2/32:auto:Local:test/loc", // Local: never aggregated
    "fd00:203::/128:auto:Cluster:test/six",
  ]);
  decideService(a, "test/loc", undefined);
  decideService(a, "test/one", undefined);
  decideService(a, "test/two", undefined);
  assert.deepEqual(show(), [
    "198.51.100.10/32:small:Cluster:test/r",
    "fd00:203::/128:auto:Cluster:test/six",
  ]);
  assert.ok(IpAddress.parse("203.0.113.0"));
});

Deno.test("ipam pool status: capacity, usage, conditions and stable transition times", () => {
  const pool = POOLS.accepted.get("auto")!;
  const a = alloc();
  decideService(a, "test/one", svc("one"));
  const usage = a.usage("auto");
  const s1 = addressPoolStatus({
    pool,
    usage: { allocated: usage.allocated },
    generation: 3,
    now: "2026-01-01T00:00:00Z",
  });
  assert.deepEqual(s1.capacity, { ipv4: "256", ipv6: "256" });
  assert.deepEqual(s1.allocated, { ipv4: "1", ipv6: "0" });
  assert.equal(s1.observedGeneration, 3);
  const ready = s1.conditions!.find((c) => c.type === "Ready")!;
  assert.equal(ready.status, "True");
  const s2 = addressPoolStatus({
    pool,
    usage: { allocated: usage.allocated },
    previous: s1,
    now: "2026-01-02T00:00:00Z",
  });
  assert.equal(
    s2.conditions!.find((c) => c.type === "Ready")!.lastTransitionTime,
    "2026-01-01T00:00:00Z",
  );
  // Rejected pool: Ready False, Conflict True naming the other pool.
  const rej = addressPoolStatus({
    rejection: POOLS.rejected.get("late-overlap")!,
    previous: s2,
    now: "2026-01-03T00:00:00Z",
  });
  const conflict = rej.conditions!.find((c) => c.type === "Conflict")!;
  assert.equal(conflict.status, "True");
  assert.equal(conflict.reason, "OverlappingPools");
  assert.match(conflict.message, /"auto"/);
  assert.equal(
    rej.conditions!.find((c) => c.type === "Ready")!.lastTransitionTime,
    "2026-01-03T00:00:00Z",
  );
  // Pod pool: block counts and exhaustion.
  const pods = resolvePools([{
    name: "pods",
    type: "pod",
    cidrs: ["198.18.0.0/30"],
    blockSize: 31,
  }]).accepted.get("pods")!;
  const blocks = new BlockAllocator(pods);
  blocks.allocate({ node: "n1", family: 4 });
  blocks.allocate({ node: "n2", family: 4 });
  const ps = addressPoolStatus({
    pool: pods,
    usage: {
      allocated: { 4: 3n },
      blocks: {
        count: blocks.allocatedCount(4),
        capacity: { 4: blocks.capacity(4) },
        exhausted: true,
      },
    },
    now: "2026-01-01T00:00:00Z",
  });
  assert.equal(ps.blocks, 2);
  assert.deepEqual(ps.blockCapacity, { ipv4: "2" });
  assert.equal(ps.conditions!.find((c) => c.type === "Exhausted")!.status, "True");
});
