/**
 * Authentication (bearer tokens: the admin token and ServiceAccount tokens) and RBAC
 * authorization against the stored Roles, ClusterRoles and their bindings.
 */

import { type ApiError, forbidden } from "./errors.ts";
import type { Store } from "./store.ts";
import { isObject, type JsonObject, type KubeObject } from "./types.ts";

/** An authenticated user. */
export interface UserInfo {
  username: string;
  groups: string[];
}

/** What a request asks to do. */
export interface RequestAttributes {
  verb: string;
  /** Resource requests: API group ("" for core). */
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Non-resource requests (`/version`, `/openapi/v3`). */
  path?: string;
}

/** The admin identity (member of system:masters: allowed everything). */
export const adminUser: UserInfo = {
  username: "admin",
  groups: ["system:masters", "system:authenticated"],
};

/** Resolve a bearer token to a user, or undefined when unknown. */
export function authenticate(
  store: Store,
  adminToken: string,
  token: string | undefined,
): UserInfo | undefined {
  if (!token) return undefined;
  if (token === adminToken) return adminUser;
  const sa = store.identifyToken(token);
  if (!sa) return undefined;
  return {
    username: `system:serviceaccount:${sa.namespace}:${sa.name}`,
    groups: [
      "system:serviceaccounts",
      `system:serviceaccounts:${sa.namespace}`,
      "system:authenticated",
    ],
  };
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function subjectMatches(
  subject: unknown,
  user: UserInfo,
  bindingNamespace: string | undefined,
): boolean {
  if (!isObject(subject)) return false;
  switch (subject.kind) {
    case "User":
      return subject.name === user.username;
    case "Group":
      return user.groups.includes(String(subject.name));
    case "ServiceAccount": {
      const ns = typeof subject.namespace === "string" && subject.namespace !== ""
        ? subject.namespace
        : bindingNamespace;
      return user.username === `system:serviceaccount:${ns}:${subject.name}`;
    }
  }
  return false;
}

function ruleAllows(rule: JsonObject, a: RequestAttributes): boolean {
  const verbs = strings(rule.verbs);
  if (!verbs.includes("*") && !verbs.includes(a.verb)) return false;
  if (a.resource === undefined) {
    const urls = strings(rule.nonResourceURLs);
    return urls.some((u) =>
      u === "*" || u === a.path || (u.endsWith("*") && (a.path ?? "").startsWith(u.slice(0, -1)))
    );
  }
  const groups = strings(rule.apiGroups);
  if (!groups.includes("*") && !groups.includes(a.apiGroup ?? "")) return false;
  const resources = strings(rule.resources);
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resOk = resources.some((r) =>
    r === "*" || r === full || (a.subresource !== undefined && r === `*/${a.subresource}`) ||
    (a.subresource === undefined && r === a.resource)
  );
  if (!resOk) return false;
  const names = strings(rule.resourceNames);
  if (names.length > 0 && (!a.name || !names.includes(a.name))) return false;
  return true;
}

function rulesOf(
  store: Store,
  kind: "Role" | "ClusterRole",
  name: string,
  namespace?: string,
): JsonObject[] {
  const t = store.registry.get(
    "rbac.authorization.k8s.io",
    "v1",
    kind === "Role" ? "roles" : "clusterroles",
  );
  if (!t) return [];
  let role: KubeObject;
  try {
    role = store.get(t, namespace, name);
  } catch {
    return [];
  }
  return Array.isArray(role.rules) ? role.rules.filter(isObject) : [];
}

/** Does RBAC allow the request? Members of `system:masters` are always allowed. */
export function authorize(store: Store, user: UserInfo, a: RequestAttributes): boolean {
  if (user.groups.includes("system:masters")) return true;
  if (a.resource === undefined) {
    const p = a.path ?? "";
    const discovery = ["/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz"];
    if (discovery.some((d) => p === d || p.startsWith(`${d}/`))) return true;
  }
  if (
    a.apiGroup === "authorization.k8s.io" && a.verb === "create" &&
    (a.resource === "selfsubjectaccessreviews" || a.resource === "selfsubjectrulesreviews")
  ) {
    return true;
  }
  const crb = store.registry.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
  if (crb) {
    for (const b of store.list(crb, undefined).items) {
      if (!Array.isArray(b.subjects)) continue;
      if (!b.subjects.some((s) => subjectMatches(s, user, undefined))) continue;
      const ref = b.roleRef as JsonObject;
      if (rulesOf(store, "ClusterRole", String(ref.name)).some((r) => ruleAllows(r, a))) {
        return true;
      }
    }
  }
  const rb = store.registry.get("rbac.authorization.k8s.io", "v1", "rolebindings");
  if (rb && a.namespace) {
    for (const b of store.list(rb, a.namespace).items) {
      if (!Array.isArray(b.subjects)) continue;
      if (!b.subjects.some((s) => subjectMatches(s, user, b.metadata.namespace))) continue;
      const ref = b.roleRef as JsonObject;
      const rules = ref.kind === "Role"
        ? rulesOf(store, "Role", String(ref.name), a.namespace)
        : rulesOf(store, "ClusterRole", String(ref.name));
      if (rules.some((r) => ruleAllows(r, a))) return true;
    }
  }
  return false;
}

/** The 403 a denied request gets, worded like the real server. */
export function denied(user: UserInfo, a: RequestAttributes): ApiError {
  if (a.resource === undefined) {
    return forbidden(
      "",
      "",
      undefined,
      `User "${user.username}" cannot ${a.verb} path "${a.path}"`,
    );
  }
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  return forbidden(
    a.apiGroup ?? "",
    a.resource,
    a.name,
    `User "${user.username}" cannot ${a.verb} resource "${res}" in API group "${
      a.apiGroup ?? ""
    }" ${scope}`,
  );
}

/** Groups a user name implies (ServiceAccounts belong to their namespace's group). */
export function impliedGroups(username: string): string[] {
  const m = username.match(/^system:serviceaccount:([^:]+):[^:]+$/);
  const groups = m ? ["system:serviceaccounts", `system:serviceaccounts:${m[1]}`] : [];
  return [...groups, "system:authenticated"];
}

/**
 * Apply `Impersonate-User` / `Impersonate-Group` headers: allowed to members of
 * `system:masters` and to users granted `impersonate` on `users` (and `groups`).
 */
export function impersonate(store: Store, user: UserInfo, headers: Headers): UserInfo {
  const as = headers.get("impersonate-user");
  const groups = headers.get("impersonate-group");
  if (!as && !groups) return user;
  if (!as) {
    throw forbidden("", "users", undefined, "impersonating groups requires impersonating a user");
  }
  const allow = (resource: "users" | "groups", name: string) => {
    const attrs: RequestAttributes = { verb: "impersonate", apiGroup: "", resource, name };
    if (!authorize(store, user, attrs)) throw denied(user, attrs);
  };
  allow("users", as);
  const extra = groups ? groups.split(",").map((g) => g.trim()).filter((g) => g !== "") : [];
  for (const g of extra) allow("groups", g);
  return { username: as, groups: [...new Set([...extra, ...impliedGroups(as)])] };
}

/** Answer a (Self|Local)SubjectAccessReview body: the review with `status.allowed` filled in. */
export function accessReview(
  store: Store,
  requester: UserInfo,
  kind: "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview",
  body: unknown,
  namespace?: string,
): JsonObject {
  const spec = isObject(body) && isObject(body.spec) ? body.spec : {};
  let subject = requester;
  if (kind !== "SelfSubjectAccessReview") {
    const username = typeof spec.user === "string" ? spec.user : "";
    const groups = strings(spec.groups);
    subject = { username, groups: [...new Set([...groups, ...impliedGroups(username)])] };
  }
  let attrs: RequestAttributes;
  if (isObject(spec.resourceAttributes)) {
    const r = spec.resourceAttributes;
    attrs = {
      verb: String(r.verb ?? ""),
      apiGroup: String(r.group ?? ""),
      resource: String(r.resource ?? ""),
      subresource: typeof r.subresource === "string" && r.subresource !== ""
        ? r.subresource
        : undefined,
      namespace: namespace ??
        (typeof r.namespace === "string" && r.namespace !== "" ? r.namespace : undefined),
      name: typeof r.name === "string" && r.name !== "" ? r.name : undefined,
    };
  } else if (isObject(spec.nonResourceAttributes)) {
    const n = spec.nonResourceAttributes;
    attrs = { verb: String(n.verb ?? ""), path: String(n.path ?? "") };
  } else {
    throw forbidden(
      "authorization.k8s.io",
      "subjectaccessreviews",
      undefined,
      "spec.resourceAttributes or spec.nonResourceAttributes is required",
    );
  }
  const allowed = authorize(store, subject, attrs);
  return {
    kind,
    apiVersion: "authorization.k8s.io/v1",
    metadata: { creationTimestamp: null, ...(namespace ? { namespace } : {}) },
    spec,
    status: allowed
      ? {
        allowed: true,
        reason: subject.groups.includes("system:masters")
          ? "member of system:masters"
          : "allowed by RBAC",
      }
      : { allowed: false },
  };
}
