/**
 * End to end with tern's controller (skipped, saying why, when `roles/controller.ts` is absent):
 * LoadBalancer addresses auto-assigned, by pool annotation and by exact address, routed by both
 * spines and answering the client; a pool change moves a Service's address; and the controller
 * killed in the middle of a burst of Service creations: after its restart every Service has an
 * address, none given twice, each routed and answering.
 */
import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import type { SimService } from "../actors/sim/endpoints.ts";
import { restartProc, stopProc } from "../actors/sim/processes.ts";
import {
  clientGet,
  createNamespace,
  createPod,
  createService,
  inCidr,
  pool,
  spineTable,
  waitFor,
  waitNextHops,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";
import type { KubeClient } from "../actors/kube/mod.ts";

const hasController = await Deno.stat(new URL("../roles/controller.ts", import.meta.url))
  .then(() => true, () => false);

/** The prefix the spines route an address by (non-default-lb-pool is announced as a /24). */
function routed(ip: string): string {
  return inCidr(ip, "198.51.100.0/25") ? "198.51.100.0/24" : `${ip}/32`;
}

async function addressOf(c: KubeClient, ns: string, name: string, timeoutMs = 30_000) {
  return await waitFor(
    `${ns}/${name} has an address`,
    async () => {
      const s = await c.get<SimService>(Resources.services, name, ns);
      return s.status?.loadBalancer?.ingress?.find((i) => i.ip && !i.ip.includes(":"))?.ip;
    },
    timeoutMs,
    100,
  );
}

Deno.test({
  name: "e2e controller: address allocation, pool change, controller killed during a burst",
  ignore: !hasController,
  fn: async (t) => {
    await withCluster(async ({ state, client }) => {
      assert.ok(state.controller, "the controller runs");
      await waitSessionsEstablished(state);
      await createNamespace(client, "ctl");
      await createPod(client, "ctl", "web-a", { labels: { app: "web" }, node: "node-1" });
      await createPod(client, "ctl", "web-b", { labels: { app: "web" }, node: "node-2" });
      await waitPodsRunning(client, "ctl", ["web-a", "web-b"]);
      const all = state.plan.nodes.map((n) => n.name);

      await t.step("auto, by pool annotation, by exact address", async () => {
        await createService(client, "ctl", "auto", "web");
        await createService(client, "ctl", "by-pool", "web", "Cluster", undefined, {
          "tern.dev/addresspool": "non-default-lb-pool",
        });
        await createService(client, "ctl", "exact", "web", "Cluster", "203.0.113.77");
        const auto = await addressOf(client, "ctl", "auto");
        const byPool = await addressOf(client, "ctl", "by-pool");
        const exact = await addressOf(client, "ctl", "exact");
        assert.ok(inCidr(auto, "203.0.113.0/24"), `auto ${auto} from the default pool`);
        assert.ok(inCidr(byPool, "198.51.100.0/25"), `by-pool ${byPool} from its pool`);
        assert.equal(exact, "203.0.113.77");
        assert.equal(new Set([auto, byPool, exact]).size, 3);
        for (const ip of [auto, byPool, exact]) {
          await waitNextHops(state, routed(ip), all);
          const a = await waitFor(`${ip} answers`, () => clientGet(state, ip), 20_000, 100);
          assert.match(a.pod, /^ctl\/web-[ab]$/);
        }
      });

      await t.step("a pool annotation change moves the address", async () => {
        const before = await addressOf(client, "ctl", "auto");
        await client.mergePatch(Resources.services, "auto", {
          metadata: { annotations: { "tern.dev/addresspool": "non-default-lb-pool" } },
        }, { namespace: "ctl" });
        const after = await waitFor(
          "a new address from the other pool",
          async () => {
            const ip = await addressOf(client, "ctl", "auto");
            return inCidr(ip, "198.51.100.0/25") ? ip : undefined;
          },
          30_000,
          200,
        );
        await waitNextHops(state, routed(after), all);
        await waitNextHops(state, `${before}/32`, []);
        await waitFor(`${after} answers`, () => clientGet(state, after), 20_000, 100);
      });

      await t.step("controller killed during a burst: nothing lost, nothing twice", async () => {
        const N = 30;
        const names = Array.from({ length: N }, (_, i) => `burst-${i}`);
        let killed = false;
        await pool(names, 4, async (name) => {
          await createService(client, "ctl", name, "web");
          if (!killed && name === "burst-10") {
            killed = true;
            await stopProc(state.runDir, "controller", true);
          }
        });
        await restartProc(state.runDir, "controller");
        const ips = new Map<string, string>();
        for (const name of names) ips.set(name, await addressOf(client, "ctl", name, 60_000));
        const seen = new Map<string, string>();
        for (const [name, ip] of ips) {
          assert.ok(!seen.has(ip), `${ip} given to both ${seen.get(ip)} and ${name}`);
          seen.set(ip, name);
        }
        // Also unique against the earlier Services.
        for (const other of ["by-pool", "exact", "auto"]) {
          assert.ok(!seen.has(await addressOf(client, "ctl", other)), `${other}'s address reused`);
        }
        await waitFor(
          "every burst address routed by both spines",
          async () => {
            const tables = [await spineTable(state, 0), await spineTable(state, 1)];
            return [...ips.values()].every((ip) =>
                tables.every((t) => JSON.stringify(t.get(`${ip}/32`)) === JSON.stringify(all))
              )
              ? true
              : undefined;
          },
          60_000,
          500,
        );
        for (const ip of [...ips.values()].slice(0, 5)) {
          await waitFor(`${ip} answers`, () => clientGet(state, ip), 20_000, 100);
        }
      });
    });
  },
});
