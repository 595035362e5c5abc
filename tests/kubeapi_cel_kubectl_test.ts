/**
 * `x-kubernetes-validations` rules of tern's CRDs enforced by the embedded API server, through
 * the real kubectl (bad objects taken from `tests/crds_cel_test.ts`'s cases): each violation is a
 * 422 `Invalid` Status worded as the real server words it (`<Kind>.<group> "<name>" is invalid:
 * <field>: Invalid value: "<type>": <rule message>`, `fieldPath` honoured), transition rules
 * (`oldSelf`) apply on updates only, and nothing is stored. Skipped without kubectl.
 */
import assert from "node:assert/strict";
import { hasKubectl, ROOT as root, withKubectl } from "./kubeapi_helpers.ts";

const doc = (kind: string, name: string, spec: string) =>
  `apiVersion: tern.dev/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;

/** Bad objects on create, with the exact error line kubectl prints for each. */
const createCases: [string, string][] = [
  [
    doc("AddressPool", "p1", "{type: pod}"),
    `AddressPool.tern.dev "p1" is invalid: spec: Invalid value: "object": a pool needs at least one CIDR or range`,
  ],
  [
    doc("AddressPool", "p2", "{type: pod, cidrs: [198.18.0.1/16]}"),
    `AddressPool.tern.dev "p2" is invalid: spec.cidrs[0]: Invalid value: "string": must be a CIDR such as 198.18.0.0/16 or fd00:10::/64 with no host bits set`,
  ],
  [
    doc(
      "AddressPool",
      "p3",
      "{type: pod, cidrs: [198.18.0.0/16], ranges: [198.18.1.1-198.18.1.9]}",
    ),
    // fieldPath: .ranges
    `AddressPool.tern.dev "p3" is invalid: spec.ranges: Invalid value: "object": `,
  ],
  [
    doc("BGPPeerTemplate", "t1", "{asn: 64512, addr: 192.0.2.1, holdTime: 9, keepaliveTime: 9}"),
    `BGPPeerTemplate.tern.dev "t1" is invalid: spec: Invalid value: "object": keepaliveTime must be shorter than holdTime`,
  ],
  [
    doc("BGPPeerTemplate", "t2", "{asn: 64512, addr: 192.0.2.300}"),
    `BGPPeerTemplate.tern.dev "t2" is invalid: spec.addr: Invalid value: "string": must be an IPv4 or IPv6 address`,
  ],
  [
    doc("BGPAdvertisement", "a1", "{cidr: 'fd00::/64', type: service, family: ipv4}"),
    // fieldPath: .family
    `BGPAdvertisement.tern.dev "a1" is invalid: spec.family: Invalid value: "object": family must match the family of cidr`,
  ],
  [
    doc("AddressBlock", "b1", "{cidr: 198.18.0.0/26, pool: p, type: pod}"),
    `AddressBlock.tern.dev "b1" is invalid: spec: Invalid value: "object": pod blocks name their node`,
  ],
];

Deno.test({
  name:
    "kubeapi cel kubectl: CRD validation rules reject bad objects as Invalid, like a real server",
  ignore: !hasKubectl(),
  async fn() {
    await withKubectl(async (run, api) => {
      const crds = await run(["apply", "-f", `${root}/crds`]);
      assert.equal(crds.code, 0, crds.all);

      // One object: kubectl words the error from the Status details ("The <Kind> <name> is
      // invalid: <field>: <message>"), as it does for a real server.
      for (const [yaml, line] of createCases) {
        const r = await run(["apply", "-f", "-"], yaml);
        assert.notEqual(r.code, 0, r.all);
        const single = line.replace(/^(\w+)\.tern\.dev /, "The $1 ");
        assert.ok(r.stderr.includes(single), `want ${single}\ngot ${r.stderr}`);
      }
      // The block's rule names the node; the pool's fieldPath rule names ranges.
      assert.match(
        (await run(["apply", "-f", "-"], createCases[2][0])).stderr,
        /spec\.ranges: Invalid value: "object": ranges are for service pools/,
      );
      const none = await run(["get", "tern", "-A", "-o", "name"]);
      assert.equal(none.code, 0, none.all);
      assert.equal(none.stdout.trim(), "", "nothing was stored");

      // The Status itself, as client libraries see it.
      const res = await fetch(`${api.url}/apis/tern.dev/v1alpha1/addresspools`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${api.adminToken}`,
        },
        body: JSON.stringify({
          apiVersion: "tern.dev/v1alpha1",
          kind: "AddressPool",
          metadata: { name: "p1" },
          spec: { type: "pod" },
        }),
      });
      assert.equal(res.status, 422);
      const status = await res.json();
      assert.equal(status.kind, "Status");
      assert.equal(status.reason, "Invalid");
      assert.deepEqual(status.details, {
        name: "p1",
        group: "tern.dev",
        kind: "AddressPool",
        causes: [{
          reason: "FieldValueInvalid",
          field: "spec",
          message: 'Invalid value: "object": a pool needs at least one CIDR or range',
        }],
      });

      // Transition rules: a good object, then edits the rules forbid.
      const good = doc(
        "AddressPool",
        "pool",
        "{type: pod, cidrs: [198.18.0.0/16], blockSize: 26}",
      );
      const ok = await run(["apply", "-f", "-"], good);
      assert.equal(ok.code, 0, ok.all);
      const transitions: [string, RegExp][] = [
        [
          good.replace("type: pod", "type: service").replace(", blockSize: 26", ""),
          /spec\.type: Invalid value: "string": type is immutable/,
        ],
        [good.replace("blockSize: 26", "blockSize: 27"), /blockSize is immutable/],
        [good.replace(", blockSize: 26", ""), /cannot be added or removed/],
      ];
      for (const [yaml, want] of transitions) {
        const r = await run(["apply", "-f", "-"], yaml);
        assert.notEqual(r.code, 0, r.all);
        assert.match(r.stderr, /The AddressPool "pool" is invalid: /);
        assert.match(r.stderr, want);
      }
      const kept = await run([
        "get",
        "addresspool",
        "pool",
        "-o",
        "jsonpath={.spec.type}/{.spec.blockSize}/{.metadata.generation}",
      ]);
      assert.equal(kept.stdout, "pod/26/1", kept.all);
      // Several objects: each refusal is printed with the server's own message.
      const dry = await run(
        ["apply", "--dry-run=server", "-f", "-"],
        createCases.map(([y]) => y).join("---\n"),
      );
      assert.notEqual(dry.code, 0);
      for (const [, line] of createCases) {
        assert.ok(
          dry.stderr.includes(
            `Error from server (Invalid): error when creating "STDIN": ${line}`,
          ),
          `want ${line}\ngot ${dry.stderr}`,
        );
      }
    }, { prefix: "tn-kubeapi-celk-" });
  },
});
