/**
 * Least privilege, checked three ways:
 * - the rendered ClusterRoles/Roles are exactly the grants in actors/ship/rbac.ts;
 * - as each role's ServiceAccount, against the embedded API server (which enforces RBAC), every
 *   verb on every resource tern knows is allowed exactly when a grant says so (and namespaced
 *   grants only in tern-system);
 * - the resources each role's code touches (its import closure, `Resources.<name>`) are all
 *   granted; grants no code uses yet are listed.
 */

import assert from "node:assert/strict";
import { startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { type Resource, Resources } from "../actors/kube/resources.ts";
import {
  ALL_RBAC,
  type Grant,
  rbacObjects,
  type RoleRbac,
  SYSTEM_NAMESPACE,
  type Verb,
} from "../actors/ship/rbac.ts";
import {
  exists,
  find,
  importClosure,
  type Obj,
  OVERLAYS,
  renderOverlay,
  ROOT,
  run,
  tempFile,
} from "./ship_helpers.ts";

const VERBS: Verb[] = ["get", "list", "watch", "create", "update", "patch", "delete"];

Deno.test("ship: every overlay grants exactly the rules of actors/ship/rbac.ts", async () => {
  for (const overlay of OVERLAYS) {
    const { objects } = await renderOverlay(overlay);
    for (const r of ALL_RBAC) {
      for (const want of rbacObjects(r)) {
        const got = find(objects, want.kind as string, (want.metadata as Obj).name);
        if (want.rules) assert.deepEqual(got.rules, want.rules, `${overlay} ${want.kind}`);
        if (want.subjects) assert.deepEqual(got.subjects, want.subjects);
        if (want.roleRef) assert.deepEqual(got.roleRef, want.roleRef);
      }
    }
    const roles = objects.filter((o) => o.kind === "ClusterRole" || o.kind === "Role");
    assert.equal(roles.length, 3, "controller ClusterRole + Role, agent ClusterRole; no other");
    for (const role of roles) {
      for (const rule of role.rules) {
        for (const field of ["apiGroups", "resources", "verbs"]) {
          assert.ok(!rule[field].includes("*"), `${role.metadata.name}: no wildcard ${field}`);
        }
        if (rule.resources.includes("secrets")) {
          // Only the agent, only GET (TCP-MD5 passwords of its BGPPeers): never list or watch.
          assert.equal(role.metadata.name, "tern-agent", "only the agent reads Secrets");
          assert.deepEqual(rule.verbs, ["get"], "Secrets: get only");
        }
      }
    }
  }
});

function allowedByGrants(
  grants: Grant[],
  group: string,
  resource: string,
  verb: Verb,
  namespace: string | undefined,
): boolean {
  return grants.some((g) =>
    g.group === group && g.resource === resource && g.verbs.includes(verb) &&
    (g.scope === "cluster" || namespace === SYSTEM_NAMESPACE)
  );
}

/** Issues one request for `verb` on `r` (with `sub`resource) and returns the HTTP status. */
async function attempt(
  client: Deno.HttpClient,
  base: string,
  token: string,
  r: Resource,
  sub: string | undefined,
  verb: Verb,
  namespace: string | undefined,
): Promise<number> {
  const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const coll = `${prefix}${
    r.namespaced && namespace ? `/namespaces/${namespace}` : ""
  }/${r.plural}`;
  const one = `${coll}/tn-ship-probe${sub ? `/${sub}` : ""}`;
  const body = JSON.stringify({
    apiVersion: r.group ? `${r.group}/${r.version}` : r.version,
    kind: r.kind,
    metadata: { name: "tn-ship-probe", ...(r.namespaced ? { namespace } : {}) },
  });
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const req: Record<Verb, [string, string, string | undefined, string?]> = {
    get: ["GET", one, undefined],
    list: ["GET", coll, undefined],
    watch: ["GET", `${coll}?watch=true&timeoutSeconds=1`, undefined],
    create: ["POST", `${coll}?dryRun=All`, body],
    update: ["PUT", `${one}?dryRun=All`, body],
    patch: ["PATCH", `${one}?dryRun=All`, "{}", "application/merge-patch+json"],
    delete: ["DELETE", `${one}?dryRun=All`, undefined],
  };
  const [method, path, payload, type] = req[verb];
  const ac = new AbortController();
  const init: RequestInit & { client: Deno.HttpClient } = {
    method,
    headers: type ? { ...headers, "content-type": type } : headers,
    body: payload,
    signal: ac.signal,
    client,
  };
  const res = await fetch(base + path, init);
  if (verb === "watch") {
    await res.body?.cancel();
    ac.abort();
  } else await res.body?.cancel();
  return res.status;
}

Deno.test("ship: each ServiceAccount may do exactly what its grants say", async () => {
  // TLS, as in a cluster (kubectl sends bearer tokens over HTTPS only).
  const api = await startKubeApiServer({ port: 0, tls: true });
  const client = Deno.createHttpClient({ caCerts: [api.caPem!] });
  const kc = ["--kubeconfig", api.kubeconfigPath];
  let rbacFile: string | undefined;
  try {
    for (
      const args of [["apply", "-f", "crds/"], ["apply", "-f", "manifests/base/namespace.yaml"]]
    ) {
      const r = await run("kubectl", [...kc, ...args]);
      assert.equal(r.code, 0, r.stderr);
    }
    const w = await run("kubectl", [...kc, "wait", "--for=condition=established", "-f", "crds/"]);
    assert.equal(w.code, 0, w.stderr);
    // The RBAC objects exactly as users install them (rendered from the dual overlay).
    const { objects } = await renderOverlay("dual");
    const rbacKinds = [
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
    ];
    rbacFile = await tempFile(
      objects.filter((o) => rbacKinds.includes(o.kind)).map((o) => JSON.stringify(o)).join("\n"),
      ".json",
    );
    const applied = await run("kubectl", [...kc, "apply", "-f", rbacFile]);
    assert.equal(applied.code, 0, applied.stderr);

    const universe: Array<{ r: Resource; sub?: string }> = [];
    for (const r of Object.values(Resources) as Resource[]) {
      universe.push({ r });
      const t = api.store.registry.get(r.group, r.version, r.plural);
      if (t?.statusSubresource) universe.push({ r, sub: "status" });
    }
    const mismatches: string[] = [];
    let checked = 0;
    let allowed = 0;
    for (const role of ALL_RBAC) {
      const token = api.serviceAccountToken(SYSTEM_NAMESPACE, role.serviceAccount);
      assert.ok(token, `token of ${role.serviceAccount}`);
      for (const { r, sub } of universe) {
        const resource = sub ? `${r.plural}/${sub}` : r.plural;
        for (const ns of r.namespaced ? [SYSTEM_NAMESPACE, "default"] : [undefined]) {
          for (const verb of VERBS) {
            if (sub && (verb === "list" || verb === "watch" || verb === "create")) continue;
            if (sub && verb === "delete") continue;
            const status = await attempt(client, api.url, token, r, sub, verb, ns);
            assert.notEqual(status, 401, "the token authenticates");
            const want = allowedByGrants(role.grants, r.group, resource, verb, ns);
            checked++;
            if (status !== 403) allowed++;
            if ((status !== 403) !== want) {
              mismatches.push(
                `${role.role}: ${verb} ${resource}${ns ? ` in ${ns}` : ""}: ` +
                  `${want ? "should be allowed" : "should be denied"}, got ${status}`,
              );
            }
          }
        }
      }
    }
    assert.deepEqual(mismatches, []);
    assert.ok(checked > 400, `checked ${checked} requests`);
    assert.ok(allowed > 50 && allowed < checked / 2, `${allowed} of ${checked} allowed`);
  } finally {
    if (rbacFile) await Deno.remove(rbacFile).catch(() => {});
    client.close();
    await api.close();
  }
});

// ---- what the code touches ------------------------------------------------------------------

/** KubeClient methods and the verb (and subresource) each issues. */
const METHOD_VERB: Record<string, Verb> = {
  get: "get",
  tryGet: "get",
  list: "list",
  listAll: "list",
  watch: "watch",
  create: "create",
  replace: "update",
  replaceStatus: "update",
  mergePatch: "patch",
  jsonPatch: "patch",
  patch: "patch",
  update: "update",
  updateStatus: "update",
  delete: "delete",
};

/** `group/resource verb` pairs the code issues, found from its KubeClient calls and informers. */
export function callsIn(text: string): Set<string> {
  const table = Resources as Record<string, Resource>;
  const out = new Set<string>();
  const key = (r: Resource, sub: string, verb: Verb) => `${r.group}/${r.plural}${sub} ${verb}`;
  const call = /\.(\w+)(?:<[^>]*>)?\(\s*Resources\.(\w+)\b/g;
  for (const m of text.matchAll(call)) {
    const verb = METHOD_VERB[m[1]!];
    const r = table[m[2]!];
    if (!verb || !r) continue;
    const rest = text.slice(m.index!, m.index! + 400);
    const args = rest.slice(0, rest.indexOf(");") + 1 || rest.length);
    const status = m[1] === "replaceStatus" || /status:\s*true/.test(args);
    out.add(key(r, status ? "/status" : "", verb));
  }
  for (const m of text.matchAll(/resource:\s*Resources\.(\w+)\b/g)) {
    const r = table[m[1]!];
    if (!r) continue;
    out.add(key(r, "", "list"));
    out.add(key(r, "", "watch"));
  }
  return out;
}

/** The calls (`group/resource verb`) a role's code issues, or undefined without the role. */
async function callsOf(role: RoleRbac): Promise<Map<string, string[]> | undefined> {
  const entry = `${ROOT}/roles/${role.role}.ts`;
  if (!(await exists(entry))) return undefined;
  const calls = new Map<string, string[]>();
  for (const file of await importClosure(entry)) {
    for (const c of callsIn(await Deno.readTextFile(file))) {
      calls.set(c, [...(calls.get(c) ?? []), file.slice(ROOT.length + 1)]);
    }
  }
  return calls;
}

for (const role of ALL_RBAC) {
  Deno.test(`ship: every API call in the ${role.role}'s code is granted`, async () => {
    const calls = await callsOf(role);
    if (!calls) {
      console.log(`    SKIPPED: roles/${role.role}.ts is not on this branch yet`);
      return;
    }
    const missing: string[] = [];
    // Any resource the code names at all (helpers such as informer feeds included) needs a grant.
    const table = Resources as Record<string, Resource>;
    for (const file of await importClosure(`${ROOT}/roles/${role.role}.ts`)) {
      for (const m of (await Deno.readTextFile(file)).matchAll(/\bResources\.(\w+)\b/g)) {
        const r = table[m[1]!];
        assert.ok(r, `${file}: Resources.${m[1]} is not a known resource`);
        if (!role.grants.some((g) => g.group === r.group && g.resource === r.plural)) {
          missing.push(`any verb on ${r.plural} (${r.group || "core"}) in ${file}`);
        }
      }
    }
    for (const [c, files] of calls) {
      const [res, verb] = c.split(" ") as [string, Verb];
      const slash = res.indexOf("/");
      const group = res.slice(0, slash);
      const resource = res.slice(slash + 1);
      if (!allowedByGrants(role.grants, group, resource, verb, SYSTEM_NAMESPACE)) {
        missing.push(`${verb} ${resource} (${group || "core"}) in ${files.join(", ")}`);
      }
    }
    assert.deepEqual(missing, [], `the ${role.role} makes calls it is not granted`);
    const used = new Set([...calls.keys()].map((c) => c.split(" ")[0]!.split("/").slice(1)[0]));
    const unused = role.grants.map((g) => g.resource.split("/")[0]!).filter((r) => !used.has(r));
    console.log(
      `    ${calls.size} distinct calls, all granted` +
        (unused.length ? `; granted, not named in the code yet: ${[...new Set(unused)]}` : ""),
    );
  });
}

Deno.test("ship: the code scan finds calls, informers and what barrels hide", async () => {
  // The scan must work, or the checks above would pass vacuously.
  const calls = callsIn(`
    await client.tryGet<Lease>(Resources.leases, name, ns);
    await client.mergePatch(Resources.services, n, p, { namespace: ns, status: true });
    await client.delete(Resources.addressBlocks, b);
    informer({ client, resource: Resources.nodes, onEvent });
  `);
  assert.deepEqual([...calls].sort(), [
    "/nodes list",
    "/nodes watch",
    "/services/status patch",
    "coordination.k8s.io/leases get",
    "tern.dev/addressblocks delete",
  ]);
  // Taking KubeClient from the kube barrel does not pull in the leader elector…
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-scan-", dir: `${ROOT}/actors` });
  try {
    await Deno.writeTextFile(
      `${dir}/a.ts`,
      'import { KubeClient, type Lease } from "../kube/mod.ts";\nexport const c = KubeClient;\n',
    );
    await Deno.writeTextFile(
      `${dir}/b.ts`,
      'import { leaderElector } from "../kube/mod.ts";\nexport const l = leaderElector;\n',
    );
    const a = await importClosure(`${dir}/a.ts`);
    assert.ok(a.some((f) => f.endsWith("actors/kube/kube_client.ts")));
    assert.ok(!a.some((f) => f.endsWith("actors/kube/leader_election.ts")));
    // …taking the elector does.
    const b = await importClosure(`${dir}/b.ts`);
    assert.ok(b.some((f) => f.endsWith("actors/kube/leader_election.ts")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
