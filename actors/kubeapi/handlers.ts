/**
 * The HTTP face of the embedded API server: routing of Kubernetes REST paths, content
 * negotiation (JSON, YAML bodies, Table responses), verbs, watch streams, authentication,
 * RBAC, fault injection and the admin endpoints under `/tern/`.
 */

import { parse as parseYaml } from "yaml";
import * as discovery from "./discovery.ts";
import {
  ApiError,
  badRequest,
  conflict,
  methodNotAllowed,
  notFound,
  unauthorized,
  unsupportedMediaType,
} from "./errors.ts";
import { jsonPatch, mergePatch } from "./json_patch.ts";
import type { FaultInjector } from "./faults.ts";
import { decodeKubeProtobuf } from "./protobuf_decode.ts";
import { documentKeys, groupVersionDocument, hashOf, indexDocument } from "./openapi.ts";
import {
  accessReview,
  authenticate,
  authorize,
  denied,
  impersonate,
  type RequestAttributes,
  type UserInfo,
} from "./rbac.ts";
import type { ResourceType } from "./resource_types.ts";
import type { PatchType, Store, WatchEvent, WriteOptions } from "./store.ts";
import { type IncludeObject, toTable } from "./table.ts";
import { isObject, type JsonObject, type KubeObject } from "./types.ts";

/** What the handler needs from the server. */

/** One watch event as a JSON line. */
function line(type: string, object: JsonObject): string {
  return JSON.stringify({ type, object }) + "\n";
}

/** Serialized events by event object: the watch hub hands one object to every watcher of a
 * kind, so a fan-out to many watchers serializes it once. */
const eventLines = new WeakMap<JsonObject, { type: string; text: string }>();

function eventLine(ev: WatchEvent): string {
  const hit = eventLines.get(ev.object);
  if (hit && hit.type === ev.type) return hit.text;
  const text = line(ev.type, ev.object);
  eventLines.set(ev.object, { type: ev.type, text });
  return text;
}

export interface HandlerContext {
  store: Store;
  faults: FaultInjector;
  adminToken: string;
  /** Treat requests without a token as the admin (plain HTTP on loopback). */
  anonymousIsAdmin: boolean;
  /** Address advertised in `/api`. */
  serverAddress: () => string;
  /** Period of BOOKMARK events on watches that allow them. */
  bookmarkIntervalMs: number;
  /** Events queued for a watch client that does not read before it is disconnected. */
  watchQueueLimit: number;
  /** Extra admin endpoints (`/tern/state`, …) handled by the server. */
  adminHook?: (req: Request, path: string) => Promise<Response | undefined>;
}

const enc = new TextEncoder();

function json(status: number, body: unknown, headers: Headers = new Headers()): Response {
  headers.set("content-type", "application/json");
  headers.set("cache-control", "no-cache, private");
  return new Response(JSON.stringify(body), { status, headers });
}

function errorResponse(e: ApiError): Response {
  const h = new Headers();
  if (e.details?.retryAfterSeconds !== undefined) {
    h.set("retry-after", String(e.details.retryAfterSeconds));
  }
  return json(e.code, e.toStatus(), h);
}

function successStatus(details: JsonObject): JsonObject {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}

function wantsTable(req: Request): boolean {
  const accept = req.headers.get("accept") ?? "";
  return accept.split(",").some((a) => a.includes("as=Table"));
}

function bearer(req: Request): string | undefined {
  const h = req.headers.get("authorization");
  if (!h) return undefined;
  const m = h.match(/^Bearer\s+(.+)$/i);
  return m ? m[1].trim() : undefined;
}

/** The real server's request body limit (3 MiB). */
const maxBodyBytes = 3 * 1024 * 1024;

function tooLarge(): ApiError {
  return new ApiError(
    413,
    "RequestEntityTooLarge",
    `Request entity too large: limit is ${maxBodyBytes}`,
  );
}

