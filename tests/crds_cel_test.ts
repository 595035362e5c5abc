import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { compileRule, evaluateRules } from "../actors/crds/cel.ts";
import { toCrd } from "../actors/crds/crd.ts";
import { ALL_CRDS } from "../actors/crds/registry.ts";
import type { JsonSchema } from "../actors/crds/schema.ts";
import { applyDefaults, validateValue } from "../actors/crds/validate.ts";

const schemas = new Map<string, JsonSchema>(ALL_CRDS.map((d) => {
  const crd = toCrd(d) as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } };
  return [d.kind, crd.spec.versions[0]!.schema.openAPIV3Schema];
}));

function rulesOf(s: JsonSchema, out: string[] = []): string[] {
  for (const v of s["x-kubernetes-validations"] ?? []) out.push(v.rule);
  for (const p of Object.values(s.properties ?? {})) rulesOf(p, out);
  if (s.items) rulesOf(s.items, out);
  if (s.additionalProperties) rulesOf(s.additionalProperties, out);
  return out;
}

/** What the API server would say about creating (or updating from `old`) an object. */
function admit(obj: Record<string, unknown>, old?: Record<string, unknown>): string[] {
  const schema = schemas.get(obj.kind as string)!;
  const v = applyDefaults(obj, schema);
  const o = old === undefined ? undefined : applyDefaults(old, schema);
  return [...validateValue(v, schema), ...evaluateRules(v, schema, o)].map((p) =>
    `${p.path}: ${p.message}`
  );
}

Deno.test("crds cel: every rule compiles", () => {
  let n = 0;
  for (const [kind, s] of schemas) {
    for (const rule of rulesOf(s)) {
      assert.doesNotThrow(() => compileRule(rule), `${kind}: ${rule}`);
      n++;
    }
  }
  assert.ok(n >= 20, `only ${n} rules`);
});

Deno.test("crds cel: samples pass every rule, on create and on an unchanged update", async () => {
  const dir = new URL("../manifests/samples/", import.meta.url);
  let checked = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".yaml")) continue;
    for (const d of parseAllDocuments(await Deno.readTextFile(new URL(e.name, dir)))) {
      const obj = d.toJS() as Record<string, unknown>;
      if (obj.apiVersion !== "tern.dev/v1alpha1") continue;
      assert.deepEqual(admit(obj), [], `${e.name} ${obj.kind}`);
      assert.deepEqual(admit(obj, obj), [], `${e.name} ${obj.kind} (update)`);
      checked++;
    }
  }
  assert.ok(checked >= 9, `only ${checked} objects`);
});

const pool = (spec: Record<string, unknown>) => ({
  apiVersion: "tern.dev/v1alpha1",
  kind: "AddressPool",
  metadata: { name: "p" },
  spec,
});

