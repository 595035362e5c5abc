/** Fault injection seen and survived by a client-node informer, with nothing lost. */

import * as k8s from "@kubernetes/client-node";
import assert from "node:assert/strict";
import { waitFor, withServer } from "./kubeapi_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "kubeapi faults: an informer survives dropped watches, 410 Gone, 500s, 429s and latency",
  opts,
  async () => {
    await withServer(async (api, kc) => {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const ns = "default";
      let lists = 0;
      const informer = k8s.makeInformer(
        kc,
        `/api/v1/namespaces/${ns}/configmaps`,
        () => {
          lists++;
          return core.listNamespacedConfigMap({ namespace: ns });
        },
      );
      const errors: unknown[] = [];
      let connects = 0;
      let restartTimer: ReturnType<typeof setTimeout> | undefined;
      let stopped = false;
      informer.on("error", (e) => {
        errors.push(e);
        if (stopped) return;
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          if (!stopped) informer.start().catch(() => {});
        }, 20);
      });
      informer.on("connect", () => connects++);
      const cache = () =>
        new Map(informer.list(ns).map((c) => [c.metadata!.name!, c.metadata!.resourceVersion!]));
      const server = async () => {
        const l = await core.listNamespacedConfigMap({ namespace: ns });
        return new Map(l.items.map((c) => [c.metadata!.name!, c.metadata!.resourceVersion!]));
      };
      const inSync = async () => {
        const [a, b] = [cache(), await server()];
        return a.size === b.size && [...b].every(([k, v]) => a.get(k) === v);
      };
      const create = (name: string) =>
        core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } });
      try {
        await informer.start();
        for (const n of ["c1", "c2", "c3"]) await create(n);
        await waitFor(inSync, "initial sync");

        // 1. every watch closed by the server: the informer re-watches from its resourceVersion
        const before = connects;
        const cmType = api.store.registry.get("", "v1", "configmaps")!;
        const closed = api.fault({ action: "closeWatches" }).closedWatches;
        assert.ok(closed >= 1, "the informer's watch was open and got closed");
        // written in the same tick, before the informer can re-watch: it must replay it
        api.store.create(cmType, ns, { metadata: { name: "c4" } });
        const listsBefore = lists;
        await waitFor(async () => connects > before && await inSync(), "resync after closed watch");
        assert.equal(lists, listsBefore, "resumed from its resourceVersion without a relist");

        // 2. history expired while the watch was down: 410 Gone, then a relist
        const relistBefore = connects;
        api.fault({ action: "closeWatches" });
        // changes the informer has not seen, then the history that held them is dropped
        api.store.create(cmType, ns, { metadata: { name: "c5" } });
        api.store.delete(cmType, ns, "c1");
        api.fault({ action: "expireHistory" });
        await waitFor(
          async () => connects > relistBefore && await inSync(),
          "resync after 410 Gone",
        );
        assert.equal(lists, listsBefore + 1, "410 Gone made the informer relist");
        assert.equal(cache().has("c1"), false);
        assert.equal(api.faultState().historyExpirations, 1);

        // 3. the next three requests fail with 500: the informer reports them and recovers
        const errBefore = errors.length;
        api.fault({ action: "failNext", count: 3, code: 500 });
        api.fault({ action: "closeWatches" });
        await waitFor(() => api.faultState().pendingFailures === 0, "injected 500s consumed");
        await create("c6");
        await waitFor(inSync, "resync after 500s");
        assert.ok(errors.length - errBefore >= 1, "500 errors reached the informer");
        const e500 = errors.slice(errBefore).find((e) =>
          (e as { statusCode?: number }).statusCode === 500
        );
        assert.ok(e500, "a 500 was seen by the informer");

        // 4. 429 with Retry-After, seen over raw HTTP and by the informer
        api.fault({ action: "failNext", count: 1, code: 429, retryAfterSeconds: 2 });
        const r = await fetch(`${api.url}/api/v1/namespaces`, {
          headers: { authorization: `Bearer ${api.adminToken}` },
        });
        assert.equal(r.status, 429);
        assert.equal(r.headers.get("retry-after"), "2");
        const st = await r.json();
        assert.equal(st.reason, "TooManyRequests");
        assert.equal(st.details.retryAfterSeconds, 2);
        const err429Before = errors.length;
        api.fault({ action: "failNext", count: 2, code: 429, retryAfterSeconds: 1 });
        api.fault({ action: "closeWatches" });
        await waitFor(() => api.faultState().pendingFailures === 0, "injected 429s consumed");
        await waitFor(
          () =>
            errors.slice(err429Before).some((e) =>
              (e as { statusCode?: number }).statusCode === 429
            ),
          "429 seen",
        );
        await create("c7");
        await waitFor(inSync, "resync after 429s");

        // 5. latency on every request: slower, nothing lost
        api.fault({ action: "latency", ms: 80 });
        const t0 = performance.now();
        await create("c8");
        assert.ok(performance.now() - t0 >= 75, "latency applied");
        api.fault({ action: "closeWatches" });
        await create("c9");
        await waitFor(inSync, "resync under latency");
        api.fault({ action: "latency", ms: 0 });

        const final = cache();
        assert.deepEqual([...final.keys()].sort(), [
          "c2",
          "c3",
          "c4",
          "c5",
          "c6",
          "c7",
          "c8",
          "c9",
        ]);
        const state = api.fault({ action: "clear" });
        assert.equal(state.injectedFailures, 6);
      } finally {
        stopped = true;
        if (restartTimer !== undefined) clearTimeout(restartTimer);
        await informer.stop();
      }
    });
  },
);

