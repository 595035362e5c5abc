/** Pure parts of the embedded API server: selectors, patches, schema validation, apply, tables. */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ApiError } from "../actors/kubeapi/errors.ts";
import { apply, decodeFields, encodeFields, leafPaths } from "../actors/kubeapi/field_manager.ts";
import { jsonPatch, mergePatch } from "../actors/kubeapi/json_patch.ts";
import { validateObject } from "../actors/kubeapi/schema_validation.ts";
import {
  matchFields,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
} from "../actors/kubeapi/selectors.ts";
import { strategicMergePatch } from "../actors/kubeapi/strategic_merge.ts";
import { evalJsonPath, humanDuration } from "../actors/kubeapi/table.ts";
import { compareVersions } from "../actors/kubeapi/discovery.ts";
import { decodeKubeProtobuf } from "../actors/kubeapi/protobuf_decode.ts";
import { Store } from "../actors/kubeapi/store.ts";
import type { KubeObject } from "../actors/kubeapi/types.ts";

Deno.test("kubeapi selectors: equality, set-based, exists, field selectors, bad input", () => {
  const labels = { app: "web", tier: "front", "tern.example.com/pool": "a" };
  const yes = [
    "app=web",
    "app==web",
    "app!=db",
    "tier in (front,back)",
    "tier notin (db)",
    "app",
    "!missing",
    "tern.example.com/pool=a",
    "app=web,tier=front",
    "",
  ];
  const no = [
    "app=db",
    "app!=web",
    "tier in (back)",
    "tier notin (front)",
    "missing",
    "!app",
    "app=web,tier=back",
  ];
  for (const s of yes) assert.ok(matchLabels(parseLabelSelector(s), labels), s);
  for (const s of no) assert.ok(!matchLabels(parseLabelSelector(s), labels), s);
  assert.ok(
    matchLabels(parseLabelSelector("missing notin (x)"), labels),
    "notin matches absent keys",
  );
  for (const bad of ["a in (", "=x", "a=b c", "a=-bad-"]) {
    assert.throws(
      () => parseLabelSelector(bad),
      (e: unknown) => e instanceof ApiError && e.code === 400,
      bad,
    );
  }
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "ns" },
    spec: { nodeName: "n1" },
    status: { phase: "Running" },
  };
  assert.ok(
    matchFields(parseFieldSelector("metadata.name=p,spec.nodeName==n1,status.phase!=Pending"), pod),
  );
  assert.ok(!matchFields(parseFieldSelector("spec.nodeName="), pod));
  assert.ok(
    matchFields(parseFieldSelector("spec.hostname="), pod),
    "missing fields compare as empty",
  );
  assert.throws(() => parseFieldSelector("nonsense"), ApiError);
});

Deno.test("kubeapi patches: merge patch, JSON patch, strategic merge by key", () => {
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), {
    a: 1,
    b: { d: 3, e: 4 },
    f: [1],
  });
  const doc = { metadata: { labels: { a: "b" } }, list: [1, 2, 3] };
  assert.deepEqual(
    jsonPatch(doc, [
      { op: "add", path: "/metadata/labels/c~1d", value: "e" },
      { op: "remove", path: "/list/0" },
      { op: "add", path: "/list/-", value: 4 },
      { op: "replace", path: "/metadata/labels/a", value: "z" },
      { op: "copy", from: "/list/0", path: "/first" },
      { op: "move", from: "/first", path: "/moved" },
      { op: "test", path: "/moved", value: 2 },
    ]),
    { metadata: { labels: { a: "z", "c/d": "e" } }, list: [2, 3, 4], moved: 2 },
  );
  assert.deepEqual(doc.list, [1, 2, 3], "input untouched");
  assert.throws(
    () => jsonPatch(doc, [{ op: "test", path: "/list/0", value: 9 }]),
    (e: unknown) => e instanceof ApiError && e.code === 422,
  );
  assert.throws(() => jsonPatch(doc, [{ op: "remove", path: "/nope/x" }]), ApiError);
  assert.throws(
    () => jsonPatch(doc, { op: "add" }),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
  const pod = {
    metadata: { finalizers: ["a"] },
    spec: {
      containers: [
        {
          name: "app",
          image: "v1",
          ports: [{ containerPort: 80, protocol: "TCP" }],
          env: [{ name: "X", value: "1" }],
        },
        { name: "side", image: "s1" },
      ],
    },
    status: {
      conditions: [{ type: "Ready", status: "False" }, { type: "Scheduled", status: "True" }],
    },
  };
  const out = strategicMergePatch("Pod", pod, {
    metadata: { finalizers: ["b"] },
    spec: {
      containers: [
        {
          name: "app",
          image: "v2",
          ports: [{ containerPort: 81 }],
          env: [{ name: "X", $patch: "delete" }],
        },
        { name: "side", $patch: "delete" },
      ],
    },
    status: { conditions: [{ type: "Ready", status: "True" }] },
  }) as typeof pod;
  assert.deepEqual(out.metadata.finalizers, ["a", "b"]);
  assert.equal(out.spec.containers.length, 1);
  assert.equal(out.spec.containers[0].image, "v2");
  assert.deepEqual(out.spec.containers[0].ports!.map((p) => p.containerPort), [80, 81]);
  assert.deepEqual(out.spec.containers[0].env, []);
  assert.deepEqual(out.status.conditions, [{ type: "Ready", status: "True" }, {
    type: "Scheduled",
    status: "True",
  }]);
  const svc = strategicMergePatch("Service", {
    spec: { ports: [{ port: 80, name: "a" }], selector: { a: "b" } },
  }, {
    spec: { ports: [{ port: 80, targetPort: 8080 }], selector: { $patch: "replace", c: "d" } },
  }) as { spec: { ports: unknown[]; selector: unknown } };
  assert.deepEqual(svc.spec.ports, [{ port: 80, name: "a", targetPort: 8080 }]);
  assert.deepEqual(svc.spec.selector, { c: "d" });
  const prim = strategicMergePatch("Pod", { metadata: { finalizers: ["a", "b"] } }, {
    "$deleteFromPrimitiveList/metadata": [],
    metadata: { "$deleteFromPrimitiveList/finalizers": ["a"] },
  }) as { metadata: { finalizers: string[] } };
  assert.deepEqual(prim.metadata.finalizers, ["b"]);
});

