/** Interop with BIRD 2: sessions, routes both ways, withdrawals, hold timer, restarts, AS4, GR. */
import assert from "node:assert/strict";
import { Bird, birdConfig, Lab, sleep, Tern, ternConfig, waitFor } from "./bgp_lab.ts";

const TERN_PREFIXES = [
  { prefix: "192.0.2.0/24", med: 5, communities: ["65001:7"], largeCommunities: ["65001:1:2"] },
  { prefix: "fd00:1::/48" },
];

async function setup(opts: {
  ternPassive?: boolean;
  ternAsn?: number;
  birdAs4?: boolean;
  gracefulRestart?: boolean;
}) {
  const lab = await Lab.create("bgpbird");
  const p = lab.peers[0];
  const ternAsn = opts.ternAsn ?? 65001;
  const bird = new Bird(lab, p.ns);
  const birdConf = birdConfig({
    routerId: p.v4,
    local: p.v4,
    asn: 65002,
    neighbor: p.ternV4,
    neighborAsn: opts.birdAs4 === false && ternAsn > 65535 ? 23456 : ternAsn,
    nextHop6: p.v6,
    passive: !opts.ternPassive,
    as4: opts.birdAs4,
    gracefulRestart: opts.gracefulRestart,
    routes4: ["203.0.113.0/24"],
    routes6: ["fd00:2::/48"],
  });
  const ternYaml = ternConfig({
    asn: ternAsn,
    routerId: p.ternV4,
    peers: [{
      address: p.v4,
      asn: 65002,
      holdTime: 3,
      connectRetryTime: 1,
      passive: !!opts.ternPassive,
      gracefulRestart: !!opts.gracefulRestart,
      nextHop: { ipv6: p.ternV6 },
    }],
    prefixes: TERN_PREFIXES,
  });
  return { lab, p, bird, birdConf, ternYaml };
}

async function routesBothWays(tern: Tern, bird: Bird, ternAsPath = "65001") {
  const got = await waitFor("tern's routes in BIRD", async () => {
    const r = await bird.routes();
    return r.has("192.0.2.0/24") && r.has("fd00:1::/48") ? r : null;
  });
  const v4 = got.get("192.0.2.0/24")!;
  assert.match(v4, new RegExp(`BGP.as_path: ${ternAsPath}\\b`));
  assert.match(v4, /BGP.med: 5/);
  assert.match(v4, /BGP.community: \(65001,7\)/);
  assert.match(v4, /BGP.large_community: \(65001, 1, 2\)/);
  assert.match(
    got.get("fd00:1::/48")!,
    /BGP.next_hop: fd00:198:51:0::1|BGP.next_hop: fd00:198:51::1/,
  );
  const rib = await waitFor("BIRD's routes in tern", async () => {
    const r = await tern.rib();
    return r.has("203.0.113.0/24") && r.has("fd00:2::/48") ? r : null;
  });
  assert.equal(rib.get("203.0.113.0/24").paths[0].asPath, "65002");
  assert.equal(rib.get("fd00:2::/48").paths[0].nextHop, "fd00:198:51::2");
  assert.equal((await tern.rib("ipv6")).has("203.0.113.0/24"), false);
}

