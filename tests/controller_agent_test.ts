import assert from "node:assert/strict";
import { ActorSystem, supervisor } from "../runtime/mod.ts";
import { KubeClient, loadKubeEndpoint, Resources } from "../actors/kube/mod.ts";
import { kubeBlockSource, type KubeBlockSourceMsg } from "../actors/agent/kube_block_source.ts";
import { list, node, pool, startCluster, startController, waitFor } from "./controller_fixtures.ts";

Deno.test("controller with the agent's block source: blocks asked, answered, owned and returned", async () => {
  const cluster = await startCluster();
  const ctl = await startController(cluster);
  const c = cluster.client;
  const agentClient = new KubeClient(loadKubeEndpoint(cluster.server.kubeconfigPath));
  const agent = new ActorSystem({ name: "agent", logLevel: "silent" });
  try {
    await c.create(Resources.nodes, node("n1", "192.0.2.1"));
    await c.create(
      Resources.addressPools,
      pool("pods", {
        type: "pod",
        cidrs: ["198.18.0.0/24", "fd00:10::/120"],
        blockSize: 28,
        blockSizeV6: 124,
        autoAssign: true,
      }),
    );
    await waitFor(() => ctl.state.ready, "controller ready");
    await agent.start(supervisor("agent", {
      strategy: "one_for_one",
      children: [{
        id: "blocks",
        def: kubeBlockSource({ client: agentClient, node: "n1", pollMs: 20 }),
      }],
    }));
    const src = agent.lookup<KubeBlockSourceMsg>("/agent/blocks")!;
    const ask = (family: 4 | 6) =>
      src.ask<string>((replyTo) => ({ type: "acquire", pool: "pods", family, replyTo }), {
        timeoutMs: 25_000,
      });
    assert.equal(await ask(4), "198.18.0.0/28");
    assert.equal(await ask(4), "198.18.0.16/28");
    assert.equal(await ask(6), "fd00:10::/124");
    // The agent deleted its requests once answered; the blocks stay with the node.
    await waitFor(
      async () => (await list(c, Resources.blockRequests)).length === 0,
      "requests withdrawn",
    );
    const owned = await src.ask<string[]>((replyTo) => ({ type: "owned", pool: "pods", replyTo }));
    assert.deepEqual(owned.sort(), ["198.18.0.0/28", "198.18.0.16/28", "fd00:10::/124"]);
    // Returning a block frees it for the next request.
    src.tell({ type: "release", pool: "pods", block: "198.18.0.0/28" });
    await waitFor(
      async () => (await list(c, Resources.addressBlocks)).length === 2,
      "block returned",
    );
    assert.equal(await ask(4), "198.18.0.0/28");
  } finally {
    await agent.shutdown();
    agentClient.close();
    await ctl.stop();
    await cluster.close();
  }
});
