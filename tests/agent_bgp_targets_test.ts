/**
 * Per-peer targets of originated prefixes: a prefix goes only to the peers its advertisements
 * name (a Service limited to the `edge` peer group reaches the edge router, not the spines).
 * Before, the node's speaker sent every prefix aimed at any of its peers to all of them.
 */
import assert from "node:assert/strict";
import { actor, supervisor } from "../runtime/mod.ts";
import { ConfigError, parseOriginated, validateConfig } from "../actors/bgp/config.ts";
import { SegmentType } from "../actors/bgp/constants.ts";
import { type ExportBatch, ribActor, type RibMsg } from "../actors/bgp/rib_actor.ts";
import {
  type BGPAdvertisementObject,
  type BGPPeerObject,
  nodeOrigination,
  speakerConfigFor,
} from "../actors/agent_bgp/desired.ts";
import { testSystem, waitUntil } from "./runtime_fixtures.ts";

function peer(name: string, addr: string): BGPPeerObject {
  return { metadata: { name }, spec: { node: "node-1", asn: 65001, addr } };
}
function ad(cidr: string, peers: string[], type = "service"): BGPAdvertisementObject {
  return { metadata: { name: cidr, namespace: "x" }, spec: { cidr, type, peers } };
}

const mine = [peer("spine0", "192.0.2.1"), peer("spine1", "192.0.2.2"), peer("edge", "192.0.2.10")];

Deno.test("agent_bgp: each prefix goes to the peers its advertisements name", () => {
  const out = nodeOrigination(mine, [
    ad("198.18.0.0/26", ["spine0", "spine1", "edge"], "pod"),
    ad("203.0.113.80/32", ["edge", "other-node-peer"]),
    ad("203.0.113.81/32", ["spine1"]),
    ad("203.0.113.81/32", ["spine0"]),
    ad("203.0.113.82/32", ["other-node-peer"]),
  ]);
  assert.deepEqual(out, [
    { prefix: "198.18.0.0/26" },
    { prefix: "203.0.113.80/32", peers: ["192.0.2.10"] },
    { prefix: "203.0.113.81/32", peers: ["192.0.2.1", "192.0.2.2"] },
  ]);
  assert.deepEqual(nodeOrigination(mine, [ad("198.18.0.0/26", ["edge"], "pod")], ["service"]), []);
  const cfg = speakerConfigFor(
    { metadata: { name: "node-1" }, spec: { asn: 65101, routerId: "198.19.254.11" } },
    mine,
    out,
  );
  assert.deepEqual(cfg.prefixes.map((p) => [p.prefix, p.peers]), [
    ["198.18.0.0/26", undefined],
    ["203.0.113.80/32", ["192.0.2.10"]],
    ["203.0.113.81/32", ["192.0.2.1", "192.0.2.2"]],
  ]);
});

Deno.test("bgp config: an originated prefix's peers are addresses, canonical and sorted", () => {
  const p = parseOriginated({ prefix: "fd00::/64", peers: ["fd00:0::2", "fd00::1"] }, "p");
  assert.deepEqual(p.peers, ["fd00::1", "fd00::2"]);
  assert.equal(parseOriginated({ prefix: "198.18.0.0/26" }, "p").peers, undefined);
  assert.throws(
    () =>
      validateConfig({
        asn: 65101,
        routerId: "198.19.254.11",
        prefixes: [{ prefix: "198.18.0.0/26", peers: ["spine0"] }],
      }),
    (e) => e instanceof ConfigError && /prefixes\[0\]\.peers\[0\]/.test(e.message),
  );
  assert.throws(() => parseOriginated({ prefix: "198.18.0.0/26", peers: "x" }, "p"), ConfigError);
});

Deno.test("bgp rib: an originated prefix reaches only its peers, and follows retargeting", async () => {
  const { system } = testSystem("t");
  const got = new Map<string, Map<string, boolean>>([["a", new Map()], ["b", new Map()]]);
  const recorder = (id: string) =>
    actor<ExportBatch>("recorder", () => ({
      receive(m) {
        const seen = got.get(id)!;
        if (m.full) seen.clear();
        m.prefixes.forEach((p, i) => seen.set(p, m.exports[i] !== null));
      },
    }));
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [
      {
        id: "rib",
        def: ribActor({
          asn: 65101,
          routerId: "198.19.254.11",
          // Single path: a retargeting that keeps the best path reports no best-path change.
          multipath: false,
          defaultLocalPref: 100,
          prefixes: [
            { prefix: "198.18.0.0/26", origin: 0 },
            { prefix: "203.0.113.80/32", origin: 0, peers: ["192.0.2.10"] },
          ],
        }),
      },
      { id: "a", def: recorder("a") },
      { id: "b", def: recorder("b") },
    ],
  }));
  try {
    const rib = system.lookup<RibMsg>("/t/rib")!;
    const up = (id: string, addr: string) =>
      rib.ask((replyTo) => ({
        type: "peerUp",
        target: {
          peer: addr,
          ibgp: false,
          localAsn: 65101,
          nextHop4: "198.19.224.1",
          families: ["ipv4"],
        },
        ref: system.lookup<ExportBatch>(`/t/${id}`)!,
        replyTo,
      }), { timeoutMs: 2_000 });
    await up("a", "192.0.2.1"); // a spine
    await up("b", "192.0.2.10"); // the edge
    const state = () =>
      JSON.stringify([...got].map(([id, m]) => [id, Object.fromEntries([...m].sort())]));
    const want1 = JSON.stringify([
      ["a", { "198.18.0.0/26": true }],
      ["b", { "198.18.0.0/26": true, "203.0.113.80/32": true }],
    ]);
    await waitUntil(() => state() === want1, 2_000).catch(() => {});
    assert.equal(state(), want1, "the Service address only to the edge");
    // The address is also learned from the spine (other nodes announce it too): the local
    // route stays best, so a retargeting changes no best path, yet must move the export.
    await rib.ask((replyTo) => ({
      type: "routes",
      source: { peer: "192.0.2.1", asn: 65001, bgpId: "192.0.2.1", ibgp: false, local: false },
      prefixes: ["203.0.113.80/32"],
      routes: [{
        source: { peer: "192.0.2.1", asn: 65001, bgpId: "192.0.2.1", ibgp: false, local: false },
        attrs: {
          origin: 0,
          asPath: [{ type: SegmentType.AS_SEQUENCE, asns: [65001, 65102] }],
          nextHop: "192.0.2.64",
        },
        nextHop: "192.0.2.64",
        stale: false,
      }],
      replyTo,
    }), { timeoutMs: 2_000 });
    // Retargeted to the spine only.
    await rib.ask((replyTo) => ({
      type: "setOriginated",
      prefixes: [
        { prefix: "198.18.0.0/26", origin: 0 },
        { prefix: "203.0.113.80/32", origin: 0, peers: ["192.0.2.1"] },
      ],
      replyTo,
    }), { timeoutMs: 2_000 });
    const want2 = JSON.stringify([
      ["a", { "198.18.0.0/26": true, "203.0.113.80/32": true }],
      ["b", { "198.18.0.0/26": true, "203.0.113.80/32": false }],
    ]);
    await waitUntil(() => state() === want2, 2_000).catch(() => {});
    assert.equal(state(), want2, "moved from the edge to the spine");
  } finally {
    await system.shutdown();
  }
});
