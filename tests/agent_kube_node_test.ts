/**
 * The agent process with `--kubeconfig`, as on a cluster node: the embedded API server runs in
 * the node's namespace, the test plays the controller (answering BlockRequests with kubectl),
 * and pods get their pool from their own annotation, their namespace's, or the auto pool; DEL
 * succeeds when the Pod object is already gone; the collector frees a pod whose Pod object was
 * deleted without a DEL.
 */
import assert from "node:assert/strict";
import { ip, TestNode, waitFor } from "./agent_fixtures.ts";

Deno.test("agent+kube: pools by annotation, DEL after the Pod is gone, GC of deleted Pods", async () => {
  let stopController = false;
  let controller: Promise<void> | undefined;
  const node = await TestNode.create({
    flags: [],
    beforeAgent: async (n) => {
      n.setFlags(["--kubeconfig", n.kubeconfig, "--gc-interval-ms", "200", "--gc-grace-ms", "300"]);
      await n.startApiServer();
      const objects = [
        {
          apiVersion: "tern.dev/v1alpha1",
          kind: "AddressPool",
          metadata: { name: "default" },
          spec: { type: "pod", cidrs: ["198.18.0.0/24"], blockSize: 28, autoAssign: true },
        },
        {
          apiVersion: "tern.dev/v1alpha1",
          kind: "AddressPool",
          metadata: { name: "blue" },
          spec: { type: "pod", cidrs: ["198.18.1.0/24"], blockSize: 28 },
        },
        {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: "team", annotations: { "tern.dev/addresspool": "blue" } },
        },
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "plain" } },
        ...[["team", "web", undefined], ["team", "api", "default"], ["plain", "db", undefined]].map(
          (
            [ns, name, pool],
          ) => ({
            apiVersion: "v1",
            kind: "Pod",
            metadata: {
              name,
              namespace: ns,
              ...(pool ? { annotations: { "tern.dev/addresspool": pool } } : {}),
            },
            spec: { containers: [{ name: "c", image: "busybox" }] },
          }),
        ),
      ];
      await n.apply(objects);
      // The controller's part: answer every BlockRequest with the next block of its pool.
      const next: Record<string, number> = {};
      const answered = new Set<string>();
      controller = (async () => {
        while (!stopController) {
          const r = await n.kubectl(["get", "blockrequests", "-o", "json"]);
          const items = r.code === 0 ? JSON.parse(r.stdout).items : [];
          for (const br of items) {
            const name = br.metadata.name as string;
            if (answered.has(name)) continue;
            answered.add(name);
            const pool = br.spec.pool as string;
            const k = next[pool] ?? 0;
            next[pool] = k + 1;
            const base = pool === "blue" ? 1 : 0;
            const cidr = `198.18.${base}.${16 * k}/28`;
            await n.kubectl(
              ["create", "--validate=false", "-f", "-"],
              JSON.stringify({
                apiVersion: "tern.dev/v1alpha1",
                kind: "AddressBlock",
                metadata: {
                  name: `${pool}-${k}`,
                  labels: { "tern.dev/node": br.spec.node, "tern.dev/pool": pool },
                },
                spec: { cidr, pool, node: br.spec.node, type: "pod", request: name },
              }),
            );
            await n.kubectl([
              "patch",
              "blockrequest",
              name,
              "--subresource=status",
              "--type=merge",
              "-p",
              JSON.stringify({ status: { addressBlock: `${pool}-${k}`, cidr } }),
            ]);
          }
          await new Promise((res) => setTimeout(res, 100));
        }
      })();
    },
  });
  try {
    const add = async (cid: string, ns: string, name: string) => {
      const netns = await node.pod(cid);
      const r = await node.add(cid, netns, node.conf(), {
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name}`,
      });
      assert.equal(r.code, 0, r.stdout);
      return { netns, address: r.json.ips[0].address as string };
    };
    const web = await add("web", "team", "web");
    const api = await add("api", "team", "api");
    const db = await add("db", "plain", "db");
    assert.equal(web.address, "198.18.1.1/32", "namespace annotation: blue");
    assert.equal(api.address, "198.18.0.1/32", "pod annotation beats the namespace's");
    assert.equal(db.address, "198.18.0.2/32", "no annotation: the auto pool");
    const brs = await node.kubectl(["get", "blockrequests", "-o", "name"]);
    assert.equal(brs.stdout.trim(), "", "the agent deletes answered BlockRequests");
    const pods = node.state() as { containerId: string; pool: string; pod: { name: string } }[];
    assert.deepEqual(pods.map((p) => [p.containerId, p.pool, p.pod.name]).sort(), [
      ["api", "default", "api"],
      ["db", "default", "db"],
      ["web", "blue", "web"],
    ]);

    // The Pod object goes first, then DEL comes: success, and everything is undone.
    assert.equal(
      (await node.kubectl(["delete", "pod", "-n", "plain", "db", "--wait=false"])).code,
      0,
    );
    const del = await node.del("db", db.netns);
    assert.deepEqual([del.code, del.stdout], [0, ""]);

    // A Pod deleted without any DEL (its namespace still there): the collector frees it.
    assert.equal(
      (await node.kubectl(["delete", "pod", "-n", "team", "web", "--wait=false"])).code,
      0,
    );
    await waitFor(
      "the collector to free the deleted pod",
      () => !node.state().some((p: { containerId: string }) => p.containerId === "web"),
      15_000,
    );
    assert.doesNotMatch(await ip("-n", `${node.id}-web`, "link"), /eth0/);
    assert.deepEqual(node.state().map((p: { containerId: string }) => p.containerId), ["api"]);
    await waitFor(
      "the collector's report",
      () => /garbage collector freed addresses.*pod team\/web is gone/.test(node.agentLog),
      5_000,
    );
    const metrics = await node.http("/metrics");
    assert.match(metrics, /tern_agent_gc_freed_total\{pool="blue"\} 1\b/);
    assert.match(metrics, /tern_agent_cni_requests_total\{op="add",result="ok"\} 3\b/);
    const tree = await node.api("/debug/supervision");
    assert.ok(JSON.stringify(tree).includes("/agent/ipam/pool-blue"), "pool actors in the tree");
  } finally {
    stopController = true;
    await controller;
    await node.cleanup();
  }
});
