/**
 * The speaker role: configuration validation (errors name the field, the process exits 2),
 * the control API and `ctl bgp ...` against an in-process actor tree, best-path
 * subscriptions, and live configuration changes that touch only what changed.
 */
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { actor, ActorSystem, startInspectionServer, supervisor } from "../runtime/mod.ts";
import { ConfigError, parseConfig, validateConfig } from "../actors/bgp/config.ts";
import { bgpApiRoutes } from "../actors/bgp/http_api.ts";
import type { BestPathEvent, RibMsg } from "../actors/bgp/rib_actor.ts";
import { bgpPaths, bgpSupervisor } from "../actors/bgp/speaker_actor.ts";
import { runCtl } from "../actors/ctl/mod.ts";
import { Bird, birdConfig, Lab, run, Tern, ternConfig, waitFor } from "./bgp_lab.ts";

const ROOT = new URL("..", import.meta.url).pathname;

function configError(raw: unknown): ConfigError {
  try {
    validateConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

const BASE = { asn: 65001, routerId: "192.0.2.1" };

Deno.test("config: every invalid field is named", () => {
  const cases: [unknown, string][] = [
    [{ routerId: "192.0.2.1" }, "asn"],
    [{ ...BASE, asn: 0 }, "asn"],
    [{ ...BASE, routerId: "fd00::1" }, "routerId"],
    [{ ...BASE, routerId: "0.0.0.0" }, "routerId"],
    [{ ...BASE, listen: { port: 70000 } }, "listen.port"],
    [{ ...BASE, bogus: 1 }, "bogus"],
    [{ ...BASE, peers: [{ address: "192.0.2.9" }] }, "peers[0].asn"],
    [{ ...BASE, peers: [{ address: "192.0.2.999", asn: 1 }] }, "peers[0].address"],
    [{ ...BASE, peers: [{ address: "192.0.2.9", asn: 1, holdTime: 2 }] }, "peers[0].holdTime"],
    [
      { ...BASE, peers: [{ address: "192.0.2.9", asn: 1, families: ["ipx"] }] },
      "peers[0].families[0]",
    ],
    [{ ...BASE, peers: [{ address: "192.0.2.9", asn: 1, passive: "yes" }] }, "peers[0].passive"],
    [
      {
        ...BASE,
        peers: [{ address: "192.0.2.9", asn: 1, gracefulRestart: { restartTime: 5000 } }],
      },
      "peers[0].gracefulRestart.restartTime",
    ],
    [
      { ...BASE, peers: [{ address: "192.0.2.9", asn: 1 }, { address: "192.0.2.9", asn: 2 }] },
      "peers[1].address",
    ],
    [
      { ...BASE, peers: [{ address: "192.0.2.9", asn: 1, nextHop: { ipv6: "192.0.2.1" } }] },
      "peers[0].nextHop.ipv6",
    ],
    [{ ...BASE, prefixes: [{ prefix: "192.0.2.1/24" }] }, "prefixes[0].prefix"],
    [{ ...BASE, prefixes: [{ prefix: "192.0.2.0/24", origin: "bgp" }] }, "prefixes[0].origin"],
    [
      { ...BASE, prefixes: [{ prefix: "192.0.2.0/24", communities: ["70000:1"] }] },
      "prefixes[0].communities[0]",
    ],
    [
      { ...BASE, prefixes: [{ prefix: "192.0.2.0/24", largeCommunities: ["1:2"] }] },
      "prefixes[0].largeCommunities[0]",
    ],
    [{ ...BASE, prefixes: [{ prefix: "192.0.2.0/24", med: -1 }] }, "prefixes[0].med"],
  ];
  for (const [raw, field] of cases) {
    const e = configError(raw);
    assert.equal(e.field, field, e.message);
    assert.match(e.message, new RegExp(field.replace(/[[\].]/g, "\\$&")));
  }
  const ok = parseConfig(`
asn: 4200000001
routerId: 192.0.2.1
peers:
  - address: fd00::2
    asn: 65002
    holdTime: 0
    gracefulRestart: true
prefixes:
  - prefix: 203.0.113.0/24
    communities: ["65000:1"]
    largeCommunities: ["4200000001:1:2"]
`);
  assert.equal(ok.peers[0].keepaliveTime, 0);
  assert.equal(ok.peers[0].gracefulRestart.enabled, true);
  assert.deepEqual(ok.prefixes[0].communities, [0xfde80001]);
  assert.deepEqual(ok.prefixes[0].largeCommunities, [[4200000001, 1, 2]]);
  assert.equal(configError(null).field, "(root)");
  try {
    parseConfig("asn: [1");
    assert.fail("expected a YAML error");
  } catch (e) {
    assert.ok(e instanceof ConfigError && e.field === "(yaml)");
  }
});

Deno.test("speaker role: an invalid configuration names the field and exits 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tn-bgp-cfg-" });
  try {
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      "asn: 65001\nrouterId: 192.0.2.1\npeers:\n  - address: 192.0.2.2\n    asn: 65002\n    holdTime: 1\n",
    );
    const r = await run([
      Deno.execPath(),
      "run",
      "-P=speaker",
      `${ROOT}roles/speaker.ts`,
      "--config",
      `${dir}/bad.yaml`,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /peers\[0\]\.holdTime/);
    assert.equal(r.stdout, "", "nothing started");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control API, ctl and best-path subscription on an in-process speaker", async () => {
  const config = validateConfig({
    ...BASE,
    listen: false,
    api: { port: 0 },
    peers: [{ address: "192.0.2.50", asn: 65050, passive: true }],
    prefixes: [{ prefix: "203.0.113.0/24", med: 10, communities: ["65001:5"] }],
  });
  const system = new ActorSystem({ name: "t", logLevel: "error" });
  const events: BestPathEvent[] = [];
  await system.start(supervisor("t", {
    strategy: "one_for_one",
    children: [
      { id: "bgp", def: bgpSupervisor("t", config) },
      {
        id: "watcher",
        def: actor<BestPathEvent>("watcher", () => ({ receive: (m) => void events.push(m) })),
      },
    ],
  }));
  const server = await startInspectionServer({
    system,
    routes: bgpApiRoutes(system, bgpPaths("t").speaker),
  });
  try {
    const rib = system.lookup<RibMsg>(bgpPaths("t").rib)!;
    await rib.ask<void>((replyTo) => ({
      type: "subscribe",
      ref: system.lookup("/t/watcher")!,
      replyTo,
    }));
    const out: string[] = [], err: string[] = [];
    const ctl = (...a: string[]) =>
      runCtl([...a, "--api", server.url], { out: (l) => out.push(l), err: (l) => err.push(l) });

    assert.equal(await ctl("bgp", "neighbors"), 0);
    assert.match(out.join("\n"), /NEIGHBOR\s+AS\s+TYPE\s+STATE/);
    assert.match(out.join("\n"), /192\.0\.2\.50\s+65050\s+ebgp\s+Active/);
    out.length = 0;
    assert.equal(
      await ctl(
        "bgp",
        "announce",
        "fd00:7::/48",
        "--local-pref",
        "300",
        "--large-community",
        "65001:1:2",
      ),
      0,
    );
    assert.deepEqual(out, ["announced fd00:7::/48"]);
    out.length = 0;
    assert.equal(await ctl("bgp", "rib", "--json"), 0);
    const j = JSON.parse(out.join("\n"));
    assert.deepEqual(j.routes.map((r: any) => r.prefix), ["203.0.113.0/24", "fd00:7::/48"]);
    assert.equal(j.routes[1].paths[0].localPref, 300);
    assert.deepEqual(j.routes[0].paths[0].communities, ["65001:5"]);
    out.length = 0;
    assert.equal(await ctl("bgp", "rib", "--family", "ipv6"), 0);
    assert.match(out.join("\n"), /\*\s+fd00:7::\/48\s+\(local\)/);
    assert.doesNotMatch(out.join("\n"), /203\.0\.113/);
    assert.equal(await ctl("bgp", "withdraw", "fd00:7::/48"), 0);
    assert.equal(await ctl("bgp", "withdraw", "fd00:7::/48"), 1, "not originated any more");
    assert.match(err.join("\n"), /not originated/);
    assert.equal(await ctl("bgp", "announce", "192.0.2.1/24"), 1);
    assert.match(err.join("\n"), /host bits/);
    assert.equal(await ctl("bgp", "rib", "--family", "ipx"), 2);
    assert.equal(await ctl("bgp", "nope"), 2);
    assert.equal(await ctl("nosuch", "thing"), 2, "unknown group");
    // Subscription: the table first, then each change.
    await waitFor("subscription events", () => events.length >= 3, 2000, 20);
    assert.deepEqual(events[0].changes.map((c) => c.prefix), ["203.0.113.0/24"]);
    assert.equal(events[1].changes[0].prefix, "fd00:7::/48");
    assert.equal(events[1].changes[0].best?.attrs.localPref, 300);
    assert.equal(events[2].changes[0].best, null);
    // Raw API errors.
    const bad = await fetch(`${server.url}/api/bgp/paths`, {
      method: "POST",
      body: '{"prefix":"x"}',
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.field, "body.prefix");
  } finally {
    await server.close();
    await system.shutdown();
  }
});

Deno.test("live configuration: adding, editing, removing peers and prefixes spares other sessions", async () => {
  const lab = await Lab.create("bgplive", 2);
  const [a, b] = lab.peers;
  const birdA = new Bird(lab, a.ns, "birda"), birdB = new Bird(lab, b.ns, "birdb");
  let tern: Tern | null = null;
  try {
    for (const [bird, p] of [[birdA, a], [birdB, b]] as const) {
      await bird.start(birdConfig({
        routerId: p.v4,
        local: p.v4,
        asn: 65002,
        neighbor: p.ternV4,
        neighborAsn: 65001,
        nextHop6: p.v6,
        passive: true,
      }));
    }
    const peerA = { address: a.v4, asn: 65002, holdTime: 3, connectRetryTime: 1 };
    const peerB = { address: b.v4, asn: 65002, holdTime: 3, connectRetryTime: 1 };
    const cfg = (peers: unknown[], prefixes: unknown[]) =>
      ternConfig({
        asn: 65001,
        routerId: a.ternV4,
        peers: peers as any,
        prefixes: prefixes as any,
      });
    tern = await Tern.start(lab, cfg([peerA], [{ prefix: "192.0.2.0/24" }]));
    const t = tern;
    await waitFor("A up", async () => (await t.neighbor(a.v4))?.state === "Established");
    await waitFor("A has X", async () => (await birdA.routes()).has("192.0.2.0/24"));
    const reload = async (yaml: string) => {
      await Deno.writeTextFile(`${lab.dir}/tern.yaml`, yaml);
      const n = t.lines.length;
      t.signal("SIGHUP");
      const line = await waitFor(
        "reload",
        () => t.lines.slice(n).find((l) => l.includes("reload")),
        10_000,
        50,
      );
      return JSON.parse(line);
    };
    // Add peer B and prefix Y, remove prefix X.
    let r = await reload(cfg([peerA, peerB], [{ prefix: "198.18.0.0/24" }]));
    assert.deepEqual(r.added, [b.v4]);
    await waitFor("B up", async () => (await t.neighbor(b.v4))?.state === "Established");
    await waitFor("A: X gone, Y there", async () => {
      const routes = await birdA.routes();
      return !routes.has("192.0.2.0/24") && routes.has("198.18.0.0/24");
    });
    await waitFor("B has Y", async () => (await birdB.routes()).has("198.18.0.0/24"));
    // Edit B so that its session must be reset; edit A live (max prefixes).
    r = await reload(
      cfg([{ ...peerA, maxPrefixes: 1000 }, { ...peerB, holdTime: 6 }], [{
        prefix: "198.18.0.0/24",
      }]),
    );
    assert.deepEqual(r.reset, [b.v4]);
    assert.deepEqual(r.changedLive, [a.v4]);
    await waitFor("B back", async () => (await t.neighbor(b.v4))?.state === "Established");
    assert.equal((await t.neighbor(b.v4)).holdTime, 3, "min(6, BIRD's 3)");
    // Remove B.
    r = await reload(cfg([{ ...peerA, maxPrefixes: 1000 }], [{ prefix: "198.18.0.0/24" }]));
    assert.deepEqual(r.removed, [b.v4]);
    await waitFor(
      "B's BIRD sees the session go",
      async () =>
        (await birdB.state()).includes("Passive") || (await birdB.state()).includes("Active"),
    );
    // A never noticed any of it.
    const na = await t.neighbor(a.v4);
    assert.equal(na.state, "Established");
    assert.equal(na.establishedCount, 1);
    assert.equal(await t.stop(), 0);
    tern = null;
  } catch (e) {
    if (tern) console.error(await tern.log());
    throw e;
  } finally {
    await lab.destroy();
  }
});

Deno.test("supervision: a crashing peer restarts alone (one_for_one under bgp/peers)", async () => {
  const config = validateConfig({
    ...BASE,
    listen: false,
    api: { port: 0 },
    peers: [
      { address: "192.0.2.60", asn: 65060, passive: true },
      { address: "192.0.2.61", asn: 65061, passive: true },
    ],
  });
  const system = new ActorSystem({ name: "s", logLevel: "error" });
  await system.start(supervisor("s", {
    strategy: "one_for_one",
    children: [{ id: "bgp", def: bgpSupervisor("s", config) }],
  }));
  try {
    const paths = bgpPaths("s");
    const a = system.lookup(`${paths.peers}/peer-192.0.2.60`)!;
    const infoOf = (path: string) => {
      const flat = JSON.stringify(system.snapshot());
      const i = flat.indexOf(`"path":"${path}"`);
      return JSON.parse(`{${flat.slice(i, flat.indexOf(',"children"', i))}}`);
    };
    const before = infoOf(`${paths.peers}/peer-192.0.2.61`);
    a.tell({ type: "crash", reason: "test" });
    await waitFor(
      "peer A restarted",
      () => infoOf(`${paths.peers}/peer-192.0.2.60`).restarts === 1,
      5000,
      20,
    );
    await waitFor(
      "peer A running",
      () => system.isRunning(`${paths.peers}/peer-192.0.2.60`),
      5000,
      20,
    );
    const after = infoOf(`${paths.peers}/peer-192.0.2.61`);
    assert.equal(after.restarts, 0);
    assert.equal(after.startedAt, before.startedAt, "peer B was not restarted");
    assert.equal(infoOf(paths.rib).restarts, 0);
    assert.equal(infoOf(paths.speaker).restarts, 0);
    const status = await a.ask<any>((replyTo) => ({ type: "status", replyTo }));
    assert.equal(status.state, "Active", "the restarted peer listens again");
  } finally {
    await system.shutdown();
  }
});
