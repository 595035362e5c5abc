/** State saved to a file and loaded again; the role as a process. */

import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { parseFlags } from "../roles/apiserver.ts";
import { exampleCrd, kubectl } from "./kubeapi_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

const crd = exampleCrd("widgets", "Widget", {
  type: "object",
  properties: { size: { type: "integer" } },
});

Deno.test(
  "kubeapi persistence: state survives a restart (objects, CRDs, tokens, resourceVersion)",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "tn-kubeapi-state-" });
    const stateFile = `${dir}/state.json`;
    try {
      let rv: number;
      let token: string;
      {
        const api = await startKubeApiServer({ stateFile });
        try {
          const kc = new k8s.KubeConfig();
          kc.loadFromFile(api.kubeconfigPath);
          await kc.makeApiClient(k8s.ApiextensionsV1Api).createCustomResourceDefinition({
            body: crd,
          });
          const custom = kc.makeApiClient(k8s.CustomObjectsApi);
          await custom.createClusterCustomObject({
            group: "tern.example.com",
            version: "v1",
            plural: "widgets",
            body: {
              apiVersion: "tern.example.com/v1",
              kind: "Widget",
              metadata: { name: "w" },
              spec: { size: 3 },
            },
          });
          const core = kc.makeApiClient(k8s.CoreV1Api);
          await core.createNamespacedServiceAccount({
            namespace: "default",
            body: { metadata: { name: "keeper" } },
          });
          token = api.serviceAccountToken("default", "keeper")!;
          const owner = await core.createNamespacedConfigMap({
            namespace: "default",
            body: { metadata: { name: "owner" } },
          });
          await core.createNamespacedSecret({
            namespace: "default",
            body: {
              metadata: {
                name: "owned",
                ownerReferences: [{
                  apiVersion: "v1",
                  kind: "ConfigMap",
                  name: "owner",
                  uid: owner.metadata!.uid!,
                }],
              },
            },
          });
          rv = api.store.resourceVersion;
        } finally {
          await api.close();
        }
      }
      const saved = JSON.parse(await Deno.readTextFile(stateFile));
      assert.equal(saved.format, "tern-kubeapi/v1");
      assert.equal(saved.resourceVersion, rv);
      const api = await startKubeApiServer({ stateFile });
      try {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(api.kubeconfigPath);
        const custom = kc.makeApiClient(k8s.CustomObjectsApi);
        const w = await custom.getClusterCustomObject({
          group: "tern.example.com",
          version: "v1",
          plural: "widgets",
          name: "w",
        });
        assert.equal((w as { spec: { size: number } }).spec.size, 3);
        assert.equal(api.serviceAccountToken("default", "keeper"), token, "token survives");
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const cm = await core.createNamespacedConfigMap({
          namespace: "default",
          body: { metadata: { name: "after" } },
        });
        assert.ok(Number(cm.metadata!.resourceVersion) > rv, "resourceVersion continues");
        await core.deleteNamespacedConfigMap({ namespace: "default", name: "owner" });
        const owned = await core.listNamespacedSecret({
          namespace: "default",
          fieldSelector: "metadata.name=owned",
        });
        assert.equal(owned.items.length, 0, "owner references survive a restart and still cascade");
        const names = (await core.listNamespace()).items.map((n) => n.metadata!.name);
        assert.deepEqual(names.sort(), [
          "default",
          "kube-node-lease",
          "kube-public",
          "kube-system",
        ]);
      } finally {
        await api.close();
      }
      await Deno.writeTextFile(stateFile, "{not json");
      await assert.rejects(
        startKubeApiServer({ stateFile }),
        (e: Error) => e.name === "StateFileError",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("kubeapi role: flags, and the server as a process reached by kubectl", opts, async () => {
  assert.deepEqual(parseFlags(["--listen", "0.0.0.0", "--port=0", "--tls", "--kubeconfig", "k"]), {
    listen: "0.0.0.0",
    port: 0,
    tls: true,
    kubeconfig: "k",
  });
  assert.equal(
    parseFlags(["--listen", "0.0.0.0", "--advertise-host", "192.0.2.1"]).advertiseHost,
    "192.0.2.1",
  );
  assert.throws(() => parseFlags(["--port", "99999"]), /Flag "--port": invalid port "99999"/);
  assert.throws(() => parseFlags(["--bogus"]), /unknown flag/);
  assert.equal(parseFlags(["--service-cidr", "198.18.0.0/16"]).serviceCIDR, "198.18.0.0/16");
  assert.throws(
    () => parseFlags(["--service-cidr", "198.18.0.0/33"]),
    /Flag "--service-cidr": invalid service CIDR "198\.18\.0\.0\/33"/,
  );
  const dir = await Deno.makeTempDir({ prefix: "tn-kubeapi-role-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=apiserver",
      new URL("../roles/apiserver.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--kubeconfig",
      `${dir}/kc.yaml`,
      "--state",
      `${dir}/state.json`,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const errText = (async () => {
    let t = "";
    for (;;) {
      const { value, done } = await stderr.read();
      if (done) return t;
      t += value;
    }
  })();
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const line = JSON.parse(out.split("\n")[0]);
    assert.match(line.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await kubectl(
      { kubeconfigPath: `${dir}/kc.yaml` } as Parameters<typeof kubectl>[0],
      dir,
      ["apply", "-f", "-"],
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-kubectl, namespace: default}\ndata: {a: b}\n",
    );
    assert.equal(r.code, 0, r.stderr);
    const inspect = String(line.inspect).replace(/\/debug\/$/, "");
    const tree = await (await fetch(`${inspect}/debug/supervision`)).text();
    assert.match(tree, /kubeapi-server/, "the server actor shows in the supervision tree");
    const metrics = await (await fetch(`${inspect}/metrics`)).text();
    assert.match(metrics, /tern_kubeapi_resource_version/);
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0, await errText);
    const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`));
    assert.ok(
      state.objects.some((o: { metadata: { name: string } }) => o.metadata.name === "from-kubectl"),
      "saved on SIGTERM",
    );
  } finally {
    clearTimeout(killer);
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await reader.cancel().catch(() => {});
    await errText.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
