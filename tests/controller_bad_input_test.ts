import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import { SERVICE_CONDITION } from "../actors/controller/mod.ts";
import { kubectl } from "./kubeapi_helpers.ts";
import {
  eventReasons,
  ingress,
  lbService,
  pool,
  startCluster,
  startController,
  waitFor,
} from "./controller_fixtures.ts";

Deno.test("controller: every bad input applied with kubectl gets its schema rejection or its Event and condition", async () => {
  const cluster = await startCluster();
  const ctl = await startController(cluster);
  const cache = await Deno.makeTempDir({ prefix: "tn-ctl-kubectl-" });
  const c = cluster.client;
  const apply = (obj: unknown) =>
    kubectl(cluster.server, cache, ["apply", "-f", "-"], JSON.stringify(obj));
  const condOf = async (name: string) =>
    ((await c.get(Resources.services, name, "default")).status?.conditions ?? []).find((
      x: { type: string },
    ) => x.type === SERVICE_CONDITION);
  const poolCond = async (name: string, type: string) =>
    ((await c.get(Resources.addressPools, name)).status?.conditions ?? []).find((
      x: { type: string },
    ) => x.type === type);
  try {
    // Schema rejections.
    const rejected = [
      [pool("bad-type", { type: "foo", cidrs: ["203.0.113.0/24"] }), "type"],
      [pool("bad-size", { type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 40 }), "blockSize"],
      [{
        apiVersion: "tern.dev/v1alpha1",
        kind: "ClusterBGP",
        metadata: { name: "bad" },
        spec: { asnSelector: { asn: 1 }, routerIdSelector: { from: "internalAddress" } },
      }, "from"],
      [{
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPPeer",
        metadata: { name: "bad" },
        spec: { asn: 65000, addr: "192.0.2.1", node: "n1", holdTime: 70000 },
      }, "holdTime"],
    ] as const;
    for (const [obj, field] of rejected) {
      const r = await apply(obj);
      assert.notEqual(r.code, 0, `${JSON.stringify(obj)} was accepted`);
      assert.match(r.stderr, new RegExp(field), r.stderr);
    }

    // Accepted by the schema, refused by the controller with an Event and a condition.
    const ok = async (obj: unknown) => {
      const r = await apply(obj);
      assert.equal(r.code, 0, r.stderr);
    };
    await ok(pool("lb", { type: "service", cidrs: ["203.0.113.0/24"], autoAssign: true }));
    await ok(pool("lb-overlap", { type: "service", cidrs: ["203.0.113.128/25"] }));
    await ok(pool("tiny", { type: "service", cidrs: ["198.51.100.32/31"] }));
    await ok(pool("lb-auto-2", { type: "service", cidrs: ["198.51.100.64/28"], autoAssign: true }));
    await waitFor(
      async () => (await poolCond("lb-overlap", "Conflict"))?.reason === "OverlappingPools",
      "overlap condition",
    );
    await waitFor(
      async () => (await poolCond("lb-auto-2", "Conflict"))?.reason === "DuplicateAutoPool",
      "second auto pool condition",
    );
    assert.equal((await poolCond("lb", "Ready"))?.status, "True");
    await waitFor(
      async () => (await eventReasons(c, "tern-system", "lb-overlap")).includes("OverlappingPools"),
      "overlap event",
    );
    await waitFor(
      async () => (await eventReasons(c, "tern-system", "lb-auto-2")).includes("DuplicateAutoPool"),
      "auto event",
    );

    const failures: [string, Record<string, string>, string][] = [
      ["outside", { "tern.dev/loadBalancerIPs": "192.0.2.77" }, "AddressOutsidePools"],
      ["bad-ip", { "tern.dev/loadBalancerIPs": "not-an-ip" }, "BadAnnotation"],
      ["bad-pool-name", { "tern.dev/addresspool": "Bad_Name" }, "BadAnnotation"],
      ["unknown-pool", { "tern.dev/addresspool": "nope" }, "UnknownPool"],
      ["bad-groups", { "tern.dev/peer-groups": "UPPER" }, "BadAnnotation"],
      ["bad-key", { "tern.dev/allow-shared-ip": "-x-" }, "BadAnnotation"],
    ];
    for (const [name, annotations] of failures) {
      await ok(lbService("default", name, { annotations }));
    }
    // Exhaustion: the third Service naming a pool of two addresses.
    for (const name of ["t1", "t2", "t3"]) {
      await ok(lbService("default", name, { annotations: { "tern.dev/addresspool": "tiny" } }));
      if (name !== "t3") {
        await waitFor(
          async () => ingress(await c.get(Resources.services, name, "default")).length === 1,
          name,
        );
      }
    }
    failures.push(["t3", {}, "PoolExhausted"]);
    // Taken: asking for t1's address.
    await ok(
      lbService("default", "taker", {
        annotations: { "tern.dev/loadBalancerIPs": "198.51.100.32" },
      }),
    );
    failures.push(["taker", {}, "AddressTaken"]);
    for (const [name, , reason] of failures) {
      await waitFor(async () => {
        const cond = await condOf(name);
        return cond?.status === "False" && cond.reason === reason;
      }, `${name}: condition ${reason}`);
      await waitFor(
        async () => (await eventReasons(c, "default", name)).includes(reason),
        `${name}: event ${reason}`,
      );
      assert.deepEqual(
        ingress(await c.get(Resources.services, name, "default")),
        [],
        `${name} has no address`,
      );
    }

    // A bad annotation on a Service that has an address changes nothing already allocated.
    const t1 = await c.get(Resources.services, "t1", "default");
    await c.replace(Resources.services, {
      ...t1,
      metadata: { ...t1.metadata, annotations: { "tern.dev/addresspool": "nope" } },
    } as KubeObject);
    await waitFor(async () => (await condOf("t1"))?.reason === "UnknownPool", "t1 condition");
    assert.deepEqual(ingress(await c.get(Resources.services, "t1", "default")), ["198.51.100.32"]);
    // The controller is still fine: a good Service still gets an address.
    await ok(lbService("default", "good"));
    await waitFor(
      async () => ingress(await c.get(Resources.services, "good", "default")).length === 1,
      "good",
    );
    assert.equal(ctl.system.snapshot().root?.state, "running");
  } finally {
    await ctl.stop();
    await cluster.close();
    await Deno.remove(cache, { recursive: true });
  }
});
