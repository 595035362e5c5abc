/** The embedded API server through @kubernetes/client-node: CRUD, semantics, selectors, GC. */

import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { failure, waitFor, withServer } from "./kubeapi_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

const kinds: Array<
  { apiVersion: string; kind: string; namespaced: boolean; body: Record<string, unknown> }
> = [
  { apiVersion: "v1", kind: "Namespace", namespaced: false, body: {} },
  {
    apiVersion: "v1",
    kind: "Node",
    namespaced: false,
    body: { spec: { podCIDR: "198.18.1.0/24" } },
  },
  {
    apiVersion: "v1",
    kind: "Pod",
    namespaced: true,
    body: { spec: { containers: [{ name: "c", image: "busybox:1" }] } },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    namespaced: true,
    body: { spec: { ports: [{ port: 80 }] } },
  },
  {
    apiVersion: "v1",
    kind: "Endpoints",
    namespaced: true,
    body: { subsets: [{ addresses: [{ ip: "192.0.2.10" }] }] },
  },
  { apiVersion: "v1", kind: "Secret", namespaced: true, body: { stringData: { k: "v" } } },
  { apiVersion: "v1", kind: "ConfigMap", namespaced: true, body: { data: { k: "v" } } },
  {
    apiVersion: "v1",
    kind: "Event",
    namespaced: true,
    body: { involvedObject: { kind: "Pod", name: "p" }, reason: "R", message: "m" },
  },
  { apiVersion: "v1", kind: "ServiceAccount", namespaced: true, body: {} },
  {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    namespaced: true,
    body: { addressType: "IPv4", endpoints: [{ addresses: ["192.0.2.11"] }] },
  },
  ...["Deployment", "DaemonSet", "ReplicaSet", "StatefulSet"].map((kind) => ({
    apiVersion: "apps/v1",
    kind,
    namespaced: true,
    body: {
      spec: {
        selector: { matchLabels: { app: "x" } },
        template: {
          metadata: { labels: { app: "x" } },
          spec: { containers: [{ name: "c", image: "x:1" }] },
        },
      },
    },
  })),
  {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    namespaced: true,
    body: { spec: { minAvailable: 1, selector: { matchLabels: { app: "x" } } } },
  },
  {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    namespaced: true,
    body: { spec: { holderIdentity: "a" } },
  },
  {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    namespaced: true,
    body: {
      eventTime: "2026-01-01T00:00:00.000000Z",
      reason: "R",
      action: "A",
      reportingController: "x",
      reportingInstance: "y",
      type: "Normal",
    },
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    namespaced: true,
    body: { rules: [] },
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    namespaced: false,
    body: { rules: [] },
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    namespaced: true,
    body: {
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "r" },
      subjects: [],
    },
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    namespaced: false,
    body: {
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "r" },
      subjects: [],
    },
  },
];

