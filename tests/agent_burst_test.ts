/**
 * Bursts on one node: 100 concurrent ADDs (a Deployment scaled onto a fresh node), and an agent
 * killed with SIGKILL in the middle of a burst of ADDs and DELs, then started again.
 */
import assert from "node:assert/strict";
import { ip, type PluginRun, TestNode, waitFor, withNode } from "./agent_fixtures.ts";

// /27 blocks: 30 usable addresses each, so 100 pods need four of them.
const BLOCKS = [0, 32, 64, 96, 128].map((o) => `--static-block=default=198.18.0.${o}/27`);

async function routes(node: TestNode): Promise<string[]> {
  const out = await ip("-n", node.netns, "route", "show", "proto", "212");
  return out.split("\n").filter((l) => l.trim()).map((l) => l.split(" ")[0]!);
}

async function ternLinkCount(node: TestNode): Promise<number> {
  const out = await ip("-n", node.netns, "-o", "link", "show");
  return [...out.matchAll(/^\d+: tern[0-9a-f]{11}@/gm)].length;
}

async function podAddress(netns: string): Promise<string | undefined> {
  const ns = netns.slice("/run/netns/".length);
  const out = await ip("-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").catch(() => "");
  return /inet (\S+)\/32/.exec(out)?.[1];
}

Deno.test("agent+plugin: 100 concurrent ADDs get 100 distinct addresses, blocks on demand", async () => {
  await withNode({ flags: BLOCKS }, async (node) => {
    const pods = await Promise.all(Array.from({ length: 100 }, (_, i) => node.pod(`b${i}`)));
    const t0 = performance.now();
    const results = await Promise.all(pods.map((p, i) => node.add(`burst-${i}`, p)));
    const ms = performance.now() - t0;
    console.log(`100 concurrent ADDs (plugin processes included): ${ms.toFixed(0)} ms`);
    for (const r of results) assert.equal(r.code, 0, r.stdout);
    const addrs = results.map((r) => r.json.ips[0].address as string);
    assert.equal(new Set(addrs).size, 100, "100 distinct addresses");
    // Each pod holds exactly the address its result names.
    for (let i = 0; i < pods.length; i += 10) {
      assert.equal(`${await podAddress(pods[i]!)}/32`, addrs[i]);
    }
    assert.equal((await routes(node)).length, 100);
    const { blocks } = await node.api("/api/ipam/blocks");
    assert.deepEqual(
      blocks.map((b: { block: string; used: number }) => [b.block, b.used]),
      [["198.18.0.0/27", 30], ["198.18.0.32/27", 30], ["198.18.0.64/27", 30], [
        "198.18.0.96/27",
        10,
      ]],
    );
    const { pods: listed } = await node.api("/api/ipam/pods");
    assert.equal(listed.length, 100);
  });
});

Deno.test("agent+plugin: SIGKILL during a burst of ADD and DEL loses nothing and gives nothing twice", async () => {
  const node = await TestNode.create({
    flags: [...BLOCKS, "--gc-interval-ms", "300", "--gc-grace-ms", "0"],
  });
  try {
    // 20 running pods.
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => node.pod(`k${i}`)));
    const firstRes = await Promise.all(first.map((p, i) => node.add(`keep-${i}`, p)));
    for (const r of firstRes) assert.equal(r.code, 0);
    // The burst: DEL 10 of them, ADD 20 more, and kill the agent in the middle.
    const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) => node.pod(`n${i}`)));
    let done = 0;
    const count = <T>(p: Promise<T>) => p.finally(() => done++);
    const dels = first.slice(0, 10).map((p, i) => count(node.del(`keep-${i}`, p)));
    const adds = fresh.map((p, i) => count(node.add(`new-${i}`, p)));
    await waitFor("a few burst operations", () => done >= 6, 30_000);
    await node.stopAgent("SIGKILL");
    const delRes = await Promise.all(dels);
    const addRes = await Promise.all(adds);
    const failedDuringKill = [...delRes, ...addRes].filter((r) => r.code !== 0).length;
    console.log(`burst: ${done} done before the kill settled, ${failedDuringKill} failed`);

    await node.startAgent();
    // What a runtime does next: DEL retried for failed DELs and failed ADDs; namespaces of
    // deleted pods go away.
    const live = new Map<string, { netns: string; address: string }>();
    for (let i = 0; i < 20; i++) {
      if (i < 10) {
        const r = delRes[i]!;
        if (r.code !== 0) {
          const d = await node.del(`keep-${i}`, first[i]);
          assert.equal(d.code, 0, `DEL keep-${i} after the restart: ${d.stdout}`);
        }
        await node.removePod(first[i]!);
      } else {
        live.set(`keep-${i}`, { netns: first[i]!, address: firstRes[i]!.json.ips[0].address });
      }
    }
    for (let i = 0; i < 20; i++) {
      const r: PluginRun = addRes[i]!;
      if (r.code === 0) {
        live.set(`new-${i}`, { netns: fresh[i]!, address: r.json.ips[0].address });
      } else {
        const d = await node.del(`new-${i}`, fresh[i]);
        assert.equal(d.code, 0, `DEL new-${i} after the restart: ${d.stdout}`);
        await node.removePod(fresh[i]!);
      }
    }
    // Let the collector pass over whatever a crash left (veths without a record).
    await waitFor(
      "the collector to settle",
      async () => (await ternLinkCount(node)) === live.size && node.state().length === live.size,
      10_000,
    ).catch(() => {/* the assertions below say what differs */});

    const state = node.state() as { containerId: string; addresses: { address: string }[] }[];
    assert.deepEqual(state.map((s) => s.containerId).sort(), [...live.keys()].sort());
    const held = state.map((s) => s.addresses[0]!.address);
    assert.equal(new Set(held).size, held.length, "no address twice");
    for (const s of state) {
      const l = live.get(s.containerId)!;
      assert.equal(`${s.addresses[0]!.address}/32`, l.address, `${s.containerId} kept its address`);
      assert.equal(await podAddress(l.netns), s.addresses[0]!.address, "still on the pod");
    }
    assert.deepEqual(
      (await routes(node)).sort(),
      held.slice().sort(),
      "host routes: live pods only",
    );
    assert.equal(await ternLinkCount(node), live.size, "no orphan veth");
    const { blocks } = await node.api("/api/ipam/blocks");
    assert.equal(blocks.reduce((n: number, b: { used: number }) => n + b.used, 0), live.size);
  } catch (e) {
    console.log(
      node.agentLog.split("\n").filter((l) => /error|warn|exit|fail/i.test(l)).slice(-15).join(
        "\n",
      ),
    );
    throw e;
  } finally {
    await node.cleanup();
  }
});
