/**
 * End to end: the fabric. Every node's tern speaker (run by the agent's BGP wiring from its
 * NodeBGP and BGPPeer objects) is Established with the FRR spine and the BIRD spine, seen on both
 * spines and in every BGPPeer's status. Pods on every node get addresses from a default-pool
 * block of their node through the tern CNI plugin and agent (blocks asked for with
 * BlockRequests); pods of an annotated namespace and an annotated pod get the other pool; the
 * blocks are advertised (Advertised in the advertisements' status) and routed by both spines to
 * their node; a node routes another node's block over both spines at once (ECMP across the
 * spines' different ASes, `multipath-relax`); a pod pings a pod on every other node through the
 * spines and answers HTTP with its own name and address; a deleted pod's namespace and address
 * are released, and a node's unused block is returned and withdrawn.
 */
import assert from "node:assert/strict";
import { podIdentity } from "../actors/sim/node_sim.ts";
import { Resources } from "../actors/kube/mod.ts";
import {
  assertAll,
  bgpPeerStates,
  birdSessions,
  createNamespace,
  createPod,
  frrSessions,
  inCidr,
  nodeBlocks,
  run,
  waitFor,
  waitNextHops,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

Deno.test("e2e fabric: sessions, pod addresses, pod-to-pod through the spines", async (t) => {
  await withCluster(async ({ state, client }) => {
    await t.step("every node is Established with FRR and BIRD, and says so", async () => {
      await waitSessionsEstablished(state);
      assertAll(await frrSessions(state), /^Established$/, "FRR");
      assertAll(await birdSessions(state), /^Established/, "BIRD");
      // …and every BGPPeer says so in its status (written by the agent's BGP wiring).
      const peers = await waitFor("every BGPPeer Established in its status", async () => {
        const m = await bgpPeerStates(client);
        // The IPv4 sessions (the IPv6 ones are checked by tests/e2e_ipv6_test.ts).
        const all = [...m.values()].filter((p) => !p.addr.includes(":"));
        return all.length === 2 * state.plan.nodes.length &&
            all.every((p) => p.state === "Established" && p.condition === "True")
          ? m
          : undefined;
      }, 30_000);
      for (const n of state.plan.nodes) {
        assert.deepEqual(
          [...peers.values()].filter((p) => p.node === n.name && !p.addr.includes(":"))
            .map((p) => p.addr).sort(),
          ["192.0.2.1", "192.0.2.2"],
        );
      }
    });

    const names = state.plan.nodes.map((n) => `ping-${n.index}`);
    await t.step(
      "pods on every node get addresses from their node's default-pool blocks",
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
          const blocks = await nodeBlocks(client, n.name, "default-pod-pool");
          assert.ok(blocks.some((b) => inCidr(ip, b)), `${ip} in ${n.name}'s blocks ${blocks}`);
          assert.ok(inCidr(ip, "198.18.0.0/16"));
          // The default pool is dual-stack: the pod also has an address of its IPv6 block.
          const v6 = (p.status?.podIPs ?? []).map((x) => x.ip).filter((x) => x.includes(":"));
          assert.equal(v6.length, 1, `IPv6 address of ${p.metadata.name}: ${v6}`);
          assert.match(v6[0], /^fd00:10::/);
          assert.equal(p.status?.hostIP, n.internalIP);
          assert.ok(!seen.has(ip), `address ${ip} given twice`);
          seen.add(ip);
        }
      },
    );

    await t.step("each node's blocks are Advertised and routed to it by both spines", async () => {
      for (const n of state.plan.nodes) {
        for (const b of await nodeBlocks(client, n.name)) await waitNextHops(state, b, [n.name]);
      }
      await waitFor("advertisement statuses", async () => {
        const { items: all } = await client.listAll<
          {
            spec: { peers?: string[]; cidr: string };
            status?: { peers?: Record<string, string> };
          } & { metadata: { name?: string } }
        >(Resources.bgpAdvertisements, { namespace: "tern-system" });
        const items = all.filter((a) => !a.spec.cidr.includes(":")); // the fabric is IPv4
        const ok = items.length >= state.plan.nodes.length &&
          items.every((a) =>
            (a.spec.peers ?? []).length === 2 &&
            (a.spec.peers ?? []).every((p) => a.status?.peers?.[p] === "Advertised")
          );
        return ok ? true : undefined;
      }, 30_000);
    });

    await t.step(
      "a node routes another node's pod block over both spines (ECMP across AS 65001 and 65002)",
      async () => {
        // The sample ClusterBGPs say speaker.multipath: true, so each node's RIB relaxes ECMP
        // across neighbour ASes: FRR (AS 65001) and BIRD (AS 65002) paths share one route.
        const from = state.plan.nodes[0];
        for (const to of state.plan.nodes.slice(1)) {
          const blocks = (await nodeBlocks(client, to.name)).filter((b) => !b.includes(":"));
          assert.ok(blocks.length > 0, `${to.name} has an IPv4 block`);
          for (const b of blocks) {
            let last = "";
            await waitFor(`${b} via both spines in ${from.name}`, async () => {
              const r = await run(["ip", "-j", "route", "show", "exact", b], {
                ns: from.ns,
                check: false,
              });
              last = r.stdout.trim();
              if (r.code !== 0) return undefined;
              const routes = JSON.parse(r.stdout || "[]") as Array<
                { protocol?: string; nexthops?: Array<{ gateway?: string; dev?: string }> }
              >;
              // One next hop per spine: through the uplink to spine0 (s0) and to spine1 (s1).
              const hops = routes[0]?.nexthops ?? [];
              const devs = hops.map((h) => h.dev ?? "").sort();
              return routes.length === 1 && routes[0].protocol === "bgp" &&
                  JSON.stringify(devs) === JSON.stringify(["s0", "s1"]) &&
                  hops.every((h) => h.gateway)
                ? true
                : undefined;
            }, 30_000).catch((e) => {
              throw new Error(`${e.message}; last seen ${last}`);
            });
          }
        }
      },
    );

    await t.step(
      "an annotated namespace's pods and an annotated pod use the other pool",
      async () => {
        const other = { "tern.dev/addresspool": "non-default-pod-pool" };
        await createNamespace(client, "fabric-other", other);
        await createPod(client, "fabric-other", "in-ns", { node: "node-2" });
        await createPod(client, "fabric", "by-pod", { node: "node-3", annotations: other });
        const a = (await waitPodsRunning(client, "fabric-other", ["in-ns"])).get("in-ns")!;
        const b = (await waitPodsRunning(client, "fabric", ["by-pod"])).get("by-pod")!;
        for (const p of [a, b]) {
          assert.ok(
            inCidr(p.status!.podIP!, "198.19.0.0/29"),
            `${p.status!.podIP} in the other pool`,
          );
        }
        assert.notEqual(a.status!.podIP, b.status!.podIP);
        // Their one-address blocks are routed to their nodes by both spines.
        await waitNextHops(state, `${a.status!.podIP}/32`, ["node-2"]);
        await waitNextHops(state, `${b.status!.podIP}/32`, ["node-3"]);
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

    await t.step(
      "a node's last pod deleted: its unused block is released and withdrawn",
      async () => {
        const blocks = await nodeBlocks(client, "node-1");
        assert.ok(blocks.length > 0);
        await client.delete(Resources.pods, "ping-1b", { namespace: "fabric" });
        await waitFor(
          "node-1's blocks released",
          async () => (await nodeBlocks(client, "node-1")).length === 0 ? true : undefined,
          30_000,
          500,
        );
        for (const b of blocks) await waitNextHops(state, b, []);
      },
    );
  });
});
