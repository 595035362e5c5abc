/** Discovery documents: `/version`, `/api`, `/apis`, group and group-version resource lists. */

import { groupVersion, type ResourceRegistry, type ResourceType } from "./resource_types.ts";
import type { JsonObject } from "./types.ts";

const allVerbs = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

/** The `/version` document. */
export function versionInfo(): JsonObject {
  return {
    major: "1",
    minor: "32",
    gitVersion: "v1.32.0-tern",
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2026-11-23T00:00:00Z",
    goVersion: "go1.23.0",
    compiler: "deno",
    platform: "linux/amd64",
  };
}

/** Sorted group names with their versions (core group excluded). */
function groups(reg: ResourceRegistry): Map<string, ResourceType[]> {
  const m = new Map<string, ResourceType[]>();
  for (const t of reg.all()) {
    if (t.group === "") continue;
    const l = m.get(t.group) ?? [];
    l.push(t);
    m.set(t.group, l);
  }
  return m;
}

function versionsOf(types: ResourceType[]): { versions: string[]; preferred: string } {
  const versions = [...new Set(types.map((t) => t.version))].sort(compareVersions);
  const storage = types.find((t) => t.storage)?.version;
  return { versions, preferred: storage ?? versions[0] };
}

/** Kubernetes version priority: GA > beta > alpha, higher numbers first. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = v.match(/^v(\d+)(?:(alpha|beta)(\d+))?$/);
    if (!m) return [0, 0, 0, v] as const;
    const stage = m[2] === "alpha" ? 1 : m[2] === "beta" ? 2 : 3;
    return [stage, Number(m[1]), Number(m[3] ?? 0), v] as const;
  };
  const [sa, ma, na, va] = parse(a);
  const [sb, mb, nb, vb] = parse(b);
  if (sa !== sb) return sb - sa;
  if (ma !== mb) return mb - ma;
  if (na !== nb) return nb - na;
  return va < vb ? -1 : va > vb ? 1 : 0;
}

function groupDoc(name: string, types: ResourceType[]): JsonObject {
  const { versions, preferred } = versionsOf(types);
  return {
    name,
    versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${name}/${preferred}`, version: preferred },
  };
}

/** `/api`. */
export function coreVersions(serverAddress: string): JsonObject {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

/** `/apis`. */
export function groupList(reg: ResourceRegistry): JsonObject {
  const list = [...groups(reg)].sort(([a], [b]) => a.localeCompare(b)).map(([n, ts]) =>
    groupDoc(n, ts)
  );
  return { kind: "APIGroupList", apiVersion: "v1", groups: list };
}

/** `/apis/<group>`, or undefined when no such group is served. */
export function group(reg: ResourceRegistry, name: string): JsonObject | undefined {
  const ts = groups(reg).get(name);
  if (!ts) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupDoc(name, ts) };
}

function resourceEntries(t: ResourceType): JsonObject[] {
  const main: JsonObject = {
    name: t.plural,
    singularName: t.singular,
    namespaced: t.namespaced,
    kind: t.kind,
    verbs: allVerbs,
  };
  if (t.shortNames.length) main.shortNames = t.shortNames;
  if (t.categories.length) main.categories = t.categories;
  const out = [main];
  if (t.statusSubresource) {
    out.push({
      name: `${t.plural}/status`,
      singularName: "",
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ["get", "patch", "update"],
    });
  }
  for (const sub of t.extraSubresources ?? []) {
    const [group, kind, verbs] = sub === "scale"
      ? ["autoscaling", "Scale", ["get", "patch", "update"]]
      : ["authentication.k8s.io", "TokenRequest", ["create"]];
    out.push({
      name: `${t.plural}/${sub}`,
      singularName: "",
      namespaced: t.namespaced,
      group,
      version: "v1",
      kind,
      verbs,
    });
  }
  return out;
}

/** `/api/v1` or `/apis/<group>/<version>`, or undefined when not served. */
export function resourceList(
  reg: ResourceRegistry,
  group: string,
  version: string,
): JsonObject | undefined {
  const ts = reg.all().filter((t) => t.group === group && t.version === version)
    .sort((a, b) => a.plural.localeCompare(b.plural));
  if (ts.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion({ group, version }),
    resources: ts.flatMap(resourceEntries),
  };
}

/** Aggregated discovery (apidiscovery.k8s.io/v2) for `/api` (core) or `/apis`. */
export function aggregated(reg: ResourceRegistry, core: boolean): JsonObject {
  const byGroup = new Map<string, ResourceType[]>();
  for (const t of reg.all()) {
    if ((t.group === "") !== core) continue;
    const l = byGroup.get(t.group) ?? [];
    l.push(t);
    byGroup.set(t.group, l);
  }
  const items = [...byGroup].sort(([a], [b]) => a.localeCompare(b)).map(([name, ts]) => {
    const { versions } = versionsOf(ts);
    return {
      metadata: { name, creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v,
        freshness: "Current",
        resources: ts.filter((t) => t.version === v).sort((a, b) =>
          a.plural.localeCompare(b.plural)
        ).map((t) => {
          const r: JsonObject = {
            resource: t.plural,
            responseKind: { group: t.group, version: t.version, kind: t.kind },
            scope: t.namespaced ? "Namespaced" : "Cluster",
            singularResource: t.singular,
            verbs: allVerbs,
          };
          if (t.shortNames.length) r.shortNames = t.shortNames;
          if (t.categories.length) r.categories = t.categories;
          if (t.statusSubresource) {
            r.subresources = [{
              subresource: "status",
              responseKind: { group: t.group, version: t.version, kind: t.kind },
              verbs: ["get", "patch", "update"],
            }];
          }
          return r;
        }),
      })),
    };
  });
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: "apidiscovery.k8s.io/v2",
    metadata: {},
    items,
  };
}
