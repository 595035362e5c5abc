import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import {
  ingress,
  lbService,
  pool,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

Deno.test("controller smoke: a LoadBalancer Service gets an address", async () => {
  const cluster = await startCluster();
  const ctl = await startController(cluster);
  try {
    const c = cluster.client;
    await c.create(
      Resources.addressPools,
      pool("lb", { type: "service", cidrs: ["203.0.113.0/28"], autoAssign: true }),
    );
    await c.create(Resources.services, lbService("default", "web"));
    const svc = await waitFor(async () => {
      const s = await c.get(Resources.services, "web", "default");
      return ingress(s).length > 0 ? s : undefined;
    }, "web's address");
    assert.deepEqual(ingress(svc), ["203.0.113.0"]);
    await waitFor(() => ctl.state.ready, "readiness");
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});
