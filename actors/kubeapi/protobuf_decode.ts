/**
 * Decoding of Kubernetes protobuf request bodies for the kinds kubectl's typed clients create
 * imperatively (`kubectl create namespace|configmap|secret|serviceaccount|role|rolebinding|
 * clusterrole|clusterrolebinding`). The body is the `k8s\0` magic followed by a
 * `runtime.Unknown` envelope whose `raw` field holds the object (also TokenRequests and access
 * reviews, for `kubectl create token` and `kubectl auth can-i`); field numbers come from the
 * Kubernetes `generated.proto` files. Pure; malformed input is a 400 {@link ApiError}, an
 * unsupported kind a 415.
 */

import { ApiError, badRequest } from "./errors.ts";
import type { JsonObject } from "./types.ts";

type FieldType =
  | "string"
  | "bytes"
  | "int64"
  | "bool"
  | "intOrString"
  | { message: Schema }
  | { map: "string" | "bytes" };

interface Field {
  name: string;
  type: FieldType;
  repeated?: boolean;
  /** A non-pointer Go int or bool: zero/false means unset and is left out. */
  omitZero?: boolean;
}

type Schema = Record<number, Field>;

const ownerReference: Schema = {
  1: { name: "kind", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "controller", type: "bool" },
  7: { name: "blockOwnerDeletion", type: "bool" },
};

const objectMeta: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "generateName", type: "string" },
  3: { name: "namespace", type: "string" },
  5: { name: "uid", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  11: { name: "labels", type: { map: "string" } },
  12: { name: "annotations", type: { map: "string" } },
  13: { name: "ownerReferences", type: { message: ownerReference }, repeated: true },
  14: { name: "finalizers", type: "string", repeated: true },
};

const meta = { 1: { name: "metadata", type: { message: objectMeta } } } as const;

const labelSelector: Schema = {
  1: { name: "matchLabels", type: { map: "string" } },
  2: {
    name: "matchExpressions",
    type: {
      message: {
        1: { name: "key", type: "string" },
        2: { name: "operator", type: "string" },
        3: { name: "values", type: "string", repeated: true },
      },
    },
    repeated: true,
  },
};

const container: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "image", type: "string" },
  3: { name: "command", type: "string", repeated: true },
  4: { name: "args", type: "string", repeated: true },
  5: { name: "workingDir", type: "string" },
  6: {
    name: "ports",
    type: {
      message: {
        1: { name: "name", type: "string" },
        2: { name: "hostPort", type: "int64", omitZero: true },
        3: { name: "containerPort", type: "int64" },
        4: { name: "protocol", type: "string" },
        5: { name: "hostIP", type: "string" },
      },
    },
    repeated: true,
  },
  7: {
    name: "env",
    type: {
      message: { 1: { name: "name", type: "string" }, 2: { name: "value", type: "string" } },
    },
    repeated: true,
  },
  14: { name: "imagePullPolicy", type: "string" },
};

const podSpec: Schema = {
  2: { name: "containers", type: { message: container }, repeated: true },
  3: { name: "restartPolicy", type: "string" },
  7: { name: "nodeSelector", type: { map: "string" } },
  8: { name: "serviceAccountName", type: "string" },
  10: { name: "nodeName", type: "string" },
  11: { name: "hostNetwork", type: "bool", omitZero: true },
  20: { name: "initContainers", type: { message: container }, repeated: true },
};

const servicePort: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "protocol", type: "string" },
  3: { name: "port", type: "int64" },
  4: { name: "targetPort", type: "intOrString" },
  5: { name: "nodePort", type: "int64", omitZero: true },
  6: { name: "appProtocol", type: "string" },
};

const serviceSpec: Schema = {
  1: { name: "ports", type: { message: servicePort }, repeated: true },
  2: { name: "selector", type: { map: "string" } },
  3: { name: "clusterIP", type: "string" },
  4: { name: "type", type: "string" },
  5: { name: "externalIPs", type: "string", repeated: true },
  7: { name: "sessionAffinity", type: "string" },
  8: { name: "loadBalancerIP", type: "string" },
  9: { name: "loadBalancerSourceRanges", type: "string", repeated: true },
  10: { name: "externalName", type: "string" },
  11: { name: "externalTrafficPolicy", type: "string" },
  17: { name: "ipFamilyPolicy", type: "string" },
  18: { name: "clusterIPs", type: "string", repeated: true },
  19: { name: "ipFamilies", type: "string", repeated: true },
  20: { name: "allocateLoadBalancerNodePorts", type: "bool" },
  21: { name: "loadBalancerClass", type: "string" },
  22: { name: "internalTrafficPolicy", type: "string" },
};

