/**
 * End to end: LoadBalancer Services. Both spines hold each address with the right next hops
 * (every node for Cluster, only the nodes with ready endpoints for Local, following the
 * endpoints as they move and the policy as it switches); the client reaches each address over
 * HTTP and is answered by one of the Service's pods (for Local, one on the node it entered).
 *
 * The addresses are written into the Services' status by the test, standing in for the tern
 * controller role, which is not on main yet; everything after that (EndpointSlices, announcements
 * by the tern speakers, the spines' ECMP routes, the data path) is the real thing.
 */
import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import {
  assignAddress,
  clientGet,
  createNamespace,
  createPod,
  createService,
  waitFor,
  waitNextHops,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

const ALL = ["node-1", "node-2", "node-3"];

Deno.test("e2e loadbalancer: Cluster and Local next hops, endpoints moving, client HTTP", async (t) => {
  await withCluster(async ({ state, client }) => {
    await waitSessionsEstablished(state);
    await createNamespace(client, "lb");
    // Two pods of app=web on node-1 and node-2; none on node-3.
    await createPod(client, "lb", "web-a", { labels: { app: "web" }, node: "node-1" });
    await createPod(client, "lb", "web-b", { labels: { app: "web" }, node: "node-2" });
    await waitPodsRunning(client, "lb", ["web-a", "web-b"]);

    await t.step("Cluster: every node is a next hop; the client reaches both pods", async () => {
      await createService(client, "lb", "web-cluster", "web", "Cluster", "203.0.113.10");
      await assignAddress(state, client, "lb", "web-cluster", "203.0.113.10");
      await waitNextHops(state, "203.0.113.10/32", ALL);
      const seen = new Set<string>();
      await waitFor(
        "answers from both pods",
        async () => {
          const a = await clientGet(state, "203.0.113.10");
          if (a) {
            assert.match(a.pod, /^lb\/web-[ab]$/);
            seen.add(a.pod);
          }
          return seen.size === 2 ? true : undefined;
        },
        30_000,
        50,
      );
    });

    await t.step(
      "Local: only the nodes with endpoints; answers come from a local pod",
      async () => {
        await createService(client, "lb", "web-local", "web", "Local", "203.0.113.11");
        await assignAddress(state, client, "lb", "web-local", "203.0.113.11");
        await waitNextHops(state, "203.0.113.11/32", ["node-1", "node-2"]);
        for (let i = 0; i < 10; i++) {
          const a = await waitFor("an answer", () => clientGet(state, "203.0.113.11"), 10_000);
          assert.ok(
            (a.pod === "lb/web-a" && a.node === "node-1") ||
              (a.pod === "lb/web-b" && a.node === "node-2"),
            JSON.stringify(a),
          );
        }
      },
    );

    await t.step("Local: next hops follow the endpoints as they move", async () => {
      await client.delete(Resources.pods, "web-a", { namespace: "lb" });
      await waitNextHops(state, "203.0.113.11/32", ["node-2"]);
      await createPod(client, "lb", "web-c", { labels: { app: "web" }, node: "node-3" });
      await waitPodsRunning(client, "lb", ["web-c"]);
      await waitNextHops(state, "203.0.113.11/32", ["node-2", "node-3"]);
      // Cluster is unaffected by where the endpoints are.
      await waitNextHops(state, "203.0.113.10/32", ALL);
      const seen = new Set<string>();
      await waitFor(
        "answers from web-b and web-c",
        async () => {
          const a = await clientGet(state, "203.0.113.11");
          if (a) seen.add(a.pod);
          return seen.has("lb/web-b") && seen.has("lb/web-c") ? true : undefined;
        },
        30_000,
        50,
      );
      assert.ok(!seen.has("lb/web-a"), "the deleted pod answered");
    });

    await t.step(
      "a Service with no endpoints is announced for Cluster, not for Local",
      async () => {
        await createService(client, "lb", "empty-cluster", "nothing", "Cluster", "203.0.113.12");
        await createService(client, "lb", "empty-local", "nothing", "Local", "203.0.113.13");
        await assignAddress(state, client, "lb", "empty-cluster", "203.0.113.12");
        await assignAddress(state, client, "lb", "empty-local", "203.0.113.13");
        await waitNextHops(state, "203.0.113.12/32", ALL);
        await waitNextHops(state, "203.0.113.13/32", []);
      },
    );

    await t.step("traffic policy switch Local → Cluster → Local", async () => {
      await client.mergePatch(Resources.services, "web-local", {
        spec: { externalTrafficPolicy: "Cluster" },
      }, { namespace: "lb" });
      await waitNextHops(state, "203.0.113.11/32", ALL);
      await client.mergePatch(Resources.services, "web-local", {
        spec: { externalTrafficPolicy: "Local" },
      }, { namespace: "lb" });
      await waitNextHops(state, "203.0.113.11/32", ["node-2", "node-3"]);
    });

    await t.step(
      "rollout restart under both policies: addresses and reachability kept",
      async () => {
        for (
          const [oldName, newName, node] of [["web-b", "web-b2", "node-2"], [
            "web-c",
            "web-c2",
            "node-3",
          ]]
        ) {
          await createPod(client, "lb", newName, { labels: { app: "web" }, node });
          await waitPodsRunning(client, "lb", [newName]);
          await client.delete(Resources.pods, oldName, { namespace: "lb" });
        }
        await waitNextHops(state, "203.0.113.11/32", ["node-2", "node-3"]);
        await waitNextHops(state, "203.0.113.10/32", ALL);
        for (const ip of ["203.0.113.10", "203.0.113.11"]) {
          const a = await waitFor(
            `an answer at ${ip}`,
            async () => {
              const r = await clientGet(state, ip);
              return r && (r.pod === "lb/web-b2" || r.pod === "lb/web-c2") ? r : undefined;
            },
            20_000,
            100,
          );
          assert.match(a.pod, /^lb\/web-[bc]2$/);
        }
      },
    );

    await t.step("deleting a Service withdraws its address", async () => {
      await client.delete(Resources.services, "web-cluster", { namespace: "lb" });
      await waitNextHops(state, "203.0.113.10/32", []);
      assert.equal(await clientGet(state, "203.0.113.10"), undefined);
    });
  });
});
