/**
 * End to end: per-peer advertisement targeting (MetalLB's `BGPAdvertisement.spec.peers`, sart's
 * advertisement targets). A LoadBalancer Service annotated `tern.dev/peer-groups: to-spine0` is
 * held by the FRR spine and not by the BIRD spine; moving the annotation to `to-spine1` moves
 * it, with no session reset. A hand-written BGPAdvertisement naming single BGPPeers (node ×
 * spine) reaches exactly those sessions and follows its `spec.peers` when they change. Each
 * advertisement's per-peer status says Advertised exactly for the sessions it is sent over.
 */
import assert from "node:assert/strict";
import { Resources } from "../actors/kube/mod.ts";
import type { BGPAdvertisementObject, BGPPeerObject } from "../actors/agent_bgp/desired.ts";
import { birdc, vtysh } from "../actors/sim/topology.ts";
import type { ClusterState } from "../actors/sim/cluster.ts";
import type { KubeClient } from "../actors/kube/mod.ts";
import {
  assignAddress,
  createNamespace,
  createService,
  peerNameOf,
  spineNextHops,
  waitFor,
  waitSessionsEstablished,
  withCluster,
} from "./e2e_helpers.ts";

const ALL = ["node-1", "node-2", "node-3"];

/** Where each spine routes `prefix` (node names), read from their kernel tables. */
async function held(s: ClusterState, prefix: string) {
  const fi = s.plan.spines.findIndex((x) => x.kind === "frr");
  const bi = s.plan.spines.findIndex((x) => x.kind === "bird");
  return { frr: await spineNextHops(s, fi, prefix), bird: await spineNextHops(s, bi, prefix) };
}

/** Waits until the FRR spine routes `prefix` via `frr` and the BIRD spine via `bird`. */
async function waitHeld(s: ClusterState, prefix: string, frr: string[], bird: string[]) {
  const want = JSON.stringify({ frr, bird });
  let last = "";
  await waitFor(
    `${prefix} held as ${want}`,
    async () => {
      last = JSON.stringify(await held(s, prefix));
      return last === want ? true : undefined;
    },
    30_000,
    250,
  ).catch((e) => {
    throw new Error(`${e.message}; last seen ${last}`);
  });
}

/** Whether each daemon's own BGP table (vtysh, birdc) holds `prefix`. */
async function daemonsHold(s: ClusterState, prefix: string) {
  const frr = s.plan.spines.find((x) => x.kind === "frr")!;
  const bird = s.plan.spines.find((x) => x.kind === "bird")!;
  const f = JSON.parse((await vtysh(s.runDir, frr, `show bgp ipv4 unicast ${prefix} json`)).stdout);
  // The whole table (`show route for X` fails when X is not there): the prefix's entry lines.
  const b = (await birdc(s.runDir, bird, "show", "route", "all")).stdout;
  return {
    frr: Array.isArray(f.paths) && f.paths.length > 0 && f.prefix === prefix,
    bird: b.split("\n").some((l) => l.startsWith(`${prefix} `)),
  };
}

/** `establishedSince` of every BGPPeer, by name: unchanged = no session reset. */
async function establishedSince(c: KubeClient): Promise<Record<string, string | undefined>> {
  const { items } = await c.listAll<BGPPeerObject>(Resources.bgpPeers);
  return Object.fromEntries(items.map((p) => [p.metadata.name!, p.status?.establishedSince]));
}

type Ad = BGPAdvertisementObject;

/** Waits until an advertisement's per-peer status is exactly `want` (name → state). */
async function waitAdStatus(
  c: KubeClient,
  name: string,
  namespace: string,
  want: Record<string, string>,
) {
  const w = JSON.stringify(Object.entries(want).sort());
  let last = "";
  await waitFor(
    `status of ${namespace}/${name} = ${w}`,
    async () => {
      const a = await c.tryGet<Ad>(Resources.bgpAdvertisements, name, namespace);
      last = JSON.stringify(Object.entries(a?.status?.peers ?? {}).sort());
      return last === w ? true : undefined;
    },
    30_000,
    300,
  ).catch((e) => {
    throw new Error(`${e.message}; last seen ${last}`);
  });
}

