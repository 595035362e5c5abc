import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import { list, node, pool, startCluster, startController, waitFor } from "./controller_fixtures.ts";

type Block = KubeObject & {
  spec: { cidr: string; pool: string; node: string; type: string; request?: string };
};

const request = (pool: string, node: string, name = `${pool}-${node}`) => ({
  apiVersion: "tern.dev/v1alpha1",
  kind: "BlockRequest",
  metadata: { name },
  spec: { pool, node },
});

Deno.test("controller: pod pools cut blocks for nodes, free them, report status and guard deletion", async () => {
  const cluster = await startCluster();
  // A check every second with repair on: churn must not look like an inconsistency.
  const ctl = await startController(cluster, { checkMs: 1000, repair: true });
  const c = cluster.client;
  const blocks = async () =>
    (await list<Block>(c, Resources.addressBlocks))
      .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  try {
    for (let i = 1; i <= 3; i++) await c.create(Resources.nodes, node(`n${i}`, `192.0.2.${i}`));
    await c.create(
      Resources.addressPools,
      pool("default-pod", {
        type: "pod",
        cidrs: ["198.18.0.0/24"],
        blockSize: 28,
        autoAssign: true,
      }),
    );
    await c.create(
      Resources.addressPools,
      pool("other-pod", {
        type: "pod",
        cidrs: ["198.18.1.0/24"],
        blockSize: 28,
      }),
    );
    // The agents ask: n1 and n2 from the default pool, n1 also from the other pool (a pod or
    // namespace annotated with it landed there).
    for (const [p, n] of [["default-pod", "n1"], ["default-pod", "n2"], ["other-pod", "n1"]]) {
      await c.create(Resources.blockRequests, request(p!, n!) as KubeObject);
    }
    const got = await waitFor(async () => {
      const b = await blocks();
      return b.length === 3 ? b : undefined;
    }, "three blocks");
    const byName = new Map(got.map((b) => [b.metadata.name, b]));
    const b1 = byName.get("default-pod-198-18-0-0-28")!;
    assert.ok(b1, [...byName.keys()].join(","));
    assert.deepEqual(
      { cidr: b1.spec.cidr, node: b1.spec.node, pool: b1.spec.pool, type: b1.spec.type },
      { cidr: "198.18.0.0/28", node: "n1", pool: "default-pod", type: "pod" },
    );
    assert.equal(b1.metadata.labels?.["tern.dev/node"], "n1");
    assert.equal(b1.metadata.labels?.["tern.dev/pool"], "default-pod");
    assert.equal(b1.metadata.ownerReferences?.[0]?.kind, "AddressPool");
    assert.equal(b1.metadata.ownerReferences?.[0]?.name, "default-pod");
    assert.equal(byName.get("default-pod-198-18-0-16-28")?.spec.node, "n2");
    assert.equal(byName.get("other-pod-198-18-1-0-28")?.spec.node, "n1");
    // The request is answered.
    const answered = await waitFor(async () => {
      const r = await c.get(Resources.blockRequests, "default-pod-n2");
      return r.status?.addressBlock ? r : undefined;
    }, "request status");
    assert.equal(answered.status.cidr, "198.18.0.16/28");
    assert.equal(answered.status.conditions[0].type, "Complete");
    // Asked again (status written again, resync): still one block per request.
    await c.mergePatch(Resources.blockRequests, "default-pod-n2", {
      status: { addressBlock: null },
    }, {
      status: true,
    });
    await waitFor(
      async () =>
        (await c.get(Resources.blockRequests, "default-pod-n2")).status?.addressBlock ===
          "default-pod-198-18-0-16-28",
      "request answered again with the same block",
    );
    assert.equal((await blocks()).length, 3);
    // A second request of n2 (its block is full): a second block.
    await c.create(
      Resources.blockRequests,
      request("default-pod", "n2", "default-pod-n2-2") as KubeObject,
    );
    await waitFor(async () => (await blocks()).length === 4, "a fourth block");
    assert.equal(
      (await blocks()).find((b) => b.spec.request === "default-pod-n2-2")?.spec.cidr,
      "198.18.0.32/28",
    );
    // Pool status.
    await waitFor(async () => {
      const p = await c.get(Resources.addressPools, "default-pod");
      const ready = (p.status?.conditions ?? []).find((x: { type: string }) => x.type === "Ready");
      return p.status?.blocks === 3 && p.status?.capacity?.ipv4 === "256" &&
        p.status?.blockCapacity?.ipv4 === "16" && ready?.status === "True" &&
        (p.metadata.finalizers ?? []).includes("tern.dev/pool-in-use");
    }, "default-pod status");
    // An unknown pool is refused with a condition.
    await c.create(Resources.blockRequests, request("nope", "n3") as KubeObject);
    await waitFor(async () => {
      const r = await c.get(Resources.blockRequests, "nope-n3");
      return (r.status?.conditions ?? []).some((x: { reason: string }) =>
        x.reason === "UnknownPool"
      );
    }, "UnknownPool condition");

    // Pod blocks are advertised from their node.
    await waitFor(async () => {
      const ads = await list<KubeObject>(c, Resources.bgpAdvertisements, "tern-system");
      return ads.length === 4 &&
        ads.every((a) =>
          a.spec.type === "pod" && a.metadata.ownerReferences?.[0]?.kind === "AddressBlock"
        );
    }, "one advertisement per block");

    // A deleted node's blocks are freed.
    await c.delete(Resources.nodes, "n2");
    await waitFor(
      async () => (await blocks()).every((b) => b.spec.node !== "n2"),
      "n2's blocks freed",
    );
    assert.equal((await blocks()).length, 2);
    // The freed slot is given again (lowest first).
    await c.create(Resources.nodes, node("n4", "192.0.2.4"));
    await c.create(Resources.blockRequests, request("default-pod", "n4") as KubeObject);
    await waitFor(
      async () =>
        (await blocks()).find((b) => b.spec.node === "n4")?.spec.cidr === "198.18.0.16/28",
      "n4 gets the freed block",
    );

    // Deleting a pool in use waits for its blocks.
    await c.delete(Resources.addressPools, "other-pod");
    await waitFor(async () => {
      const p = await c.tryGet(Resources.addressPools, "other-pod");
      const ready = (p?.status?.conditions ?? []).find((x: { type: string }) => x.type === "Ready");
      return p?.metadata.deletionTimestamp && ready?.reason === "Deleting";
    }, "other-pod held by its finalizer");
    await c.delete(Resources.nodes, "n1");
    await waitFor(
      async () => !(await c.tryGet(Resources.addressPools, "other-pod")),
      "other-pod gone",
    );
    assert.deepEqual((await blocks()).map((b) => b.spec.node), ["n4"]);
    const reasons = await list<KubeObject & { reason: string }>(c, Resources.events, "tern-system");
    const bad = reasons.filter((e) =>
      /^(LeakedBlock|UnknownBlock|DoubleAllocation)$/.test(e.reason)
    ).map((e) => e.reason);
    assert.deepEqual(bad, [], "the periodic check found nothing wrong");
  } finally {
    await ctl.stop();
    await cluster.close();
  }
});
