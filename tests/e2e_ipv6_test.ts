/**
 * End to end: IPv6 on the fabric. Every node has an IPv6 session with each spine (one BGPPeer per
 * address family, from the sample ClusterBGPs), Established on FRR and BIRD and in the BGPPeers'
 * status; each node's IPv6 pod block is held by both spines with the node as next hop (FRR's BGP
 * table and BIRD's routes) and installed in their kernels; each node installs the other nodes'
 * IPv6 blocks over both spines, BIRD's path through the link-local next hop BIRD sends (`via
 * fe80::… dev s1`, as zebra installs it) and FRR's through its loopback, resolved recursively; a
 * pod pings and reaches over HTTP a pod of every other node over IPv6; the client reaches a
 * dual-stack LoadBalancer Service's IPv6 and IPv4 addresses (the nftables stand-in's `ip6` rules).
 */
import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import type { SimPod } from "../actors/sim/node_sim.ts";
import { podIdentity } from "../actors/sim/node_sim.ts";
import type { SimService } from "../actors/sim/endpoints.ts";
import type { ClusterState } from "../actors/sim/cluster.ts";
import { birdc, vtysh } from "../actors/sim/topology.ts";
import type { KubeClient, KubeObject } from "../actors/kube/mod.ts";
import {
  bgpPeerStates,
  clientGet,
  createNamespace,
  createPod,
  run,
  waitFor,
  waitPodsRunning,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

/** IPv6 session states on FRR (by node). */
async function frr6Sessions(s: ClusterState): Promise<Record<string, string>> {
  const si = s.plan.spines.findIndex((x) => x.kind === "frr");
  const r = await vtysh(s.runDir, s.plan.spines[si], "show bgp ipv6 unicast summary json");
  const peers = (JSON.parse(r.stdout).peers ?? {}) as Record<string, { state: string }>;
  return Object.fromEntries(
    s.plan.nodes.map((n) => [n.name, peers[n.uplinks[si].v6.b]?.state ?? "absent"]),
  );
}

/** IPv6 session states on BIRD (by node: its `node6_<i>` protocol). */
async function bird6Sessions(s: ClusterState): Promise<Record<string, string>> {
  const bird = s.plan.spines.find((x) => x.kind === "bird")!;
  const r = await birdc(s.runDir, bird, "show", "protocols");
  return Object.fromEntries(s.plan.nodes.map((n) => {
    const line = r.stdout.split("\n").find((l) => l.startsWith(`node6_${n.index} `));
    return [n.name, line?.trim().split(/\s+/).slice(5).join(" ") ?? "absent"];
  }));
}

/** FRR's BGP next hops of an IPv6 prefix (`show bgp ipv6 unicast`), as node names. */
async function frrHolders(s: ClusterState, prefix: string): Promise<string[]> {
  const si = s.plan.spines.findIndex((x) => x.kind === "frr");
  const r = await vtysh(s.runDir, s.plan.spines[si], "show bgp ipv6 unicast json");
  const paths = (JSON.parse(r.stdout).routes?.[prefix] ?? []) as Array<
    { valid?: boolean; nexthops?: Array<{ ip: string }> }
  >;
  return paths.filter((p) => p.valid).flatMap((p) => (p.nexthops ?? []).map((h) => h.ip))
    .map((ip) => s.plan.nodes.find((n) => n.uplinks[si].v6.b === ip)?.name ?? ip).sort();
}

/** BIRD's next hops of an IPv6 prefix (`birdc show route <prefix>`), as node names. */
async function birdHolders(s: ClusterState, prefix: string): Promise<string[]> {
  const si = s.plan.spines.findIndex((x) => x.kind === "bird");
  const r = await birdc(s.runDir, s.plan.spines[si], "show", "route", prefix);
  return [...r.stdout.matchAll(/via (\S+) on /g)].map((m) => m[1])
    .map((ip) => s.plan.nodes.find((n) => n.uplinks[si].v6.b === ip)?.name ?? ip).sort();
}

/** A spine kernel's IPv6 next hops of a prefix, as node names. */
async function kernelHolders(s: ClusterState, si: number, prefix: string): Promise<string[]> {
  const r = await run([
    "ip",
    "-6",
    "-j",
    "-n",
    s.plan.spines[si].ns,
    "route",
    "show",
    "exact",
    prefix,
  ]);
  const routes = JSON.parse(r.stdout || "[]") as Array<
    { gateway?: string; nexthops?: Array<{ gateway: string }> }
  >;
  return routes.flatMap((rt) =>
    rt.nexthops ? rt.nexthops.map((h) => h.gateway) : rt.gateway ? [rt.gateway] : []
  ).map((ip) => s.plan.nodes.find((n) => n.uplinks[si].v6.b === ip)?.name ?? ip).sort();
}

/** Waits until FRR, BIRD and both spines' kernels hold `prefix` via exactly `nodes`. */
async function waitHeld(s: ClusterState, prefix: string, nodes: string[], ms = 30_000) {
  const want = JSON.stringify([...nodes].sort());
  let last = "";
  await waitFor(`${prefix} via ${want} on both spines`, async () => {
    const seen = {
      frrBgp: await frrHolders(s, prefix),
      bird: await birdHolders(s, prefix),
      kernel0: await kernelHolders(s, 0, prefix),
      kernel1: await kernelHolders(s, 1, prefix),
    };
    last = JSON.stringify(seen);
    return Object.values(seen).every((v) => JSON.stringify(v) === want) ? true : undefined;
  }, ms).catch((e) => {
    throw new Error(`${e.message}; last seen ${last}`);
  });
}

/** A node's IPv6 pod blocks (default pool). */
async function nodeBlocks6(c: KubeClient, node: string): Promise<string[]> {
  const { items } = await c.listAll<KubeObject>(Resources.addressBlocks);
  return items.filter((b) => {
    const sp = b.spec as { node?: string; cidr?: string; type?: string };
    return sp.node === node && !!sp.cidr?.includes(":");
  }).map((b) => (b.spec as { cidr: string }).cidr).sort();
}

function v6Of(p: SimPod): string {
  const a = (p.status?.podIPs ?? []).map((x) => x.ip).find((x) => x.includes(":"));
  assert.ok(a, `${p.metadata.name} has an IPv6 address: ${JSON.stringify(p.status?.podIPs)}`);
  return a;
}

Deno.test("e2e ipv6: sessions, blocks on both spines, pod to pod, dual-stack LoadBalancer", async (t) => {
  await withCluster(async ({ state, client }) => {
    const nodes = state.plan.nodes;
    await t.step("every node's IPv6 sessions are Established with FRR and BIRD", async () => {
      await waitSessionsEstablished(state);
      let last = "";
      await waitFor("IPv6 sessions Established on both spines", async () => {
        const f = await frr6Sessions(state), b = await bird6Sessions(state);
        last = JSON.stringify({ frr: f, bird: b });
        return Object.values(f).every((v) => v === "Established") &&
            Object.values(b).every((v) => v.startsWith("Established"))
          ? true
          : undefined;
      }, 60_000).catch((e) => {
        throw new Error(`${e.message}; last seen ${last}`);
      });
      // …and each node's two IPv6 BGPPeers (from the sample ClusterBGPs) say so.
      const peers = await waitFor("every IPv6 BGPPeer Established in its status", async () => {
        const v6 = [...(await bgpPeerStates(client)).values()].filter((p) => p.addr.includes(":"));
        return v6.length === 2 * nodes.length &&
            v6.every((p) => p.state === "Established" && p.condition === "True")
          ? v6
          : undefined;
      }, 30_000);
      for (const n of nodes) {
        assert.deepEqual(
          peers.filter((p) => p.node === n.name).map((p) => p.addr).sort(),
          state.plan.spines.map((s) => s.address6).sort(),
        );
      }
    });

    const names = nodes.map((n) => `p${n.index}`);
    let pods = new Map<string, SimPod>();
    await t.step("each node's IPv6 pod block is held by both spines via the node", async () => {
      await createNamespace(client, "v6");
      for (const n of nodes) {
        await createPod(client, "v6", `p${n.index}`, { node: n.name, labels: { app: "web" } });
      }
      pods = await waitPodsRunning(client, "v6", names);
      for (const n of nodes) {
        const blocks = await waitFor(
          `an IPv6 block on ${n.name}`,
          async () => {
            const b = await nodeBlocks6(client, n.name);
            return b.length ? b : undefined;
          },
          30_000,
        );
        assert.match(v6Of(pods.get(`p${n.index}`)!), /^fd00:10::/);
        for (const b of blocks) await waitHeld(state, b, [n.name]);
      }
    });

    await t.step(
      "a node installs the others' IPv6 blocks over both spines (BIRD's via its link-local)",
      async () => {
        const from = nodes[0];
        for (const to of nodes.slice(1)) {
          for (const b of await nodeBlocks6(client, to.name)) {
            let last = "";
            await waitFor(`${b} over s0 and s1 in ${from.name}`, async () => {
              const r = await run(["ip", "-6", "-j", "route", "show", "exact", b], {
                ns: from.ns,
                check: false,
              });
              last = r.stdout.trim();
              const rt = (JSON.parse(r.stdout || "[]") as Array<
                { protocol?: string; nexthops?: Array<{ gateway?: string; dev?: string }> }
              >)[0];
              const hops = Object.fromEntries(
                (rt?.nexthops ?? []).map((h) => [h.dev ?? "", h.gateway ?? ""]),
              );
              // FRR (spine0) sends its loopback only: resolved to the link's global address.
              // BIRD (spine1) sends its loopback and the link's link-local: installed via the
              // link-local on the session's interface.
              return rt?.protocol === "bgp" && Object.keys(hops).length === 2 &&
                  hops.s0 === from.uplinks[0].v6.a && /^fe80:/.test(hops.s1 ?? "")
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
      "a pod pings the pods of every other node over IPv6 and reaches HTTP",
      async () => {
        for (const from of nodes) {
          const src = pods.get(`p${from.index}`)!;
          const srcNs = podIdentity(`${state.prefix}-p${from.index}`, src.metadata.uid!).netns;
          for (const to of nodes) {
            if (to === from) continue;
            const dst = v6Of(pods.get(`p${to.index}`)!);
            const r = await run(["ping", "-6", "-c", "1", "-W", "2", dst], {
              ns: srcNs,
              check: false,
            });
            assert.equal(r.code, 0, `ping ${from.name} → ${to.name} (${dst}): ${r.stdout}`);
            const h = await run(["curl", "-s", "-m", "3", `http://[${dst}]:8080/`], {
              ns: srcNs,
              check: false,
            });
            assert.equal(h.code, 0, `HTTP ${from.name} → ${to.name} (${dst})`);
            assert.deepEqual(JSON.parse(h.stdout), {
              pod: `v6/p${to.index}`,
              node: to.name,
              ip: dst,
            });
          }
        }
      },
    );

    await t.step(
      "the client reaches a dual-stack LoadBalancer's IPv6 and IPv4 addresses",
      async () => {
        await client.create<SimService>(Resources.services, {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "dual", namespace: "v6" },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: "tern.dev/bgp",
            ipFamilyPolicy: "RequireDualStack",
            ipFamilies: ["IPv4", "IPv6"],
            externalTrafficPolicy: "Cluster",
            selector: { app: "web" },
            ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
          },
        } as unknown as SimService);
        const ips = await waitFor("both addresses in the Service's status", async () => {
          const svc = await client.get<SimService>(Resources.services, "dual", "v6");
          const l = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "");
          return l.length === 2 ? l : undefined;
        }, 30_000);
        const v6 = ips.find((a) => a.includes(":"))!, v4 = ips.find((a) => !a.includes(":"))!;
        assert.ok(v6 && v4, `an IPv4 and an IPv6 address: ${ips}`);
        assert.match(v6, /^fd00:203::/);
        await waitHeld(state, `${v6}/128`, nodes.map((n) => n.name));
        const podV6 = new Set(names.map((n) => v6Of(pods.get(n)!)));
        const seen = new Set<string>();
        await waitFor(
          "answers over IPv6 from every pod",
          async () => {
            const a = await clientGet(state, `[${v6}]`);
            if (a) {
              assert.ok(podV6.has(a.ip), `answered by a pod's IPv6 address: ${JSON.stringify(a)}`);
              seen.add(a.pod);
            }
            return seen.size === names.length ? true : undefined;
          },
          30_000,
          50,
        );
        const a4 = await waitFor("an answer over IPv4", () => clientGet(state, v4), 30_000);
        assert.match(a4.pod, /^v6\/p[123]$/);
        assert.ok(!a4.ip.includes(":"), `IPv4 answer: ${JSON.stringify(a4)}`);
      },
    );
  });
});
