import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { toCrd } from "../actors/crds/crd.ts";
import { ALL_CRDS } from "../actors/crds/registry.ts";
import type { JsonSchema } from "../actors/crds/schema.ts";
import { validateValue } from "../actors/crds/validate.ts";
import { IpAddress } from "../actors/ipam/address.ts";
import { Cidr } from "../actors/ipam/cidr.ts";
import { AddressRange } from "../actors/ipam/range.ts";
import { type PoolInput, resolvePools } from "../actors/ipam/pool.ts";
import { BlockAllocator } from "../actors/ipam/block_allocator.ts";
import { BlockAddressAllocator } from "../actors/ipam/address_allocator.ts";
import { ServiceAllocator } from "../actors/ipam/service_allocator.ts";
import {
  ingressFor,
  isTernService,
  type ServiceObject,
  serviceRequest,
} from "../actors/ipam/service_request.ts";
import { parsePodPool } from "../actors/ipam/annotations.ts";

const dir = new URL("../manifests/samples/", import.meta.url);

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
};

async function loadSamples(): Promise<Map<string, Obj[]>> {
  const files = new Map<string, Obj[]>();
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".yaml")) continue;
    const docs = parseAllDocuments(await Deno.readTextFile(new URL(e.name, dir)));
    files.set(
      e.name,
      docs.map((d) => {
        assert.equal(d.errors.length, 0, `${e.name}: ${d.errors.join("; ")}`);
        return d.toJS() as Obj;
      }),
    );
  }
  return files;
}

const schemas = new Map<string, JsonSchema>(ALL_CRDS.map((d) => {
  const crd = toCrd(d) as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } };
  return [d.kind, crd.spec.versions[0]!.schema.openAPIV3Schema];
}));

const TEST_RANGES = [
  "192.0.2.0/24",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "198.18.0.0/15",
  "fd00::/8",
].map((c) => Cidr.parse(c));

function addressesIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") {
    for (const part of value.split(/[,\s]+/)) {
      const text = part.includes("-") && !part.includes("/")
        ? part.split("-")
        : [part.split("/")[0]!];
      for (const t of text) if (IpAddress.tryParse(t)) out.push(t);
    }
  } else if (Array.isArray(value)) value.forEach((v) => addressesIn(v, out));
  else if (value && typeof value === "object") {
    Object.values(value).forEach((v) => addressesIn(v, out));
  }
  return out;
}

Deno.test("crds samples: every tern object is valid against its CRD schema", async () => {
  const files = await loadSamples();
  assert.ok(files.size >= 8);
  const kinds = new Set<string>();
  for (const [file, objs] of files) {
    for (const o of objs) {
      assert.ok(o.apiVersion && o.kind && o.metadata?.name, `${file}: apiVersion, kind and name`);
      if (o.apiVersion !== "tern.dev/v1alpha1") continue;
      kinds.add(o.kind);
      const schema = schemas.get(o.kind);
      assert.ok(schema, `${file}: unknown kind ${o.kind}`);
      assert.deepEqual(validateValue(o, schema), [], `${file}: ${o.kind}/${o.metadata.name}`);
    }
  }
  for (const k of ["AddressPool", "BGPPeerTemplate", "ClusterBGP", "BGPAdvertisement"]) {
    assert.ok(kinds.has(k), k);
  }
});

Deno.test("crds samples: the schema validator rejects broken objects", () => {
  const schema = schemas.get("AddressPool")!;
  const bad = {
    apiVersion: "tern.dev/v1alpha1",
    kind: "AddressPool",
    metadata: { name: "x" },
    spec: { type: "node", cidrs: ["198.18.0.0/16", "198.18.0.0/16"], blockSize: 40, bogus: 1 },
  };
  const msgs = validateValue(bad, schema).map((p) => `${p.path}: ${p.message}`);
  assert.ok(msgs.some((m) => m.startsWith("spec.type:")), msgs.join("\n"));
  assert.ok(msgs.includes("spec.cidrs: duplicate items in a set"));
  assert.ok(msgs.includes("spec.blockSize: above 32"));
  assert.ok(msgs.includes("spec.bogus: unknown field"));
  assert.ok(
    validateValue(
      { apiVersion: "tern.dev/v1alpha1", kind: "AddressPool", metadata: { name: "y" } },
      schema,
    )
      .some((p) => p.message === "missing required field spec"),
  );
});

