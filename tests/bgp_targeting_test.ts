/**
 * Per-peer advertisement targeting in tern's BGP speaker: the `peers` field of an originated
 * prefix (configuration, control API, `ctl bgp announce --peer`), the RIB's export decision (a
 * targeted prefix reaches only its peers, retargeting moves it without touching anything else,
 * untargeted prefixes go everywhere), and a real-daemon check with FRR and BIRD as the two peers.
 */
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import {
  actor,
  ActorSystem,
  flattenSnapshot,
  startInspectionServer,
  supervisor,
} from "../runtime/mod.ts";
import { ConfigError, type OriginatedPrefix, validateConfig } from "../actors/bgp/config.ts";
import { bgpApiRoutes } from "../actors/bgp/http_api.ts";
import {
  type BestPathEvent,
  type ExportBatch,
  ribActor,
  type RibMsg,
} from "../actors/bgp/rib_actor.ts";
import type { Export, ExportTarget } from "../actors/bgp/rib.ts";
import type { PeerStatus } from "../actors/bgp/peer_actor.ts";
import {
  type ApplyResult,
  bgpPaths,
  bgpSupervisor,
  type SpeakerMsg,
} from "../actors/bgp/speaker_actor.ts";
import { runCtl } from "../actors/ctl/mod.ts";
import { Bird, birdConfig, Frr, frrConfig, Lab, Tern, ternConfig, waitFor } from "./bgp_lab.ts";

const BASE = { asn: 65001, routerId: "192.0.2.1" };
const PEERS = [
  { address: "192.0.2.60", asn: 65060, passive: true },
  { address: "192.0.2.61", asn: 65061, passive: true },
];

