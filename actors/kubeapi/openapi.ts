/**
 * OpenAPI v3 documents: the `/openapi/v3` index and one document per group-version, with the
 * paths, `x-kubernetes-group-version-kind` markers and query parameters kubectl inspects (it
 * checks that PATCH accepts `fieldValidation` before relying on server-side validation), and
 * component schemas (the CRD schemas; built-in kinds get open object schemas).
 */

import { groupVersion, type ResourceRegistry, type ResourceType } from "./resource_types.ts";
import { isObject, type JsonObject } from "./types.ts";

const objectMetaRef = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/** Schema component name of a kind: `com.example.v1.Foo`, `io.k8s.api.core.v1.Pod`. */
export function schemaName(t: ResourceType): string {
  if (t.crd) return `${t.group.split(".").reverse().join(".")}.${t.version}.${t.kind}`;
  const g = t.group === "" ? "core" : t.group.replace(/\.k8s\.io$/, "").replace(/\./g, "_");
  return `io.k8s.api.${g}.${t.version}.${t.kind}`;
}

/** Document keys (`api/v1`, `apis/example.com/v1`) of every served group-version. */
export function documentKeys(reg: ResourceRegistry): string[] {
  const keys = new Set<string>();
  for (const t of reg.all()) {
    keys.add(t.group === "" ? `api/${t.version}` : `apis/${t.group}/${t.version}`);
  }
  return [...keys].sort();
}

function param(name: string, schema: JsonObject, where = "query"): JsonObject {
  return { name, in: where, schema, ...(where === "path" ? { required: true } : {}) };
}

const str = { type: "string" };
const writeParams = [
  param("dryRun", str),
  param("fieldManager", str),
  param("fieldValidation", str),
  param("pretty", str),
];

function ok(ref: string): JsonObject {
  return {
    "200": {
      description: "OK",
      content: {
        "application/json": { schema: { $ref: ref } },
        "application/yaml": { schema: { $ref: ref } },
      },
    },
    "401": { description: "Unauthorized" },
  };
}

function paths(t: ResourceType): Record<string, JsonObject> {
  const ref = `#/components/schemas/${schemaName(t)}`;
  const prefix = t.group === "" ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const ns = t.namespaced ? "/namespaces/{namespace}" : "";
  const nsParams = t.namespaced ? [param("namespace", str, "path")] : [];
  const body = { content: { "*/*": { schema: { $ref: ref } } }, required: true };
  const op = (action: string, id: string, extra: JsonObject = {}): JsonObject => ({
    tags: [groupVersion(t)],
    operationId: `${id}${t.kind}`,
    responses: ok(ref),
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
    ...extra,
  });
  const listParams = [
    param("labelSelector", str),
    param("fieldSelector", str),
    param("limit", { type: "integer" }),
    param("continue", str),
    param("resourceVersion", str),
    param("watch", { type: "boolean" }),
    param("allowWatchBookmarks", { type: "boolean" }),
    param("timeoutSeconds", { type: "integer" }),
  ];
  const patchOp = (id: string) =>
    op("patch", id, {
      parameters: [...writeParams, param("force", { type: "boolean" })],
      requestBody: {
        content: Object.fromEntries(
          [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            // Strategic merge patch is accepted for built-in kinds but not advertised: kubectl
            // then computes it from its compiled-in types rather than from these open schemas.
          ].map((c) => [c, { schema: { type: "object" } }]),
        ),
        required: true,
      },
    });
  const out: Record<string, JsonObject> = {
    [`${prefix}${ns}/${t.plural}`]: {
      get: op("list", "list", { parameters: listParams }),
      post: op("post", "create", { parameters: writeParams, requestBody: body }),
      delete: op("deletecollection", "deleteCollection", { parameters: listParams }),
      parameters: nsParams,
    },
    [`${prefix}${ns}/${t.plural}/{name}`]: {
      get: op("get", "read"),
      put: op("put", "replace", { parameters: writeParams, requestBody: body }),
      patch: patchOp("patch"),
      delete: op("delete", "delete", {
        parameters: [param("dryRun", str), param("propagationPolicy", str)],
      }),
      parameters: [param("name", str, "path"), ...nsParams],
    },
  };
  if (t.namespaced) {
    out[`${prefix}/${t.plural}`] = {
      get: op("list", "listAllNamespaces", { parameters: listParams }),
    };
  }
  if (t.statusSubresource) {
    out[`${prefix}${ns}/${t.plural}/{name}/status`] = {
      get: op("get", "readStatus"),
      put: op("put", "replaceStatus", { parameters: writeParams, requestBody: body }),
      patch: patchOp("patchStatus"),
      parameters: [param("name", str, "path"), ...nsParams],
    };
  }
  return out;
}