Deno.test("kubeapi faults: the admin endpoint is admin-only", opts, async () => {
  await withServer(async (api, kc) => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedServiceAccount({
      namespace: "default",
      body: { metadata: { name: "robot" } },
    });
    const token = api.serviceAccountToken("default", "robot")!;
    const denied = await fetch(`${api.url}/tern/faults`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ action: "closeWatches" }),
    });
    assert.equal(denied.status, 403);
    assert.equal((await denied.json()).reason, "Forbidden");
    const ok = await fetch(`${api.url}/tern/faults`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ action: "failNext", count: 1, code: 500 }),
    });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).pendingFailures, 1);
    const failed = await fetch(`${api.url}/api/v1/namespaces`, {
      headers: { authorization: `Bearer ${api.adminToken}` },
    });
    assert.equal(failed.status, 500);
    assert.equal((await failed.json()).reason, "InternalError");
    const huge = await fetch(`${api.url}/api/v1/namespaces/default/configmaps`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        metadata: { name: "huge" },
        data: { x: "y".repeat(4 * 1024 * 1024) },
      }),
    });
    assert.equal(huge.status, 413);
    assert.equal((await huge.json()).reason, "RequestEntityTooLarge");
    const bad = await fetch(`${api.url}/tern/faults`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.adminToken}` },
      body: JSON.stringify({ action: "explode" }),
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  }, { anonymousIsAdmin: false });
});

Deno.test("kubeapi faults: a watch client that stops reading is cut off", opts, async () => {
  await withServer(async (api) => {
    const r = await fetch(`${api.url}/api/v1/namespaces/default/configmaps?watch=true`);
    try {
      assert.equal(r.status, 200);
      assert.equal(api.store.watchCount, 1);
      const cm = api.store.registry.get("", "v1", "configmaps")!;
      const pad = "x".repeat(16 * 1024);
      let i = 0;
      while (api.store.watchCount > 0 && i < 5000) {
        api.store.create(cm, "default", { metadata: { name: `c${i++}` }, data: { pad } });
        if (i % 100 === 0) await new Promise((res) => setTimeout(res, 1));
      }
      assert.equal(api.store.watchCount, 0, `still watching after ${i} events`);
    } finally {
      await r.body?.cancel();
    }
  }, { watchQueueLimit: 100 });
});