Deno.test("BIRD: tern active, routes both ways, withdrawals, frozen and restarted peer", async () => {
  const { lab, p, bird, birdConf, ternYaml } = await setup({});
  try {
    await bird.start(birdConf);
    const tern = await Tern.start(lab, ternYaml);
    await waitFor("Established", async () => (await tern.neighbor(p.v4))?.state === "Established");
    await routesBothWays(tern, bird);
    // Withdrawals both ways.
    assert.equal((await tern.call("DELETE", "/api/bgp/paths?prefix=192.0.2.0/24")).status, 200);
    await waitFor("withdrawal in BIRD", async () => !(await bird.routes()).has("192.0.2.0/24"));
    await bird.cmd("disable", "s6");
    await waitFor("withdrawal in tern", async () => !(await tern.rib()).has("fd00:2::/48"));
    assert.ok((await tern.rib()).has("203.0.113.0/24"));
    // Announce at run time.
    const post = await tern.call("POST", "/api/bgp/paths", {
      prefix: "198.18.0.0/15",
      localPref: 300,
    });
    assert.equal(post.status, 201);
    await waitFor("new path in BIRD", async () => (await bird.routes()).has("198.18.0.0/15"));
    // A frozen peer is detected by the hold timer (3 s).
    const pid = await bird.pid();
    Deno.kill(pid, "SIGSTOP");
    const t0 = Date.now();
    const down = await waitFor(
      "hold timer expiry",
      async () => {
        const n = await tern.neighbor(p.v4);
        return n?.state !== "Established" ? n : null;
      },
      10_000,
      100,
    );
    Deno.kill(pid, "SIGCONT");
    assert.match(down.lastError, /Hold Timer Expired/);
    assert.ok(Date.now() - t0 >= 1500, "not before the hold time");
    assert.equal((await tern.rib()).has("203.0.113.0/24"), false, "routes of the dead session go");
    await waitFor(
      "re-established after thaw",
      async () => (await tern.neighbor(p.v4))?.state === "Established",
      20_000,
    );
    // A restarted peer re-establishes and its routes come back.
    await bird.kill();
    await waitFor(
      "session down",
      async () => (await tern.neighbor(p.v4))?.state !== "Established",
      10_000,
      100,
    );
    await bird.start(birdConf);
    await waitFor(
      "re-established after restart",
      async () => (await tern.neighbor(p.v4))?.state === "Established",
      20_000,
    );
    await waitFor("routes back", async () => (await tern.rib()).has("203.0.113.0/24"));
    const n = await tern.neighbor(p.v4);
    assert.ok(n.establishedCount >= 3);
    assert.equal(await tern.stop(), 0);
  } finally {
    await lab.destroy();
  }
});

Deno.test("BIRD: tern passive, routes both ways", async () => {
  const { lab, p, bird, birdConf, ternYaml } = await setup({ ternPassive: true });
  try {
    const tern = await Tern.start(lab, ternYaml);
    await bird.start(birdConf);
    await waitFor("Established", async () => (await tern.neighbor(p.v4))?.state === "Established");
    assert.equal((await tern.neighbor(p.v4)).passive, true);
    await routesBothWays(tern, bird);
    assert.equal(await tern.stop(), 0);
  } finally {
    await lab.destroy();
  }
});

Deno.test("BIRD: a peer limited to 2-octet ASNs (enable as4 off) exchanges routes", async () => {
  // BIRD with AS4 disabled still checks the AS4 capability of the OPEN against its configured
  // neighbor AS, so it cannot peer with a 4-octet ASN at all; the 4-octet speaker against a
  // 2-octet-only peer (AS_TRANS, AS4_PATH both ways) is covered by bgp_malformed_test.ts with a
  // raw OLD speaker.
  const { lab, p, bird, birdConf, ternYaml } = await setup({ birdAs4: false });
  try {
    await bird.start(birdConf);
    const tern = await Tern.start(lab, ternYaml);
    await waitFor("Established", async () => (await tern.neighbor(p.v4))?.state === "Established");
    await routesBothWays(tern, bird);
    assert.equal(await tern.stop(), 0);
  } finally {
    await lab.destroy();
  }
});

Deno.test("BIRD: graceful restart keeps routes while the peer restarts", async () => {
  const { lab, p, bird, birdConf, ternYaml } = await setup({ gracefulRestart: true });
  try {
    await bird.start(birdConf);
    const tern = await Tern.start(lab, ternYaml);
    await waitFor("Established", async () => (await tern.neighbor(p.v4))?.state === "Established");
    await waitFor("BIRD route", async () => (await tern.rib()).has("203.0.113.0/24"));
    assert.equal((await tern.neighbor(p.v4)).peerGracefulRestart, true);
    await bird.kill();
    await waitFor(
      "session down",
      async () => (await tern.neighbor(p.v4))?.state !== "Established",
      10_000,
      100,
    );
    await sleep(500);
    const kept = (await tern.rib()).get("203.0.113.0/24");
    assert.ok(kept, "route retained over the restart");
    assert.equal(kept.paths[0].stale, true);
    await bird.start(birdConf);
    await waitFor("refreshed after End-of-RIB", async () => {
      const e = (await tern.rib()).get("203.0.113.0/24");
      return e && e.paths[0].stale === false;
    }, 20_000);
    assert.equal(await tern.stop(), 0);
  } finally {
    await lab.destroy();
  }
});
