/**
 * Host routes to pods go through the route-table actor (source "pods", protocol 212): an agent
 * killed with SIGKILL (or stopped with SIGTERM) and started again never drops a running pod's route (checked by polling
 * `ip -j route` the whole time), a stale route nobody states goes once the retention ends, a
 * route deleted by hand comes back, a DEL's route stays gone, and the routes of a pod whose
 * namespace is deleted without a DEL are withdrawn (not retried through a vanished interface).
 */
import assert from "node:assert/strict";
import { ip, TestNode, waitFor, withNode } from "./agent_fixtures.ts";

const DUAL = ["--static-block=default=198.18.0.0/28", "--static-block=default=fd00:18::/124"];

/** The node's protocol-212 routes, `dst dev`, both families. */
/** ADD for a new pod namespace `name`, which must succeed; the result and the host-side link. */
async function addPod(node: TestNode, name: string) {
  const netns = await node.pod(name);
  const add = await node.add(name, netns);
  assert.equal(add.code, 0, add.stdout);
  return { netns, add, hostIf: add.json.interfaces[0].name as string };
}

async function podRoutes(node: TestNode): Promise<Set<string>> {
  const out = new Set<string>();
  for (const fam of ["-4", "-6"]) {
    const text = await ip("-j", fam, "-n", node.netns, "route", "show", "proto", "212");
    for (const r of JSON.parse(text || "[]") as { dst: string; dev?: string }[]) {
      out.add(`${r.dst} ${r.dev ?? ""}`);
    }
  }
  return out;
}

/** Polls the routes until stopped; records every sample that lacks one of `want`. */
function watchRoutes(node: TestNode, want: string[]) {
  let stop = false;
  let samples = 0;
  const gaps: string[] = [];
  const done = (async () => {
    while (!stop) {
      const have = await podRoutes(node);
      samples++;
      const missing = want.filter((w) => !have.has(w));
      if (missing.length) gaps.push(`${new Date().toISOString()} missing ${missing.join(", ")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async finish() {
      stop = true;
      await done;
      return { samples, gaps };
    },
  };
}

Deno.test("agent routes: SIGKILL or SIGTERM and restart never drop a running pod's route", async () => {
  await withNode({ flags: [...DUAL, "--route-retain-ms", "400"] }, async (node) => {
    const want: string[] = [];
    for (const name of ["k1", "k2"]) {
      const { add, hostIf } = await addPod(node, name);
      for (const a of add.json.ips as { address: string }[]) {
        want.push(`${a.address.split("/")[0]} ${hostIf}`);
      }
    }
    assert.equal(want.length, 4);
    assert.deepEqual([...await podRoutes(node)].sort(), [...want].sort());

    const watch = watchRoutes(node, want);
    try {
      for (const signal of ["SIGKILL", "SIGTERM"] as const) {
        const stated = node.agentLog.split("pod routes stated").length;
        await node.stopAgent(signal);
        // A route of ours that no pod wants, left behind: kept while retaining, then removed.
        await ip("-n", node.netns, "route", "add", "198.18.0.14/32", "dev", "lo", "proto", "212");
        await node.startAgent();
        await waitFor(
          "the pod routes stated",
          () => node.agentLog.split("pod routes stated").length > stated,
        );
        await waitFor("the stale route removed", async () => {
          return ![...await podRoutes(node)].some((r) => r.startsWith("198.18.0.14 "));
        }, 10_000);
        // past the retention, with the periodic and event-driven reconciles having run
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      const { samples, gaps } = await watch.finish();
      assert.ok(samples > 10, `only ${samples} samples`);
      assert.deepEqual(gaps, [], `routes missing in ${gaps.length} of ${samples} samples`);
    }
    assert.deepEqual([...await podRoutes(node)].sort(), [...want].sort());
    const view = await node.api("/debug/supervision");
    assert.match(JSON.stringify(view), /"sources":\{"pods":4\}/);
  });
});

Deno.test("agent routes: a pod route deleted by hand comes back; a DEL's route stays gone", async () => {
  await withNode({ flags: [...DUAL] }, async (node) => {
    const { netns: p, hostIf } = await addPod(node, "h1");
    const v4 = `198.18.0.1 ${hostIf}`;
    const v6 = `fd00:18::1 ${hostIf}`;
    assert.ok((await podRoutes(node)).has(v4));
    await ip("-n", node.netns, "route", "del", "198.18.0.1/32");
    await ip("-n", node.netns, "-6", "route", "del", "fd00:18::1/128");
    await waitFor("the routes back", async () => {
      const r = await podRoutes(node);
      return r.has(v4) && r.has(v6);
    }, 10_000);

    const del = await node.del("h1", p);
    assert.equal(del.code, 0, del.stdout);
    assert.deepEqual([...await podRoutes(node)], []);
    // A full reconcile (triggered by the veth's removal) must not put it back.
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual([...await podRoutes(node)], []);
    const view = JSON.stringify(await node.api("/debug/supervision"));
    assert.doesNotMatch(view, /"sources":\{"pods":\d/);
  });
});

Deno.test("agent routes: a pod namespace deleted without DEL has its routes withdrawn", async () => {
  await withNode({ flags: [...DUAL] }, async (node) => {
    const { netns: p, hostIf } = await addPod(node, "g1");
    assert.match(JSON.stringify(await node.api("/debug/supervision")), /"sources":\{"pods":2\}/);
    // The runtime deletes the namespace without a DEL: the kernel removes the veth pair.
    await node.removePod(p);
    await waitFor(
      "the routes withdrawn",
      async () => {
        const view = JSON.stringify(await node.api("/debug/supervision"));
        return !/"sources":\{"pods":\d/.test(view);
      },
      10_000,
    );
    assert.match(node.agentLog, new RegExp(`host routes withdrawn.*${hostIf}`));
    // the route table's reconcile after the link went must not try to put them back
    await new Promise((r) => setTimeout(r, 400));
    assert.doesNotMatch(node.agentLog, /route changes refused/);
    assert.deepEqual([...await podRoutes(node)], []);
    // the record stays for the collector (the addresses are freed after its grace period)
    assert.equal(node.state().length, 1);
  });
});
