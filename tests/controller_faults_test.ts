import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import {
  ingress,
  lbService,
  list,
  node,
  pool,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

Deno.test("controller: API faults (dropped watches, 500s, 410 Gone, conflicts) still end in the right state", async () => {
  const cluster = await startCluster();
  const c = cluster.client;
  const ctl = await startController(cluster);
  const f = (cmd: Parameters<typeof cluster.server.fault>[0]) => cluster.server.fault(cmd);
  try {
    await c.create(
      Resources.addressPools,
      pool("lb", { type: "service", cidrs: ["203.0.113.0/26"], autoAssign: true }),
    );
    await c.create(
      Resources.addressPools,
      pool("pods", { type: "pod", cidrs: ["198.18.0.0/24"], blockSize: 28 }),
    );
    for (let i = 1; i <= 2; i++) await c.create(Resources.nodes, node(`n${i}`, `192.0.2.${i}`));
    await waitFor(() => ctl.state.ready, "controller ready");
    const created: string[] = [];
    const make = async (n: string) => {
      // The test's own writes may meet injected 500s too: retry them.
      for (let i = 0;; i++) {
        try {
          await c.create(Resources.services, lbService("default", n));
          created.push(n);
          return;
        } catch (e) {
          if (i > 20 || !(e as { retryable?: boolean }).retryable) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    for (let i = 0; i < 10; i++) await make(`a${i}`);
    f({ action: "closeWatches" });
    for (let i = 0; i < 10; i++) await make(`b${i}`);
    f({ action: "failNext", count: 25, code: 500 });
    for (let i = 0; i < 10; i++) await make(`c${i}`);
    f({ action: "expireHistory" });
    f({ action: "closeWatches" });
    for (let i = 0; i < 10; i++) await make(`d${i}`);
    f({ action: "failNext", count: 10, code: 429, retryAfterSeconds: 0 });
    // Block requests during faults.
    for (const n of ["n1", "n2"]) {
      for (let i = 0;; i++) {
        try {
          await c.create(Resources.blockRequests, {
            apiVersion: "tern.dev/v1alpha1",
            kind: "BlockRequest",
            metadata: { name: `pods-${n}` },
            spec: { pool: "pods", node: n },
          });
          break;
        } catch (e) {
          if (i > 20 || !(e as { retryable?: boolean }).retryable) throw e;
        }
      }
    }
    // Conflicts: someone else writes the pool's status and spec while the controller does.
    for (let i = 0; i < 5; i++) {
      const p = await c.get(Resources.addressPools, "lb") as KubeObject;
      try {
        await c.replace(Resources.addressPools, {
          ...p,
          metadata: { ...p.metadata, labels: { touched: String(i) } },
        });
      } catch { /* a conflict with the controller is the point */ }
    }
    f({ action: "closeWatches" });
    // Deleting Services under faults frees them.
    for (const n of ["a0", "b0"]) await c.delete(Resources.services, n, { namespace: "default" });

    const all = await waitFor(
      async () => {
        const svcs = await list(c, Resources.services, "default");
        const lbs = svcs.filter((s) => s.spec.type === "LoadBalancer");
        return lbs.length === 38 && lbs.every((s) => ingress(s).length === 1) ? lbs : undefined;
      },
      "every Service with an address",
      30_000,
    );
    const ips = all.map((s) => ingress(s)[0]!);
    assert.equal(new Set(ips).size, ips.length, "no address given twice");
    const blocks = await waitFor(
      async () => {
        const b = await list(c, Resources.addressBlocks);
        return b.length === 2 ? b : undefined;
      },
      "two blocks",
      20_000,
    );
    assert.deepEqual(blocks.map((b) => b.spec.node).sort(), ["n1", "n2"]);
    // Allocator and cluster agree; the pool keeps its finalizer and reports 38.
    const state = await ctl.system.lookup<never>("/controller/controllers/services/services")!
      .ask<{ assignments: Record<string, string[]> }>((replyTo) =>
        ({ type: "state", replyTo }) as never
      );
    assert.equal(Object.keys(state.assignments).length, 38);
    await waitFor(
      async () => {
        const p = await c.get(Resources.addressPools, "lb") as KubeObject;
        return p.status?.allocated?.ipv4 === "38" &&
          (p.metadata.finalizers ?? []).includes("tern.dev/pool-in-use");
      },
      "pool status after faults",
      20_000,
    );
  } finally {
    f({ action: "clear" });
    await ctl.stop();
    await cluster.close();
  }
});
