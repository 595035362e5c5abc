/**
 * End to end at scale: 200 pods and 200 LoadBalancer Services (half Cluster, half Local, each
 * selecting one pod), created in a burst, converge: every pod Running with its own address, both
 * spines routing every Service address to the right nodes, and the client reaching a sample of
 * them, answered by the right pod.
 */
import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import type { SimPod } from "../actors/sim/node_sim.ts";
import {
  assignAddress,
  clientGet,
  createNamespace,
  createPod,
  createService,
  pool,
  spineTable,
  waitFor,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

const N = 200;

Deno.test("e2e scale: 200 pods and 200 Services converge", async () => {
  await withCluster(async ({ state, client }) => {
    await waitSessionsEstablished(state);
    await createNamespace(client, "scale");
    const idx = Array.from({ length: N }, (_, i) => i);
    const vip = (i: number) => `203.0.113.${i + 1}`;
    await pool(idx, 16, async (i) => {
      await createPod(client, "scale", `p${i}`, { labels: { app: `s${i}` } });
    });
    await pool(idx, 16, async (i) => {
      await createService(
        client,
        "scale",
        `s${i}`,
        `s${i}`,
        i % 2 === 0 ? "Cluster" : "Local",
        vip(i),
      );
      await assignAddress(state, client, "scale", `s${i}`, vip(i));
    });

    const pods = await waitFor(
      `${N} pods Running`,
      async () => {
        const { items } = await client.listAll<SimPod>(Resources.pods, { namespace: "scale" });
        const running = items.filter((p) => p.status?.phase === "Running" && p.status.podIP);
        return running.length === N ? items : undefined;
      },
      240_000,
      1_000,
    );
    const ips = pods.map((p) => p.status!.podIP!);
    assert.equal(new Set(ips).size, N, "an address was given twice");
    const nodeOf = new Map(pods.map((p) => [p.metadata.name!, p.spec!.nodeName!]));
    const perNode = new Map<string, number>();
    for (const n of nodeOf.values()) perNode.set(n, (perNode.get(n) ?? 0) + 1);
    assert.equal(perNode.size, 3, "pods spread over every node");

    const all = state.plan.nodes.map((n) => n.name).sort();
    let wrong: string[] = [];
    await waitFor(
      "every Service address routed right on both spines",
      async () => {
        const tables = [await spineTable(state, 0), await spineTable(state, 1)];
        wrong = [];
        for (const i of idx) {
          const want = i % 2 === 0 ? all : [nodeOf.get(`p${i}`)!];
          for (const [k, t] of tables.entries()) {
            const got = t.get(`${vip(i)}/32`) ?? [];
            if (JSON.stringify(got) !== JSON.stringify(want)) {
              wrong.push(`spine${k} ${vip(i)}: ${got} != ${want}`);
            }
          }
        }
        return wrong.length === 0 ? true : undefined;
      },
      180_000,
      1_000,
    ).catch((e) => {
      throw new Error(`${e.message}; ${wrong.length} wrong, e.g. ${wrong.slice(0, 5).join("; ")}`);
    });

    for (const i of [0, 1, 2, 3, 50, 51, 98, 99, 150, 151, 198, 199]) {
      const a = await waitFor(`${vip(i)} answers`, () => clientGet(state, vip(i)), 20_000, 200);
      assert.equal(a.pod, `scale/p${i}`);
    }
  });
});
