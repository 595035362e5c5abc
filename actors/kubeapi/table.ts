/**
 * `Table` responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), which is what
 * `kubectl get` asks for: a Name column, the type's printer columns, and one row per object.
 * Includes the small JSONPath subset printer columns use.
 */

import type { PrinterColumn, ResourceType } from "./resource_types.ts";
import { isObject, type JsonObject, type KubeObject } from "./types.ts";

/** Evaluate a printer-column JSONPath (`.spec.x`, `.a[0]`, `.a[*].b`, `.a[?(@.k=="v")].b`). */
export function evalJsonPath(obj: unknown, path: string): unknown[] {
  let p = path.trim();
  if (p.startsWith("{") && p.endsWith("}")) p = p.slice(1, -1);
  if (p.startsWith("$")) p = p.slice(1);
  const tokens: string[] = [];
  let i = 0;
  while (i < p.length) {
    if (p[i] === ".") {
      i++;
      let name = "";
      while (i < p.length && p[i] !== "." && p[i] !== "[") {
        if (p[i] === "\\" && i + 1 < p.length) {
          name += p[i + 1];
          i += 2;
        } else name += p[i++];
      }
      if (name) tokens.push(`f:${name}`);
    } else if (p[i] === "[") {
      const end = p.indexOf("]", i);
      if (end < 0) return [];
      tokens.push(`i:${p.slice(i + 1, end)}`);
      i = end + 1;
    } else return [];
  }
  let cur: unknown[] = [obj];
  for (const tok of tokens) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (tok.startsWith("f:")) {
        if (isObject(v) && v[tok.slice(2)] !== undefined) next.push(v[tok.slice(2)]);
        continue;
      }
      const idx = tok.slice(2);
      if (!Array.isArray(v)) continue;
      if (idx === "*") next.push(...v);
      else if (/^-?\d+$/.test(idx)) {
        const n = Number(idx);
        const item = v[n < 0 ? v.length + n : n];
        if (item !== undefined) next.push(item);
      } else {
        const m = idx.match(/^\?\(@\.([\w.\\/-]+)\s*(==|!=)\s*["']?([^"']*)["']?\)$/);
        if (!m) continue;
        for (const item of v) {
          const got = evalJsonPath(item, `.${m[1]}`)[0];
          const eq = String(got) === m[3];
          if (m[2] === "==" ? eq : !eq) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}

/** Kubernetes' short human duration (`5s`, `3m20s`, `4h`, `12d`). */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

function builtinCell(t: ResourceType, col: PrinterColumn, o: KubeObject): unknown {
  if (t.crd) return undefined;
  if (col.name === "Data" && (t.plural === "configmaps" || t.plural === "secrets")) {
    const count = (v: unknown) => isObject(v) ? Object.keys(v).length : 0;
    return count(o.data) + count(o.binaryData);
  }
  if (t.group === "" && t.plural === "pods") {
    const spec = isObject(o.spec) ? o.spec : {};
    const status = isObject(o.status) ? o.status : {};
    const statuses = Array.isArray(status.containerStatuses)
      ? status.containerStatuses.filter(isObject)
      : [];
    if (col.name === "Ready") {
      const total = Array.isArray(spec.containers) ? spec.containers.length : 0;
      return `${statuses.filter((c) => c.ready === true).length}/${total}`;
    }
    if (col.name === "Status") {
      if (o.metadata.deletionTimestamp) return "Terminating";
      const waiting = statuses.map((c) =>
        isObject(c.state) && isObject(c.state.waiting) ? c.state.waiting.reason : undefined
      )
        .find((r) => typeof r === "string");
      return waiting ?? status.reason ?? status.phase ?? "Unknown";
    }
    if (col.name === "Restarts") {
      return statuses.reduce(
        (n: number, c) => n + (typeof c.restartCount === "number" ? c.restartCount : 0),
        0,
      );
    }
  }
  if (t.group === "" && t.plural === "nodes") {
    if (col.name === "Status") {
      const ready = evalJsonPath(o, '.status.conditions[?(@.type=="Ready")].status')[0];
      const base = ready === "True" ? "Ready" : ready === undefined ? "Unknown" : "NotReady";
      return isObject(o.spec) && o.spec.unschedulable === true
        ? `${base},SchedulingDisabled`
        : base;
    }
    if (col.name === "Roles") {
      const roles = Object.keys(o.metadata.labels ?? {}).filter((k) =>
        k.startsWith("node-role.kubernetes.io/")
      )
        .map((k) => k.slice("node-role.kubernetes.io/".length)).filter((r) => r !== "");
      const legacy = o.metadata.labels?.["kubernetes.io/role"];
      if (legacy) roles.push(legacy);
      return roles.length ? roles.sort().join(",") : "<none>";
    }
  }
  if (
    t.group === "apps" && col.name === "Ready" &&
    (t.plural === "deployments" || t.plural === "statefulsets")
  ) {
    const spec = isObject(o.spec) ? o.spec : {};
    const status = isObject(o.status) ? o.status : {};
    return `${status.readyReplicas ?? 0}/${spec.replicas ?? 1}`;
  }
  if (
    t.group === "apps" && typeof col.jsonPath === "string" && col.jsonPath.startsWith(".status.")
  ) {
    const v = evalJsonPath(o, col.jsonPath)[0];
    return typeof v === "number" ? v : 0;
  }
  if (t.group !== "" || t.plural !== "services") return undefined;
  const spec = isObject(o.spec) ? o.spec : {};
  if (col.name === "External-IP") {
    const ips = evalJsonPath(o, ".status.loadBalancer.ingress[*]").map((i) =>
      isObject(i) ? i.ip ?? i.hostname : undefined
    ).filter((x) => x !== undefined);
    if (ips.length > 0) return ips.join(",");
    if (Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0) {
      return spec.externalIPs.join(",");
    }
    return spec.type === "LoadBalancer" ? "<pending>" : "<none>";
  }
  if (col.name === "Port(s)") {
    const ports = Array.isArray(spec.ports) ? spec.ports.filter(isObject) : [];
    if (ports.length === 0) return "<none>";
    return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`)
      .join(",");
  }
  return undefined;
}

function cell(t: ResourceType, col: PrinterColumn, o: KubeObject, now: number): unknown {
  const special = builtinCell(t, col, o);
  if (special !== undefined) return special;
  const values = evalJsonPath(o, col.jsonPath);
  if (values.length === 0) return t.crd ? null : "<none>";
  const v = values.length === 1
    ? values[0]
    : values.map((x) => typeof x === "object" ? JSON.stringify(x) : String(x)).join(",");
  if (col.type === "date" && typeof v === "string") {
    const t = Date.parse(v);
    return Number.isNaN(t) ? v : humanDuration(now - t);
  }
  if (col.type === "integer" || col.type === "number") return typeof v === "number" ? v : Number(v);
  if (col.type === "boolean") return typeof v === "boolean" ? v : v === "true";
  if (typeof v === "object") return JSON.stringify(v);
  return v;
}

/** What each row's `object` carries. */
export type IncludeObject = "None" | "Metadata" | "Object";

/** Build a Table for objects of type `t`. */
export function toTable(
  t: ResourceType,
  objects: KubeObject[],
  opts: {
    includeObject: IncludeObject;
    now: number;
    resourceVersion?: string;
    continue?: string;
    noHeaders?: boolean;
  },
): JsonObject {
  const columns = t.printerColumns;
  const columnDefinitions = [
    {
      name: "Name",
      type: "string",
      format: "name",
      description:
        "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
      priority: 0,
    },
    ...columns.map((c) => ({
      name: c.name,
      type: c.type === "date" ? "string" : c.type,
      format: c.format ?? "",
      description: c.description ?? c.name,
      priority: c.priority ?? 0,
    })),
  ];
  const rows = objects.map((o) => {
    const row: JsonObject = {
      cells: [o.metadata.name, ...columns.map((c) => cell(t, c, o, opts.now))],
    };
    if (opts.includeObject === "Object") row.object = o;
    else if (opts.includeObject === "Metadata") {
      row.object = {
        kind: "PartialObjectMetadata",
        apiVersion: "meta.k8s.io/v1",
        metadata: o.metadata,
      };
    }
    return row;
  });
  const metadata: JsonObject = {};
  if (opts.resourceVersion) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata,
    columnDefinitions: opts.noHeaders ? [] : columnDefinitions,
    rows,
  };
}