Deno.test("kubeapi client: CRUD on every served built-in kind", opts, async () => {
  await withServer(async (_api, kc) => {
    const client = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const k of kinds) {
      const name = `obj-${k.kind.toLowerCase()}`;
      const metadata = k.namespaced ? { name, namespace: "default" } : { name };
      const spec = {
        apiVersion: k.apiVersion,
        kind: k.kind,
        metadata,
        ...k.body,
      } as k8s.KubernetesObject;
      const created = await client.create(spec);
      assert.equal(created.metadata?.name, name, k.kind);
      assert.ok(created.metadata?.uid, `${k.kind} uid`);
      assert.ok(created.metadata?.creationTimestamp, `${k.kind} creationTimestamp`);
      const read = await client.read({ apiVersion: k.apiVersion, kind: k.kind, metadata });
      assert.equal(read.metadata?.uid, created.metadata?.uid);
      const listed = await client.list(k.apiVersion, k.kind, k.namespaced ? "default" : undefined);
      assert.ok(listed.items.some((i) => i.metadata?.name === name), `${k.kind} listed`);
      read.metadata!.labels = { updated: "yes" };
      const replaced = await client.replace(read);
      assert.equal(replaced.metadata?.labels?.updated, "yes");
      assert.ok(
        Number(replaced.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion),
      );
      const patched: k8s.KubernetesObject = await client.patch(
        {
          apiVersion: k.apiVersion,
          kind: k.kind,
          metadata: { ...metadata, annotations: { a: "b" } },
        },
        undefined,
        undefined,
        undefined,
        undefined,
        k8s.PatchStrategy.MergePatch,
      );
      assert.equal(patched.metadata?.annotations?.a, "b");
      assert.equal(patched.metadata?.labels?.updated, "yes");
      await client.delete({ apiVersion: k.apiVersion, kind: k.kind, metadata });
      if (k.kind === "Namespace") {
        await waitFor(
          async () =>
            (await failure(client.read({ apiVersion: "v1", kind: "Namespace", metadata }))
              .catch(() => ({ code: 0 }))).code === 404,
          "namespace removal",
        ).catch(() => {});
      }
      const gone = await failure(client.read({ apiVersion: k.apiVersion, kind: k.kind, metadata }));
      assert.equal(gone.code, 404, `${k.kind} gone`);
      assert.equal(gone.status.reason, "NotFound");
      assert.equal(gone.status.kind, "Status");
    }
  });
});