Deno.test("crds samples: only test addresses and private ASNs", async () => {
  let seen = 0, asnCount = 0;
  for (const [file, objs] of await loadSamples()) {
    for (const o of objs) {
      for (const a of addressesIn(o)) {
        seen++;
        const ip = IpAddress.parse(a);
        assert.ok(TEST_RANGES.some((c) => c.contains(ip)), `${file}: ${a} is not a test address`);
      }
      const asns: number[] = [];
      const walk = (v: unknown, key = ""): void => {
        if (typeof v === "number" && key === "asn") asns.push(v);
        else if (Array.isArray(v)) v.forEach((x) => walk(x));
        else if (v && typeof v === "object") Object.entries(v).forEach(([k, x]) => walk(x, k));
      };
      walk(o.spec);
      for (const n of asns) assert.ok(n >= 64512 && n <= 65534, `${file}: ASN ${n} is not private`);
      asnCount += asns.length;
    }
  }
  assert.ok(seen >= 15, `only ${seen} addresses found: the scan is broken`);
  assert.ok(asnCount >= 4, `only ${asnCount} ASNs found: the scan is broken`);
});

Deno.test("crds samples: pools and Services allocate as sart's scenarios expect", async () => {
  const files = await loadSamples();
  const all = [...files.values()].flat();
  const pools: PoolInput[] = all.filter((o) => o.kind === "AddressPool").map((o) => ({
    name: o.metadata.name,
    ...(o.spec as Omit<PoolInput, "name">),
  }));
  const { accepted, rejected } = resolvePools(pools);
  assert.equal(rejected.size, 0, [...rejected.values()].map((e) => e.message).join("; "));
  for (const p of accepted.values()) for (const s of p.segments) assert.ok(s.range.size > 0n);

  // Pods: node blocks from the default pool, lowest address first, never .0; the non-default pool
  // (by pod or namespace annotation) hands out single-address blocks.
  const def = new BlockAllocator(accepted.get("default-pod-pool")!);
  const b1 = def.allocate({ node: "worker", family: 4, request: "default-pod-pool-worker" }).block;
  assert.equal(b1.cidr.toString(), "198.18.0.0/26");
  assert.equal(
    new BlockAddressAllocator(b1.cidr).allocate("c1/eth0").address.toString(),
    "198.18.0.1",
  );
  assert.equal(def.allocate({ node: "worker", family: 6 }).block.cidr.toString(), "fd00:10::/122");
  const nonDefault = new BlockAllocator(accepted.get("non-default-pod-pool")!);
  const pods = all.filter((o) => o.kind === "Pod");
  const namespaces = new Map(
    all.filter((o) => o.kind === "Namespace").map((o) => [o.metadata.name, o]),
  );
  const poolOf = (pod: Obj) =>
    parsePodPool(pod.metadata.annotations ?? {}) ??
      parsePodPool(namespaces.get(pod.metadata.namespace!)?.metadata.annotations ?? {}) ??
      "default-pod-pool";
  assert.deepEqual(Object.fromEntries(pods.map((p) => [p.metadata.name, poolOf(p)])), {
    "test-worker": "default-pod-pool",
    "test-worker-annotated": "non-default-pod-pool",
    "test-worker-non-default": "non-default-pod-pool",
    "app-0": "default-pod-pool",
  });
  const single = nonDefault.allocate({ node: "worker", family: 4 }).block;
  assert.equal(
    new BlockAddressAllocator(single.cidr).allocate("c2/eth0").address.toString(),
    "198.19.0.0",
  );

  // Services.
  const alloc = new ServiceAllocator(accepted.values());
  const ingress = new Map<string, string[]>();
  for (const svc of all.filter((o) => o.kind === "Service") as unknown as ServiceObject[]) {
    assert.ok(isTernService(svc));
    const ns = namespaces.get(svc.metadata.namespace!)!;
    const r = alloc.assign(serviceRequest(svc, ns.metadata.labels ?? {}));
    ingress.set(svc.metadata.name, ingressFor(r.assignment).map((i) => i.ip!));
  }
  assert.deepEqual(Object.fromEntries(ingress), {
    "app-svc-cluster": ["203.0.113.1"], // avoidBuggyIPs: not .0
    "app-svc-local": ["203.0.113.2"],
    "app-svc-cluster2": ["198.51.100.20"],
    "app-svc-dual": ["198.51.100.210", "fd00:203::10"],
    "dns-udp": ["198.51.100.128"],
    "dns-tcp": ["198.51.100.128"], // shared by allow-shared-ip
    "app-svc-spine0-only": ["203.0.113.3"],
  });
  assert.equal(alloc.poolOf(IpAddress.parse("198.51.100.210"))?.name, "non-default-lb-pool");
  assert.ok(
    AddressRange.parse("198.51.100.200-198.51.100.250").contains(IpAddress.parse("198.51.100.210")),
  );
});
