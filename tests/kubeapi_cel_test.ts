/** CRD validation rules (CEL subset): the evaluator, transition rules, and tern's own CRDs. */

import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { CelError, evalCel, parseCel, parseCIDR, parseIP } from "../actors/kubeapi/cel.ts";
import { ruleProblems } from "../actors/kubeapi/schema_validation.ts";
import { exampleCrd, failure, withServer } from "./kubeapi_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

const run = (rule: string, self: unknown, oldSelf?: unknown) =>
  evalCel(parseCel(rule), oldSelf === undefined ? { self } : { self, oldSelf });

Deno.test("kubeapi cel: operators, macros, strings, IP and CIDR library", () => {
  assert.equal(run("self == 0 || self >= 3", 0), true);
  assert.equal(run("self == 0 || self >= 3", 2), false);
  assert.equal(
    run("self.a + self.b * 2 == 7 && self.a % 2 == 1 && 7 / 2 == 3", { a: 3, b: 2 }),
    true,
  );
  assert.equal(run("has(self.x) ? self.x : 'none'", {}), "none");
  assert.equal(run("!has(self.values) || size(self.values) == 0", { values: [] }), true);
  assert.equal(
    run("self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : true", {
      operator: "In",
    }),
    false,
  );
  assert.equal(
    run("self.all(x, x > 0) && self.exists(x, x == 2) && self.exists_one(x, x == 3)", [1, 2, 3]),
    true,
  );
  assert.deepEqual(run("self.filter(x, x > 1).map(x, x * 10)", [1, 2, 3]), [20, 30]);
  assert.equal(run("'b' in self && size(self) == 2", { a: 1, b: 2 }), true);
  assert.equal(
    run(
      "self.startsWith('ab') && self.endsWith('yz') && self.contains('mm') && self.matches('^a.*z$')",
      "abmmyz",
    ),
    true,
  );
  assert.deepEqual(run("self.split('-').map(s, s.trim().upperAscii())", " a - b "), ["A", "B"]);
  assert.equal(run("int('42') + 1 == 43 && string(7) == '7'", null), true);
  assert.equal(run("isCIDR(self) && cidr(self) == cidr(self).masked()", "198.18.0.0/16"), true);
  assert.equal(run("isCIDR(self) && cidr(self) == cidr(self).masked()", "198.18.0.1/16"), false);
  assert.equal(run("cidr(self).masked() == cidr('fd00:10::/64')", "fd00:10::1/64"), true);
  assert.equal(run("ip(self).family() == 6 && !ip(self).isLoopback()", "fd00::1"), true);
  assert.equal(
    run(
      "cidr('198.18.0.0/15').containsIP(self) && cidr('198.18.0.0/15').prefixLength() == 15",
      "198.19.255.1",
    ),
    true,
  );
  assert.equal(run("cidr('fd00::/8').containsCIDR('fd00:10::/64')", null), true);
  assert.equal(run("self == oldSelf", { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), true);
  assert.equal(run("self == oldSelf", 26, 27), false);
  assert.equal(String(parseIP("fd00:0:0:0:0:0:0:1")), "fd00::1");
  assert.equal(parseIP("256.1.1.1"), undefined);
  assert.equal(parseIP("01.1.1.1"), undefined);
  assert.equal(parseCIDR("198.18.0.0/33"), undefined);
  assert.throws(
    () => run("ip(self).family() == 4", "not-an-ip"),
    (e: unknown) => e instanceof CelError && e.code === "eval",
  );
  assert.throws(
    () => run("self.missing == 1", {}),
    (e: unknown) => e instanceof CelError && e.code === "eval",
  );
  assert.throws(
    () => run("quantity(self) > 1", "1"),
    (e: unknown) => e instanceof CelError && e.code === "unsupported",
  );
  assert.throws(
    () => parseCel("self ==="),
    (e: unknown) => e instanceof CelError && e.code === "parse",
  );
  assert.throws(() => parseCel("'open"), CelError);
  assert.equal(run("false && self.missing", {}), false, "commutative short circuit absorbs errors");
  assert.equal(run("self.missing || true", {}), true);
});

const crd = exampleCrd("peers", "Peer", {
  type: "object",
  "x-kubernetes-validations": [
    {
      rule: "!has(self.holdTime) || !has(self.keepaliveTime) || self.keepaliveTime < self.holdTime",
      message: "keepaliveTime must be below holdTime",
      fieldPath: ".keepaliveTime",
    },
    {
      rule: "self.asn == oldSelf.asn",
      message: "asn is immutable",
      reason: "FieldValueForbidden",
    },
  ],
  properties: {
    asn: { type: "integer" },
    address: {
      type: "string",
      "x-kubernetes-validations": [{
        rule: "isIP(self)",
        messageExpression: "'not an IP: ' + self",
      }],
    },
    holdTime: { type: "integer" },
    keepaliveTime: { type: "integer" },
  },
});

Deno.test(
  "kubeapi cel: rules enforced on create and update (transition rules see oldSelf)",
  opts,
  async () => {
    await withServer(async (api, kc) => {
      // raw JSON: client-node's typed CRD model would drop the x-kubernetes-* keys spelt this way
      const r = await fetch(`${api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
        method: "POST",
        headers: { authorization: `Bearer ${api.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(crd),
      });
      assert.equal(r.status, 201);
      await r.body?.cancel();
      const custom = kc.makeApiClient(k8s.CustomObjectsApi);
      const create = (name: string, spec: Record<string, unknown>) =>
        custom.createClusterCustomObject({
          group: "tern.example.com",
          version: "v1",
          plural: "peers",
          body: { apiVersion: "tern.example.com/v1", kind: "Peer", metadata: { name }, spec },
        });
      await create("ok", { asn: 64512, address: "192.0.2.1", holdTime: 90, keepaliveTime: 30 });
      const bad = await failure(
        create("bad", { asn: 1, address: "nope", holdTime: 9, keepaliveTime: 30 }),
      );
      assert.equal(bad.code, 422);
      const causes =
        (bad.status.details as { causes: Array<{ field: string; message: string }> }).causes;
      assert.deepEqual(causes.map((c) => [c.field, c.message]).sort(), [
        ["spec.address", 'Invalid value: "string": not an IP: nope'],
        ["spec.keepaliveTime", 'Invalid value: "object": keepaliveTime must be below holdTime'],
      ]);
      const change = await failure(custom.patchClusterCustomObject(
        {
          group: "tern.example.com",
          version: "v1",
          plural: "peers",
          name: "ok",
          body: { spec: { asn: 64513 } },
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      ));
      assert.equal(change.code, 422);
      assert.match(String(change.status.message), /spec: Forbidden: asn is immutable/);
      await custom.patchClusterCustomObject(
        {
          group: "tern.example.com",
          version: "v1",
          plural: "peers",
          name: "ok",
          body: { spec: { holdTime: 180 } },
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
    });
  },
);

Deno.test("kubeapi cel: every rule in tern's own CRDs is understood", async () => {
  const dir = new URL("../crds/", import.meta.url);
  let rules = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const doc = parse(await Deno.readTextFile(new URL(entry.name, dir))) as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: unknown } }> };
    };
    for (const v of doc.spec.versions) {
      rules += JSON.stringify(v.schema.openAPIV3Schema).split('"rule"').length - 1;
      assert.deepEqual(ruleProblems(v.schema.openAPIV3Schema), [], entry.name);
    }
  }
  assert.ok(rules > 0, "tern's CRDs carry validation rules");
});