Deno.test(
  "kubeapi client: resourceVersion, generation, conflicts, AlreadyExists, generateName, dryRun",
  opts,
  async () => {
    await withServer(async (_api, kc) => {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const a = await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "a" }, data: { x: "1" } },
      });
      const b = await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "b" } },
      });
      assert.ok(
        Number(b.metadata!.resourceVersion) > Number(a.metadata!.resourceVersion),
        "one global counter",
      );
      const dup = await failure(
        core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "a" } } }),
      );
      assert.equal(dup.code, 409);
      assert.equal(dup.status.reason, "AlreadyExists");
      assert.equal(dup.status.message, 'configmaps "a" already exists');
      const upd = await core.replaceNamespacedConfigMap({
        namespace: "default",
        name: "a",
        body: { ...a, data: { x: "2" } },
      });
      const stale = await failure(
        core.replaceNamespacedConfigMap({
          namespace: "default",
          name: "a",
          body: { ...a, data: { x: "3" } },
        }),
      );
      assert.equal(stale.code, 409);
      assert.equal(stale.status.reason, "Conflict");
      assert.match(String(stale.status.message), /the object has been modified/);
      assert.equal(
        (await core.readNamespacedConfigMap({ namespace: "default", name: "a" })).data?.x,
        "2",
      );
      assert.equal(upd.metadata?.uid, a.metadata?.uid);
      const gen = await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { generateName: "gen-" } },
      });
      assert.match(gen.metadata!.name!, /^gen-[a-z0-9]{5}$/);
      const dry = await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "dry" } },
        dryRun: "All",
      });
      assert.equal(dry.metadata?.name, "dry");
      assert.equal(
        (await failure(core.readNamespacedConfigMap({ namespace: "default", name: "dry" }))).code,
        404,
      );
      const missingNs = await failure(
        core.createNamespacedConfigMap({ namespace: "nope", body: { metadata: { name: "x" } } }),
      );
      assert.equal(missingNs.code, 404);
      const badName = await failure(
        core.createNamespacedConfigMap({
          namespace: "default",
          body: { metadata: { name: "Bad_Name" } },
        }),
      );
      assert.equal(badName.code, 422);
      assert.equal(badName.status.reason, "Invalid");
      // generation: bumped on spec changes only
      const pod = await core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: "p" },
          spec: { containers: [{ name: "c", image: "busybox:1" }] },
        },
      });
      assert.equal(pod.metadata?.generation, 1);
      assert.equal(pod.status?.phase, "Pending");
      const labelled = await core.patchNamespacedPod(
        { namespace: "default", name: "p", body: { metadata: { labels: { x: "y" } } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      assert.equal(labelled.metadata?.generation, 1);
      const statusUpd = await core.replaceNamespacedPodStatus({
        namespace: "default",
        name: "p",
        body: {
          ...labelled,
          spec: { ...labelled.spec!, nodeName: "ignored" },
          status: { phase: "Running", podIP: "198.18.0.5" },
        },
      });
      assert.equal(statusUpd.status?.phase, "Running");
      assert.equal(statusUpd.spec?.nodeName, undefined, "status update ignores spec");
      assert.equal(statusUpd.metadata?.generation, 1);
      const mainUpd = await core.replaceNamespacedPod({
        namespace: "default",
        name: "p",
        body: {
          ...statusUpd,
          status: { phase: "Failed" },
          spec: { ...statusUpd.spec!, activeDeadlineSeconds: 5 },
        },
      });
      assert.equal(mainUpd.status?.phase, "Running", "main update ignores status");
      assert.equal(mainUpd.metadata?.generation, 2);
      // strategic merge patch merges containers by name
      const smp = await core.patchNamespacedPod(
        {
          namespace: "default",
          name: "p",
          body: { spec: { containers: [{ name: "c", image: "busybox:2" }] } },
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch),
      );
      assert.equal(smp.spec?.containers.length, 1);
      assert.equal(smp.spec?.containers[0].image, "busybox:2");
      assert.equal(smp.spec?.containers[0].terminationMessagePath, "/dev/termination-log");
      const jp = await core.patchNamespacedPod(
        {
          namespace: "default",
          name: "p",
          body: [{ op: "add", path: "/metadata/labels/j", value: "p" }],
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
      );
      assert.equal(jp.metadata?.labels?.j, "p");
      const failedTest = await failure(core.patchNamespacedPod(
        {
          namespace: "default",
          name: "p",
          body: [{ op: "test", path: "/metadata/labels/j", value: "q" }],
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
      ));
      assert.equal(failedTest.code, 422);
    });
  },
);

Deno.test("kubeapi client: label and field selectors, pagination", opts, async () => {
  await withServer(async (_api, kc) => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < 7; i++) {
      await core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: `p${i}`, labels: { app: i % 2 ? "a" : "b", tier: String(i) } },
          spec: {
            containers: [{ name: "c", image: "x:1" }],
            nodeName: i < 3 ? "node-1" : "node-2",
          },
        },
      });
    }
    await core.replaceNamespacedPodStatus({
      namespace: "default",
      name: "p0",
      body: {
        ...(await core.readNamespacedPod({ namespace: "default", name: "p0" })),
        status: { phase: "Running" },
      },
    });
    const names = (l: k8s.V1PodList) => l.items.map((p) => p.metadata!.name).sort();
    const selected: [{ labelSelector?: string; fieldSelector?: string }, string[]][] = [
      [{ labelSelector: "app=a" }, ["p1", "p3", "p5"]],
      [{ labelSelector: "app!=a,tier in (0,2,3)" }, ["p0", "p2"]],
      [{ labelSelector: "tier notin (0,1,2,3,4),!missing" }, ["p5", "p6"]],
      [{ fieldSelector: "spec.nodeName=node-1" }, ["p0", "p1", "p2"]],
      [{ fieldSelector: "status.phase=Running" }, ["p0"]],
    ];
    for (const [selector, want] of selected) {
      const got = names(await core.listNamespacedPod({ namespace: "default", ...selector }));
      assert.deepEqual(got, want, JSON.stringify(selector));
    }
    assert.deepEqual(
      names(
        await core.listPodForAllNamespaces({
          fieldSelector: "metadata.name=p4,metadata.namespace=default",
        }),
      ),
      ["p4"],
    );
    const bad = await failure(
      core.listNamespacedPod({ namespace: "default", labelSelector: "a in (" }),
    );
    assert.equal(bad.code, 400);
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await core.listNamespacedPod({
        namespace: "default",
        limit: 3,
        _continue: cont,
      });
      seen.push(...page.items.map((p) => p.metadata!.name!));
      cont = page.metadata?._continue || undefined;
      pages++;
    } while (cont);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
  });
});

