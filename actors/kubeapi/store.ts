/**
 * The in-memory object store of the embedded API server.
 *
 * One global resourceVersion counter orders every write. Each write appends to a bounded event
 * history that watches replay from; a watch from a version older than the history gets 410
 * Gone. The store enforces the API semantics clients can observe: uid, creationTimestamp,
 * generation (bumped on non-metadata, non-status changes), optimistic concurrency, generateName,
 * status subresources, finalizers with deletionTimestamp, ownerReference garbage collection
 * (background, foreground, orphan), namespace termination, CRDs that register new resource types,
 * schema validation of custom resources, and managedFields / server-side apply.
 *
 * It is synchronous: each call runs to completion, so watchers observe writes in order.
 */

import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  forbidden,
  invalid,
  notFound,
  type StatusCause,
} from "./errors.ts";
import { builtinKinds } from "./builtin_kinds.ts";
import { crdStatus, crdTypes, defaultCrd, validateCrd } from "./crd.ts";
import { apply as serverSideApply, type ListKeys, recordUpdate } from "./field_manager.ts";
import { jsonPatch, mergePatch } from "./json_patch.ts";
import {
  type Allocators,
  prepareCreate,
  prepareUpdate,
  validateMeta,
  validateName,
} from "./kind_hooks.ts";
import { groupVersion, ResourceRegistry, type ResourceType } from "./resource_types.ts";
import { ruleProblems, validateObject } from "./schema_validation.ts";
import { ServiceAddressIndex } from "./service_allocator.ts";
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { listStrategy, strategicMergePatch } from "./strategic_merge.ts";
import {
  clone,
  deepEqual,
  isObject,
  type JsonObject,
  type KubeObject,
  timestamp,
} from "./types.ts";
import {
  type HistoryEntry,
  type WatchEvent,
  type WatchEventType,
  WatchHub,
  type WatchOptions,
  type WatchSink,
} from "./watch_hub.ts";

export type { WatchEvent, WatchEventType, WatchOptions, WatchSink };

/** Options common to writes. */
export interface WriteOptions {
  /** `dryRun=All`: run every check, store nothing. */
  dryRun?: boolean;
  /** Name recorded in managedFields. */
  fieldManager?: string;
  /** Unknown-field handling for schema-backed kinds (default Warn). */
  fieldValidation?: "Strict" | "Warn" | "Ignore";
  /** Write through the `status` subresource. */
  subresource?: "status";
}

/** Result of a write: the stored object and any warnings for the `Warning` header. */
export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** True when a create happened (201), e.g. server-side apply of a new object. */
  created?: boolean;
}

/** Options of a delete. */
export interface DeleteOptions {
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  dryRun?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** Options of a list. */
export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

/** A list result. */
export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** Supported patch types. */
export type PatchType = "json" | "merge" | "strategic" | "apply";

/** Options of the store. */
export interface StoreOptions {
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
  /** Number of events kept for watch resumption (default 1000). */
  historyLimit?: number;
  /** IPv4 CIDR for Service cluster IPs (default 198.19.192.0/20). */
  serviceCIDR?: string;
}

/** A serialized store (see persistence.ts). */
export interface StoreSnapshot {
  resourceVersion: number;
  objects: KubeObject[];
  serviceAccountTokens: Array<{ token: string; namespace: string; name: string; uid: string }>;
}

/** The identity a ServiceAccount token authenticates as. */
export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  uid: string;
}

const nameChars = "bcdfghjklmnpqrstvwxz2456789";
const protectedNamespaces = new Set(["default", "kube-system", "kube-public"]);