Deno.test("crds cel: bad objects are rejected with the rule's message", () => {
  const cases: [Record<string, unknown>, RegExp, Record<string, unknown>?][] = [
    [pool({ type: "pod" }), /a pool needs at least one CIDR or range/],
    [pool({ type: "pod", cidrs: ["198.18.0.1/16"] }), /no host bits set/],
    [pool({ type: "pod", cidrs: ["198.18.0.0/33"] }), /no host bits set/],
    [pool({ type: "pod", cidrs: ["not-a-cidr"] }), /no host bits set/],
    [
      pool({ type: "pod", cidrs: ["198.18.0.0/16"], ranges: ["198.18.1.1-198.18.1.9"] }),
      /ranges are for service pools/,
    ],
    [pool({ type: "service", ranges: ["203.0.113.1-fd00::1"] }), /two addresses of one family/],
    [pool({ type: "service", ranges: ["203.0.113.1"] }), /two addresses of one family/],
    [
      pool({ type: "service", cidrs: ["203.0.113.0/24"], blockSize: 28 }),
      /blockSize and blockSizeV6 are for pod pools/,
    ],
    [pool({ type: "pod", cidrs: ["198.18.0.0/16"], aggregationLength: 24 }), /for service pools/],
    [pool({ type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 12 }), /below 16/],
    // Transitions.
    [
      pool({ type: "service", cidrs: ["198.18.0.0/16"] }),
      /type is immutable/,
      pool({ type: "pod", cidrs: ["198.18.0.0/16"] }),
    ],
    [
      pool({ type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 27 }),
      /blockSize is immutable/,
      pool({ type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 26 }),
    ],
    [
      pool({ type: "pod", cidrs: ["198.18.0.0/16"] }),
      /cannot be added or removed/,
      pool({ type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 26 }),
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "ClusterBGP",
        metadata: { name: "c" },
        spec: {
          asnSelector: { from: "asn" },
          routerIdSelector: { from: "routerId", routerId: "fd00::1" },
        },
      },
      /from: asn needs asn/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "ClusterBGP",
        metadata: { name: "c" },
        spec: {
          asnSelector: { from: "label" },
          routerIdSelector: { from: "routerId", routerId: "fd00::1" },
        },
      },
      /needs an IPv4 routerId/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "ClusterBGP",
        metadata: { name: "c" },
        spec: {
          asnSelector: { from: "label" },
          routerIdSelector: { from: "internalAddress" },
          peers: [{
            name: "x",
            peerTemplateRef: "t",
            peerConfig: { asn: 64512, addr: "192.0.2.1" },
          }],
        },
      },
      /exactly one of peerTemplateRef and peerConfig/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPPeerTemplate",
        metadata: { name: "t" },
        spec: { asn: 64512, addr: "192.0.2.1", holdTime: 9, keepaliveTime: 9 },
      },
      /keepaliveTime must be shorter than holdTime/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPPeerTemplate",
        metadata: { name: "t" },
        spec: { asn: 64512, addr: "192.0.2.1", holdTime: 2 },
      },
      /holdTime must be 0 or at least 3/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPPeerTemplate",
        metadata: { name: "t" },
        spec: { asn: 64512, addr: "192.0.2.300" },
      },
      /must be an IPv4 or IPv6 address/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPPeer",
        metadata: { name: "b" },
        spec: { asn: 64513, addr: "192.0.2.1", node: "n1" },
      },
      /asn is immutable/,
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPPeer",
        metadata: { name: "b" },
        spec: { asn: 64512, addr: "192.0.2.1", node: "n1" },
      },
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPAdvertisement",
        metadata: { name: "a" },
        spec: { cidr: "fd00::/64", type: "service", family: "ipv4" },
      },
      /family must match the family of cidr/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPAdvertisement",
        metadata: { name: "a" },
        spec: {
          cidr: "203.0.113.0/24",
          type: "service",
          family: "ipv4",
          attributes: { communities: ["65536x1"] },
        },
      },
      /does not match/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "AddressPool",
        metadata: { name: "p" },
        spec: {
          type: "service",
          cidrs: ["203.0.113.0/24"],
          namespaceSelector: { matchExpressions: [{ key: "team", operator: "In" }] },
        },
      },
      /In and NotIn need values/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "AddressBlock",
        metadata: { name: "b" },
        spec: { cidr: "198.18.0.0/26", pool: "p", type: "pod" },
      },
      /pod blocks name their node/,
    ],
    [
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "AddressBlock",
        metadata: { name: "b" },
        spec: { cidr: "198.18.0.64/26", pool: "p", type: "pod", node: "n" },
      },
      /spec is immutable/,
      {
        apiVersion: "tern.dev/v1alpha1",
        kind: "AddressBlock",
        metadata: { name: "b" },
        spec: { cidr: "198.18.0.0/26", pool: "p", type: "pod", node: "n" },
      },
    ],
  ];
  for (const [obj, want, old] of cases) {
    const problems = admit(obj, old);
    assert.ok(
      problems.some((p) => want.test(p)),
      `${JSON.stringify(obj.spec)}: want ${want}, got ${JSON.stringify(problems)}`,
    );
  }
  // And the good twins pass (holdTime alone is enough: keepalive defaults to a third of it).
  assert.deepEqual(
    admit({
      apiVersion: "tern.dev/v1alpha1",
      kind: "BGPPeerTemplate",
      metadata: { name: "t" },
      spec: { asn: 64512, addr: "192.0.2.1", holdTime: 9 },
    }),
    [],
  );
  assert.deepEqual(
    admit(pool({ type: "pod", cidrs: ["198.18.0.0/16", "fd00:10::/64"], blockSize: 26 })),
    [],
  );
  assert.deepEqual(
    admit(pool({ type: "service", ranges: ["203.0.113.1 - 203.0.113.9"], aggregationLength: 24 })),
    [],
  );
});