Deno.test("e2e peer targeting: peer groups and spec.peers choose the sessions, live", async (t) => {
  await withCluster(async ({ state, client }) => {
    await waitSessionsEstablished(state);
    const frr = state.plan.spines.find((x) => x.kind === "frr")!;
    const bird = state.plan.spines.find((x) => x.kind === "bird")!;
    const peerOf = (node: string, spine: typeof frr) => peerNameOf(client, node, spine.address);
    await waitFor("every BGPPeer shows its session", async () => {
      const s = await establishedSince(client);
      // 3 nodes × 2 spines × 2 families (IPv4 and IPv6 sessions).
      return Object.keys(s).length === 12 && Object.values(s).every(Boolean) ? true : undefined;
    }, 30_000);
    const since = await establishedSince(client);

    await t.step("a Service with tern.dev/peer-groups goes to its group's spine only", async () => {
      if (!state.controller) return; // peer groups are resolved by the controller
      const ip = "203.0.113.40", prefix = `${ip}/32`;
      await createNamespace(client, "tgt");
      await createService(client, "tgt", "grouped", "nothing", "Cluster", ip, {
        "tern.dev/peer-groups": `to-${frr.id}`,
      });
      await assignAddress(state, client, "tgt", "grouped", ip);
      await waitHeld(state, prefix, ALL, []);
      assert.deepEqual(await daemonsHold(state, prefix), { frr: true, bird: false });
      const ads = await client.listAll<Ad>(
        Resources.bgpAdvertisements,
        { namespace: "tgt" },
      );
      assert.equal(ads.items.length, 1);
      const adName = ads.items[0].metadata.name!;
      const frrPeers = await Promise.all(ALL.map((n) => peerOf(n, frr)));
      const birdPeers = await Promise.all(ALL.map((n) => peerOf(n, bird)));
      assert.deepEqual([...(ads.items[0].spec.peers ?? [])].sort(), [...frrPeers].sort());
      await waitAdStatus(
        client,
        adName,
        "tgt",
        Object.fromEntries(frrPeers.map((p) => [p, "Advertised"])),
      );

      // Move it to the BIRD spine's group.
      await client.mergePatch(Resources.services, "grouped", {
        metadata: { annotations: { "tern.dev/peer-groups": `to-${bird.id}` } },
      }, { namespace: "tgt" });
      await waitHeld(state, prefix, [], ALL);
      assert.deepEqual(await daemonsHold(state, prefix), { frr: false, bird: true });
      await waitAdStatus(
        client,
        adName,
        "tgt",
        Object.fromEntries(birdPeers.map((p) => [p, "Advertised"])),
      );
      await client.delete(Resources.services, "grouped", { namespace: "tgt" });
      await waitHeld(state, prefix, [], []);
    });

    await t.step("a BGPAdvertisement's spec.peers picks single sessions and moves", async () => {
      const ns = "tern-system", name = "targeted", prefix = "198.19.100.0/24";
      const f1 = await peerOf("node-1", frr), f2 = await peerOf("node-2", frr);
      const b3 = await peerOf("node-3", bird);
      await client.create(Resources.bgpAdvertisements, {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BGPAdvertisement",
        metadata: { name, namespace: ns },
        spec: { cidr: prefix, type: "service", family: "ipv4", peers: [f1, f2] },
      });
      // node-1 and node-2 send it to FRR only; node-3 not at all.
      await waitHeld(state, prefix, ["node-1", "node-2"], []);
      await waitAdStatus(client, name, ns, { [f1]: "Advertised", [f2]: "Advertised" });
      // Retarget: node-1 keeps FRR, node-2 drops it, node-3 sends it to BIRD.
      await client.mergePatch(Resources.bgpAdvertisements, name, {
        spec: { peers: [f1, b3] },
      }, { namespace: ns });
      await waitHeld(state, prefix, ["node-1"], ["node-3"]);
      await waitAdStatus(client, name, ns, { [f1]: "Advertised", [b3]: "Advertised" });
      await client.delete(Resources.bgpAdvertisements, name, { namespace: ns });
      await waitHeld(state, prefix, [], []);
    });

    // No session was reset by any of it.
    await waitSessionsEstablished(state);
    assert.deepEqual(await establishedSince(client), since);
  });
});
