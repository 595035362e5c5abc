import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import {
  ingress,
  lbService,
  list,
  pool,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

async function inParallel<T>(items: T[], limit: number, fn: (t: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

Deno.test("controller: restart in the middle of a burst of 1,000 Service creations gives nothing twice and leaks nothing", async () => {
  const cluster = await startCluster();
  const c = cluster.client;
  let ctl = await startController(cluster);
  try {
    await c.create(
      Resources.addressPools,
      pool("lb", {
        type: "service",
        cidrs: ["198.18.0.0/20"],
        autoAssign: true,
      }),
    );
    const names = Array.from({ length: 1000 }, (_, i) => `s${i}`);
    let created = 0;
    const burst = inParallel(names, 16, async (n) => {
      await c.create(Resources.services, lbService("default", n));
      created++;
    });
    // Wait until some Services have addresses, then restart the controller mid-burst.
    await waitFor(
      async () => {
        const svcs = await list(c, Resources.services, "default");
        return svcs.filter((s) => ingress(s).length > 0).length >= 150;
      },
      "150 Services with addresses",
      60_000,
    );
    const before = new Map<string, string>();
    for (const s of await list(c, Resources.services, "default")) {
      if (ingress(s).length > 0) before.set(s.metadata.name!, ingress(s)[0]!);
    }
    await ctl.stop();
    assert.ok(created < 1000, `the burst was still going (${created} created)`);
    ctl = await startController(cluster, { identity: "second" });
    await burst;
    const all = await waitFor(
      async () => {
        const svcs = (await list(c, Resources.services, "default")).filter((s) =>
          s.spec.type === "LoadBalancer"
        );
        return svcs.length === 1000 && svcs.every((s) => ingress(s).length === 1)
          ? svcs
          : undefined;
      },
      "every Service with one address",
      120_000,
    );
    const seen = new Map<string, string>();
    for (const s of all) {
      const ip = ingress(s)[0]!;
      assert.ok(!seen.has(ip), `${ip} given to ${seen.get(ip)} and ${s.metadata.name}`);
      seen.set(ip, s.metadata.name!);
    }
    // Nothing that had an address before the restart changed.
    for (const [n, ip] of before) assert.equal(seen.get(ip), n, `${n} kept ${ip}`);
    // None leaked: the allocator holds exactly what the Services show.
    const state = await ctl.system.lookup<{ type: "state"; replyTo: unknown }>(
      "/controller/controllers/services/services",
    )!.ask<{ ready: boolean; assignments: Record<string, string[]> }>(
      (replyTo) => ({ type: "state", replyTo }),
    );
    assert.equal(Object.keys(state.assignments).length, 1000);
    for (const s of all) {
      assert.deepEqual(state.assignments[`default/${s.metadata.name}`], ingress(s));
    }
    // The addresses are the 1,000 lowest (nothing skipped by a lost allocation).
    const max = Math.max(...[...seen.keys()].map((ip) => {
      const p = ip.split(".").map(Number);
      return (p[2]! << 8) + p[3]!;
    }));
    assert.equal(max, 999);
    await waitFor(async () => {
      const p = await c.get(Resources.addressPools, "lb") as KubeObject;
      return p.status?.allocated?.ipv4 === "1000";
    }, "pool status shows 1,000 allocated");
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});
