/**
 * `exportLearned: false`: a speaker that announces only what it originates, never routes it
 * learned (a Kubernetes node must not be transit between its peers). Found by the inline-peers
 * end-to-end scenario: a node passed the other nodes' pod blocks, learned from the spines, on to
 * the edge router of a second ClusterBGP. The agent's speaker configuration asks for it.
 */
import { PrefixList } from "../actors/bgp/prefix_list.ts";
import assert from "node:assert/strict";
import { actor, supervisor } from "../runtime/mod.ts";
import { ConfigError, validateConfig } from "../actors/bgp/config.ts";
import { SegmentType } from "../actors/bgp/constants.ts";
import type { Route, RouteSource } from "../actors/bgp/rib.ts";
import { type ExportBatch, ribActor, type RibMsg } from "../actors/bgp/rib_actor.ts";
import { speakerConfigFor } from "../actors/agent_bgp/desired.ts";
import { testSystem, waitUntil } from "./runtime_fixtures.ts";

Deno.test("bgp config: exportLearned defaults to true, takes a boolean, refuses anything else", () => {
  const base = { asn: 65101, routerId: "198.19.254.11" };
  assert.equal(validateConfig(base).exportLearned, true);
  assert.equal(validateConfig({ ...base, exportLearned: false }).exportLearned, false);
  assert.throws(
    () => validateConfig({ ...base, exportLearned: "no" }),
    (e) => e instanceof ConfigError && /exportLearned/.test(e.message) && /"no"/.test(e.message),
  );
});

Deno.test("agent_bgp: the node's speaker exports only what it originates", () => {
  const cfg = speakerConfigFor(
    { metadata: { name: "node-1" }, spec: { asn: 65101, routerId: "198.19.254.11" } },
    [{
      metadata: { name: "edge" },
      spec: { node: "node-1", asn: 64700, addr: "192.0.2.10", holdTime: 9, keepaliveTime: 3 },
    }],
    ["198.18.0.0/26"],
  );
  assert.equal(cfg.exportLearned, false);
});

const spine: RouteSource = {
  peer: "192.0.2.1",
  asn: 65001,
  bgpId: "192.0.2.1",
  ibgp: false,
  local: false,
};

function learned(asns: number[]): Route {
  return {
    source: spine,
    attrs: {
      origin: 0,
      asPath: [{ type: SegmentType.AS_SEQUENCE, asns }],
      nextHop: "192.0.2.64",
    },
    nextHop: "192.0.2.64",
    stale: false,
  };
}

/** Runs a RIB with one recording export peer; returns what the peer was sent, per prefix. */
async function scenario(exportLearned: boolean | undefined) {
  const { system } = testSystem("t");
  const batches: ExportBatch[] = [];
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [
      {
        id: "rib",
        def: ribActor({
          asn: 65101,
          routerId: "198.19.254.11",
          multipath: true,
          defaultLocalPref: 100,
          ...(exportLearned === undefined ? {} : { exportLearned }),
          prefixes: [{ prefix: "198.18.0.0/26", origin: 0 }],
        }),
      },
      {
        id: "edge",
        def: actor<ExportBatch>("recorder", () => ({
          receive(m) {
            batches.push(m);
          },
        })),
      },
    ],
  }));
  const rib = system.lookup<RibMsg>("/t/rib")!;
  const edge = system.lookup<ExportBatch>("/t/edge")!;
  /** Prefix → AS path sent (as text), or "withdrawn"; the last word wins. */
  const sent = () => {
    const out = new Map<string, string>();
    for (const b of batches) {
      if (b.full) out.clear();
      b.prefixes.forEach((p, i) => {
        const e = b.exports[i];
        out.set(p, e ? e.attrs.asPath!.flatMap((s) => s.asns).join(" ") : "withdrawn");
      });
    }
    return out;
  };
  try {
    await rib.ask((replyTo) => ({
      type: "peerUp",
      target: {
        peer: "192.0.2.10",
        ibgp: false,
        localAsn: 65101,
        nextHop4: "198.19.224.1",
        families: ["ipv4"],
      },
      ref: edge,
      replyTo,
    }), { timeoutMs: 2_000 });
    // From a spine: another node's block, and a LoadBalancer address that this node then
    // announces too (its own path wins) and stops announcing (the learned one is left).
    await rib.ask((replyTo) => ({
      type: "routes",
      source: spine,
      prefixes: PrefixList.from(["198.18.0.64/26", "203.0.113.80/32"]),
      routes: [learned([65001, 65102]), learned([65001, 65102])],
      replyTo,
    }), { timeoutMs: 2_000 });
    await rib.ask((replyTo) => ({
      type: "originate",
      prefix: { prefix: "203.0.113.80/32", origin: 0 },
      replyTo,
    }), { timeoutMs: 2_000 });
    // Exports reach the recorder after the RIB answered: wait (bounded) for the expected word,
    // then assert on what arrived.
    const soft = (cond: () => boolean) => waitUntil(cond, 2_000).catch(() => {});
    await soft(() => sent().get("203.0.113.80/32") === "65101" && sent().has("198.18.0.0/26"));
    const withOwn = sent();
    await rib.ask((replyTo) => ({ type: "unoriginate", prefix: "203.0.113.80/32", replyTo }), {
      timeoutMs: 2_000,
    });
    const after = exportLearned === false ? "withdrawn" : "65101 65001 65102";
    await soft(() => sent().get("203.0.113.80/32") === after);
    return { withOwn, afterUnoriginate: sent() };
  } finally {
    await system.shutdown();
  }
}

Deno.test("bgp rib: exportLearned false sends only originated prefixes, its own path for each", async () => {
  const { withOwn, afterUnoriginate } = await scenario(false);
  assert.equal(withOwn.get("198.18.0.0/26"), "65101", "its own block");
  assert.notEqual(withOwn.get("198.18.0.64/26") ?? "withdrawn", "65101 65001 65102");
  assert.equal(withOwn.get("198.18.0.64/26") ?? "withdrawn", "withdrawn", "no transit");
  assert.equal(withOwn.get("203.0.113.80/32"), "65101", "its own path");
  assert.equal(
    afterUnoriginate.get("203.0.113.80/32"),
    "withdrawn",
    "withdrawn once no longer originated, though a learned path is left",
  );
});

Deno.test("bgp rib: by default learned best paths are passed on (a router's behaviour)", async () => {
  const { withOwn, afterUnoriginate } = await scenario(undefined);
  assert.equal(withOwn.get("198.18.0.0/26"), "65101");
  assert.equal(withOwn.get("198.18.0.64/26"), "65101 65001 65102");
  assert.equal(withOwn.get("203.0.113.80/32"), "65101");
  assert.equal(afterUnoriginate.get("203.0.113.80/32"), "65101 65001 65102");
});
