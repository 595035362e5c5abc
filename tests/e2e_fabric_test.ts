/**
 * End to end: the fabric. Every node's tern speaker (run by the agent's BGP wiring from its
 * NodeBGP and BGPPeer objects) is Established with the FRR spine and the BIRD spine, seen on both
 * spines and in every BGPPeer's status; pod block advertisements are Advertised; pods on every node get addresses from the node's default-pool
 * block through the tern CNI plugin and agent; a pod pings a pod on every other node through the
 * spines and answers HTTP with its own name and address; a deleted pod's namespace and address
 * are released.
 */
import assert from "node:assert/strict";
import { podBlocks } from "../actors/sim/cluster.ts";
import { podIdentity } from "../actors/sim/node_sim.ts";
import { Resources } from "../actors/kube/mod.ts";
import {
  assertAll,
  bgpPeerStates,
  birdSessions,
  createNamespace,
  createPod,
  frrSessions,
  run,
  waitFor,
  waitNextHops,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split("/");
  const n = (a: string) => a.split(".").reduce((x, o) => x * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(len));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

Deno.test("e2e fabric: sessions, pod addresses, pod-to-pod through the spines", async (t) => {
  await withCluster(async ({ state, client }) => {
    await t.step("every node is Established with FRR and BIRD", async () => {
      await waitSessionsEstablished(state);
      assertAll(await frrSessions(state), /^Established$/, "FRR");
      assertAll(await birdSessions(state), /^Established/, "BIRD");
      // …and every BGPPeer says so in its status (written by the agent's BGP wiring).
      const peers = await waitFor("every BGPPeer Established in its status", async () => {
        const m = await bgpPeerStates(client);
        const all = [...m.values()];
        return all.length === 2 * state.plan.nodes.length &&
            all.every((p) => p.state === "Established" && p.condition === "True")
          ? m
          : undefined;
      }, 30_000);
      for (const n of state.plan.nodes) {
        assert.deepEqual(
          [...peers.values()].filter((p) => p.node === n.name).map((p) => p.addr).sort(),
          ["192.0.2.1", "192.0.2.2"],
        );
      }
    });

    await t.step("each pod block advertisement is Advertised to its node's peers", async () => {
      await waitFor("advertisement statuses", async () => {
        const { items } = await client.listAll<
          & {
            spec: { cidr: string; peers?: string[] };
            status?: { peers?: Record<string, string> };
          }
          & {
            metadata: { name?: string };
          }
        >(Resources.bgpAdvertisements, { namespace: "tern-system" });
        const ok = items.length === 2 * state.plan.nodes.length &&
          items.every((a) =>
            (a.spec.peers ?? []).length === 2 &&
            (a.spec.peers ?? []).every((p) => a.status?.peers?.[p] === "Advertised")
          );
        return ok ? true : undefined;
      }, 30_000);
    });

    await t.step("both spines route every node's pod block to that node", async () => {
      for (const n of state.plan.nodes) {
        await waitNextHops(state, podBlocks(n)[0].cidr, [n.name]);
      }
    });

    const names = state.plan.nodes.map((n) => `ping-${n.index}`);
    await t.step(
      "pods on every node get addresses from the node's default-pool block",
      async () => {
        await createNamespace(client, "fabric");
        for (const n of state.plan.nodes) {
          await createPod(client, "fabric", `ping-${n.index}`, { node: n.name });
        }
        const pods = await waitPodsRunning(client, "fabric", names);
        const seen = new Set<string>();
        for (const n of state.plan.nodes) {
          const p = pods.get(`ping-${n.index}`)!;
          assert.equal(p.spec?.nodeName, n.name);
          const ip = p.status!.podIP!;
          assert.ok(inCidr(ip, podBlocks(n)[0].cidr), `${ip} in ${podBlocks(n)[0].cidr}`);
          assert.equal(p.status?.hostIP, n.internalIP);
          assert.ok(!seen.has(ip), `address ${ip} given twice`);
          seen.add(ip);
        }
      },
    );

    await t.step(
      "a pod pings the pods of every other node and reaches their HTTP server",
      async () => {
        const { items } = await client.listAll<
          { metadata: { name?: string; uid?: string }; status?: { podIP?: string } }
        >(Resources.pods, { namespace: "fabric" });
        const byName = new Map(items.map((p) => [p.metadata.name!, p]));
        for (const from of state.plan.nodes) {
          const src = byName.get(`ping-${from.index}`)!;
          const srcNs = podIdentity(`${state.prefix}-p${from.index}`, src.metadata.uid!).netns;
          for (const to of state.plan.nodes) {
            if (to === from) continue;
            const dst = byName.get(`ping-${to.index}`)!.status!.podIP!;
            const r = await run(["ping", "-c", "1", "-W", "2", dst], { ns: srcNs, check: false });
            assert.equal(r.code, 0, `ping ${from.name} → ${to.name} (${dst}): ${r.stdout}`);
            const h = await run(["curl", "-s", "-m", "3", `http://${dst}:8080/`], {
              ns: srcNs,
              check: false,
            });
            assert.equal(h.code, 0);
            assert.deepEqual(JSON.parse(h.stdout), {
              pod: `fabric/ping-${to.index}`,
              node: to.name,
              ip: dst,
            });
          }
        }
      },
    );

    await t.step(
      "a deleted pod's namespace goes away (CNI DEL) and its address is reused",
      async () => {
        const pod = await client.get<{ metadata: { uid?: string }; status?: { podIP?: string } }>(
          Resources.pods,
          "ping-1",
          "fabric",
        );
        const netns = podIdentity(`${state.prefix}-p1`, pod.metadata.uid!).netns;
        await client.delete(Resources.pods, "ping-1", { namespace: "fabric" });
        await waitFor("pod namespace removed", async () => {
          try {
            await Deno.lstat(`/run/netns/${netns}`);
            return undefined;
          } catch {
            return true;
          }
        }, 20_000);
        // The lowest free address of the block comes back (sart: a recreated pod gets it again).
        await createPod(client, "fabric", "ping-1b", { node: "node-1" });
        const again = await waitPodsRunning(client, "fabric", ["ping-1b"]);
        assert.equal(again.get("ping-1b")!.status!.podIP, pod.status!.podIP);
      },
    );
  });
});
