/** Tokens, RBAC (403 with the real Status shape), HTTPS with a generated certificate. */

import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { failure, kubectl, withServer } from "./kubeapi_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

function clientFor(yaml: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}

Deno.test("kubeapi auth: ServiceAccount tokens checked against RBAC", opts, async () => {
  await withServer(async (api, kc) => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespace({ body: { metadata: { name: "apps" } } });
    await core.createNamespacedServiceAccount({
      namespace: "apps",
      body: { metadata: { name: "robot" } },
    });
    await rbac.createNamespacedRole({
      namespace: "apps",
      body: {
        metadata: { name: "cm-reader" },
        rules: [
          { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["allowed"] },
          { apiGroups: [""], resources: ["pods/status"], verbs: ["update", "patch"] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: "apps",
      body: {
        metadata: { name: "robot-reads" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "cm-reader" },
        subjects: [{ kind: "ServiceAccount", name: "robot", namespace: "apps" }],
      },
    });
    await rbac.createClusterRole({
      body: {
        metadata: { name: "node-viewer" },
        rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: "robots-view-nodes" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: "node-viewer",
        },
        subjects: [{ kind: "Group", name: "system:serviceaccounts:apps" }],
      },
    });
    await core.createNamespacedConfigMap({ namespace: "apps", body: { metadata: { name: "c" } } });
    await core.createNamespacedSecret({
      namespace: "apps",
      body: { metadata: { name: "allowed" } },
    });
    await core.createNamespacedSecret({
      namespace: "apps",
      body: { metadata: { name: "hidden" } },
    });
    await core.createNamespacedPod({
      namespace: "apps",
      body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "x:1" }] } },
    });

    const token = api.serviceAccountToken("apps", "robot");
    assert.ok(token);
    const tr = await core.createNamespacedServiceAccountToken({
      namespace: "apps",
      name: "robot",
      body: { spec: { audiences: [] } },
    });
    assert.equal(tr.status?.token, token, "TokenRequest hands out the account's token");
    const robot = clientFor(api.kubeconfigFor(token));
    const rcore = robot.makeApiClient(k8s.CoreV1Api);
    assert.equal((await rcore.listNamespacedConfigMap({ namespace: "apps" })).items.length, 1);
    assert.equal(
      (await rcore.readNamespacedSecret({ namespace: "apps", name: "allowed" })).metadata?.name,
      "allowed",
    );
    assert.ok((await rcore.listNode()).items !== undefined, "cluster role through a group binding");

    const create = await failure(
      rcore.createNamespacedConfigMap({ namespace: "apps", body: { metadata: { name: "x" } } }),
    );
    assert.equal(create.code, 403);
    assert.deepEqual(
      {
        kind: create.status.kind,
        apiVersion: create.status.apiVersion,
        status: create.status.status,
        reason: create.status.reason,
        code: create.status.code,
      },
      { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Forbidden", code: 403 },
    );
    assert.equal(
      create.status.message,
      'configmaps is forbidden: User "system:serviceaccount:apps:robot" cannot create resource "configmaps" in API group "" in the namespace "apps"',
    );
    assert.deepEqual(create.status.details, { kind: "configmaps" });
    const otherNs = await failure(rcore.listNamespacedConfigMap({ namespace: "default" }));
    assert.equal(otherNs.code, 403);
    const hidden = await failure(rcore.readNamespacedSecret({ namespace: "apps", name: "hidden" }));
    assert.equal(hidden.code, 403);
    assert.match(
      String(hidden.status.message),
      /^secrets "hidden" is forbidden: .* cannot get resource "secrets"/,
    );
    const cluster = await failure(rcore.listNamespace());
    assert.match(
      String(cluster.status.message),
      /cannot list resource "namespaces" in API group "" at the cluster scope/,
    );
    const pod = await rcore.readNamespacedPodStatus({ namespace: "apps", name: "p" }).catch((e) =>
      e
    );
    assert.equal(
      (pod as k8s.ApiException<unknown>).code,
      403,
      "get on pods/status was not granted",
    );
    const patched = await rcore.patchNamespacedPodStatus(
      { namespace: "apps", name: "p", body: { status: { phase: "Running" } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    assert.equal(patched.status?.phase, "Running", "patch on pods/status was granted");
    const mainPatch = await failure(rcore.patchNamespacedPod(
      { namespace: "apps", name: "p", body: { metadata: { labels: { a: "b" } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    ));
    assert.equal(mainPatch.code, 403);
    assert.equal(
      (await rcore.getAPIResources()).groupVersion,
      "v1",
      "discovery is open to authenticated users",
    );

    const bogus = await failure(
      clientFor(api.kubeconfigFor("not-a-token")).makeApiClient(k8s.CoreV1Api).listNamespace(),
    );
    assert.equal(bogus.code, 401);
    const raw = await fetch(`${api.url}/api/v1/namespaces`, {
      headers: { authorization: "Bearer not-a-token" },
    });
    assert.equal(raw.status, 401);
    assert.deepEqual(await raw.json(), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
    // deleting the account revokes its token
    await core.deleteNamespacedServiceAccount({ namespace: "apps", name: "robot" });
    assert.equal((await failure(rcore.listNamespacedConfigMap({ namespace: "apps" }))).code, 401);
  }, { anonymousIsAdmin: false });
});

Deno.test(
  "kubeapi auth: HTTPS with a self-signed certificate, for client-node and kubectl",
  opts,
  async () => {
    await withServer(async (api, kc) => {
      assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(api.caPem ?? "", /BEGIN CERTIFICATE/);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
      assert.ok(names.includes("kube-system"));
      const client = Deno.createHttpClient({ caCerts: [api.caPem!] });
      try {
        const anonymous = await fetch(`${api.url}/api/v1/namespaces`, { client } as RequestInit);
        assert.equal(anonymous.status, 401, "HTTPS requires a token");
        assert.equal((await anonymous.json()).reason, "Unauthorized");
      } finally {
        client.close();
      }
      const cache = await Deno.makeTempDir({ prefix: "tn-kubeapi-tls-" });
      try {
        const r = await kubectl(api, cache, ["get", "ns", "default", "-o", "name"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "namespace/default");
      } finally {
        await Deno.remove(cache, { recursive: true });
      }
    }, { tls: true });
  },
);