const deploymentSpec: Schema = {
  1: { name: "replicas", type: "int64" },
  2: { name: "selector", type: { message: labelSelector } },
  3: {
    name: "template",
    type: { message: { ...meta, 2: { name: "spec", type: { message: podSpec } } } },
  },
  4: {
    name: "strategy",
    type: {
      message: {
        1: { name: "type", type: "string" },
        2: {
          name: "rollingUpdate",
          type: {
            message: {
              1: { name: "maxUnavailable", type: "intOrString" },
              2: { name: "maxSurge", type: "intOrString" },
            },
          },
        },
      },
    },
  },
  5: { name: "minReadySeconds", type: "int64", omitZero: true },
  6: { name: "revisionHistoryLimit", type: "int64" },
  7: { name: "paused", type: "bool", omitZero: true },
  9: { name: "progressDeadlineSeconds", type: "int64" },
};

const policyRule: Schema = {
  1: { name: "verbs", type: "string", repeated: true },
  2: { name: "apiGroups", type: "string", repeated: true },
  3: { name: "resources", type: "string", repeated: true },
  4: { name: "resourceNames", type: "string", repeated: true },
  5: { name: "nonResourceURLs", type: "string", repeated: true },
};

const subject: Schema = {
  1: { name: "kind", type: "string" },
  2: { name: "apiGroup", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "namespace", type: "string" },
};

const roleRef: Schema = {
  1: { name: "apiGroup", type: "string" },
  2: { name: "kind", type: "string" },
  3: { name: "name", type: "string" },
};

const objectReference: Schema = {
  1: { name: "kind", type: "string" },
  2: { name: "namespace", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
};

const binding: Schema = {
  ...meta,
  2: { name: "subjects", type: { message: subject }, repeated: true },
  3: { name: "roleRef", type: { message: roleRef } },
};

const rules: Schema = {
  ...meta,
  2: { name: "rules", type: { message: policyRule }, repeated: true },
};

const resourceAttributes: Schema = {
  1: { name: "namespace", type: "string" },
  2: { name: "verb", type: "string" },
  3: { name: "group", type: "string" },
  4: { name: "version", type: "string" },
  5: { name: "resource", type: "string" },
  6: { name: "subresource", type: "string" },
  7: { name: "name", type: "string" },
};

const nonResourceAttributes: Schema = {
  1: { name: "path", type: "string" },
  2: { name: "verb", type: "string" },
};

const accessReviewSpec: Schema = {
  1: { name: "resourceAttributes", type: { message: resourceAttributes } },
  2: { name: "nonResourceAttributes", type: { message: nonResourceAttributes } },
  3: { name: "user", type: "string" },
  4: { name: "groups", type: "string", repeated: true },
  6: { name: "uid", type: "string" },
};

const selfAccessReviewSpec: Schema = {
  1: { name: "resourceAttributes", type: { message: resourceAttributes } },
  2: { name: "nonResourceAttributes", type: { message: nonResourceAttributes } },
};

/** Schemas of the kinds decodable here, by `apiVersion/kind`. */
const kinds: Record<string, Schema> = {
  "authentication.k8s.io/v1/TokenRequest": {
    ...meta,
    2: {
      name: "spec",
      type: {
        message: {
          1: { name: "audiences", type: "string", repeated: true },
          4: { name: "expirationSeconds", type: "int64" },
        },
      },
    },
  },
  "authorization.k8s.io/v1/SelfSubjectAccessReview": {
    ...meta,
    2: { name: "spec", type: { message: selfAccessReviewSpec } },
  },
  "authorization.k8s.io/v1/SubjectAccessReview": {
    ...meta,
    2: { name: "spec", type: { message: accessReviewSpec } },
  },
  "authorization.k8s.io/v1/LocalSubjectAccessReview": {
    ...meta,
    2: { name: "spec", type: { message: accessReviewSpec } },
  },
  "v1/Namespace": {
    ...meta,
    2: {
      name: "spec",
      type: { message: { 1: { name: "finalizers", type: "string", repeated: true } } },
    },
  },
  "v1/ConfigMap": {
    ...meta,
    2: { name: "data", type: { map: "string" } },
    3: { name: "binaryData", type: { map: "bytes" } },
    4: { name: "immutable", type: "bool" },
  },
  "v1/Secret": {
    ...meta,
    2: { name: "data", type: { map: "bytes" } },
    3: { name: "type", type: "string" },
    4: { name: "stringData", type: { map: "string" } },
    5: { name: "immutable", type: "bool" },
  },
  "v1/Service": { ...meta, 2: { name: "spec", type: { message: serviceSpec } } },
  "apps/v1/Deployment": { ...meta, 2: { name: "spec", type: { message: deploymentSpec } } },
  "v1/ServiceAccount": {
    ...meta,
    2: { name: "secrets", type: { message: objectReference }, repeated: true },
    3: {
      name: "imagePullSecrets",
      type: { message: { 1: { name: "name", type: "string" } } },
      repeated: true,
    },
    4: { name: "automountServiceAccountToken", type: "bool" },
  },
  "rbac.authorization.k8s.io/v1/Role": rules,
  "rbac.authorization.k8s.io/v1/ClusterRole": rules,
  "rbac.authorization.k8s.io/v1/RoleBinding": binding,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": binding,
};

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw badRequest("protobuf: truncated varint");
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw badRequest("protobuf: varint too long");
    }
  }
  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) {
      throw badRequest("protobuf: truncated length-delimited field");
    }
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) throw badRequest("protobuf: truncated field");
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function text(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    throw badRequest("protobuf: invalid UTF-8 in a string field");
  }
}