function schemaOf(t: ResourceType): JsonObject {
  const gvk = [{ group: t.group, version: t.version, kind: t.kind }];
  if (t.schema) {
    const s = structuredClone(t.schema);
    const props = isObject(s.properties) ? s.properties : {};
    props.apiVersion = {
      type: "string",
      description: "APIVersion defines the versioned schema of this representation of an object.",
    };
    props.kind = {
      type: "string",
      description: "Kind is a string value representing the REST resource this object represents.",
    };
    props.metadata = {
      allOf: [{ $ref: objectMetaRef }],
      description: "Standard object's metadata.",
    };
    s.properties = props;
    s["x-kubernetes-group-version-kind"] = gvk;
    return s;
  }
  return {
    type: "object",
    description: `${t.kind} (served by tern's embedded API server).`,
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { allOf: [{ $ref: objectMetaRef }] },
    },
    "x-kubernetes-preserve-unknown-fields": true,
    "x-kubernetes-group-version-kind": gvk,
  };
}

const objectMeta: JsonObject = {
  type: "object",
  description: "ObjectMeta is metadata that all persisted resources must have.",
  properties: {
    name: { type: "string" },
    generateName: { type: "string" },
    namespace: { type: "string" },
    uid: { type: "string" },
    resourceVersion: { type: "string" },
    generation: { type: "integer", format: "int64" },
    creationTimestamp: { type: "string", format: "date-time" },
    deletionTimestamp: { type: "string", format: "date-time" },
    deletionGracePeriodSeconds: { type: "integer", format: "int64" },
    labels: { type: "object", additionalProperties: { type: "string" } },
    annotations: { type: "object", additionalProperties: { type: "string" } },
    finalizers: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" },
    ownerReferences: {
      type: "array",
      items: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["uid"],
    },
    managedFields: {
      type: "array",
      items: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
  },
};

/** The OpenAPI v3 document of one group-version (`api/v1`, `apis/<g>/<v>`), or undefined. */
export function groupVersionDocument(reg: ResourceRegistry, key: string): JsonObject | undefined {
  const types = reg.all().filter((t) =>
    (t.group === "" ? `api/${t.version}` : `apis/${t.group}/${t.version}`) === key
  );
  if (types.length === 0) return undefined;
  const allPaths: Record<string, JsonObject> = {};
  const schemas: Record<string, JsonObject> = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": objectMeta,
  };
  for (const t of types) {
    Object.assign(allPaths, paths(t));
    schemas[schemaName(t)] = schemaOf(t);
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.32.0-tern" },
    paths: allPaths,
    components: { schemas },
  };
}

/** A stable short hash of a JSON document (for `?hash=` URLs and ETags). */
export async function hashOf(doc: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")
    .toUpperCase();
}

/** The `/openapi/v3` index, given each document's hash. */
export function indexDocument(hashes: Map<string, string>): JsonObject {
  const paths: JsonObject = {};
  for (const [k, h] of hashes) paths[k] = { serverRelativeURL: `/openapi/v3/${k}?hash=${h}` };
  return { paths };
}