function configError(raw: unknown): ConfigError {
  try {
    validateConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("targeting config: `peers` of an originated prefix is validated, naming the field", () => {
  const cases: [unknown, string, RegExp][] = [
    ["192.0.2.60", "prefixes[0].peers", /not a list/],
    [[], "prefixes[0].peers", /empty/],
    [["192.0.2.60", "192.0.2.999"], "prefixes[0].peers[1]", /192\.0\.2\.999/],
    [["192.0.2.62"], "prefixes[0].peers[0]", /"192\.0\.2\.62" is not a configured peer/],
    [[7], "prefixes[0].peers[0]", /7/],
  ];
  for (const [peers, field, why] of cases) {
    const e = configError({
      ...BASE,
      peers: PEERS,
      prefixes: [{ prefix: "198.18.0.0/24", peers }],
    });
    assert.equal(e.field, field, e.message);
    assert.equal(e.code, "invalid_config");
    assert.match(e.message, why);
  }
  const ok = validateConfig({
    ...BASE,
    peers: [...PEERS, { address: "fd00::61", asn: 65061 }],
    prefixes: [
      { prefix: "198.18.0.0/24", peers: ["192.0.2.61", "192.0.2.60", "192.0.2.61"] },
      { prefix: "198.18.1.0/24", peers: ["fd00:0::61"] },
      { prefix: "198.18.2.0/24" },
    ],
  });
  assert.deepEqual(ok.prefixes.map((p) => p.peers), [
    ["192.0.2.60", "192.0.2.61"],
    ["fd00::61"],
    undefined,
  ], "canonical, sorted, without duplicates; left out = every peer");
});

/** A stand-in peer: applies the RIB's export batches to its own Adj-RIB-Out. */
function fakePeer(log: { prefixes: string[]; full: boolean }[], adjOut: Map<string, Export>) {
  return actor<ExportBatch>("fake-peer", () => ({
    receive(m) {
      log.push({ prefixes: [...m.prefixes], full: m.full });
      m.prefixes.forEach((p, i) => {
        const e = m.exports[i];
        if (e) adjOut.set(p, e);
        else adjOut.delete(p);
      });
    },
  }));
}

const target = (peer: string, nextHop4: string): ExportTarget => ({
  peer,
  ibgp: false,
  localAsn: 65001,
  nextHop4,
  families: ["ipv4"],
});

Deno.test("targeting RIB: a targeted prefix reaches only its peers; retargeting moves only it", async () => {
  const A = "192.0.2.60", B = "192.0.2.61";
  const X = "198.18.0.0/24", Y = "198.18.1.0/24", Z = "198.18.2.0/24";
  const system = new ActorSystem({ name: "r", logLevel: "error" });
  const logA: { prefixes: string[]; full: boolean }[] = [], logB: typeof logA = [];
  const outA = new Map<string, Export>(), outB = new Map<string, Export>();
  const events: BestPathEvent[] = [];
  await system.start(supervisor("r", {
    strategy: "one_for_one",
    children: [
      {
        id: "rib",
        def: ribActor({
          ...BASE,
          multipath: false,
          defaultLocalPref: 100,
          // X only to A, Y to everyone.
          prefixes: [{ prefix: X, origin: 0, peers: [A] }, { prefix: Y, origin: 0 }],
        }),
      },
      { id: "a", def: fakePeer(logA, outA) },
      { id: "b", def: fakePeer(logB, outB) },
      {
        id: "watcher",
        def: actor<BestPathEvent>("watcher", () => ({ receive: (m) => void events.push(m) })),
      },
    ],
  }));
  try {
    const rib = system.lookup<RibMsg>("/r/rib")!;
    const ask = <T>(f: (r: any) => RibMsg) => rib.ask<T>(f, { timeoutMs: 2000 });
    await ask((replyTo) => ({ type: "subscribe", ref: system.lookup("/r/watcher")!, replyTo }));
    await ask((replyTo) => ({
      type: "peerUp",
      target: target(A, "192.0.2.1"),
      ref: system.lookup("/r/a")!,
      replyTo,
    }));
    await ask((replyTo) => ({
      type: "peerUp",
      target: target(B, "192.0.2.1"),
      ref: system.lookup("/r/b")!,
      replyTo,
    }));
    const keys = (m: Map<string, Export>) => [...m.keys()].sort();
    const settle = () => ask((replyTo) => ({ type: "stats", replyTo }));
    await settle();
    assert.deepEqual(keys(outA), [X, Y], "A: its targeted prefix and the untargeted one");
    assert.deepEqual(keys(outB), [Y], "B: only the untargeted prefix");
    assert.deepEqual(logA.map((l) => l.full), [true]);
    // What the agent reads to write advertisement statuses: where each prefix is sent now.
    assert.deepEqual(
      await ask((replyTo) => ({
        type: "exportedTo",
        prefixes: [X, Y, "198.18.99.0/24"],
        replyTo,
      })),
      { [X]: [A], [Y]: [A, B], "198.18.99.0/24": [] },
    );
    await ask((replyTo) => ({
      type: "originate",
      prefix: { prefix: "fd00:99::/48", origin: 0 },
      replyTo,
    }));
    assert.deepEqual(
      await ask((replyTo) => ({ type: "exportedTo", prefixes: ["fd00:99::/48"], replyTo })),
      { "fd00:99::/48": [] },
      "IPv4-only sessions: an IPv6 prefix is sent nowhere",
    );
    await ask((replyTo) => ({ type: "unoriginate", prefix: "fd00:99::/48", replyTo }));
    logA.length = logB.length = 0;
    // The dump shows the targets.
    const dump = await ask<any[]>((replyTo) => ({ type: "dump", replyTo }));
    assert.deepEqual(dump.map((e) => [e.prefix, e.targets]), [[X, [A]], [Y, undefined]]);

    // Retarget X: A → B. A gets exactly a withdrawal of X, B exactly X; Y is not mentioned.
    logA.length = logB.length = 0;
    const eventsBefore = events.length;
    await ask((replyTo) => ({
      type: "originate",
      prefix: { prefix: X, origin: 0, peers: [B] },
      replyTo,
    }));
    await settle();
    assert.deepEqual(logA, [{ prefixes: [X], full: false }]);
    assert.deepEqual(logB, [{ prefixes: [X], full: false }]);
    assert.deepEqual(keys(outA), [Y]);
    assert.deepEqual(keys(outB), [X, Y]);
    assert.equal(events.length, eventsBefore, "no best-path change for a retarget");

    // The same targets again: nothing is sent to anyone.
    logA.length = logB.length = 0;
    await ask((replyTo) => ({
      type: "originate",
      prefix: { prefix: X, origin: 0, peers: [B] },
      replyTo,
    }));
    await settle();
    assert.deepEqual([logA, logB], [[], []]);

    // A whole new set (the speaker's reconfiguration path): X to both, Y only to A, Z new and
    // only to B. Each peer hears only about what changed for it.
    const next: OriginatedPrefix[] = [
      { prefix: X, origin: 0 },
      { prefix: Y, origin: 0, peers: [A] },
      { prefix: Z, origin: 0, peers: [B] },
    ];
    await ask((replyTo) => ({ type: "setOriginated", prefixes: next, replyTo }));
    await settle();
    assert.deepEqual(keys(outA), [X, Y]);
    assert.deepEqual(keys(outB), [X, Z]);
    // A: X (now aimed at it) only: Z, new and aimed elsewhere, was never sent to A, so A gets no
    // withdrawal of it; B: Y (withdrawn) and Z. Nobody hears about a prefix whose targets kept it.
    assert.deepEqual(logA.flatMap((l) => l.prefixes).sort(), [X]);
    assert.deepEqual(logB.flatMap((l) => l.prefixes).sort(), [Y, Z]);
    assert.deepEqual(outA.get(X), outB.get(X), "the same route to both");

    // New attributes and new targets together: a normal change, with the targets applied.
    await ask((replyTo) => ({
      type: "originate",
      prefix: { prefix: X, origin: 0, med: 5, peers: [A] },
      replyTo,
    }));
    await settle();
    assert.equal(outA.get(X)?.attrs.med, 5);
    assert.equal(outB.has(X), false);

    // Re-registering A (a session coming up again, or a live reconfiguration): its full table
    // has the targets applied.
    outA.clear();
    await ask((replyTo) => ({
      type: "peerUp",
      target: target(A, "192.0.2.1"),
      ref: system.lookup("/r/a")!,
      replyTo,
    }));
    await settle();
    assert.deepEqual(keys(outA), [X, Y]);
    assert.deepEqual(logA.at(-1)?.full, true);

    // Unoriginating forgets the targets: originated again without them, it goes everywhere.
    await ask((replyTo) => ({ type: "unoriginate", prefix: X, replyTo }));
    await ask((replyTo) => ({ type: "originate", prefix: { prefix: X, origin: 0 }, replyTo }));
    await settle();
    assert.ok(outA.has(X) && outB.has(X));
  } finally {
    await system.shutdown();
  }
});

Deno.test("targeting API: POST /api/bgp/paths and ctl bgp announce --peer", async () => {
  const config = validateConfig({
    ...BASE,
    listen: false,
    api: { port: 0 },
    peers: PEERS,
    prefixes: [{ prefix: "203.0.113.0/24", peers: ["192.0.2.61"] }],
  });
  const system = new ActorSystem({ name: "t", logLevel: "error" });
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [{ id: "bgp", def: bgpSupervisor("t", config) }],
  }));
  const server = await startInspectionServer({
    system,
    routes: bgpApiRoutes(system, bgpPaths("t").speaker),
  });
  try {
    const out: string[] = [], err: string[] = [];
    const ctl = (...a: string[]) =>
      runCtl([...a, "--api", server.url], { out: (l) => out.push(l), err: (l) => err.push(l) });
    assert.equal(
      await ctl("bgp", "announce", "198.18.0.0/24", "--peer", "192.0.2.60", "--peer", "192.0.2.61"),
      0,
    );
    assert.equal(await ctl("bgp", "announce", "198.18.1.0/24"), 0);
    out.length = 0;
    assert.equal(await ctl("bgp", "rib", "--json"), 0);
    const j = JSON.parse(out.join("\n"));
    assert.deepEqual(j.routes.map((r: any) => [r.prefix, r.targets]), [
      ["198.18.0.0/24", ["192.0.2.60", "192.0.2.61"]],
      ["198.18.1.0/24", undefined],
      ["203.0.113.0/24", ["192.0.2.61"]],
    ]);
    out.length = 0;
    assert.equal(await ctl("bgp", "rib"), 0);
    assert.match(out.join("\n"), /203\.0\.113\.0\/24\s+\(local\).*local -> 192\.0\.2\.61/);
    // Errors name the field and quote the value; nothing changes.
    assert.equal(await ctl("bgp", "announce", "198.18.2.0/24", "--peer", "192.0.2.99"), 1);
    assert.match(err.join("\n"), /body\.peers.*"192\.0\.2\.99" is not a configured peer/);
    const bad = await fetch(`${server.url}/api/bgp/paths`, {
      method: "POST",
      body: JSON.stringify({ prefix: "198.18.2.0/24", peers: ["192.0.2.60", "x"] }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.field, "body.peers[1]");
    const empty = await fetch(`${server.url}/api/bgp/paths`, {
      method: "POST",
      body: JSON.stringify({ prefix: "198.18.2.0/24", peers: [] }),
    });
    assert.equal(empty.status, 400);
    assert.equal((await empty.json()).error.field, "body.peers");
    out.length = 0;
    assert.equal(await ctl("bgp", "rib", "--json"), 0);
    assert.equal(JSON.parse(out.join("\n")).routes.length, 3, "the failed calls changed nothing");

    // A live reconfiguration (a third peer, the prefix retargeted to it), then the speaker
    // crashes: restarted, it resumes the last applied configuration, not the first one.
    const speaker = system.lookup<SpeakerMsg>(bgpPaths("t").speaker)!;
    const next = validateConfig({
      ...BASE,
      listen: false,
      api: { port: 0 },
      peers: [...PEERS, { address: "192.0.2.62", asn: 65062, passive: true }],
      prefixes: [{ prefix: "203.0.113.0/24", peers: ["192.0.2.62"] }],
    });
    const applied = await speaker.ask<ApplyResult>(
      (replyTo) => ({ type: "applyConfig", config: next, replyTo }),
      { timeoutMs: 5000 },
    );
    assert.deepEqual(applied.added, ["192.0.2.62"]);
    speaker.tell({ type: "listenerFailed", error: "crash requested by the test" });
    const neighbors = () =>
      speaker.ask<PeerStatus[]>((replyTo) => ({ type: "neighbors", replyTo }), { timeoutMs: 2000 })
        .then((n) => n.map((x) => x.address).sort(), () => []);
    await waitFor(
      "the speaker restarted",
      () =>
        flattenSnapshot(system.snapshot().root).find((a) => a.path === "/t/bgp/speaker")
          ?.restarts === 1,
      5000,
      20,
    );
    assert.deepEqual(await neighbors(), ["192.0.2.60", "192.0.2.61", "192.0.2.62"]);
    out.length = 0;
    assert.equal(await ctl("bgp", "rib", "--json"), 0);
    assert.deepEqual(
      JSON.parse(out.join("\n")).routes.map((r: any) => [r.prefix, r.targets]),
      [["203.0.113.0/24", ["192.0.2.62"]]],
    );
  } finally {
    await server.close();
    await system.shutdown();
  }
});

Deno.test("targeting interop: FRR and BIRD peers, one prefix targeted, then moved", async () => {
  const lab = await Lab.create("bgptgt", 2);
  const [pf, pb] = lab.peers;
  const frr = new Frr(lab, pf.ns), bird = new Bird(lab, pb.ns);
  let tern: Tern | null = null;
  const X = "198.18.10.0/24", Y = "198.18.11.0/24";
  try {
    await frr.start(frrConfig({
      routerId: pf.v4,
      asn: 65002,
      neighbor: pf.ternV4,
      neighborAsn: 65001,
      nextHop6: pf.v6,
    }));
    await bird.start(birdConfig({
      routerId: pb.v4,
      local: pb.v4,
      asn: 65003,
      neighbor: pb.ternV4,
      neighborAsn: 65001,
      nextHop6: pb.v6,
    }));
    tern = await Tern.start(
      lab,
      ternConfig({
        asn: 65001,
        routerId: pf.ternV4,
        peers: [
          { address: pf.v4, asn: 65002, holdTime: 3, connectRetryTime: 1, families: ["ipv4"] },
          { address: pb.v4, asn: 65003, holdTime: 3, connectRetryTime: 1, families: ["ipv4"] },
        ],
        // X only to FRR; Y to both.
        prefixes: [{ prefix: X, peers: [pf.v4] }, { prefix: Y }],
      }),
    );
    const t = tern;
    const frrHas = async () => Object.keys(await frr.routes("ipv4")).sort();
    const birdHas = async () => [...(await bird.routes()).keys()].sort();
    await waitFor("FRR: X and Y", async () => (await frrHas()).join() === [X, Y].join(), 30_000);
    await waitFor("BIRD: Y", async () => (await birdHas()).join() === Y, 30_000);
    // Both daemons' own views: BIRD never got X.
    assert.deepEqual(await birdHas(), [Y]);
    assert.equal((await t.neighbor(pf.v4)).prefixesSent, 2);
    assert.equal((await t.neighbor(pb.v4)).prefixesSent, 1);

    // Move X to BIRD through the API (announce again with other peers).
    const r = await t.call("POST", "/api/bgp/paths", { prefix: X, peers: [pb.v4] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    await waitFor("FRR: X withdrawn", async () => (await frrHas()).join() === Y, 15_000);
    await waitFor("BIRD: X and Y", async () => (await birdHas()).join() === [X, Y].join(), 15_000);
    // No session was reset, and Y stayed on both all along.
    for (const a of [pf.v4, pb.v4]) {
      const n = await t.neighbor(a);
      assert.equal(n.state, "Established");
      assert.equal(n.establishedCount, 1, `${a} was not reset`);
    }
    assert.equal(await bird.state(), "Established");
    const frrY = (await frr.routes("ipv4"))[Y];
    assert.ok(frrY, "FRR still holds Y");

    // Back to every peer.
    assert.equal((await t.call("POST", "/api/bgp/paths", { prefix: X })).status, 201);
    await waitFor("FRR: X back", async () => (await frrHas()).join() === [X, Y].join(), 15_000);
    assert.deepEqual(await birdHas(), [X, Y]);
    assert.equal(await t.stop(), 0);
    tern = null;
  } catch (e) {
    if (tern) console.error(await tern.log());
    throw e;
  } finally {
    await lab.destroy();
  }
});