Deno.test(
  "kubeapi client: finalizers, ownerReference GC (background, foreground, orphan), namespace deletion",
  opts,
  async () => {
    await withServer(async (_api, kc) => {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const ns = "default";
      const fin = await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: "f", finalizers: ["tern.example.com/hold"] } },
      });
      await core.deleteNamespacedConfigMap({ namespace: ns, name: "f" });
      const held = await core.readNamespacedConfigMap({ namespace: ns, name: "f" });
      assert.ok(held.metadata?.deletionTimestamp, "deletionTimestamp set");
      assert.equal(held.metadata?.uid, fin.metadata?.uid);
      await core.patchNamespacedConfigMap(
        { namespace: ns, name: "f", body: { metadata: { finalizers: null } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      assert.equal(
        (await failure(core.readNamespacedConfigMap({ namespace: ns, name: "f" }))).code,
        404,
      );

      const owner = async (name: string) => {
        const o = await core.createNamespacedConfigMap({
          namespace: ns,
          body: { metadata: { name } },
        });
        const ref = {
          apiVersion: "v1",
          kind: "ConfigMap",
          name,
          uid: o.metadata!.uid!,
          blockOwnerDeletion: true,
        };
        await core.createNamespacedSecret({
          namespace: ns,
          body: { metadata: { name: `${name}-child`, ownerReferences: [ref] } },
        });
        await core.createNamespacedSecret({
          namespace: ns,
          body: {
            metadata: {
              name: `${name}-child-held`,
              ownerReferences: [ref],
              finalizers: ["tern.example.com/hold"],
            },
          },
        });
      };
      const exists = async (name: string) => {
        try {
          await core.readNamespacedSecret({ namespace: ns, name });
          return true;
        } catch {
          return false;
        }
      };
      await owner("bg");
      await core.deleteNamespacedConfigMap({ namespace: ns, name: "bg" });
      assert.equal(await exists("bg-child"), false, "background GC removed the dependent");
      assert.ok(
        (await core.readNamespacedSecret({ namespace: ns, name: "bg-child-held" })).metadata
          ?.deletionTimestamp,
      );

      await owner("fg");
      await core.deleteNamespacedConfigMap({
        namespace: ns,
        name: "fg",
        propagationPolicy: "Foreground",
      });
      const fg = await core.readNamespacedConfigMap({ namespace: ns, name: "fg" });
      assert.ok(
        fg.metadata?.finalizers?.includes("foregroundDeletion"),
        "owner waits in foreground deletion",
      );
      assert.equal(await exists("fg-child"), false);
      await core.patchNamespacedSecret(
        { namespace: ns, name: "fg-child-held", body: { metadata: { finalizers: null } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      assert.equal(
        (await failure(core.readNamespacedConfigMap({ namespace: ns, name: "fg" }))).code,
        404,
        "owner gone after dependents",
      );

      const o = await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: "or" } },
      });
      await core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: {
            name: "or-child",
            ownerReferences: [{
              apiVersion: "v1",
              kind: "ConfigMap",
              name: "or",
              uid: o.metadata!.uid!,
            }],
          },
        },
      });
      await core.deleteNamespacedConfigMap({
        namespace: ns,
        name: "or",
        propagationPolicy: "Orphan",
      });
      const orphan = await core.readNamespacedSecret({ namespace: ns, name: "or-child" });
      assert.equal(
        orphan.metadata?.ownerReferences,
        undefined,
        "orphaned dependent keeps living without the reference",
      );

      await core.createNamespace({ body: { metadata: { name: "doomed" } } });
      await core.createNamespacedConfigMap({
        namespace: "doomed",
        body: { metadata: { name: "x" } },
      });
      await core.createNamespacedConfigMap({
        namespace: "doomed",
        body: { metadata: { name: "y", finalizers: ["tern.example.com/hold"] } },
      });
      await core.deleteNamespace({ name: "doomed" });
      const term = await core.readNamespace({ name: "doomed" });
      assert.equal(term.status?.phase, "Terminating");
      const refused = await failure(
        core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "z" } } }),
      );
      assert.equal(refused.code, 403);
      await core.patchNamespacedConfigMap(
        { namespace: "doomed", name: "y", body: { metadata: { finalizers: null } } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      assert.equal((await failure(core.readNamespace({ name: "doomed" }))).code, 404);
      const prot = await failure(core.deleteNamespace({ name: "default" }));
      assert.equal(prot.code, 403);
    });
  },
);