function base64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function decodeMessage(buf: Uint8Array, schema: Schema): JsonObject {
  const r = new Reader(buf);
  const out: JsonObject = {};
  while (!r.done) {
    const tag = Number(r.varint());
    const num = tag >>> 3;
    const wire = tag & 7;
    const f = schema[num];
    if (!f) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    const t = f.type;
    if (t === "int64" || t === "bool") {
      if (wire !== 0) throw badRequest(`protobuf: field ${f.name} has wire type ${wire}`);
      const v = r.varint();
      value = t === "bool" ? v !== 0n : Number(BigInt.asIntN(64, v));
      if (f.omitZero && (value === 0 || value === false)) continue;
    } else {
      if (wire !== 2) throw badRequest(`protobuf: field ${f.name} has wire type ${wire}`);
      const b = r.bytes();
      if (t === "string") {
        value = text(b);
        // Go strings have no "unset": an empty one is what JSON would have omitted.
        if (value === "" && !f.repeated) continue;
      } else if (t === "bytes") value = base64(b);
      else if (t === "intOrString") {
        const v = decodeMessage(b, {
          1: { name: "type", type: "int64" },
          2: { name: "intVal", type: "int64" },
          3: { name: "strVal", type: "string" },
        });
        value = v.type === 1 ? String(v.strVal ?? "") : Number(v.intVal ?? 0);
      } else if ("message" in t) value = decodeMessage(b, t.message);
      else {
        const entry = decodeMessage(b, {
          1: { name: "k", type: "string" },
          2: { name: "v", type: t.map === "bytes" ? "bytes" : "string" },
        });
        const map = (out[f.name] ?? {}) as JsonObject;
        map[String(entry.k ?? "")] = entry.v ?? "";
        out[f.name] = map;
        continue;
      }
    }
    if (f.repeated) ((out[f.name] ??= []) as unknown[]).push(value);
    else out[f.name] = value;
  }
  return out;
}

/** Decode a `application/vnd.kubernetes.protobuf` request body into its JSON object. */
export function decodeKubeProtobuf(body: Uint8Array): JsonObject {
  if (
    body.length < 4 || body[0] !== 0x6b || body[1] !== 0x38 || body[2] !== 0x73 || body[3] !== 0
  ) {
    throw badRequest("protobuf: missing the k8s\\0 envelope prefix");
  }
  const envelope = decodeMessage(body.subarray(4), {
    1: {
      name: "typeMeta",
      type: {
        message: { 1: { name: "apiVersion", type: "string" }, 2: { name: "kind", type: "string" } },
      },
    },
    2: { name: "raw", type: "bytes" },
    3: { name: "contentEncoding", type: "string" },
  });
  const typeMeta = (envelope.typeMeta ?? {}) as JsonObject;
  const apiVersion = String(typeMeta.apiVersion ?? "");
  const kind = String(typeMeta.kind ?? "");
  const schema = kinds[`${apiVersion}/${kind}`];
  if (!schema) {
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `protobuf bodies are not supported for ${kind || "this kind"} (${apiVersion}); send JSON`,
    );
  }
  if (envelope.contentEncoding) {
    throw badRequest(`protobuf: unsupported content encoding "${envelope.contentEncoding}"`);
  }
  const rawB64 = String(envelope.raw ?? "");
  const raw = Uint8Array.from(atob(rawB64), (c) => c.charCodeAt(0));
  const obj = decodeMessage(raw, schema);
  return { apiVersion, kind, ...obj };
}