function randomSuffix(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return [...bytes].map((b) => nameChars[b % nameChars.length]).join("");
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function objKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

function withoutMetaAndStatus(o: KubeObject): JsonObject {
  const c: JsonObject = { ...o };
  delete c.metadata;
  delete c.status;
  delete c.apiVersion;
  delete c.kind;
  return c;
}

function comparable(o: KubeObject): JsonObject {
  const c = clone(o) as JsonObject;
  const m = c.metadata as JsonObject;
  delete m.resourceVersion;
  delete m.managedFields;
  delete c.apiVersion;
  return c;
}

const SERVICES_KEY = "/services";
const NAMESPACES_KEY = "/namespaces";

/** Index of the first element of sorted `keys` not less than `key`. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element of sorted `keys` greater than `key`. */
function upperBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The object store. */
export class Store {
  /** Served resource types (built-ins and CRD-defined). */
  readonly registry = new ResourceRegistry();
  #objects = new Map<string, Map<string, KubeObject>>();
  #uids = new Map<string, [string, string]>();
  /** owner uid → refs (`storageKey\nkey`) of objects naming it in ownerReferences. */
  #dependents = new Map<string, Set<string>>();
  /** Refs of objects with a deletionTimestamp (finalizers, foreground, namespaces). */
  #deleting = new Set<string>();
  /** Refs in #deleting whose situation changed (own write, a dependent or content came or
   * went): only these are looked at again, so a write costs nothing per object held by a
   * finalizer. */
  #deletingDirty = new Set<string>();
  /** Refs of dependents whose owners may be gone. */
  #orphanCheck = new Set<string>();
  #rv = 0;
  #hub: WatchHub;
  #now: () => number;
  #saTokens = new Map<string, ServiceAccountIdentity>();
  #tokenBySa = new Map<string, string>();
  #serviceCIDR: string;
  /** ClusterIPs and node ports of the stored Services (kept by #put and #drop). */
  #serviceIndex: ServiceAddressIndex;
  /** Sorted keys per storage key (for lists), dropped when a bucket gains or loses a key. */
  #keyOrder = new Map<string, string[]>();
  #reconciling = false;
  #changeListeners: Array<() => void> = [];

  /** Create a store with the built-in kinds and the default namespaces. */
  constructor(opts: StoreOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#serviceCIDR = opts.serviceCIDR ?? "198.19.192.0/20";
    this.#serviceIndex = new ServiceAddressIndex(this.#serviceCIDR);
    this.#hub = new WatchHub({
      historyLimit: opts.historyLimit ?? 1000,
      resourceVersion: () => this.#rv,
      objects: (storageKey) => this.#objects.get(storageKey)?.values() ?? [],
      present: (t, o) => this.#present(t, o),
    });
    for (const t of builtinKinds()) this.registry.add(t);
  }

  /** Create the namespaces and roles a fresh cluster has. Idempotent. */
  bootstrap(): void {
    const ns = this.registry.get("", "v1", "namespaces")!;
    for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      if (!this.#raw(ns, undefined, name)) {
        this.create(ns, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
      }
    }
    const cr = this.registry.get("rbac.authorization.k8s.io", "v1", "clusterroles")!;
    const roles: Array<[string, JsonObject[]]> = [
      ["cluster-admin", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }, {
        nonResourceURLs: ["*"],
        verbs: ["*"],
      }]],
      ["view", [{ apiGroups: ["*"], resources: ["*"], verbs: ["get", "list", "watch"] }]],
      ["edit", [{
        apiGroups: ["*"],
        resources: ["*"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"],
      }]],
    ];
    for (const [name, rules] of roles) {
      if (!this.#raw(cr, undefined, name)) {
        this.create(cr, undefined, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name, labels: { "kubernetes.io/bootstrapping": "rbac-defaults" } },
          rules,
        });
      }
    }
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** The oldest resourceVersion a watch may resume from. */
  get compactedResourceVersion(): number {
    return this.#hub.compactedResourceVersion;
  }

  /** Number of stored objects. */
  get objectCount(): number {
    let n = 0;
    for (const bucket of this.#objects.values()) n += bucket.size;
    return n;
  }

  /** Number of open watches. */
  get watchCount(): number {
    return this.#hub.count;
  }

  /** Register a callback run after every committed write (e.g. persistence). */
  onChange(fn: () => void): void {
    this.#changeListeners.push(fn);
  }

  // ---- reads ---------------------------------------------------------------------------------

  #bucket(storageKey: string): Map<string, KubeObject> {
    let b = this.#objects.get(storageKey);
    if (!b) {
      b = new Map();
      this.#objects.set(storageKey, b);
    }
    return b;
  }

  #raw(t: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#objects.get(t.storageKey)?.get(objKey(t.namespaced ? namespace : undefined, name));
  }

  #present(t: ResourceType, o: KubeObject): KubeObject {
    let c = clone(o);
    if (t.convert) c = t.convert.fromStorage(c);
    c.apiVersion = groupVersion(t);
    c.kind = t.kind;
    return c;
  }

  /** Get one object. */
  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.#raw(t, namespace, name);
    if (!o) throw notFound(t.group, t.plural, name);
    return this.#present(t, o);
  }

  /** List objects (optionally in one namespace), filtered and paginated. */
  list(t: ResourceType, namespace: string | undefined, opts: ListOptions = {}): ListResult {
    const labels = parseLabelSelector(opts.labelSelector ?? "");
    const fields = parseFieldSelector(opts.fieldSelector ?? "");
    let start = "";
    let rv = this.#rv;
    if (opts.continue) {
      try {
        const tok = JSON.parse(atob(opts.continue));
        start = String(tok.start);
        rv = Number(tok.rv);
      } catch {
        throw badRequest(`invalid continue token "${opts.continue}"`);
      }
      if (rv < this.#hub.compactedResourceVersion) {
        throw new ApiError(
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        );
      }
    }
    const bucket = this.#objects.get(t.storageKey) ?? new Map<string, KubeObject>();
    const keys = this.#sortedKeys(t.storageKey, bucket);
    const matched: KubeObject[] = [];
    const ns = t.namespaced ? namespace : undefined;
    // Keys are `namespace/name`: one namespace's objects are a contiguous run of the order.
    const prefix = ns !== undefined ? `${ns}/` : "";
    let i = prefix ? lowerBound(keys, prefix) : 0;
    if (start) i = Math.max(i, upperBound(keys, start));
    for (; i < keys.length; i++) {
      const k = keys[i];
      if (prefix && !k.startsWith(prefix)) break;
      const o = bucket.get(k)!;
      if (!matchLabels(labels, o.metadata.labels)) continue;
      if (!matchFields(fields, t.convert ? this.#present(t, o) : o)) continue;
      matched.push(o);
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    const page = limit ? matched.slice(0, limit) : matched;
    const res: ListResult = {
      items: page.map((o) => this.#present(t, o)),
      resourceVersion: String(rv),
    };
    if (limit && matched.length > limit) {
      const last = page[page.length - 1];
      res.continue = btoa(
        JSON.stringify({ rv, start: objKey(last.metadata.namespace, last.metadata.name!) }),
      );
      res.remainingItemCount = matched.length - limit;
    }
    return res;
  }

  /** The keys of a bucket in list order, cached until a key is added or removed. */
  #sortedKeys(storageKey: string, bucket: Map<string, KubeObject>): string[] {
    let keys = this.#keyOrder.get(storageKey);
    if (!keys) this.#keyOrder.set(storageKey, keys = [...bucket.keys()].sort());
    return keys;
  }

  // ---- watch ---------------------------------------------------------------------------------

  /**
   * Open a watch. Initial or replayed events are sent synchronously; then live events follow.
   * Throws a 410 {@link ApiError} when `resourceVersion` is older than the kept history.
   */
  watch(
    t: ResourceType,
    namespace: string | undefined,
    opts: WatchOptions,
    sink: WatchSink,
  ): { stop(): void } {
    return this.#hub.open(t, namespace, opts, sink);
  }

  /** A bookmark event for a watch on `t` at the current resourceVersion. */
  bookmark(t: ResourceType): WatchEvent {
    return this.#hub.bookmark(t);
  }

  /** Close every open watch (fault injection: clients see the stream end). */
  closeAllWatches(): number {
    return this.#hub.closeAll();
  }

  /** Drop the event history now: every watch resuming from an older version gets 410. */
  expireHistory(): void {
    this.#hub.expire();
  }

  #record(e: HistoryEntry): void {
    this.#hub.record(e);
    for (const fn of this.#changeListeners) fn();
  }

  // ---- writes --------------------------------------------------------------------------------

  #allocators(): Allocators {
    return this.#serviceIndex.allocators();
  }

  /** List-key function for managedFields of type `t`. */
  listKeys(t: ResourceType): ListKeys {
    if (t.schema) {
      const schema = t.schema;
      return (path) => {
        let s: unknown = schema;
        for (const p of path.split(".")) {
          if (!isObject(s)) return undefined;
          if (isObject(s.items)) s = s.items;
          s = isObject(s) && isObject(s.properties) ? s.properties[p] : undefined;
        }
        if (!isObject(s)) return undefined;
        if (
          s["x-kubernetes-list-type"] === "map" && Array.isArray(s["x-kubernetes-list-map-keys"])
        ) {
          return s["x-kubernetes-list-map-keys"].map(String);
        }
        if (s["x-kubernetes-list-type"] === "set") return "set";
        return undefined;
      };
    }
    return (path) => {
      const st = listStrategy(t.kind, path);
      if (!st) return undefined;
      return "mergeKey" in st ? [st.mergeKey] : "set";
    };
  }

  #toStorage(t: ResourceType, o: KubeObject): KubeObject {
    return t.convert ? t.convert.toStorage(o) : o;
  }

  #checkBody(t: ResourceType, body: unknown): KubeObject {
    if (!isObject(body)) throw badRequest("the body of the request must be a JSON object");
    const gv = groupVersion(t);
    if (body.apiVersion !== undefined && body.apiVersion !== gv) {
      throw badRequest(
        `the API version in the data (${body.apiVersion}) does not match the expected API version (${gv})`,
      );
    }
    if (body.kind !== undefined && body.kind !== t.kind) {
      throw badRequest(
        `the kind in the data (${body.kind}) does not match the expected kind (${t.kind})`,
      );
    }
    const o = clone(body) as KubeObject;
    o.apiVersion = gv;
    o.kind = t.kind;
    if (!isObject(o.metadata)) o.metadata = {};
    return o;
  }

  #validateSchema(
    t: ResourceType,
    o: KubeObject,
    opts: WriteOptions,
    warnings: string[],
    old?: KubeObject,
  ): void {
    if (t.group === "apiextensions.k8s.io" && t.plural === "customresourcedefinitions") {
      const versions = isObject(o.spec) && Array.isArray(o.spec.versions) ? o.spec.versions : [];
      for (const v of versions) {
        if (!isObject(v) || !isObject(v.schema)) continue;
        for (const p of ruleProblems(v.schema.openAPIV3Schema)) warnings.push(`${v.name}: ${p}`);
      }
    }
    if (!t.schema) return;
    const res = validateObject(o as JsonObject, t.schema, old as JsonObject | undefined);
    if (res.unknownFields.length > 0) {
      if (opts.fieldValidation === "Strict") {
        throw badRequest(
          `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${
            res.unknownFields.map((f) => `unknown field "${f}"`).join(", ")
          }`,
        );
      }
      if (opts.fieldValidation !== "Ignore") {
        for (const f of res.unknownFields) warnings.push(`unknown field "${f}"`);
      }
    }
    if (res.causes.length > 0) throw invalid(t.group, t.kind, o.metadata.name ?? "", res.causes);
  }

  #validateCommon(t: ResourceType, o: KubeObject, causes: StatusCause[]): void {
    causes.push(...validateMeta(o));
    if (t.plural === "customresourcedefinitions" && t.group === "apiextensions.k8s.io") {
      causes.push(...validateCrd(o));
    }
    if (causes.length > 0) throw invalid(t.group, t.kind, o.metadata.name ?? "", causes);
  }

  #checkNamespace(t: ResourceType, namespace: string | undefined): void {
    if (!t.namespaced) return;
    if (!namespace) {
      throw badRequest("the server could not find the requested resource: a namespace is required");
    }
    const ns = this.#objects.get("/namespaces")?.get(objKey(undefined, namespace));
    if (!ns) throw notFound("", "namespaces", namespace);
    if (ns.metadata.deletionTimestamp) {
      throw new ApiError(
        403,
        "Forbidden",
        `${t.plural}${
          t.group ? "." + t.group : ""
        } "" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        {
          name: namespace,
          kind: "namespaces",
          causes: [{
            reason: "NamespaceTerminating",
            message: `namespace ${namespace} is being terminated`,
            field: "metadata.namespace",
          }],
        },
      );
    }
  }

  /** Create an object. */
  create(
    t: ResourceType,
    namespace: string | undefined,
    body: unknown,
    opts: WriteOptions = {},
  ): WriteResult {
    return this.#create(t, namespace, body, opts);
  }

  #create(
    t: ResourceType,
    namespace: string | undefined,
    body: unknown,
    opts: WriteOptions,
    managedFields?: KubeObject["metadata"]["managedFields"],
  ): WriteResult {
    const o = this.#toStorage(t, this.#checkBody(t, body));
    const warnings: string[] = [];
    const m = o.metadata;
    if (t.namespaced) {
      if (m.namespace && namespace && m.namespace !== namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      m.namespace = namespace ?? m.namespace;
    } else delete m.namespace;
    this.#checkNamespace(t, m.namespace);
    if (!m.name) {
      if (m.generateName) m.name = `${m.generateName}${randomSuffix(5)}`;
      else {
        throw invalid(t.group, t.kind, "", [{
          reason: "FieldValueRequired",
          message: "Required value: name or generateName is required",
          field: "metadata.name",
        }]);
      }
    }
    const causes = validateName(t, m.name);
    if (this.#raw(t, m.namespace, m.name)) throw alreadyExists(t.group, t.plural, m.name);
    if (m.resourceVersion) {
      throw badRequest("resourceVersion should not be set on objects to be created");
    }
    m.uid = crypto.randomUUID();
    m.creationTimestamp = timestamp(this.#now());
    m.generation = 1;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.managedFields;
    if (t.statusSubresource && t.crd) delete o.status;
    if (t.group === "apiextensions.k8s.io" && t.plural === "customresourcedefinitions") {
      defaultCrd(o);
    }
    causes.push(...prepareCreate(t, o, this.#allocators()));
    this.#validateCommon(t, o, causes);
    this.#validateSchema(t, o, opts, warnings);
    if (t.group === "apiextensions.k8s.io" && t.plural === "customresourcedefinitions") {
      o.status = crdStatus(o, m.creationTimestamp);
      this.#checkCrdNames(o);
    }
    m.managedFields = managedFields ?? recordUpdate(undefined, o as JsonObject, {
      manager: opts.fieldManager ?? "unknown",
      listKeys: this.listKeys(t),
      apiVersion: groupVersion(t),
      now: m.creationTimestamp,
    });
    if (opts.dryRun) return { object: this.#present(t, o), warnings, created: true };
    this.#commitCreate(t, o);
    return { object: this.#present(t, o), warnings, created: true };
  }

  #checkCrdNames(crd: KubeObject): void {
    const types = crdTypes(crd);
    for (const nt of types) {
      const existing = this.registry.get(nt.group, nt.version, nt.plural);
      if (existing && existing.crd !== crd.metadata.name) {
        throw invalid("apiextensions.k8s.io", "CustomResourceDefinition", crd.metadata.name ?? "", [
          {
            reason: "FieldValueInvalid",
            field: "spec.names.plural",
            message: `Invalid value: "${nt.plural}": already served by another resource`,
          },
        ]);
      }
    }
  }

  /**
   * Stores `o` over `old` under the next resourceVersion and records the MODIFIED event; with
   * `sideEffects`, the kind's own effects (CRD types, ServiceAccount tokens) run before the event.
   */
  #commitUpdate(t: ResourceType, o: KubeObject, old: KubeObject, sideEffects: boolean): void {
    this.#rv++;
    o.metadata.resourceVersion = String(this.#rv);
    this.#put(t.storageKey, o, old);
    if (sideEffects) this.#afterWrite(t, old, o);
    this.#record({
      rv: this.#rv,
      type: "MODIFIED",
      storageKey: t.storageKey,
      object: clone(o),
      old: clone(old),
    });
  }

  #commitCreate(t: ResourceType, o: KubeObject): void {
    this.#rv++;
    o.metadata.resourceVersion = String(this.#rv);
    this.#put(t.storageKey, o, undefined);
    this.#afterWrite(t, undefined, o);
    this.#record({ rv: this.#rv, type: "ADDED", storageKey: t.storageKey, object: clone(o) });
    // Only a dependent can need garbage collection at birth (its owner may already be gone).
    if ((o.metadata.ownerReferences ?? []).length > 0) this.#reconcile();
  }

  #afterWrite(t: ResourceType, old: KubeObject | undefined, o: KubeObject | undefined): void {
    if (t.group === "apiextensions.k8s.io" && t.plural === "customresourcedefinitions") {
      const crd = o ?? old!;
      this.registry.removeCrd(crd.metadata.name!);
      if (o) { for (const nt of crdTypes(o)) this.registry.add(nt); }
    }
    if (t.group === "" && t.plural === "serviceaccounts") {
      const sa = o ?? old!;
      const key = objKey(sa.metadata.namespace, sa.metadata.name!);
      if (o && !this.#tokenBySa.has(key)) {
        const token = randomToken();
        this.#tokenBySa.set(key, token);
        this.#saTokens.set(token, {
          namespace: sa.metadata.namespace!,
          name: sa.metadata.name!,
          uid: sa.metadata.uid!,
        });
      }
      if (!o) {
        const token = this.#tokenBySa.get(key);
        if (token) this.#saTokens.delete(token);
        this.#tokenBySa.delete(key);
      }
    }
    if (t.group === "" && t.plural === "namespaces" && o && !old) {
      const sa = this.registry.get("", "v1", "serviceaccounts")!;
      queueMicrotask(() => {
        const ns = this.#raw(t, undefined, o.metadata.name!);
        if (ns && !ns.metadata.deletionTimestamp && !this.#raw(sa, o.metadata.name, "default")) {
          try {
            this.create(sa, o.metadata.name, { metadata: { name: "default" } }, {
              fieldManager: "kube-controller-manager",
            });
          } catch { /* namespace went away meanwhile */ }
        }
      });
    }
  }

  /** Replace an object (PUT), or its status (`subresource: "status"`). */
  update(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): WriteResult {
    const old = this.#raw(t, namespace, name);
    if (!old) throw notFound(t.group, t.plural, name);
    const o = this.#toStorage(t, this.#checkBody(t, body));
    if (o.metadata.name !== undefined && o.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${o.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const rv = o.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== old.metadata.resourceVersion) {
      throw conflict(t.group, t.plural, name);
    }
    if ((rv === undefined || rv === "") && t.crd) {
      throw invalid(t.group, t.kind, name, [{
        reason: "FieldValueInvalid",
        field: "metadata.resourceVersion",
        message: "Invalid value: 0x0: must be specified for an update",
      }]);
    }
    return this.#writeUpdate(t, old, o, opts);
  }

  #writeUpdate(
    t: ResourceType,
    old: KubeObject,
    incoming: KubeObject,
    opts: WriteOptions,
    applied?: {
      managedFields: KubeObject["metadata"]["managedFields"];
    },
  ): WriteResult {
    const warnings: string[] = [];
    let o: KubeObject;
    if (opts.subresource === "status") {
      o = clone(old);
      o.status = incoming.status;
      if (o.status === undefined) delete o.status;
    } else {
      o = incoming;
      if (t.statusSubresource) {
        if (old.status === undefined) delete o.status;
        else o.status = clone(old.status);
      }
    }
    const m = o.metadata;
    const om = old.metadata;
    m.name = om.name;
    if (t.namespaced) m.namespace = om.namespace;
    else delete m.namespace;
    m.uid = om.uid;
    m.creationTimestamp = om.creationTimestamp;
    m.generation = om.generation;
    if (om.deletionTimestamp) {
      m.deletionTimestamp = om.deletionTimestamp;
      m.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    m.resourceVersion = om.resourceVersion;
    if (om.deletionTimestamp) {
      const added = (m.finalizers ?? []).filter((f) => !(om.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid(t.group, t.kind, om.name!, [{
          reason: "FieldValueForbidden",
          field: "metadata.finalizers",
          message:
            `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${
              JSON.stringify(added)
            }`,
        }]);
      }
    }
    if (t.group === "apiextensions.k8s.io" && t.plural === "customresourcedefinitions") {
      defaultCrd(o);
    }
    const causes = prepareUpdate(t, o, old, this.#allocators());
    this.#validateCommon(t, o, causes);
    this.#validateSchema(t, o, opts, warnings, old);
    if (t.group === "apiextensions.k8s.io" && t.plural === "customresourcedefinitions") {
      this.#checkCrdNames(o);
      if (opts.subresource !== "status") o.status = crdStatus(o, timestamp(this.#now()));
    }
    if (!deepEqual(withoutMetaAndStatus(o), withoutMetaAndStatus(old))) {
      m.generation = (om.generation ?? 0) + 1;
    }
    const now = timestamp(this.#now());
    m.managedFields = applied?.managedFields ?? recordUpdate(old as JsonObject, o as JsonObject, {
      manager: opts.fieldManager ?? "unknown",
      listKeys: this.listKeys(t),
      apiVersion: groupVersion(t),
      now,
      subresource: opts.subresource,
    });
    if (deepEqual(comparable(o), comparable(old))) {
      // A no-op write changes nothing, not even the resourceVersion.
      return { object: this.#present(t, old), warnings };
    }
    if (opts.dryRun) return { object: this.#present(t, o), warnings };
    if (m.deletionTimestamp && (m.finalizers ?? []).length === 0) {
      this.#remove(t.storageKey, o, t);
      this.#reconcile();
      return { object: this.#present(t, o), warnings };
    }
    this.#commitUpdate(t, o, old, true);
    // Garbage collection and termination only care about deletions, owners and finalizers.
    if (
      m.deletionTimestamp || (m.ownerReferences ?? []).length > 0 ||
      (old.metadata.ownerReferences ?? []).length > 0
    ) {
      this.#reconcile();
    }
    return { object: this.#present(t, o), warnings };
  }

  /** Patch an object (JSON patch, merge patch, strategic merge patch or server-side apply). */
  patch(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions & { force?: boolean } = {},
  ): WriteResult {
    const old = this.#raw(t, namespace, name);
    if (type === "apply") return this.#apply(t, namespace, name, old, patch, opts);
    if (!old) throw notFound(t.group, t.plural, name);
    const current = this.#present(t, old) as JsonObject;
    let next: unknown;
    switch (type) {
      case "json":
        next = jsonPatch(current, patch);
        break;
      case "merge":
        if (!isObject(patch)) throw badRequest("merge patch must be a JSON object");
        next = mergePatch(current, patch);
        break;
      case "strategic":
        if (t.crd) {
          throw new ApiError(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          );
        }
        next = strategicMergePatch(t.kind, current, patch);
        break;
    }
    const o = this.#toStorage(t, this.#checkBody(t, next));
    if (o.metadata.name !== name) {
      throw badRequest(
        `metadata.name: Invalid value: ${JSON.stringify(o.metadata.name)}: field is immutable`,
      );
    }
    const rv = o.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== old.metadata.resourceVersion) {
      throw conflict(t.group, t.plural, name);
    }
    return this.#writeUpdate(t, old, o, opts);
  }

  #apply(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    old: KubeObject | undefined,
    patch: unknown,
    opts: WriteOptions & { force?: boolean },
  ): WriteResult {
    if (!opts.fieldManager) {
      throw badRequest(
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    const applied = this.#checkBody(t, patch);
    if (applied.metadata.name !== undefined && applied.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    applied.metadata.name = name;
    const rv = applied.metadata.resourceVersion;
    if (old && rv !== undefined && rv !== old.metadata.resourceVersion) {
      throw conflict(t.group, t.plural, name);
    }
    const now = timestamp(this.#now());
    const cleaned = clone(applied) as JsonObject;
    const meta = cleaned.metadata as JsonObject;
    delete meta.resourceVersion;
    delete meta.managedFields;
    if (!t.namespaced) delete meta.namespace;
    else meta.namespace = namespace;
    const live = old ? this.#present(t, old) as JsonObject : undefined;
    const res = serverSideApply(live, cleaned, {
      manager: opts.fieldManager,
      force: opts.force === true,
      listKeys: this.listKeys(t),
      apiVersion: groupVersion(t),
      now,
      subresource: opts.subresource,
    });
    const merged = res.object as KubeObject;
    if (!old) {
      return this.#create(t, namespace, merged, opts, res.managedFields);
    }
    merged.metadata.resourceVersion = old.metadata.resourceVersion;
    return this.#writeUpdate(t, old, this.#toStorage(t, merged), opts, {
      managedFields: res.managedFields,
    });
  }

  /** Delete an object, honouring finalizers and the propagation policy. Returns the object as
   * last seen (with deletionTimestamp when finalizers keep it) and whether it is gone. */
  delete(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): { object: KubeObject; gone: boolean } {
    const old = this.#raw(t, namespace, name);
    if (!old) throw notFound(t.group, t.plural, name);
    if (opts.preconditions?.uid && opts.preconditions.uid !== old.metadata.uid) {
      throw conflict(
        t.group,
        t.plural,
        name,
        `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    if (
      opts.preconditions?.resourceVersion &&
      opts.preconditions.resourceVersion !== old.metadata.resourceVersion
    ) {
      throw conflict(
        t.group,
        t.plural,
        name,
        `Precondition failed: ResourceVersion in precondition: ${opts.preconditions.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    if (t.group === "" && t.plural === "namespaces" && protectedNamespaces.has(name)) {
      throw forbidden("", "namespaces", name, "this namespace may not be deleted");
    }
    const policy = opts.propagationPolicy ?? "Background";
    const isNamespace = t.group === "" && t.plural === "namespaces";
    const finalizers = [...(old.metadata.finalizers ?? [])];
    if (policy === "Foreground" && !finalizers.includes("foregroundDeletion")) {
      finalizers.push("foregroundDeletion");
    }
    if (policy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan");
    if (finalizers.length === 0 && !isNamespace) {
      if (opts.dryRun) return { object: this.#present(t, old), gone: true };
      const removed = this.#remove(t.storageKey, old, t);
      this.#reconcile();
      return { object: this.#present(t, removed), gone: true };
    }
    const o = clone(old);
    o.metadata.finalizers = finalizers.length ? finalizers : undefined;
    if (!o.metadata.finalizers) delete o.metadata.finalizers;
    if (!o.metadata.deletionTimestamp) {
      o.metadata.deletionTimestamp = timestamp(this.#now());
      o.metadata.deletionGracePeriodSeconds = 0;
    }
    if (isNamespace) o.status = { ...(isObject(o.status) ? o.status : {}), phase: "Terminating" };
    if (opts.dryRun) return { object: this.#present(t, o), gone: false };
    if (deepEqual(comparable(o), comparable(old))) {
      this.#reconcile();
      return { object: this.#present(t, old), gone: false };
    }
    this.#commitUpdate(t, o, old, false);
    this.#reconcile();
    const still = this.#raw(t, namespace, name);
    return { object: this.#present(t, still ?? o), gone: !still };
  }

  /** Delete every matching object of a type (deletecollection). */
  deleteCollection(
    t: ResourceType,
    namespace: string | undefined,
    opts: ListOptions & DeleteOptions = {},
  ): KubeObject[] {
    const { items } = this.list(t, namespace, {
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
    });
    const out: KubeObject[] = [];
    for (const it of items) {
      try {
        out.push(this.delete(t, it.metadata.namespace, it.metadata.name!, opts).object);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    return out;
  }

  #remove(storageKey: string, o: KubeObject, t?: ResourceType): KubeObject {
    const key = objKey(o.metadata.namespace, o.metadata.name!);
    const bucket = this.#bucket(storageKey);
    const old = bucket.get(key);
    if (!old) return o;
    this.#drop(storageKey, key, old);
    this.#rv++;
    const gone = clone(o);
    gone.metadata.resourceVersion = String(this.#rv);
    const type = t ?? this.registry.byStorageKey(storageKey);
    if (type) this.#afterWrite(type, old, undefined);
    this.#record({ rv: this.#rv, type: "DELETED", storageKey, object: clone(gone) });
    if (
      type && type.group === "apiextensions.k8s.io" && type.plural === "customresourcedefinitions"
    ) {
      for (const nt of crdTypes(old)) {
        for (const child of [...(this.#objects.get(nt.storageKey)?.values() ?? [])]) {
          this.#remove(nt.storageKey, child);
        }
        this.#objects.delete(nt.storageKey);
        this.#keyOrder.delete(nt.storageKey);
        break;
      }
    }
    return gone;
  }

  /** Garbage collection, foreground/orphan finalizers and namespace termination, to a fixpoint. */
  #reconcile(): void {
    if (this.#reconciling) return;
    this.#reconciling = true;
    try {
      for (let round = 0; round < 1000; round++) {
        if (!this.#reconcileOnce()) break;
      }
    } finally {
      this.#reconciling = false;
    }
  }

  #typeOf(storageKey: string): ResourceType | undefined {
    return this.registry.byStorageKey(storageKey);
  }

  #dropFinalizer(storageKey: string, o: KubeObject, finalizer: string): void {
    const t = this.#typeOf(storageKey);
    if (!t) return;
    const next = clone(o);
    next.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
    this.#writeUpdate(t, o, next, { fieldManager: "garbage-collector" });
  }

  #lookup(ref: string): [string, KubeObject] | undefined {
    const cut = ref.indexOf("\n");
    const sk = ref.slice(0, cut);
    const o = this.#objects.get(sk)?.get(ref.slice(cut + 1));
    return o ? [sk, o] : undefined;
  }

  /** Store `o` (replacing `old`), keeping the uid, owner and deletion indexes. */
  #put(storageKey: string, o: KubeObject, old: KubeObject | undefined): void {
    const key = objKey(o.metadata.namespace, o.metadata.name!);
    const ref = `${storageKey}\n${key}`;
    const bucket = this.#bucket(storageKey);
    if (!bucket.has(key)) this.#keyOrder.delete(storageKey);
    bucket.set(key, o);
    if (storageKey === SERVICES_KEY) {
      if (old) this.#serviceIndex.remove(old);
      this.#serviceIndex.add(o);
    }
    this.#uids.set(o.metadata.uid!, [storageKey, key]);
    for (const r of old?.metadata.ownerReferences ?? []) this.#dependents.get(r.uid)?.delete(ref);
    const owners = o.metadata.ownerReferences ?? [];
    for (const r of owners) {
      let set = this.#dependents.get(r.uid);
      if (!set) this.#dependents.set(r.uid, set = new Set());
      set.add(ref);
    }
    if (owners.length > 0) this.#orphanCheck.add(ref);
    if (o.metadata.deletionTimestamp) {
      this.#deleting.add(ref);
      this.#deletingDirty.add(ref);
    } else {
      this.#deleting.delete(ref);
      this.#deletingDirty.delete(ref);
    }
    if (this.#deleting.size > 0) {
      this.#touchRelated(old);
      this.#touchRelated(o);
    }
  }

  /** Mark the deleting owners and the terminating namespace of `o` for another look. */
  #touchRelated(o: KubeObject | undefined): void {
    if (!o) return;
    for (const r of o.metadata.ownerReferences ?? []) {
      const at = this.#uids.get(r.uid);
      const ref = at && `${at[0]}\n${at[1]}`;
      if (ref && this.#deleting.has(ref)) this.#deletingDirty.add(ref);
    }
    if (o.metadata.namespace !== undefined) {
      const ref = `${NAMESPACES_KEY}\n${objKey(undefined, o.metadata.namespace)}`;
      if (this.#deleting.has(ref)) this.#deletingDirty.add(ref);
    }
  }

  /** Forget `old` (stored under `key`), queueing its dependents for garbage collection. */
  #drop(storageKey: string, key: string, old: KubeObject): void {
    const ref = `${storageKey}\n${key}`;
    if (this.#bucket(storageKey).delete(key)) this.#keyOrder.delete(storageKey);
    if (storageKey === SERVICES_KEY) this.#serviceIndex.remove(old);
    this.#uids.delete(old.metadata.uid!);
    for (const r of old.metadata.ownerReferences ?? []) {
      const set = this.#dependents.get(r.uid);
      set?.delete(ref);
      if (set?.size === 0) this.#dependents.delete(r.uid);
    }
    this.#deleting.delete(ref);
    this.#deletingDirty.delete(ref);
    this.#orphanCheck.delete(ref);
    for (const dep of this.#dependents.get(old.metadata.uid!) ?? []) this.#orphanCheck.add(dep);
    if (this.#deleting.size > 0) this.#touchRelated(old);
  }

  #reconcileOnce(): boolean {
    for (const ref of [...this.#orphanCheck]) {
      this.#orphanCheck.delete(ref);
      const found = this.#lookup(ref);
      if (!found) continue;
      const [sk, o] = found;
      const refs = o.metadata.ownerReferences ?? [];
      if (
        refs.length > 0 && !o.metadata.deletionTimestamp &&
        refs.every((r) => !this.#uids.has(r.uid))
      ) {
        const t = this.#typeOf(sk);
        if (t) {
          this.delete(t, o.metadata.namespace, o.metadata.name!, {
            propagationPolicy: "Background",
          });
          return true;
        }
      }
    }
    for (const ref of [...this.#deletingDirty]) {
      this.#deletingDirty.delete(ref);
      const found = this.#lookup(ref);
      if (!found) {
        this.#deleting.delete(ref);
        continue;
      }
      const [sk, o] = found;
      const fins = o.metadata.finalizers ?? [];
      const deps = [...(this.#dependents.get(o.metadata.uid!) ?? [])]
        .map((r) => this.#lookup(r))
        .filter((d): d is [string, KubeObject] => d !== undefined);
      if (fins.includes("orphan")) {
        for (const [dsk, d] of deps) {
          const dt = this.#typeOf(dsk);
          if (!dt) continue;
          const next = clone(d);
          next.metadata.ownerReferences = (d.metadata.ownerReferences ?? []).filter((r) =>
            r.uid !== o.metadata.uid
          );
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          this.#writeUpdate(dt, d, next, { fieldManager: "garbage-collector" });
        }
        this.#dropFinalizer(sk, o, "orphan");
        return true;
      }
      if (fins.includes("foregroundDeletion")) {
        const live = deps.filter(([, d]) => !d.metadata.deletionTimestamp);
        for (const [dsk, d] of live) {
          const dt = this.#typeOf(dsk);
          if (dt) {
            this.delete(dt, d.metadata.namespace, d.metadata.name!, {
              propagationPolicy: "Foreground",
            });
          }
        }
        const blocking = deps.filter(([dsk, d]) =>
          this.#objects.get(dsk)?.has(objKey(d.metadata.namespace, d.metadata.name!))
        );
        if (blocking.length === 0) {
          this.#dropFinalizer(sk, o, "foregroundDeletion");
          return true;
        }
        if (live.length > 0) return true;
      }
      if (sk === "/namespaces") {
        const ns = o.metadata.name!;
        let remaining = 0;
        let acted = false;
        for (const [csk, bucket] of this.#objects) {
          for (const c of [...bucket.values()]) {
            if (c.metadata.namespace !== ns) continue;
            remaining++;
            if (!c.metadata.deletionTimestamp) {
              const ct = this.#typeOf(csk);
              if (ct) {
                this.delete(ct, ns, c.metadata.name!, { propagationPolicy: "Background" });
                acted = true;
              }
            }
          }
        }
        if (acted) return true;
        if (remaining === 0 && (o.metadata.finalizers ?? []).length === 0) {
          this.#remove(sk, o);
          return true;
        }
      }
    }
    return false;
  }

  // ---- service accounts ----------------------------------------------------------------------

  /** The bearer token of a ServiceAccount (created with it), if the account exists. */
  serviceAccountToken(namespace: string, name: string): string | undefined {
    return this.#tokenBySa.get(objKey(namespace, name));
  }

  /** Who a ServiceAccount token belongs to. */
  identifyToken(token: string): ServiceAccountIdentity | undefined {
    return this.#saTokens.get(token);
  }

  // ---- persistence ---------------------------------------------------------------------------

  /** Everything needed to restore the store. */
  snapshot(): StoreSnapshot {
    const objects: KubeObject[] = [];
    for (const bucket of this.#objects.values()) {
      for (const o of bucket.values()) objects.push(clone(o));
    }
    const serviceAccountTokens = [...this.#saTokens].map(([token, id]) => ({ token, ...id }));
    return { resourceVersion: this.#rv, objects, serviceAccountTokens };
  }

  /** Replace the contents with a snapshot (history starts empty at its resourceVersion). */
  restore(snap: StoreSnapshot): void {
    this.#objects.clear();
    this.#keyOrder.clear();
    this.#serviceIndex = new ServiceAddressIndex(this.#serviceCIDR);
    this.#uids.clear();
    this.#dependents.clear();
    this.#deleting.clear();
    this.#deletingDirty.clear();
    this.#orphanCheck.clear();
    this.#saTokens.clear();
    this.#tokenBySa.clear();
    for (const t of this.registry.all()) if (t.crd) this.registry.removeCrd(t.crd);
    const crdKey = "apiextensions.k8s.io/customresourcedefinitions";
    const ordered = [
      ...snap.objects.filter((o) => o.kind === "CustomResourceDefinition"),
      ...snap.objects.filter((o) => o.kind !== "CustomResourceDefinition"),
    ];
    for (const o of ordered) {
      const [group, version] = o.apiVersion.includes("/")
        ? o.apiVersion.split("/")
        : ["", o.apiVersion];
      let t = this.registry.all().find((x) =>
        x.group === group && x.version === version && x.kind === o.kind
      );
      if (!t && o.kind === "CustomResourceDefinition") t = this.#typeOf(crdKey);
      if (!t) continue;
      this.#put(t.storageKey, clone(o), undefined);
      if (t.storageKey === crdKey) { for (const nt of crdTypes(o)) this.registry.add(nt); }
    }
    for (const e of snap.serviceAccountTokens) {
      this.#saTokens.set(e.token, { namespace: e.namespace, name: e.name, uid: e.uid });
      this.#tokenBySa.set(objKey(e.namespace, e.name), e.token);
    }
    this.#rv = snap.resourceVersion;
    this.#hub.expire();
  }
}