Deno.test("kubeapi client: watch from a resourceVersion, bookmarks, 410 Gone", opts, async () => {
  await withServer(async (api, kc) => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "w0" } },
    });
    const start = (await core.listNamespacedConfigMap({ namespace: "default" })).metadata!
      .resourceVersion!;
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "w1", labels: { k: "v" } } },
    });
    await core.deleteNamespacedConfigMap({ namespace: "default", name: "w0" });
    const events: Array<{ type: string; name?: string; rv?: string; code?: number }> = [];
    const watch = new k8s.Watch(kc);
    let done = false;
    const req = await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: start, allowWatchBookmarks: true },
      (type, obj) =>
        events.push({
          type,
          name: obj.metadata?.name,
          rv: obj.metadata?.resourceVersion,
          code: obj.code,
        }),
      () => done = true,
    );
    await waitFor(() => events.filter((e) => e.type !== "BOOKMARK").length >= 2, "replayed events");
    assert.deepEqual(events.filter((e) => e.type !== "BOOKMARK").map((e) => [e.type, e.name]), [[
      "ADDED",
      "w1",
    ], ["DELETED", "w0"]]);
    await waitFor(() => events.some((e) => e.type === "BOOKMARK"), "a bookmark");
    req.abort();
    await waitFor(() => done, "watch end");
    api.fault({ action: "expireHistory" });
    const gone: typeof events = [];
    let ended = false;
    await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: start },
      (type, obj) => gone.push({ type, code: obj.code }),
      () => ended = true,
    );
    await waitFor(() => ended, "410 watch to end");
    assert.deepEqual(gone, [{ type: "ERROR", code: 410 }]);
  }, { bookmarkIntervalMs: 50 });
});

