import assert from "node:assert/strict";
import { parse } from "yaml";
import { renderAll, staleFiles } from "../actors/crds/generate.ts";
import { ALL_CRDS } from "../actors/crds/registry.ts";
import { toCrd } from "../actors/crds/crd.ts";
import { celShapeProblem, structuralProblems } from "../actors/crds/validate.ts";
import type { JsonSchema } from "../actors/crds/schema.ts";
import type { AddressPoolSpec } from "../actors/crds/address_pool.ts";
import type { BGPPeer } from "../actors/crds/bgp_peer.ts";
import type { ClusterBGPSpec } from "../actors/crds/cluster_bgp.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("crds: committed YAML and docs equal the generator's output", async () => {
  const stale = await staleFiles(root);
  assert.deepEqual(
    stale,
    [],
    `run: deno run -A actors/crds/generate.ts (stale: ${stale.join(", ")})`,
  );
  // And nothing else lives in crds/.
  const onDisk: string[] = [];
  for await (const e of Deno.readDir(`${root}/crds`)) onDisk.push(`crds/${e.name}`);
  const generated = [...(await renderAll(root)).keys()].filter((p) => p.startsWith("crds/"));
  assert.deepEqual(onDisk.sort(), generated.sort());
});

Deno.test("crds: every CRD is structural, with status, category, short names, columns", async () => {
  const kinds = new Set<string>();
  const shortNames = new Set<string>();
  for (const [path, text] of await renderAll(root)) {
    if (!path.endsWith(".yaml")) continue;
    const crd = parse(text);
    assert.equal(crd.apiVersion, "apiextensions.k8s.io/v1");
    assert.equal(crd.kind, "CustomResourceDefinition");
    assert.equal(crd.metadata.name, `${crd.spec.names.plural}.tern.dev`);
    assert.equal(crd.spec.group, "tern.dev");
    assert.deepEqual(crd.spec.names.categories, ["tern"]);
    assert.ok(crd.spec.names.shortNames.length > 0);
    for (const s of crd.spec.names.shortNames) {
      assert.ok(!shortNames.has(s), `short name ${s} used twice`);
      shortNames.add(s);
    }
    kinds.add(crd.spec.names.kind);
    assert.equal(crd.spec.versions.length, 1);
    const v = crd.spec.versions[0];
    assert.equal(v.name, "v1alpha1");
    assert.ok(v.served && v.storage);
    assert.deepEqual(v.subresources, { status: {} });
    const schema: JsonSchema = v.schema.openAPIV3Schema;
    assert.deepEqual(structuralProblems(schema), [], path);
    assert.deepEqual(Object.keys(schema.properties!), [
      "apiVersion",
      "kind",
      "metadata",
      "spec",
      "status",
    ]);
    assert.deepEqual(schema.properties!.metadata, { type: "object" });
    // Printer columns point at fields of the schema.
    for (const col of v.additionalPrinterColumns) {
      const simple = (col.jsonPath as string).replace(/\[\?\(@\.type=="[A-Za-z]+"\)\]/, "[]");
      let node: JsonSchema | undefined = schema;
      for (const part of simple.split(".").slice(1)) {
        const name = part.replace(/\[\]$/, "");
        if (name === "creationTimestamp" && node === schema.properties!.metadata) {
          node = { type: "string" };
          break;
        }
        node = node?.properties?.[name];
        if (part.endsWith("[]")) node = node?.items;
      }
      assert.ok(
        node,
        `${crd.spec.names.kind}: column ${col.name} path ${col.jsonPath} is not in the schema`,
      );
    }
  }
  assert.deepEqual([...kinds].sort(), [
    "AddressBlock",
    "AddressPool",
    "BGPAdvertisement",
    "BGPPeer",
    "BGPPeerTemplate",
    "BlockRequest",
    "ClusterBGP",
    "NodeBGP",
  ]);
  assert.equal(ALL_CRDS.find((d) => d.kind === "BGPAdvertisement")!.scope, "Namespaced");
  assert.ok(
    ALL_CRDS.filter((d) => d.kind !== "BGPAdvertisement").every((d) => d.scope === "Cluster"),
  );
});

Deno.test("crds: the structural check itself catches broken schemas", () => {
  const bad: JsonSchema = {
    type: "object",
    properties: {
      a: { description: "no type" },
      b: { type: "array" },
      c: { type: "string", enum: ["x"], default: "y" },
      d: {
        type: "array",
        items: { type: "object", properties: { k: { type: "string" } } },
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["k"],
      },
      e: {
        type: "string",
        "x-kubernetes-validations": [{ rule: "self.size() > (1", message: "m" }],
      },
      f: {
        type: "object",
        properties: { g: { type: "string" } },
        "x-kubernetes-validations": [{ rule: "true", message: "m", fieldPath: ".nope" }],
      },
    },
    required: ["zz"],
  };
  const msgs = structuralProblems(bad).map((p) => `${p.path}: ${p.message}`);
  assert.ok(msgs.includes("a: missing type"), msgs.join("\n"));
  assert.ok(msgs.includes("b: array without items"));
  assert.ok(msgs.some((m) => m.startsWith("c(default)")), msgs.join("\n"));
  assert.ok(msgs.includes("d: map key k must be required or defaulted"));
  assert.ok(msgs.some((m) => m.startsWith("e: rule") && m.endsWith("unclosed (")));
  assert.ok(msgs.includes("<root>: required field zz is not a property"));
  assert.ok(msgs.includes("f: fieldPath .nope is not a field of this object"), msgs.join("\n"));
  assert.equal(celShapeProblem("self.a = 1"), "single '=' (use '==')");
  assert.equal(celShapeProblem("self.a == 'x=y'"), undefined);
});

Deno.test("crds: spec types are derived from the schemas", () => {
  const pool: AddressPoolSpec = { type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 26 };
  // @ts-expect-error type is required
  const noType: AddressPoolSpec = { cidrs: ["198.18.0.0/16"] };
  // @ts-expect-error only pod or service
  const badType: AddressPoolSpec = { type: "node" };
  const peer: BGPPeer = {
    apiVersion: "tern.dev/v1alpha1",
    kind: "BGPPeer",
    metadata: { name: "spine0-node1" },
    spec: { asn: 65001, addr: "192.0.2.1", node: "node1", groups: ["to-spine0"] },
    status: { sessionState: "Established" },
  };
  const cbgp: ClusterBGPSpec = {
    asnSelector: { from: "label" },
    routerIdSelector: { from: "internalAddress" },
    peers: [{ name: "spine0", peerTemplateRef: "spine0", nodeBGPSelector: { bgp: "a" } }],
  };
  assert.ok(pool && noType && badType && peer && cbgp);
  // The generated CRD object is what the schema says.
  const crd = toCrd(ALL_CRDS[0]!) as {
    spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] };
  };
  const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
  assert.deepEqual(spec.required, ["type"]);
  assert.deepEqual(spec.properties!.type!.enum, ["pod", "service"]);
});
