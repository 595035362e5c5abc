/**
 * End to end: sart's "second ClusterBGP with inline peers" scenario, with tern's controller and
 * the simulated cluster's edge router (GoBGP, `actors/sim/edge_router.ts`). A ClusterBGP whose
 * peer is given inline (address, ASN, timers) and whose node selector matches some nodes: the
 * controller makes a BGPPeer for exactly those nodes, the sessions reach Established (BGPPeer
 * status and `gobgp neighbor`), the edge router holds the LoadBalancer address and the pod blocks
 * with the selected nodes as next hops; relabelling nodes moves them in and out; deleting the
 * ClusterBGP removes its peers; the spine sessions are never reset meanwhile.
 */
import assert from "node:assert/strict";
import { clusterClient, clusterUp } from "../actors/sim/cluster.ts";
import {
  EDGE_ADDRESS,
  EDGE_ASN,
  EDGE_PROC,
  edgeClusterBgp,
  edgeFiles,
  edgeGobgpConfig,
  edgePlan,
  edgeRib,
  edgeSessions,
  sessionStateName,
} from "../actors/sim/edge_router.ts";
import { makePlan, PlanError, randomPrefix } from "../actors/sim/plan.ts";
import { birdc, teardown, vtysh } from "../actors/sim/topology.ts";
import { procFiles } from "../actors/sim/processes.ts";
import type { ClusterState } from "../actors/sim/cluster.ts";
import { type KubeClient, type KubeObject, Resources } from "../actors/kube/mod.ts";
import type { BGPAdvertisementObject, BGPPeerObject } from "../actors/agent_bgp/desired.ts";
import {
  assignAddress,
  createNamespace,
  createPod,
  createService,
  inCidr,
  run,
  spineNextHops,
  waitFor,
  waitNextHops,
  waitNodeBlock,
  waitPodsRunning,
  waitSessionsEstablished,
} from "./e2e_helpers.ts";

const CBGP = "clusterbgp-edge-inline";
const LABEL = "tern.dev/edge";