Deno.test(
  "kubeapi client: discovery documents (plain and aggregated) and OpenAPI v3",
  opts,
  async () => {
    await withServer(async (api, kc) => {
      const get = async (path: string, accept = "application/json") => {
        const r = await fetch(`${api.url}${path}`, { headers: { accept } });
        return { type: r.headers.get("content-type"), body: await r.json() };
      };
      assert.equal((await get("/version")).body.major, "1");
      assert.deepEqual((await get("/api")).body.versions, ["v1"]);
      const groups = (await get("/apis")).body;
      assert.equal(groups.kind, "APIGroupList");
      assert.ok(groups.groups.some((g: { name: string }) => g.name === "coordination.k8s.io"));
      const agg = await get(
        "/apis",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
      );
      assert.equal(
        agg.type,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
      );
      assert.equal(agg.body.kind, "APIGroupDiscoveryList");
      const rbacGroup = agg.body.items.find((i: { metadata: { name: string } }) =>
        i.metadata.name === "rbac.authorization.k8s.io"
      );
      assert.ok(
        rbacGroup.versions[0].resources.some((r: { resource: string; scope: string }) =>
          r.resource === "clusterroles" && r.scope === "Cluster"
        ),
      );
      const core = (await get("/api/v1")).body;
      const pods = core.resources.find((r: { name: string }) => r.name === "pods");
      assert.deepEqual([pods.kind, pods.namespaced, pods.shortNames], ["Pod", true, ["po"]]);
      assert.ok(core.resources.some((r: { name: string }) => r.name === "pods/status"));
      const index = (await get("/openapi/v3")).body;
      const url = index.paths["apis/coordination.k8s.io/v1"].serverRelativeURL;
      const doc = (await get(url)).body;
      const patch =
        doc.paths["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"].patch;
      assert.deepEqual(patch["x-kubernetes-group-version-kind"], {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
      });
      assert.ok(
        patch.parameters.some((p: { name: string; in: string }) =>
          p.name === "fieldValidation" && p.in === "query"
        ),
      );
      // a new CRD shows up in discovery and OpenAPI at once
      await kc.makeApiClient(k8s.ApiextensionsV1Api).createCustomResourceDefinition({
        body: {
          metadata: { name: "gadgets.tern.example.com" },
          spec: {
            group: "tern.example.com",
            scope: "Namespaced",
            names: { plural: "gadgets", kind: "Gadget", shortNames: ["gd"] },
            versions: [
              {
                name: "v1",
                served: true,
                storage: true,
                schema: { openAPIV3Schema: { type: "object" } },
              },
              {
                name: "v1beta1",
                served: true,
                storage: false,
                schema: { openAPIV3Schema: { type: "object" } },
              },
            ],
          },
        },
      });
      const g = (await get("/apis/tern.example.com")).body;
      assert.deepEqual(g.versions.map((v: { version: string }) => v.version), ["v1", "v1beta1"]);
      assert.equal(g.preferredVersion.version, "v1");
      assert.ok((await get("/openapi/v3")).body.paths["apis/tern.example.com/v1beta1"]);
      const crd = await kc.makeApiClient(k8s.ApiextensionsV1Api).readCustomResourceDefinition({
        name: "gadgets.tern.example.com",
      });
      assert.ok(
        crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True"),
      );
      const custom = kc.makeApiClient(k8s.CustomObjectsApi);
      await custom.createNamespacedCustomObject({
        group: "tern.example.com",
        version: "v1beta1",
        namespace: "default",
        plural: "gadgets",
        body: { apiVersion: "tern.example.com/v1beta1", kind: "Gadget", metadata: { name: "g" } },
      });
      const asV1 = await custom.getNamespacedCustomObject({
        group: "tern.example.com",
        version: "v1",
        namespace: "default",
        plural: "gadgets",
        name: "g",
      });
      assert.equal(
        (asV1 as { apiVersion: string }).apiVersion,
        "tern.example.com/v1",
        "served in every version",
      );
    });
  },
);

Deno.test("kubeapi client: core and events.k8s.io Events share storage", opts, async () => {
  await withServer(async (_api, kc) => {
    const events = kc.makeApiClient(k8s.EventsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await events.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "e1" },
        eventTime: new Date("2026-01-01T00:00:00Z"),
        reportingController: "tern.example.com/controller",
        reportingInstance: "ctl-1",
        action: "Allocate",
        reason: "Allocated",
        note: "allocated 198.18.0.5",
        type: "Normal",
        regarding: { kind: "Pod", name: "p", namespace: "default", uid: "u1" },
      },
    });
    const seen = await core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "involvedObject.name=p,involvedObject.kind=Pod",
    });
    assert.equal(seen.items.length, 1);
    assert.equal(seen.items[0].message, "allocated 198.18.0.5");
    assert.equal(seen.items[0].reportingComponent, "tern.example.com/controller");
    await core.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "e2" },
        involvedObject: { kind: "Node", name: "n" },
        reason: "R",
        message: "core",
        type: "Warning",
      },
    });
    const viaNew = await events.listNamespacedEvent({
      namespace: "default",
      fieldSelector: "regarding.name=n",
    });
    assert.deepEqual(viaNew.items.map((e) => [e.metadata?.name, e.note, e.type]), [[
      "e2",
      "core",
      "Warning",
    ]]);
    const patched = await events.patchNamespacedEvent(
      { namespace: "default", name: "e1", body: { note: "changed" } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    assert.equal(patched.note, "changed");
    assert.equal(
      (await core.readNamespacedEvent({ namespace: "default", name: "e1" })).message,
      "changed",
    );
  });
});