/** Read at most `maxBodyBytes` of the body (413 beyond). */
async function readBytes(req: Request): Promise<Uint8Array> {
  if (Number(req.headers.get("content-length") ?? "0") > maxBodyBytes) {
    await req.body?.cancel();
    throw tooLarge();
  }
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBodyBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function readBody(req: Request): Promise<{ value: unknown; contentType: string }> {
  const contentType = (req.headers.get("content-type") ?? "application/json").split(";")[0].trim()
    .toLowerCase();
  if (contentType === "application/vnd.kubernetes.protobuf") {
    return { value: decodeKubeProtobuf(await readBytes(req)), contentType };
  }
  if (contentType.includes("protobuf") || contentType.includes("cbor")) {
    await req.body?.cancel();
    throw unsupportedMediaType(contentType);
  }
  const text = new TextDecoder().decode(await readBytes(req));
  if (text.trim() === "") return { value: undefined, contentType };
  try {
    if (contentType.includes("yaml")) return { value: parseYaml(text), contentType };
    return { value: JSON.parse(text), contentType };
  } catch (e) {
    throw badRequest(`error decoding request body: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The parsed target of a resource request. */
interface Target {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function boolParam(q: URLSearchParams, k: string): boolean {
  const v = q.get(k);
  return v === "true" || v === "1";
}

function fieldValidation(q: URLSearchParams): WriteOptions["fieldValidation"] {
  const v = q.get("fieldValidation");
  if (v === null || v === "") return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw badRequest(`fieldValidation parameter unsupported: ${v}`);
}

function dryRun(q: URLSearchParams, body?: unknown): boolean {
  const values = q.getAll("dryRun");
  if (isObject(body) && Array.isArray(body.dryRun)) values.push(...body.dryRun.map(String));
  for (const v of values) {
    if (v !== "All") throw badRequest(`unsupported dry run value ${JSON.stringify(v)}`);
  }
  return values.length > 0;
}

function defaultManager(req: Request): string {
  const ua = req.headers.get("user-agent") ?? "unknown";
  return ua.split("/")[0] || "unknown";
}

/** Build the request handler. */
export function createHandler(ctx: HandlerContext): (req: Request) => Promise<Response> {
  const { store } = ctx;
  let openapiCache: {
    index: JsonObject;
    docs: Map<string, JsonObject>;
    hashes: Map<string, string>;
  } | undefined;
  store.registry.onChange(() => openapiCache = undefined);

  async function openapi() {
    if (openapiCache) return openapiCache;
    const docs = new Map<string, JsonObject>();
    const hashes = new Map<string, string>();
    for (const k of documentKeys(store.registry)) {
      const d = groupVersionDocument(store.registry, k)!;
      docs.set(k, d);
      hashes.set(k, await hashOf(d));
    }
    openapiCache = { index: indexDocument(hashes), docs, hashes };
    return openapiCache;
  }

  function resolve(parts: string[]): Target | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === "api") {
      group = "";
      version = parts[1];
      rest = parts.slice(2);
    } else {
      group = parts[1];
      version = parts[2];
      rest = parts.slice(3);
    }
    if (rest.length === 0) return undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      const t = store.registry.get(group, version, rest[2]);
      if (t && t.namespaced) {
        return { type: t, namespace: rest[1], name: rest[3], subresource: rest[4] };
      }
    }
    const t = store.registry.get(group, version, rest[0]);
    if (!t) {
      // As the real server: an unserved resource (or group/version) is a bare 404.
      throw new ApiError(404, "NotFound", "the server could not find the requested resource", {
        causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
      });
    }
    return { type: t, name: rest[1], subresource: rest[2] };
  }

  function verbOf(method: string, target: Target, q: URLSearchParams): string {
    switch (method) {
      case "GET":
        return target.name ? "get" : boolParam(q, "watch") ? "watch" : "list";
      case "POST":
        return "create";
      case "PUT":
        return "update";
      case "PATCH":
        return "patch";
      case "DELETE":
        return target.name ? "delete" : "deletecollection";
    }
    throw methodNotAllowed(`the server does not allow this method on the requested resource`);
  }

  function present(req: Request, t: ResourceType, objects: KubeObject[], q: URLSearchParams, list: {
    resourceVersion?: string;
    continue?: string;
    remainingItemCount?: number;
  }, single: boolean): Response {
    if (wantsTable(req)) {
      const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;
      return json(200, toTable(t, objects, { includeObject: include, now: Date.now(), ...list }));
    }
    if (single) return json(200, objects[0]);
    const metadata: JsonObject = { resourceVersion: list.resourceVersion };
    if (list.continue) metadata.continue = list.continue;
    if (list.remainingItemCount !== undefined) {
      metadata.remainingItemCount = list.remainingItemCount;
    }
    return json(200, {
      kind: t.listKind,
      apiVersion: t.group ? `${t.group}/${t.version}` : t.version,
      metadata,
      items: objects,
    });
  }

  function watchResponse(req: Request, target: Target, q: URLSearchParams): Response {
    const t = target.type;
    const table = wantsTable(req);
    const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    let handle: { stop(): void } | undefined;
    let bookmarkTimer: ReturnType<typeof setInterval> | undefined;
    let timeoutTimer: ReturnType<typeof setTimeout> | undefined;
    const cleanup = () => {
      closed = true;
      handle?.stop();
      if (bookmarkTimer !== undefined) clearInterval(bookmarkTimer);
      if (timeoutTimer !== undefined) clearTimeout(timeoutTimer);
    };
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
      cancel() {
        cleanup();
      },
    });
    const send = (ev: WatchEvent) => {
      if (closed) return;
      let object: JsonObject = ev.object;
      if (table && (ev.type === "ADDED" || ev.type === "MODIFIED" || ev.type === "DELETED")) {
        object = toTable(t, [ev.object as KubeObject], { includeObject: include, now: Date.now() });
      }
      controller.enqueue(enc.encode(object === ev.object ? eventLine(ev) : line(ev.type, object)));
      // A client that stopped reading is cut off (it re-watches from its last version), as the
      // real server drops watchers whose buffers fill up.
      if ((controller.desiredSize ?? 0) < -ctx.watchQueueLimit) close();
    };
    const close = () => {
      if (closed) return;
      cleanup();
      try {
        controller.close();
      } catch { /* already closed */ }
    };
    try {
      handle = store.watch(t, target.namespace, {
        resourceVersion: q.get("resourceVersion") ?? undefined,
        labelSelector: q.get("labelSelector") ?? undefined,
        fieldSelector: target.name
          ? `metadata.name=${target.name}`
          : q.get("fieldSelector") ?? undefined,
        sendInitialEvents: boolParam(q, "sendInitialEvents"),
        allowWatchBookmarks: boolParam(q, "allowWatchBookmarks"),
      }, { send, close });
    } catch (e) {
      if (e instanceof ApiError && e.code === 410) {
        send({ type: "ERROR", object: e.toStatus() as unknown as JsonObject });
        close();
        return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
      }
      throw e;
    }
    if (boolParam(q, "allowWatchBookmarks") && ctx.bookmarkIntervalMs > 0) {
      bookmarkTimer = setInterval(() => send(store.bookmark(t)), ctx.bookmarkIntervalMs);
    }
    const timeout = Number(q.get("timeoutSeconds") ?? "0");
    if (timeout > 0) timeoutTimer = setTimeout(close, timeout * 1000);
    return new Response(body, {
      status: 200,
      headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
    });
  }

  async function resource(
    req: Request,
    parts: string[],
    q: URLSearchParams,
    user: UserInfo,
  ): Promise<Response> {
    const target = resolve(parts);
    if (!target) {
      const [group, version] = parts[0] === "api" ? ["", parts[1]] : [parts[1], parts[2]];
      const doc = discovery.resourceList(store.registry, group, version);
      if (!doc) throw notFound("", "", "");
      return json(200, doc);
    }
    const t = target.type;
    const verb = verbOf(req.method, target, q);
    const attrs: RequestAttributes = {
      verb,
      apiGroup: t.group,
      resource: t.plural,
      subresource: target.subresource,
      namespace: target.namespace,
      name: target.name,
    };
    if (!authorize(store, user, attrs)) throw denied(user, attrs);
    const sub = target.subresource;
    if (sub !== undefined && sub !== "status" && !t.extraSubresources?.includes(sub)) {
      throw notFound(t.group, `${t.plural}/${sub}`, target.name ?? "");
    }
    if (sub === "status" && !t.statusSubresource) {
      throw notFound(t.group, `${t.plural}/status`, target.name ?? "");
    }
    const ns = target.namespace;
    const name = target.name;
    const warnings: string[] = [];
    const withWarnings = (r: Response) => {
      for (const w of warnings) r.headers.append("warning", `299 - ${JSON.stringify(w)}`);
      return r;
    };
    if (sub === "scale") return await scale(req, t, ns, name!, verb, q);
    switch (verb) {
      case "get":
        if (sub === "token") {
          throw methodNotAllowed("the server does not allow this method on the requested resource");
        }
        return present(req, t, [store.get(t, ns, name!)], q, {}, true);
      case "list": {
        const limit = q.get("limit");
        const res = store.list(t, ns, {
          labelSelector: q.get("labelSelector") ?? undefined,
          fieldSelector: q.get("fieldSelector") ?? undefined,
          limit: limit ? Number(limit) : undefined,
          continue: q.get("continue") ?? undefined,
        });
        return present(req, t, res.items, q, res, false);
      }
      case "watch":
        return watchResponse(req, target, q);
      case "create": {
        const { value } = await readBody(req);
        if (sub === "token") {
          const sa = store.get(t, ns, name!);
          const token = store.serviceAccountToken(ns!, sa.metadata.name!);
          return json(201, {
            kind: "TokenRequest",
            apiVersion: "authentication.k8s.io/v1",
            metadata: { name: sa.metadata.name, namespace: ns, creationTimestamp: null },
            spec: isObject(value) && isObject(value.spec)
              ? value.spec
              : { audiences: ["https://kubernetes.default.svc"] },
            status: {
              token,
              expirationTimestamp: new Date(Date.now() + 3600_000).toISOString().replace(
                /\.\d+Z$/,
                "Z",
              ),
            },
          });
        }
        if (name) {
          throw methodNotAllowed("the server does not allow this method on the requested resource");
        }
        const res = store.create(t, ns, value, {
          dryRun: dryRun(q),
          fieldManager: q.get("fieldManager") ?? defaultManager(req),
          fieldValidation: fieldValidation(q),
        });
        warnings.push(...res.warnings);
        return withWarnings(json(201, res.object));
      }
      case "update": {
        const { value } = await readBody(req);
        const res = store.update(t, ns, name!, value, {
          dryRun: dryRun(q),
          fieldManager: q.get("fieldManager") ?? defaultManager(req),
          fieldValidation: fieldValidation(q),
          subresource: sub === "status" ? "status" : undefined,
        });
        warnings.push(...res.warnings);
        return withWarnings(json(200, res.object));
      }
      case "patch": {
        const { value, contentType } = await readBody(req);
        const types: Record<string, PatchType> = {
          "application/json-patch+json": "json",
          "application/merge-patch+json": "merge",
          "application/strategic-merge-patch+json": "strategic",
          "application/apply-patch+yaml": "apply",
          "application/apply-patch+cbor": "apply",
        };
        const pt = types[contentType];
        if (!pt) throw unsupportedMediaType(contentType);
        const res = store.patch(t, ns, name!, pt, value, {
          dryRun: dryRun(q),
          fieldManager: q.get("fieldManager") ?? (pt === "apply" ? undefined : defaultManager(req)),
          fieldValidation: fieldValidation(q),
          subresource: sub === "status" ? "status" : undefined,
          force: boolParam(q, "force"),
        });
        warnings.push(...res.warnings);
        return withWarnings(json(res.created ? 201 : 200, res.object));
      }
      case "delete": {
        const { value } = await readBody(req);
        const opts = isObject(value) ? value : {};
        const policy = (q.get("propagationPolicy") ?? opts.propagationPolicy ?? undefined) as
          | "Background"
          | "Foreground"
          | "Orphan"
          | undefined;
        if (policy !== undefined && !["Background", "Foreground", "Orphan"].includes(policy)) {
          throw badRequest(`invalid propagationPolicy ${JSON.stringify(policy)}`);
        }
        const pre = isObject(opts.preconditions) ? opts.preconditions : {};
        const res = store.delete(t, ns, name!, {
          propagationPolicy: policy ?? (opts.orphanDependents === true ? "Orphan" : undefined),
          dryRun: dryRun(q, opts),
          preconditions: {
            uid: typeof pre.uid === "string" ? pre.uid : undefined,
            resourceVersion: typeof pre.resourceVersion === "string"
              ? pre.resourceVersion
              : undefined,
          },
        });
        const returnsObject = !res.gone || t.crd !== undefined ||
          (t.group === "" && ["pods", "namespaces", "services"].includes(t.plural));
        if (returnsObject) return json(200, res.object);
        return json(
          200,
          successStatus({
            name,
            group: t.group || undefined,
            kind: t.plural,
            uid: res.object.metadata.uid,
          }),
        );
      }
      case "deletecollection": {
        const { value } = await readBody(req);
        const opts = isObject(value) ? value : {};
        const items = store.deleteCollection(t, ns, {
          labelSelector: q.get("labelSelector") ?? undefined,
          fieldSelector: q.get("fieldSelector") ?? undefined,
          propagationPolicy:
            (q.get("propagationPolicy") ?? opts.propagationPolicy ?? undefined) as undefined,
          dryRun: dryRun(q, opts),
        });
        return json(200, {
          kind: t.listKind,
          apiVersion: t.group ? `${t.group}/${t.version}` : t.version,
          metadata: { resourceVersion: String(store.resourceVersion) },
          items,
        });
      }
    }
    throw methodNotAllowed("the server does not allow this method on the requested resource");
  }

  /** The `scale` subresource (autoscaling/v1 Scale) of workloads with `spec.replicas`. */
  async function scale(
    req: Request,
    t: ResourceType,
    ns: string | undefined,
    name: string,
    verb: string,
    q: URLSearchParams,
  ): Promise<Response> {
    const toScale = (o: KubeObject): JsonObject => {
      const spec = isObject(o.spec) ? o.spec : {};
      const status = isObject(o.status) ? o.status : {};
      const sel = isObject(spec.selector) && isObject(spec.selector.matchLabels)
        ? spec.selector.matchLabels
        : {};
      return {
        kind: "Scale",
        apiVersion: "autoscaling/v1",
        metadata: {
          name: o.metadata.name,
          namespace: o.metadata.namespace,
          uid: o.metadata.uid,
          resourceVersion: o.metadata.resourceVersion,
          creationTimestamp: o.metadata.creationTimestamp,
        },
        spec: { replicas: spec.replicas ?? 1 },
        status: {
          replicas: status.replicas ?? 0,
          selector: Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(","),
        },
      };
    };
    const current = store.get(t, ns, name);
    if (verb === "get") return json(200, toScale(current));
    if (verb !== "update" && verb !== "patch") {
      throw methodNotAllowed("the server does not allow this method on the requested resource");
    }
    const { value, contentType } = await readBody(req);
    let next: unknown = value;
    if (verb === "patch") {
      next = contentType === "application/json-patch+json"
        ? jsonPatch(toScale(current), value)
        : mergePatch(toScale(current), value);
    }
    const spec = isObject(next) && isObject(next.spec) ? next.spec : {};
    const replicas = spec.replicas;
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
      throw new ApiError(
        422,
        "Invalid",
        `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${
          JSON.stringify(replicas)
        }: must be greater than or equal to 0`,
        {
          name,
          group: "autoscaling",
          kind: "Scale",
          causes: [{
            reason: "FieldValueInvalid",
            field: "spec.replicas",
            message: `Invalid value: ${
              JSON.stringify(replicas)
            }: must be greater than or equal to 0`,
          }],
        },
      );
    }
    const rv = isObject(next) && isObject(next.metadata)
      ? next.metadata.resourceVersion
      : undefined;
    if (
      verb === "update" && typeof rv === "string" && rv !== "" &&
      rv !== current.metadata.resourceVersion
    ) {
      throw conflict(t.group, t.plural, name);
    }
    const res = store.patch(t, ns, name, "merge", { spec: { replicas } }, {
      dryRun: dryRun(q),
      fieldManager: q.get("fieldManager") ?? defaultManager(req),
    });
    return json(200, toScale(res.object));
  }

  /** authorization.k8s.io/v1: access reviews (what `kubectl auth can-i` asks). */
  async function reviews(req: Request, rest: string[], user: UserInfo): Promise<Response> {
    if (rest.length === 0) {
      return json(200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: "authorization.k8s.io/v1",
        resources: [
          {
            name: "localsubjectaccessreviews",
            singularName: "",
            namespaced: true,
            kind: "LocalSubjectAccessReview",
            verbs: ["create"],
          },
          {
            name: "selfsubjectaccessreviews",
            singularName: "",
            namespaced: false,
            kind: "SelfSubjectAccessReview",
            verbs: ["create"],
          },
          {
            name: "subjectaccessreviews",
            singularName: "",
            namespaced: false,
            kind: "SubjectAccessReview",
            verbs: ["create"],
          },
        ],
      });
    }
    if (req.method !== "POST") {
      throw methodNotAllowed("the server does not allow this method on the requested resource");
    }
    const { value } = await readBody(req);
    let kind: "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview";
    let namespace: string | undefined;
    if (rest.length === 1 && rest[0] === "selfsubjectaccessreviews") {
      kind = "SelfSubjectAccessReview";
    } else if (rest.length === 1 && rest[0] === "subjectaccessreviews") {
      kind = "SubjectAccessReview";
    } else if (
      rest.length === 3 && rest[0] === "namespaces" && rest[2] === "localsubjectaccessreviews"
    ) {
      kind = "LocalSubjectAccessReview";
      namespace = rest[1];
    } else throw notFound("authorization.k8s.io", rest.join("/"), "");
    if (kind !== "SelfSubjectAccessReview") {
      const attrs: RequestAttributes = {
        verb: "create",
        apiGroup: "authorization.k8s.io",
        resource: kind === "SubjectAccessReview"
          ? "subjectaccessreviews"
          : "localsubjectaccessreviews",
        namespace,
      };
      if (!authorize(store, user, attrs)) throw denied(user, attrs);
    }
    return json(201, accessReview(store, user, kind, value, namespace));
  }

  async function route(req: Request, url: URL, user: UserInfo): Promise<Response> {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
    const q = url.searchParams;
    const nonResource = (): void => {
      const attrs: RequestAttributes = { verb: req.method.toLowerCase(), path };
      if (!authorize(store, user, attrs)) throw denied(user, attrs);
    };
    if (parts[0] === "tern") {
      if (!user.groups.includes("system:masters")) {
        throw denied(user, { verb: req.method.toLowerCase(), path });
      }
      if (path === "/tern/faults") {
        if (req.method === "GET") return json(200, ctx.faults.state());
        if (req.method === "POST") {
          const { value } = await readBody(req);
          return json(200, ctx.faults.apply(value));
        }
        throw methodNotAllowed("use GET or POST");
      }
      const r = await ctx.adminHook?.(req, path);
      if (r) return r;
      throw notFound("", "", path);
    }
    if (path === "/version") {
      nonResource();
      return json(200, discovery.versionInfo());
    }
    if (path === "/healthz" || path === "/livez" || path === "/readyz") {
      return new Response("ok", { status: 200, headers: { "content-type": "text/plain" } });
    }
    if (path === "/api" || path === "/apis") {
      nonResource();
      const accept = req.headers.get("accept") ?? "";
      if (/g=apidiscovery\.k8s\.io;v=v2;as=APIGroupDiscoveryList/.test(accept)) {
        const r = json(200, discovery.aggregated(store.registry, path === "/api"));
        r.headers.set(
          "content-type",
          "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        );
        return r;
      }
      if (path === "/api") return json(200, discovery.coreVersions(ctx.serverAddress()));
      return json(200, discovery.groupList(store.registry));
    }
    if (parts[0] === "openapi") {
      nonResource();
      if (parts[1] === "v3") {
        const o = await openapi();
        if (parts.length === 2) return json(200, o.index);
        const key = parts.slice(2).join("/");
        const doc = o.docs.get(key);
        if (!doc) throw notFound("", "", key);
        const h = new Headers({ etag: `"${o.hashes.get(key)}"` });
        if (q.get("hash") === o.hashes.get(key)) h.set("cache-control", "public, immutable");
        const r = json(200, doc, h);
        if (q.get("hash") === o.hashes.get(key)) {
          r.headers.set("cache-control", "public, immutable");
        }
        return r;
      }
      throw notFound("", "", path);
    }
    if (parts[0] === "apis" && parts.length === 2) {
      nonResource();
      const g = discovery.group(store.registry, parts[1]);
      if (!g) throw notFound("", "", path);
      return json(200, g);
    }
    if (parts[0] === "apis" && parts[1] === "authorization.k8s.io" && parts[2] === "v1") {
      return await reviews(req, parts.slice(3), user);
    }
    if ((parts[0] === "api" && parts.length >= 2) || (parts[0] === "apis" && parts.length >= 3)) {
      if (
        (parts[0] === "api" && parts.length === 2) || (parts[0] === "apis" && parts.length === 3)
      ) nonResource();
      return await resource(req, parts, q, user);
    }
    throw new ApiError(404, "NotFound", "the server could not find the requested resource", {
      causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
    });
  }

  return async (req: Request): Promise<Response> => {
    try {
      const url = new URL(req.url);
      const token = bearer(req);
      let user = authenticate(store, ctx.adminToken, token);
      if (!user) {
        if (token !== undefined || !ctx.anonymousIsAdmin) {
          if (
            url.pathname === "/healthz" || url.pathname === "/livez" || url.pathname === "/readyz"
          ) {
            return new Response("ok");
          }
          throw unauthorized();
        }
        user = authenticate(store, ctx.adminToken, ctx.adminToken)!;
      }
      user = impersonate(store, user, req.headers);
      if (!url.pathname.startsWith("/tern/")) {
        if (ctx.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, ctx.faults.latencyMs));
        const injected = ctx.faults.take();
        if (injected) {
          await req.body?.cancel();
          throw injected;
        }
      }
      return await route(req, url, user);
    } catch (e) {
      if (req.body && !req.bodyUsed) await req.body.cancel().catch(() => {});
      if (e instanceof ApiError) return errorResponse(e);
      const msg = e instanceof Error ? e.message : String(e);
      return errorResponse(new ApiError(500, "InternalError", `Internal error occurred: ${msg}`));
    }
  };
}
