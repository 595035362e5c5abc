/** Shared helpers for the ship tests (not a test file). */

import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import type { KubeApiServer } from "../actors/kubeapi/mod.ts";
import { storageKeyOf } from "../actors/kubeapi/resource_types.ts";

/** The repository root. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The overlays users install. */
export const OVERLAYS = ["cni", "lb", "dual", "kind"] as const;

/** A plain Kubernetes object. */
// deno-lint-ignore no-explicit-any
export type Obj = Record<string, any>;

/** Output of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Whether a file or directory exists (a role not on this branch yet is skipped). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to completion (killed after `timeoutMs`). */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs ?? 60_000);
  try {
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** `kubectl kustomize manifests/overlays/<name>`, parsed into objects. */
export async function renderOverlay(name: string): Promise<{ yaml: string; objects: Obj[] }> {
  const r = await run("kubectl", ["kustomize", `manifests/overlays/${name}`]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${name} failed: ${r.stderr}`);
  return { yaml: r.stdout, objects: parseYamlDocs(r.stdout) };
}

/** Every non-empty document of a multi-document YAML text. */
export function parseYamlDocs(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(`YAML: ${d.errors[0]!.message}`);
    return d.toJS() as Obj | null;
  }).filter((o): o is Obj => o !== null && typeof o === "object");
}

/** The one object of a kind and name (fails the test when absent). */
export function find(objects: Obj[], kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return o;
}

// ---- schemas for built-in kinds, from @kubernetes/client-node's typed models ----------------

type Schema = Record<string, unknown>;
interface Attr {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

function model(name: string): Attr[] | undefined {
  const m = (k8s as unknown as Record<string, { attributeTypeMap?: Attr[] } | undefined>)[name];
  return m?.attributeTypeMap;
}

/**
 * A structural OpenAPI schema for a client-node model (e.g. `V1Deployment`): every field the
 * Kubernetes API declares, typed, so an unknown or mistyped field is rejected as the real API
 * server rejects it. Recursive types are left open.
 */
export function schemaOfModel(type: string, stack: string[] = []): Schema {
  const arr = type.match(/^Array<(.+)>$/);
  if (arr) return { type: "array", items: schemaOfModel(arr[1]!, stack) };
  const map = type.match(/^\{ \[key: string\]: (.+); \}$/);
  if (map) return { type: "object", additionalProperties: schemaOfModel(map[1]!, stack) };
  switch (type) {
    case "string":
      return { type: "string" };
    case "boolean":
      return { type: "boolean" };
    case "number":
      return { type: "number" };
    case "Date":
      return { type: "string" };
    case "IntOrString":
      return { "x-kubernetes-int-or-string": true };
    case "any":
    case "object":
      return { "x-kubernetes-preserve-unknown-fields": true };
  }
  const attrs = model(type);
  if (!attrs) throw new Error(`client-node has no model ${type}`);
  if (stack.includes(type)) return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  const properties: Record<string, Schema> = {};
  for (const a of attrs) {
    const s = schemaOfModel(a.type, [...stack, type]);
    if (a.type === "number" && (a.format === "int32" || a.format === "int64")) {
      s.type = "integer";
      s.format = a.format;
    }
    properties[a.baseName] = s;
  }
  return { type: "object", properties };
}

/** Built-in kinds tern's manifests use and the client-node model describing each. */
const KINDS: Array<{
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  model: string;
  status: boolean;
}> = [
  {
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    namespaced: false,
    model: "V1Namespace",
    status: true,
  },
  {
    group: "",
    version: "v1",
    plural: "serviceaccounts",
    kind: "ServiceAccount",
    namespaced: true,
    model: "V1ServiceAccount",
    status: false,
  },
  {
    group: "",
    version: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
    model: "V1ConfigMap",
    status: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "clusterroles",
    kind: "ClusterRole",
    namespaced: false,
    model: "V1ClusterRole",
    status: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "clusterrolebindings",
    kind: "ClusterRoleBinding",
    namespaced: false,
    model: "V1ClusterRoleBinding",
    status: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "roles",
    kind: "Role",
    namespaced: true,
    model: "V1Role",
    status: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "rolebindings",
    kind: "RoleBinding",
    namespaced: true,
    model: "V1RoleBinding",
    status: false,
  },
  {
    group: "apps",
    version: "v1",
    plural: "deployments",
    kind: "Deployment",
    namespaced: true,
    model: "V1Deployment",
    status: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "daemonsets",
    kind: "DaemonSet",
    namespaced: true,
    model: "V1DaemonSet",
    status: true,
  },
  {
    group: "policy",
    version: "v1",
    plural: "poddisruptionbudgets",
    kind: "PodDisruptionBudget",
    namespaced: true,
    model: "V1PodDisruptionBudget",
    status: true,
  },
]; // deno-fmt-ignore

/**
 * Teaches the embedded API server the built-in kinds tern's manifests use, with full schemas
 * (it serves workloads and PDBs only this way): `kubectl apply --dry-run=server` then checks
 * every field of every object.
 */
export function serveBuiltinSchemas(api: KubeApiServer): void {
  for (const k of KINDS) {
    const existing = api.store.registry.get(k.group, k.version, k.plural);
    api.store.registry.add({
      ...(existing ?? {
        group: k.group,
        version: k.version,
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        singular: k.kind.toLowerCase(),
        namespaced: k.namespaced,
        shortNames: [],
        categories: [],
        statusSubresource: k.status,
        storageKey: storageKeyOf(k.group, k.plural),
        printerColumns: [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }],
        storage: true,
      }),
      schema: schemaOfModel(k.model),
    });
  }
}

/** Writes text to a new temporary file and returns its path. */
export async function tempFile(text: string, suffix = ".yaml"): Promise<string> {
  const p = await Deno.makeTempFile({ prefix: "tn-ship-", suffix });
  await Deno.writeTextFile(p, text);
  return p;
}

// ---- what a role can run --------------------------------------------------------------------

const IMPORT =
  /import\s+(type\s+)?(?:\{([^}]*)\}|\*\s+as\s+\w+|\w+)?\s*(?:from\s*)?["'](\.{1,2}\/[^"']+)["']/g;
const REEXPORT = /export\s+(type\s+)?(?:\{([^}]*)\}|\*)\s*from\s*["'](\.{1,2}\/[^"']+)["']/g;

function names(list: string | undefined): string[] {
  return (list ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "")
    .filter((x) => !x.startsWith("type ")).map((x) => x.split(/\s+as\s+/).pop()!.trim());
}

/**
 * Every local module whose code a role can run, from `entry` through relative imports. Through a
 * `mod.ts` (a folder's public face) only the modules re-exporting names the importer takes are
 * followed, so a barrel does not drag in everything behind it; type-only imports are skipped.
 */
export async function importClosure(entry: string): Promise<string[]> {
  const wanted = new Map<string, Set<string> | "all">();
  const todo: Array<[string, Set<string> | "all"]> = [[entry, "all"]];
  while (todo.length > 0) {
    const [file, want] = todo.pop()!;
    const had = wanted.get(file);
    if (had === "all") continue;
    let next: Set<string> | "all";
    if (want === "all") next = "all";
    else {
      const merged = new Set([...(had ?? []), ...want]);
      if (had && merged.size === had.size) continue;
      next = merged;
    }
    wanted.set(file, next);
    const text = await Deno.readTextFile(file);
    const url = (rel: string) => new URL(rel, `file://${file}`).pathname;
    const barrel = file.endsWith("/mod.ts");
    for (const m of text.matchAll(IMPORT)) {
      if (m[1]) continue; // import type
      const taken = m[2] === undefined ? "all" : new Set(names(m[2]));
      if (taken !== "all" && taken.size === 0) continue;
      todo.push([url(m[3]!), taken]);
    }
    for (const m of text.matchAll(REEXPORT)) {
      if (m[1]) continue;
      const exported = m[2] === undefined ? undefined : names(m[2]);
      if (exported && exported.length === 0) continue;
      if (!barrel || next === "all") todo.push([url(m[3]!), "all"]);
      else if (!exported) todo.push([url(m[3]!), next]);
      else if (exported.some((n) => (next as Set<string>).has(n))) todo.push([url(m[3]!), "all"]);
    }
  }
  return [...wanted.keys()].sort();
}