Deno.test("edge router plan: test ranges, one /31 per node, gobgpd accepts the config", async () => {
  const plan = makePlan({ prefix: "tn-e2e-abc123", nodes: 30 });
  const edge = edgePlan(plan);
  assert.equal(edge.ns, "tn-e2e-abc123-edge");
  assert.equal(edge.links.length, 30);
  const addrs = edge.links.flatMap((l) => [l.a.address, l.b.address]);
  assert.equal(new Set(addrs).size, addrs.length, "unique link addresses");
  for (const a of addrs) assert.ok(inCidr(a, "198.19.224.0/26"), `${a} in 198.19.224.0/26`);
  for (const [i, l] of edge.links.entries()) {
    assert.equal(l.b.ns, plan.nodes[i].ns);
    assert.ok(l.a.ifname.length <= 15 && l.b.ifname.length <= 15);
    // The two ends of a /31.
    assert.equal(Number(l.b.address.split(".")[3]), Number(l.a.address.split(".")[3]) + 1);
    assert.equal(Number(l.a.address.split(".")[3]) % 2, 0);
  }
  assert.ok(inCidr(EDGE_ADDRESS, "192.0.2.0/24"));
  const taken = [
    ...plan.spines.map((s) => s.address),
    ...plan.nodes.flatMap((n) => n.uplinks.flatMap((u) => [u.a.address, u.b.address])),
  ];
  assert.ok(!taken.includes(EDGE_ADDRESS), "the edge address is not the fabric's");
  const tooMany = Array.from({ length: 33 }, (_, i) => ({ ...plan.nodes[0], index: i + 1 }));
  assert.throws(() => edgePlan({ ...plan, nodes: tooMany }), PlanError);
  const conf = edgeGobgpConfig(plan, edge);
  assert.equal(conf.match(/\[\[neighbors\]\]/g)?.length, 30);
  assert.match(conf, /passive-mode = true/);
  assert.match(conf, /default-export-policy = "reject-route"/);
  assert.doesNotMatch(conf, /import-policy/, "no import filter: the nodes must not be transit");
  const dir = await Deno.makeTempDir({ prefix: "tn-edge-" });
  try {
    await Deno.writeTextFile(`${dir}/gobgpd.toml`, conf);
    const r = await run(["gobgpd", "-d", "-f", `${dir}/gobgpd.toml`], { check: false });
    assert.equal(r.code, 0, `gobgpd --dry-run refused the config: ${r.stdout}${r.stderr}`);
    await Deno.writeTextFile(`${dir}/bad.toml`, conf.replace("peer-as = 65101", "peer-as = x"));
    const bad = await run(["gobgpd", "-d", "-f", `${dir}/bad.toml`], { check: false });
    assert.notEqual(bad.code, 0, "gobgpd --dry-run must refuse a broken config");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(sessionStateName(6), "Established");
  assert.equal(sessionStateName(3), "Active");
  assert.equal(sessionStateName("SESSION_STATE_ESTABLISHED"), "Established");
});

/**
 * What must not move on the spines, per node: FRR's session counters, and BIRD's state with the
 * time of its last change (seconds since midnight; BIRD prints it from a monotonic clock, so the
 * same instant may read a millisecond apart between two calls).
 */
async function spineSessionMarks(
  s: ClusterState,
): Promise<{ marks: Record<string, string>; birdSince: Record<string, number> }> {
  const [frr, bird] = s.plan.spines;
  const f = await vtysh(s.runDir, frr, "show bgp neighbors json");
  const nbrs = JSON.parse(f.stdout) as Record<
    string,
    { bgpState?: string; connectionsEstablished?: number; connectionsDropped?: number }
  >;
  const b = await birdc(s.runDir, bird, "show", "protocols");
  const marks: Record<string, string> = {};
  const birdSince: Record<string, number> = {};
  for (const n of s.plan.nodes) {
    const x = nbrs[n.uplinks[0].b.address] ?? {};
    marks[`frr ${n.name}`] =
      `${x.bgpState} established ${x.connectionsEstablished} dropped ${x.connectionsDropped}`;
    const line = b.stdout.split("\n").find((l) => l.startsWith(`node_${n.index} `)) ?? "absent";
    // Name Proto Table State Since Info.
    const [state, since, ...info] = line.trim().split(/\s+/).slice(3);
    marks[`bird ${n.name}`] = `${state} ${info.join(" ")}`;
    const t = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(since ?? "");
    birdSince[n.name] = t ? Number(t[1]) * 3600 + Number(t[2]) * 60 + Number(t[3]) : NaN;
  }
  return { marks, birdSince };
}

/** The spine BGPPeers (made from the spine ClusterBGPs): name → establishedSince. */
async function spinePeerSince(
  c: KubeClient,
  s: ClusterState,
): Promise<Record<string, string | undefined>> {
  const spines = new Set(s.plan.spines.flatMap((x) => [x.address, x.address6]));
  const { items } = await c.listAll<BGPPeerObject>(Resources.bgpPeers);
  const out: Record<string, string | undefined> = {};
  for (const p of items) {
    if (spines.has(p.spec.addr)) {
      out[p.metadata.name!] = p.status?.sessionState === "Established"
        ? p.status.establishedSince
        : `not Established (${p.status?.sessionState})`;
    }
  }
  return out;
}

/** BGPPeers of the inline ClusterBGP: node → peer. */
async function edgePeers(c: KubeClient): Promise<Map<string, BGPPeerObject>> {
  const { items } = await c.listAll<BGPPeerObject>(Resources.bgpPeers);
  const out = new Map<string, BGPPeerObject>();
  for (const p of items) {
    if ((p.spec as { clusterBGP?: string }).clusterBGP === CBGP) out.set(p.spec.node, p);
  }
  return out;
}

async function setEdgeLabel(c: KubeClient, node: string, on: boolean): Promise<void> {
  await c.mergePatch<KubeObject>(Resources.nodes, node, {
    metadata: { labels: { [LABEL]: on ? "on" : null } },
  });
}

/**
 * Waits until the inline ClusterBGP has peers for exactly `nodes`, each Established in its
 * BGPPeer status, and the edge router has exactly those sessions Established.
 */
async function waitEdgeSessions(
  c: KubeClient,
  s: ClusterState,
  nodes: string[],
  timeoutMs = 45_000,
): Promise<Map<string, BGPPeerObject>> {
  const want = JSON.stringify([...nodes].sort());
  let last = "";
  return await waitFor(
    `edge sessions of exactly ${want}`,
    async () => {
      const peers = await edgePeers(c);
      const sessions = await edgeSessions(s.plan, s.edge!);
      const up = Object.entries(sessions).filter(([, v]) => v === "Established").map(([k]) => k);
      last = JSON.stringify({
        peers: Object.fromEntries([...peers].map(([n, p]) => [n, p.status?.sessionState])),
        edge: sessions,
      });
      const ok = JSON.stringify([...peers.keys()].sort()) === want &&
        [...peers.values()].every((p) => p.status?.sessionState === "Established") &&
        JSON.stringify(up.sort()) === want;
      return ok ? peers : undefined;
    },
    timeoutMs,
    300,
  ).catch((e) => {
    throw new Error(`${e.message}; last seen ${last}`);
  });
}

/** Waits until the edge router holds `prefix` through exactly `nodes` ([] = not at all). */
async function waitEdgeRoute(s: ClusterState, prefix: string, nodes: string[], timeoutMs = 30_000) {
  const want = JSON.stringify([...nodes].sort());
  let last = "";
  await waitFor(
    `the edge router holds ${prefix} via ${want}`,
    async () => {
      const rib = await edgeRib(s.plan, s.edge!);
      const got = JSON.stringify(rib.get(prefix) ?? []);
      last = got;
      return got === want ? true : undefined;
    },
    timeoutMs,
    300,
  ).catch((e) => {
    throw new Error(`${e.message}; last seen ${last}`);
  });
}

/**
 * Rewrites the edge router's configuration with `auth-password` on the neighbours of `nodes`
 * (none: the original configuration) and reloads it (SIGHUP). GoBGP sets a neighbour's TCP-MD5
 * key when it adds the neighbour, so the neighbours are first removed, then added back.
 */
async function reloadEdge(s: ClusterState, nodes: string[], password: string): Promise<void> {
  const edge = s.edge!;
  const conf = edgeFiles(s.runDir).conf;
  const pid = Number((await Deno.readTextFile(procFiles(s.runDir, EDGE_PROC).pid)).trim());
  const blocks = edgeGobgpConfig(s.plan, edge).split("[[neighbors]]\n");
  const named = (b: string, n: string) => b.includes(`description = "${n}"`);
  const reload = async (text: string, there: boolean, targets: string[]) => {
    await Deno.writeTextFile(conf, text);
    Deno.kill(pid, "SIGHUP");
    await waitFor(`the edge router reloaded (${targets.join(",")} ${there})`, async () => {
      const sessions = await edgeSessions(s.plan, edge);
      return targets.every((n) => (sessions[n] !== "absent") === there) ? true : undefined;
    }, 20_000);
  };
  const targets = nodes.length ? nodes : s.plan.nodes.map((n) => n.name);
  await reload(
    blocks.filter((b) => !targets.some((n) => named(b, n))).join("[[neighbors]]\n"),
    false,
    targets,
  );
  const withPw = blocks.map((b) =>
    nodes.some((n) => named(b, n))
      ? b.replace(
        "  [neighbors.config]\n",
        `  [neighbors.config]\n    auth-password = "${password}"\n`,
      )
      : b
  );
  await reload(withPw.join("[[neighbors]]\n"), true, targets);
}

/** An advertisement's per-peer states, found by its prefix. */
async function adPeers(c: KubeClient, cidr: string): Promise<Record<string, string>> {
  const { items } = await c.listAll<BGPAdvertisementObject>(Resources.bgpAdvertisements);
  const ad = items.find((a) => a.spec.cidr === cidr && !a.metadata.deletionTimestamp);
  return ad?.status?.peers ?? {};
}

Deno.test("e2e inline peers: a second ClusterBGP peers some nodes with the edge router", async (t) => {
  const prefix = randomPrefix("e2e");
  let client: KubeClient | undefined;
  try {
    const state = await clusterUp({ prefix, nodes: 3, edge: true });
    const c = client = clusterClient(state);
    assert.ok(state.controller, "this scenario needs tern's controller");
    assert.ok(state.edge, "the cluster has its edge router");
    const [n1, n2, n3] = state.plan.nodes.map((n) => n.name);
    const all = [n1, n2, n3];
    await waitSessionsEstablished(state);
    await waitFor("every spine BGPPeer (IPv4 and IPv6) Established", async () => {
      const m = await spinePeerSince(c, state);
      const v = Object.values(m);
      return v.length === 12 && v.every((x) => x && !x.startsWith("not")) ? true : undefined;
    }, 30_000);
    // Nothing peers with the edge router yet: its passive sessions wait.
    const idle = await edgeSessions(state.plan, state.edge);
    for (const n of all) assert.notEqual(idle[n], "Established", `${n} before the ClusterBGP`);

    await createNamespace(c, "edge");
    for (const n of state.plan.nodes) {
      await createPod(c, "edge", `p${n.index}`, { node: n.name, labels: { app: "web" } });
    }
    await waitPodsRunning(c, "edge", ["p1", "p2", "p3"]);
    const blocks = new Map<string, string>();
    for (const n of all) blocks.set(n, await waitNodeBlock(c, n));
    const ip = "203.0.113.80";
    const edgeOnly = "203.0.113.81";
    await createService(c, "edge", "web", "web", "Cluster", ip);
    await assignAddress(state, c, "edge", "web", ip);
    await waitNextHops(state, `${ip}/32`, all);

    const sinceBefore = await spinePeerSince(c, state);
    const marksBefore = await spineSessionMarks(state);
    const spinesUntouched = async (when: string) => {
      await waitSessionsEstablished(state, 10_000);
      assert.deepEqual(await spinePeerSince(c, state), sinceBefore, `spine peers' uptime ${when}`);
      const now = await spineSessionMarks(state);
      assert.deepEqual(now.marks, marksBefore.marks, `spine sessions ${when}`);
      for (const n of all) {
        const d = Math.abs(now.birdSince[n] - marksBefore.birdSince[n]);
        assert.ok(d < 1, `BIRD: ${n}'s session changed state ${when} (${d} s)`);
      }
    };

    await t.step("the ClusterBGP with an inline peer: peers for the selected nodes", async () => {
      await setEdgeLabel(c, n1, true);
      await setEdgeLabel(c, n2, true);
      // The same ASN and router id as the spine ClusterBGPs give the nodes.
      await c.create(Resources.clusterBGPs, edgeClusterBgp(CBGP, LABEL, { groups: ["edge"] }));
      const peers = await waitEdgeSessions(c, state, [n1, n2]);
      for (const [node, p] of peers) {
        assert.equal(p.metadata.name, `${CBGP}-${node}-${EDGE_ASN}-${EDGE_ADDRESS}`);
        assert.equal(p.spec.asn, EDGE_ASN);
        assert.equal(p.spec.addr, EDGE_ADDRESS);
        assert.equal(p.spec.holdTime, 9);
        assert.equal(p.spec.keepaliveTime, 3);
        assert.equal(p.spec.connectRetryTime, 2);
        assert.deepEqual((p.spec as { groups?: string[] }).groups, ["edge"]);
        assert.equal(p.metadata.labels?.["tern.dev/clusterbgp"], CBGP);
        assert.equal(
          p.status?.conditions?.find((x) => x.type === "Established")?.status,
          "True",
        );
      }
      const nb = await c.get<KubeObject>(Resources.nodeBGPs, n1);
      const spec = nb.spec as { asn: number; peers: Array<{ addr: string }> };
      assert.equal(spec.asn, state.plan.nodes[0].asn, "node-1 keeps its ASN");
      assert.deepEqual(
        spec.peers.map((p) => p.addr).sort(),
        [EDGE_ADDRESS, ...state.plan.spines.flatMap((s) => [s.address, s.address6])].sort(),
        "node-1's NodeBGP has the spines and the edge",
      );
      await waitFor("the ClusterBGP's status names its nodes", async () => {
        const cb = await c.get<KubeObject>(Resources.clusterBGPs, CBGP);
        const st = cb.status as { desiredNodes?: number; nodes?: string[] } | undefined;
        return st?.desiredNodes === 2 && JSON.stringify([...st.nodes ?? []].sort()) ===
            JSON.stringify([n1, n2])
          ? true
          : undefined;
      }, 20_000);
      await spinesUntouched("after the ClusterBGP was created");
    });

    await t.step("the edge router holds the Service address and the blocks via them", async () => {
      await waitEdgeRoute(state, `${ip}/32`, [n1, n2]);
      await waitEdgeRoute(state, blocks.get(n1)!, [n1]);
      await waitEdgeRoute(state, blocks.get(n2)!, [n2]);
      await waitEdgeRoute(state, blocks.get(n3)!, []);
      // A Service limited to the edge's peer group: the edge holds it, the spines never do.
      await createService(c, "edge", "web-edge", "web", "Cluster", edgeOnly, {
        "tern.dev/peer-groups": "edge",
      });
      await assignAddress(state, c, "edge", "web-edge", edgeOnly);
      await waitEdgeRoute(state, `${edgeOnly}/32`, [n1, n2]);
      for (let i = 0; i < 4; i++) {
        assert.deepEqual(await spineNextHops(state, 0, `${edgeOnly}/32`), [], "FRR: not routed");
        assert.deepEqual(await spineNextHops(state, 1, `${edgeOnly}/32`), [], "BIRD: not routed");
        await new Promise((r) => setTimeout(r, 500));
      }
      // Exactly what the advertisements aimed at the edge peers say, nothing a node learned.
      const want = JSON.stringify(
        [`${ip}/32`, `${edgeOnly}/32`, blocks.get(n1)!, blocks.get(n2)!].sort(),
      );
      let seen = "";
      await waitFor("the edge router holds nothing else", async () => {
        seen = JSON.stringify([...(await edgeRib(state.plan, state.edge!)).keys()].sort());
        return seen === want ? true : undefined;
      }, 10_000).catch((e) => {
        throw new Error(`${e.message}; last seen ${seen}`);
      });
      const peers = await edgePeers(c);
      await waitFor("the advertisements show Advertised to the edge peers", async () => {
        const only = await adPeers(c, `${edgeOnly}/32`);
        const names = [peers.get(n1)!.metadata.name!, peers.get(n2)!.metadata.name!].sort();
        if (JSON.stringify(Object.keys(only).sort()) !== JSON.stringify(names)) return undefined;
        if (!Object.values(only).every((v) => v === "Advertised")) return undefined;
        const svc = await adPeers(c, `${ip}/32`);
        const b1 = await adPeers(c, blocks.get(n1)!);
        return svc[peers.get(n1)!.metadata.name!] === "Advertised" &&
            svc[peers.get(n2)!.metadata.name!] === "Advertised" &&
            b1[peers.get(n1)!.metadata.name!] === "Advertised"
          ? true
          : undefined;
      }, 20_000);
      // The edge router sends nothing back: no node learned a path through it.
      for (const n of state.plan.nodes) {
        const r = await run(["ip", "-j", "-n", n.ns, "route", "show", "proto", "186"]);
        const via = JSON.stringify(JSON.parse(r.stdout || "[]"));
        assert.ok(!via.includes("198.19.224."), `${n.name} routes nothing via the edge: ${via}`);
      }
      // The fabric still routes the Service through every node.
      await waitNextHops(state, `${ip}/32`, all);
      await spinesUntouched("while the edge router holds the routes");
    });

    await t.step("relabelled nodes move in and out of the ClusterBGP", async () => {
      await setEdgeLabel(c, n3, true);
      await waitEdgeSessions(c, state, [n1, n2, n3]);
      await waitEdgeRoute(state, `${ip}/32`, all);
      await waitEdgeRoute(state, blocks.get(n3)!, [n3]);
      const oldPeer = (await edgePeers(c)).get(n1)!.metadata.name!;
      await setEdgeLabel(c, n1, false);
      await waitEdgeSessions(c, state, [n2, n3]);
      assert.equal(await c.tryGet(Resources.bgpPeers, oldPeer), undefined, "node-1's peer gone");
      await waitEdgeRoute(state, `${ip}/32`, [n2, n3]);
      await waitEdgeRoute(state, blocks.get(n1)!, []);
      const nb = await c.get<KubeObject>(Resources.nodeBGPs, n1);
      const addrs = (nb.spec as { peers: Array<{ addr: string }> }).peers.map((p) => p.addr);
      assert.ok(!addrs.includes(EDGE_ADDRESS), "node-1's NodeBGP no longer has the edge");
      await spinesUntouched("after relabelling");
    });

    await t.step("deleting the ClusterBGP removes its peers; the spines stay", async () => {
      await c.delete(Resources.clusterBGPs, CBGP);
      await waitFor("the inline ClusterBGP's peers deleted", async () => {
        return (await edgePeers(c)).size === 0 ? true : undefined;
      }, 30_000);
      await waitFor("the edge router has no session", async () => {
        const s = await edgeSessions(state.plan, state.edge!);
        return Object.values(s).every((v) => v !== "Established") ? true : undefined;
      }, 30_000);
      await waitEdgeRoute(state, `${ip}/32`, []);
      await waitEdgeRoute(state, `${edgeOnly}/32`, []);
      for (const n of all) await waitEdgeRoute(state, blocks.get(n)!, []);
      assert.deepEqual(await spineNextHops(state, 0, `${edgeOnly}/32`), [], "FRR: never routed");
      await waitNextHops(state, `${ip}/32`, all);
      await spinesUntouched("after the ClusterBGP was deleted");
    });

    await t.step(
      "an inline peer with a TCP-MD5 password from a Secret: up only with the right one",
      async () => {
        const SECRET = "bgp-edge-password";
        const good = "tern-md5-good", bad = "tern-md5-wrong";
        // The edge router asks node-2 and node-3 for the password (GoBGP `auth-password`).
        await reloadEdge(state, [n2, n3], good);
        // The key is left out: `password`.
        const cbgp = edgeClusterBgp(CBGP, LABEL, {
          passwordSecretRef: { name: SECRET, namespace: "kube-system" },
        });
        await c.create(Resources.clusterBGPs, cbgp);
        // No Secret yet: the peers are not run and say exactly what is missing.
        let last = "";
        await waitFor("the password peers report the missing Secret", async () => {
          const peers = await edgePeers(c);
          last = JSON.stringify([...peers].map(([n, p]) => [n, p.status]));
          const ok = JSON.stringify([...peers.keys()].sort()) === JSON.stringify([n2, n3]) &&
            [...peers.values()].every((p) =>
              p.status?.sessionState === "Idle" &&
              (p.status.lastError ?? "").includes(`Secret "kube-system/${SECRET}" does not exist`)
            );
          return ok ? true : undefined;
        }, 30_000).catch((e) => {
          throw new Error(`${e.message}; last seen ${last}`);
        });
        // A wrong password: the speakers run the peers, the edge drops their segments.
        await c.create(Resources.secrets, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: SECRET, namespace: "kube-system" },
          type: "Opaque",
          data: { password: btoa(bad) },
        } as unknown as KubeObject, "kube-system");
        await waitFor("the wrong-password peers run (no Secret error left)", async () => {
          const peers = await edgePeers(c);
          last = JSON.stringify([...peers].map(([n, p]) => [n, p.status]));
          return peers.size === 2 &&
              [...peers.values()].every((p) =>
                p.status?.sessionState !== undefined &&
                !(p.status.lastError ?? "").includes("passwordSecretRef")
              )
            ? true
            : undefined;
        }, 40_000).catch((e) => {
          throw new Error(`${e.message}; last seen ${last}`);
        });
        for (let i = 0; i < 10; i++) {
          const s = await edgeSessions(state.plan, state.edge!);
          assert.ok(Object.values(s).every((v) => v !== "Established"), JSON.stringify(s));
          for (const p of (await edgePeers(c)).values()) {
            assert.notEqual(p.status?.sessionState, "Established", "wrong password: not up");
            assert.equal(
              p.status?.conditions?.find((x) => x.type === "Established")?.status,
              "False",
            );
          }
          await new Promise((r) => setTimeout(r, 500));
        }
        // The right password in the Secret reaches the speakers: the sessions come up.
        await c.mergePatch(Resources.secrets, SECRET, { data: { password: btoa(good) } }, {
          namespace: "kube-system",
        });
        const peers = await waitEdgeSessions(c, state, [n2, n3], 60_000);
        for (const p of peers.values()) {
          const text = JSON.stringify(p.status);
          assert.ok(!text.includes(good) && !text.includes(btoa(good)), "no password in status");
        }
        await c.delete(Resources.clusterBGPs, CBGP);
        await waitFor("the password peers deleted", async () => {
          return (await edgePeers(c)).size === 0 ? true : undefined;
        }, 30_000);
        await c.delete(Resources.secrets, SECRET, { namespace: "kube-system" });
        await reloadEdge(state, [], "");
        await spinesUntouched("after the password ClusterBGP");
      },
    );

    await t.step("a ClusterBGP giving the nodes another ASN: refused, nothing moves", async () => {
      // The inline sample's fixed ASN (64600) for nodes the spine ClusterBGPs already give
      // their label ASN: the older ClusterBGPs win, this one reports the conflict.
      await c.create(Resources.clusterBGPs, {
        apiVersion: "tern.dev/v1alpha1",
        kind: "ClusterBGP",
        metadata: { name: CBGP },
        spec: {
          nodeSelector: { [LABEL]: "on" },
          asnSelector: { from: "asn", asn: 64600 },
          routerIdSelector: { from: "internalAddress" },
          peers: [{
            name: "edge",
            peerConfig: { asn: EDGE_ASN, addr: EDGE_ADDRESS, holdTime: 9, keepaliveTime: 3 },
            nodeBGPSelector: { [LABEL]: "on" },
          }],
        },
      } as unknown as KubeObject);
      let last = "";
      await waitFor("the ClusterBGP reports NodeConflict", async () => {
        const cb = await c.get<KubeObject>(Resources.clusterBGPs, CBGP);
        const st = cb.status as {
          desiredNodes?: number;
          nodes?: string[];
          conditions?: Array<{ type: string; status: string; reason: string }>;
        } | undefined;
        last = JSON.stringify(st);
        const ready = st?.conditions?.find((x) => x.type === "Ready");
        return st?.desiredNodes === 2 && (st.nodes ?? []).length === 0 &&
            ready?.status === "False" && ready.reason === "NodeConflict"
          ? true
          : undefined;
      }, 30_000).catch((e) => {
        throw new Error(`${e.message}; last seen ${last}`);
      });
      assert.equal((await edgePeers(c)).size, 0, "no peer from the refused ClusterBGP");
      for (const n of state.plan.nodes.slice(1)) {
        const nb = await c.get<KubeObject>(Resources.nodeBGPs, n.name);
        assert.equal((nb.spec as { asn: number }).asn, n.asn, `${n.name} keeps its ASN`);
      }
      await c.delete(Resources.clusterBGPs, CBGP);
      await spinesUntouched("after the conflicting ClusterBGP");
    });
  } finally {
    client?.close();
    await teardown(prefix);
  }
});