Deno.test("kubeapi patches: merge patch laws (property)", () => {
  const json = fc.dictionary(
    fc.string({ maxLength: 3 }),
    fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null)),
    { maxKeys: 5 },
  );
  fc.assert(
    fc.property(json, json, (a, p) => {
      const once = mergePatch(a, p);
      assert.deepEqual(mergePatch(once, p), once, "idempotent");
      for (const [k, v] of Object.entries(p)) {
        if (v === null) assert.ok(!Object.hasOwn(once as object, k));
        else assert.deepEqual((once as Record<string, unknown>)[k], v);
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("kubeapi schema: types, required, enum, pattern, formats, bounds, int-or-string, defaults, pruning", () => {
  const schema = {
    type: "object",
    properties: {
      spec: {
        type: "object",
        required: ["cidr"],
        properties: {
          cidr: { type: "string", format: "cidr" },
          name: { type: "string", pattern: "^[a-z]+$", minLength: 2, maxLength: 5 },
          size: { type: "integer", minimum: 1, maximum: 10, default: 3 },
          mode: { type: "string", enum: ["bgp", "l2"], default: "bgp" },
          port: { "x-kubernetes-int-or-string": true },
          tags: { type: "array", minItems: 1, maxItems: 2, items: { type: "string" } },
          free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          ip: { type: "string", format: "ipv4" },
          ratio: { type: "number", exclusiveMaximum: true, maximum: 1 },
        },
        "x-kubernetes-validations": [{ rule: "self.size > 0" }],
      },
    },
  };
  const ok = {
    apiVersion: "x/v1",
    kind: "X",
    metadata: { name: "a" },
    spec: { cidr: "fd00::/64", port: "http", free: { any: { thing: 1 } }, extra: 1 },
  };
  const res = validateObject(ok, schema);
  assert.deepEqual(res.causes, []);
  assert.deepEqual(res.unknownFields, ["spec.extra"]);
  assert.deepEqual(ok.spec, {
    cidr: "fd00::/64",
    port: "http",
    free: { any: { thing: 1 } },
    size: 3,
    mode: "bgp",
  }, "defaults applied, unknown pruned");
  const bad = {
    apiVersion: "x/v1",
    kind: "X",
    metadata: {},
    spec: {
      cidr: "10.0.0.0/33",
      name: "ABCDEFG",
      size: 11,
      mode: "ospf",
      port: 1.5,
      tags: ["a", "b", "c"],
      ip: "300.1.1.1",
      ratio: 1,
    },
  };
  const fields = validateObject(bad, schema).causes.map((c) => `${c.field}|${c.reason}`).sort();
  assert.deepEqual(fields, [
    "spec.cidr|FieldValueInvalid",
    "spec.ip|FieldValueInvalid",
    "spec.mode|FieldValueNotSupported",
    "spec.name|FieldValueInvalid",
    "spec.name|FieldValueTooLong",
    "spec.port|FieldValueTypeInvalid",
    "spec.ratio|FieldValueInvalid",
    "spec.size|FieldValueInvalid",
    "spec.tags|FieldValueTooMany",
  ]);
  const missing =
    validateObject({ apiVersion: "x/v1", kind: "X", metadata: {}, spec: { size: "3" } }, schema)
      .causes;
  assert.ok(missing.some((c) => c.field === "spec.cidr" && c.reason === "FieldValueRequired"));
  assert.ok(
    missing.some((c) => c.field === "spec.size" && c.message.includes("must be of type integer")),
  );
});

Deno.test("kubeapi apply: create, update, removal of dropped fields, conflicts, force", () => {
  const listKeys = (p: string) => p === "spec.ports" ? ["port"] : undefined;
  const base = {
    manager: "a",
    force: false,
    listKeys,
    apiVersion: "v1",
    now: "2026-01-01T00:00:00Z",
  };
  const first = apply(undefined, {
    metadata: { labels: { x: "1" } },
    spec: { replicas: 1, ports: [{ port: 80, name: "http" }] },
  }, base);
  assert.deepEqual(first.object, {
    metadata: { labels: { x: "1" } },
    spec: { replicas: 1, ports: [{ port: 80, name: "http" }] },
  });
  const live = {
    ...first.object,
    metadata: { ...(first.object.metadata as object), managedFields: first.managedFields },
  };
  const second = apply(live, { spec: { replicas: 2, ports: [{ port: 80, name: "http" }] } }, base);
  assert.deepEqual(second.object.spec, { replicas: 2, ports: [{ port: 80, name: "http" }] });
  assert.equal(
    (second.object.metadata as { labels?: unknown }).labels,
    undefined,
    "label no longer applied is removed",
  );
  const live2 = { ...second.object, metadata: { managedFields: second.managedFields } };
  assert.throws(
    () => apply(live2, { spec: { replicas: 5 } }, { ...base, manager: "b" }),
    (e: unknown) =>
      e instanceof ApiError && e.code === 409 &&
      e.message.includes('conflict with "a": .spec.replicas'),
  );
  const same = apply(live2, { spec: { replicas: 2 } }, { ...base, manager: "b" });
  assert.equal(
    (same.object.spec as { replicas: number }).replicas,
    2,
    "co-owning an equal value is no conflict",
  );
  const forced = apply(live2, { spec: { replicas: 5 } }, { ...base, manager: "b", force: true });
  assert.equal((forced.object.spec as { replicas: number }).replicas, 5);
  const owners = forced.managedFields.map((
    m,
  ) => [m.manager, decodeFields(m.fieldsV1).map((p) => p.join("/"))]);
  assert.ok(
    !JSON.stringify(owners.find(([m]) => m === "a")).includes("f:replicas"),
    "force takes ownership",
  );
  const paths = leafPaths({ spec: { ports: [{ port: 80, name: "a" }] } }, listKeys);
  assert.deepEqual(
    decodeFields(encodeFields(paths)).map((p) => p.join("/")).sort(),
    paths.map((p) => p.join("/")).sort(),
  );
});

Deno.test("kubeapi tables: JSONPath subset, durations, version order", () => {
  const o = {
    status: { conditions: [{ type: "A", status: "False" }, { type: "Ready", status: "True" }] },
    metadata: { labels: { "kubernetes.io/role": "x" } },
    spec: { ports: [{ port: 1 }, { port: 2 }] },
  };
  assert.deepEqual(evalJsonPath(o, '.status.conditions[?(@.type=="Ready")].status'), ["True"]);
  assert.deepEqual(evalJsonPath(o, ".spec.ports[*].port"), [1, 2]);
  assert.deepEqual(evalJsonPath(o, ".spec.ports[-1].port"), [2]);
  assert.deepEqual(evalJsonPath(o, ".metadata.labels.kubernetes\\.io/role"), ["x"]);
  assert.deepEqual(evalJsonPath(o, ".nope.x"), []);
  assert.equal(humanDuration(5_000), "5s");
  assert.equal(humanDuration(200_000), "3m20s");
  assert.equal(humanDuration(3 * 3600_000), "3h");
  assert.equal(humanDuration(50 * 3600_000), "2d2h");
  assert.deepEqual(["v1beta1", "v2", "v1alpha1", "v1"].sort(compareVersions), [
    "v2",
    "v1",
    "v1beta1",
    "v1alpha1",
  ]);
});

Deno.test("kubeapi store: history bound, 410 on compaction, no-op writes keep the resourceVersion", () => {
  const store = new Store({ historyLimit: 3, now: () => 0 });
  store.bootstrap();
  const cm = store.registry.get("", "v1", "configmaps")!;
  const start = store.resourceVersion;
  for (let i = 0; i < 5; i++) store.create(cm, "default", { metadata: { name: `c${i}` } });
  assert.ok(store.compactedResourceVersion > start);
  assert.throws(
    () => store.watch(cm, "default", { resourceVersion: String(start) }, { send() {}, close() {} }),
    (e: unknown) => e instanceof ApiError && e.code === 410 && e.reason === "Expired",
  );
  const events: string[] = [];
  const w = store.watch(
    cm,
    "default",
    { resourceVersion: String(store.compactedResourceVersion) },
    {
      send: (e) => events.push(`${e.type}:${(e.object as KubeObject).metadata.name}`),
      close() {},
    },
  );
  assert.deepEqual(events, ["ADDED:c2", "ADDED:c3", "ADDED:c4"]);
  const before = store.get(cm, "default", "c4");
  const again = store.update(cm, "default", "c4", before).object;
  assert.equal(again.metadata.resourceVersion, before.metadata.resourceVersion, "no-op update");
  store.update(cm, "default", "c4", { ...before, data: { a: "b" } });
  assert.deepEqual(events.slice(3), ["MODIFIED:c4"]);
  w.stop();
});

Deno.test("kubeapi store: dryRun on update, patch and delete changes nothing; sendInitialEvents ends with a bookmark", () => {
  const store = new Store();
  store.bootstrap();
  const cm = store.registry.get("", "v1", "configmaps")!;
  store.create(cm, "default", { metadata: { name: "d" }, data: { a: "1" } });
  const rv = store.resourceVersion;
  const cur = store.get(cm, "default", "d");
  const upd = store.update(cm, "default", "d", { ...cur, data: { a: "2" } }, { dryRun: true });
  assert.equal((upd.object.data as { a: string }).a, "2", "dry run returns the would-be object");
  store.patch(cm, "default", "d", "merge", { data: { a: "3" } }, { dryRun: true });
  assert.equal(store.delete(cm, "default", "d", { dryRun: true }).gone, true);
  assert.equal(store.resourceVersion, rv, "nothing was written");
  assert.deepEqual(store.get(cm, "default", "d").data, { a: "1" });
  const events: Array<[string, unknown]> = [];
  const w = store.watch(cm, "default", {
    sendInitialEvents: true,
    allowWatchBookmarks: true,
    resourceVersion: "",
  }, {
    send: (e) =>
      events.push([
        e.type,
        e.type === "BOOKMARK"
          ? (e.object as KubeObject).metadata.annotations
          : (e.object as KubeObject).metadata.name,
      ]),
    close() {},
  });
  w.stop();
  assert.deepEqual(events, [["ADDED", "d"], ["BOOKMARK", { "k8s.io/initial-events-end": "true" }]]);
});

Deno.test("kubeapi protobuf: decodes a ConfigMap envelope; malformed and unsupported bodies are typed errors", () => {
  const enc = new TextEncoder();
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const field = (
    num: number,
    bytes: Uint8Array | number[],
  ) => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
  const str = (num: number, s: string) => field(num, enc.encode(s));
  const entry = (k: string, v: string) => new Uint8Array([...str(1, k), ...str(2, v)]);
  const meta = new Uint8Array([
    ...str(1, "cfg"),
    ...str(3, "demo"),
    ...field(11, entry("app", "x")),
  ]);
  const cm = new Uint8Array([
    ...field(1, meta),
    ...field(2, entry("a", "b")),
    ...field(2, entry("c", "d")),
    ...varint((4 << 3) | 0),
    1,
  ]);
  const typeMeta = new Uint8Array([...str(1, "v1"), ...str(2, "ConfigMap")]);
  const body = new Uint8Array([0x6b, 0x38, 0x73, 0, ...field(1, typeMeta), ...field(2, cm)]);
  assert.deepEqual(decodeKubeProtobuf(body), {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", namespace: "demo", labels: { app: "x" } },
    data: { a: "b", c: "d" },
    immutable: true,
  });
  assert.throws(
    () => decodeKubeProtobuf(body.subarray(0, body.length - 3)),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
  assert.throws(
    () => decodeKubeProtobuf(enc.encode("{}")),
    (e: unknown) => e instanceof ApiError && e.code === 400,
  );
  const podType = new Uint8Array([...str(1, "v1"), ...str(2, "Pod")]);
  assert.throws(
    () =>
      decodeKubeProtobuf(
        new Uint8Array([0x6b, 0x38, 0x73, 0, ...field(1, podType), ...field(2, [])]),
      ),
    (e: unknown) => e instanceof ApiError && e.code === 415,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      try {
        decodeKubeProtobuf(new Uint8Array([0x6b, 0x38, 0x73, 0, ...junk]));
      } catch (e) {
        assert.ok(e instanceof ApiError, `only typed errors: ${e}`);
      }
    }),
    { numRuns: 300 },
  );
});
