import assert from "node:assert/strict";
import { type KubeObject, microTime, Resources } from "../actors/kube/mod.ts";
import {
  eventReasons,
  ingress,
  lbService,
  pool,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

Deno.test("controller: a replica that loses its lease stops acting at once and resumes when it wins it back", async () => {
  const cluster = await startCluster();
  const c = cluster.client;
  const ctl = await startController(cluster, { leaseDurationMs: 3000 });
  try {
    await c.create(
      Resources.addressPools,
      pool("lb", { type: "service", cidrs: ["203.0.113.0/28"], autoAssign: true }),
    );
    await waitFor(() => ctl.state.leading && ctl.state.ready, "leading and ready");
    // Someone else holds the lease now (as after a partition): this replica must stop.
    const lease = await c.get(Resources.leases, "tern-controller", "tern-system") as KubeObject;
    await c.replace(Resources.leases, {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: "thief",
        renewTime: microTime(Date.now()),
        leaseDurationSeconds: 3600,
      },
    });
    await waitFor(() => !ctl.state.leading, "stopped leading");
    await waitFor(
      () => !ctl.system.lookup("/controller/controllers/services/services"),
      "the controllers subtree terminated",
      3000,
    );
    assert.equal(ctl.state.ready, true, "a follower is ready");
    await c.create(Resources.services, lbService("default", "while-following"));
    // Nothing can assign it now: no service actor exists in this replica.
    assert.equal(ctl.system.lookup("/controller/controllers/services/services"), undefined);
    // The thief goes away (releases the lease): this replica takes over and serves the Service.
    const stolen = await c.get(Resources.leases, "tern-controller", "tern-system") as KubeObject;
    await c.replace(Resources.leases, { ...stolen, spec: { ...stolen.spec, holderIdentity: "" } });
    await waitFor(() => ctl.state.leading, "leading again");
    await waitFor(
      async () =>
        ingress(await c.get(Resources.services, "while-following", "default"))[0] === "203.0.113.0",
      "served after taking over",
    );
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});

Deno.test("controller: a double allocation found at restart keeps the older Service's address and moves the other", async () => {
  const cluster = await startCluster();
  const c = cluster.client;
  let ctl = await startController(cluster);
  try {
    await c.create(
      Resources.addressPools,
      pool("lb", { type: "service", cidrs: ["203.0.113.0/28"], autoAssign: true }),
    );
    await c.create(Resources.services, lbService("default", "older"));
    await waitFor(
      async () => ingress(await c.get(Resources.services, "older", "default")).length === 1,
      "older",
    );
    // Creation times have a one-second resolution: make "older" older.
    await new Promise((r) => setTimeout(r, 1100));
    await c.create(Resources.services, lbService("default", "newer"));
    await waitFor(
      async () => ingress(await c.get(Resources.services, "newer", "default")).length === 1,
      "newer",
    );
    await ctl.stop();
    // While no controller runs, the newer Service's status is made to show the older's address.
    await c.mergePatch(Resources.services, "newer", {
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.0" }] } },
    }, { namespace: "default", status: true });
    ctl = await startController(cluster, { identity: "again" });
    await waitFor(async () => {
      const n = ingress(await c.get(Resources.services, "newer", "default"));
      return n.length === 1 && n[0] !== "203.0.113.0";
    }, "newer moved off the doubled address");
    assert.deepEqual(ingress(await c.get(Resources.services, "older", "default")), ["203.0.113.0"]);
    await waitFor(
      async () => (await eventReasons(c, "default", "newer")).includes("DoubleAllocation"),
      "DoubleAllocation event",
    );
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});
