import assert from "node:assert/strict";
import { ActorSystem, supervisor } from "../runtime/mod.ts";
import {
  informer,
  type InformerEvent,
  KubeClient,
  type KubeObject,
  leaderElector,
  loadKubeEndpoint,
  Resources,
} from "../actors/kube/mod.ts";
import { startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { settle, waitUntil } from "./runtime_fixtures.ts";

function configMap(name: string, value: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default" },
    data: { value },
  } as KubeObject;
}

async function withServer(
  fn: (client: KubeClient, api: Awaited<ReturnType<typeof startKubeApiServer>>) => Promise<void>,
) {
  const api = await startKubeApiServer({ tls: true });
  const client = new KubeClient(loadKubeEndpoint(api.kubeconfigPath));
  try {
    await fn(client, api);
  } finally {
    client.close();
    await api.close();
  }
}

Deno.test("kube client: CRUD, conflicts and typed errors over HTTPS with a token", async () => {
  await withServer(async (client) => {
    const created = await client.create(Resources.configMaps, configMap("a", "1"));
    assert.ok(created.metadata.resourceVersion);
    const got = await client.get<KubeObject>(Resources.configMaps, "a", "default");
    assert.equal((got as unknown as { data: { value: string } }).data.value, "1");
    await assert.rejects(
      client.create(Resources.configMaps, configMap("a", "2")),
      (e: Error & { isAlreadyExists?: boolean }) => e.isAlreadyExists === true,
    );
    const stale = { ...got, metadata: { ...got.metadata, resourceVersion: "1" } };
    await assert.rejects(
      client.replace(Resources.configMaps, stale),
      (e: Error & { isConflict?: boolean }) => e.isConflict === true,
    );
    const patched = await client.mergePatch<KubeObject>(Resources.configMaps, "a", {
      data: { value: "3" },
    }, { namespace: "default" });
    assert.equal((patched as unknown as { data: { value: string } }).data.value, "3");
    assert.equal(await client.tryGet(Resources.configMaps, "zz", "default"), undefined);
    assert.equal(await client.delete(Resources.configMaps, "a", { namespace: "default" }), true);
    assert.equal(await client.delete(Resources.configMaps, "a", { namespace: "default" }), false);
  });
});

Deno.test("kube informer: sees every change and survives dropped watches, 410 Gone and 500s", async () => {
  await withServer(async (client, api) => {
    await client.create(Resources.configMaps, configMap("pre", "0"));
    const state = new Map<string, string>();
    const log: string[] = [];
    let synced = 0;
    const deliver = (ev: InformerEvent<KubeObject>) => {
      if (ev.type === "synced") {
        synced++;
        return;
      }
      const data = (ev.object as unknown as { data?: { value?: string } }).data;
      log.push(`${ev.type}:${ev.object.metadata.name}`);
      if (ev.type === "deleted") state.delete(ev.object.metadata.name!);
      else state.set(ev.object.metadata.name!, data?.value ?? "");
    };
    const system = new ActorSystem({ name: "k", logLevel: "silent" });
    await system.start(supervisor("k", {
      strategy: "one_for_one",
      backoff: { initialMs: 50, maxMs: 500 },
      children: [{
        id: "cm",
        def: informer("configmaps", {
          client,
          resource: Resources.configMaps,
          namespace: "default",
          deliver,
        }),
      }],
    }));
    try {
      assert.equal(synced, 1);
      assert.deepEqual([...state], [["pre", "0"]]);

      await client.create(Resources.configMaps, configMap("a", "1"));
      await waitUntil(() => state.get("a") === "1", 5_000, "a added");

      api.fault({ action: "closeWatches" });
      await client.create(Resources.configMaps, configMap("b", "1"));
      await waitUntil(() => state.get("b") === "1", 5_000, "b seen after dropped watch");

      // History expired while the watch is down: the next resume gets 410 and relists.
      api.fault({ action: "closeWatches" });
      api.fault({ action: "expireHistory" });
      await client.mergePatch(Resources.configMaps, "a", { data: { value: "2" } }, {
        namespace: "default",
      });
      await client.delete(Resources.configMaps, "pre", { namespace: "default" });
      await waitUntil(() => state.get("a") === "2" && !state.has("pre"), 5_000, "relist diff");

      api.fault({ action: "failNext", count: 3, code: 500 });
      api.fault({ action: "closeWatches" });
      await waitUntil(() => api.fault({ action: "latency", ms: 0 }).pendingFailures === 0);
      await client.create(Resources.configMaps, configMap("c", "1"));
      await waitUntil(() => state.get("c") === "1", 10_000, "c after 500s");

      const cached = await system.lookup("/k/cm")!.ask<KubeObject[]>((replyTo) => ({
        type: "list",
        replyTo,
      }));
      assert.deepEqual(cached.map((o) => o.metadata.name).sort(), ["a", "b", "c"]);
      assert.deepEqual([...state.keys()].sort(), ["a", "b", "c"]);
      assert.ok(log.includes("deleted:pre"));
    } finally {
      await system.shutdown();
      await settle();
    }
  });
});

Deno.test("kube leader election: one leader at a time, the other takes over when it goes", async () => {
  await withServer(async (client) => {
    const leading = new Map<string, boolean>();
    const make = (id: string) =>
      leaderElector({
        client,
        namespace: "default",
        name: "tern-controller",
        identity: id,
        leaseDurationMs: 1_000,
        renewDeadlineMs: 800,
        retryPeriodMs: 100,
        onChange: (l) => leading.set(id, l),
      });
    const a = new ActorSystem({ name: "a", logLevel: "silent" });
    const b = new ActorSystem({ name: "b", logLevel: "silent" });
    await a.start(make("replica-a"));
    await waitUntil(() => leading.get("replica-a") === true, 5_000, "a leads");
    await b.start(make("replica-b"));
    try {
      // b keeps following while a renews.
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 100));
        assert.notEqual(leading.get("replica-b"), true, "never two leaders");
      }
      await a.shutdown(); // releases the lease
      assert.equal(leading.get("replica-a"), false);
      await waitUntil(() => leading.get("replica-b") === true, 5_000, "b takes over");
      const lease = await client.get<KubeObject>(Resources.leases, "tern-controller", "default");
      assert.equal(lease.spec.holderIdentity, "replica-b");
      assert.equal(lease.spec.leaseTransitions, 1);
    } finally {
      await a.shutdown();
      await b.shutdown();
    }
  });
});
