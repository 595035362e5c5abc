/**
 * Interop with FRR bgpd, GoBGP and ExaBGP (BIRD has its own file): for each daemon, tern
 * active and passive, IPv4 and IPv6 routes both ways (read back through the daemon's own CLI
 * or API), withdrawals both ways, a frozen peer (SIGSTOP) caught by the hold timer and a
 * restarted peer re-establishing.
 */
import assert from "node:assert/strict";
import {
  ExaBgp,
  exabgpConfig,
  Frr,
  frrConfig,
  GoBgp,
  gobgpConfig,
  Lab,
  run,
  Tern,
  ternConfig,
  waitFor,
} from "./bgp_lab.ts";

interface Driver {
  start(passive: boolean, gracefulRestart?: boolean): Promise<void>;
  pid(): Promise<number>;
  kill(): Promise<void>;
  established(): Promise<boolean>;
  /** Prefixes learned from tern, both families. */
  learned(): Promise<Set<string>>;
  /** Withdraws the daemon's own IPv4 route 203.0.113.0/24. */
  withdrawOwn(): Promise<void>;
}

type P = Lab["peers"][number];

function frrDriver(lab: Lab, p: P): Driver {
  const frr = new Frr(lab, p.ns);
  return {
    start: (passive, gracefulRestart) =>
      frr.start(frrConfig({
        gracefulRestart,
        routerId: p.v4,
        asn: 65002,
        neighbor: p.ternV4,
        neighborAsn: 65001,
        nextHop6: p.v6,
        passive,
        routes4: ["203.0.113.0/24"],
        routes6: ["fd00:2::/48"],
      })),
    pid: () => frr.pid(),
    kill: async () => {
      const pid = await frr.pid();
      await run(["kill", "-9", String(pid)]);
      await waitFor("bgpd exit", async () => (await run(["kill", "-0", String(pid)])).code !== 0);
      await Deno.remove(frr.pidFile).catch(() => {});
    },
    established: async () => (await frr.state(p.ternV4)) === "Established",
    learned: async () =>
      new Set([
        ...Object.keys(await frr.routes("ipv4")),
        ...Object.keys(await frr.routes("ipv6")),
      ].filter((k) => k !== "203.0.113.0/24" && k !== "fd00:2::/48")),
    withdrawOwn: async () => {
      await run([
        "vtysh",
        "--vty_socket",
        frr.vty,
        "-d",
        "bgpd",
        "-c",
        "configure terminal",
        "-c",
        "router bgp 65002",
        "-c",
        "address-family ipv4 unicast",
        "-c",
        "no network 203.0.113.0/24",
      ]);
    },
  };
}

function gobgpDriver(lab: Lab, p: P): Driver {
  const g = new GoBgp(lab, p.ns);
  let pid = 0;
  return {
    start: async (passive, gracefulRestart) => {
      await g.start(gobgpConfig({
        gracefulRestart,
        routerId: p.v4,
        asn: 65002,
        neighbor: p.ternV4,
        neighborAsn: 65001,
        passive,
      }));
      const r = await run(["ip", "netns", "pids", p.ns]);
      pid = Number(r.stdout.split("\n").filter(Boolean).pop());
      await g.cli("global", "rib", "add", "-a", "ipv4", "203.0.113.0/24", "nexthop", p.v4);
      await g.cli("global", "rib", "add", "-a", "ipv6", "fd00:2::/48", "nexthop", p.v6);
    },
    pid: () => Promise.resolve(pid),
    kill: () => g.stop(),
    established: async () => (await g.state(p.ternV4)) === "established",
    learned: async () =>
      new Set([
        ...Object.keys(await g.routes("ipv4")),
        ...Object.keys(await g.routes("ipv6")),
      ].filter((k) => k !== "203.0.113.0/24" && k !== "fd00:2::/48")),
    withdrawOwn: async () => {
      await g.cli("global", "rib", "del", "-a", "ipv4", "203.0.113.0/24");
    },
  };
}

function exabgpDriver(lab: Lab, p: P): Driver {
  const x = new ExaBgp(lab, p.ns);
  const cmdFile = `${lab.dir}/exabgp.cmd`;
  let pid = 0;
  return {
    start: async (passive, gracefulRestart) => {
      await Deno.writeTextFile(cmdFile, "");
      await Deno.writeTextFile(x.received, "");
      const conf = exabgpConfig({
        routerId: p.v4,
        local: p.v4,
        asn: 65002,
        neighbor: p.ternV4,
        neighborAsn: 65001,
        nextHop6: p.v6,
        passive,
        gracefulRestart,
        routes4: ["203.0.113.0/24"],
        routes6: ["fd00:2::/48"],
        received: x.received,
      }).replace(
        "api { processes [ recv ];",
        "api { processes [ recv, cmd ];",
      );
      await x.start(
        `process cmd {\n  run /usr/bin/tail -n0 -F ${cmdFile};\n  encoder text;\n}\n${conf}`,
        passive ? p.v4 : "",
      );
      pid = await waitFor("exabgp pid", async () => {
        const r = await run(["ip", "netns", "pids", p.ns]);
        for (const s of r.stdout.split("\n").filter(Boolean)) {
          const cmd = await Deno.readTextFile(`/proc/${s}/cmdline`).catch(() => "");
          if (cmd.includes("exabgp") && !cmd.includes("tail")) return Number(s);
        }
        return 0;
      });
    },
    pid: () => Promise.resolve(pid),
    kill: () => x.stop(),
    established: () => x.up(),
    learned: () => x.routes(),
    withdrawOwn: async () => {
      await Deno.writeTextFile(cmdFile, `withdraw route 203.0.113.0/24 next-hop ${p.v4}\n`, {
        append: true,
      });
    },
  };
}

const DRIVERS: [string, (lab: Lab, p: P) => Driver][] = [
  ["FRR", frrDriver],
  ["GoBGP", gobgpDriver],
  ["ExaBGP", exabgpDriver],
];

function ternYaml(p: P, passive: boolean, gracefulRestart = false) {
  return ternConfig({
    asn: 65001,
    routerId: p.ternV4,
    peers: [{
      address: p.v4,
      asn: 65002,
      holdTime: 3,
      connectRetryTime: 1,
      passive,
      gracefulRestart,
      nextHop: { ipv6: p.ternV6 },
    }],
    prefixes: [{ prefix: "192.0.2.0/24" }, { prefix: "fd00:1::/48" }],
  });
}

async function bothWays(tern: Tern, d: Driver) {
  await waitFor("tern's routes in the peer's RIB", async () => {
    const l = await d.learned();
    return l.has("192.0.2.0/24") && l.has("fd00:1::/48");
  });
  await waitFor("the peer's routes in tern", async () => {
    const r = await tern.rib();
    return r.has("203.0.113.0/24") && r.has("fd00:2::/48");
  });
}

for (const [name, make] of DRIVERS) {
  Deno.test(`${name}: tern active, routes both ways, withdrawals, frozen and restarted peer`, async () => {
    const lab = await Lab.create(`bgp${name.toLowerCase().slice(0, 4)}`);
    const p = lab.peers[0];
    const d = make(lab, p);
    let tern: Tern | null = null;
    try {
      await d.start(true);
      tern = await Tern.start(lab, ternYaml(p, false));
      await waitFor(
        "Established",
        async () => (await tern!.neighbor(p.v4))?.state === "Established",
      );
      await waitFor("peer Established", () => d.established());
      await bothWays(tern, d);
      // Withdrawals both ways.
      await tern.call("DELETE", "/api/bgp/paths?prefix=192.0.2.0/24");
      await waitFor("withdrawal in the peer", async () => !(await d.learned()).has("192.0.2.0/24"));
      await d.withdrawOwn();
      await waitFor("withdrawal in tern", async () => !(await tern!.rib()).has("203.0.113.0/24"));
      // Frozen peer.
      const pid = await d.pid();
      Deno.kill(pid, "SIGSTOP");
      try {
        const n = await waitFor(
          "hold timer expiry",
          async () => {
            const n = await tern!.neighbor(p.v4);
            return n?.state !== "Established" ? n : null;
          },
          10_000,
          100,
        );
        assert.match(n.lastError, /Hold Timer Expired/);
      } finally {
        Deno.kill(pid, "SIGCONT");
      }
      // Restarted peer.
      await d.kill();
      await d.start(true);
      await waitFor(
        "re-established after restart",
        async () => (await tern!.neighbor(p.v4))?.state === "Established",
        25_000,
      );
      await waitFor(
        "tern's route back in the peer",
        async () => (await d.learned()).has("fd00:1::/48"),
        15_000,
      );
      assert.equal(await tern.stop(), 0);
      tern = null;
    } catch (e) {
      if (tern) console.error(await tern.log());
      throw e;
    } finally {
      await lab.destroy();
    }
  });

  Deno.test(`${name}: tern passive, routes both ways`, async () => {
    const lab = await Lab.create(`bgp${name.toLowerCase().slice(0, 4)}`);
    const p = lab.peers[0];
    const d = make(lab, p);
    let tern: Tern | null = null;
    try {
      tern = await Tern.start(lab, ternYaml(p, true));
      await d.start(false);
      await waitFor(
        "Established",
        async () => (await tern!.neighbor(p.v4))?.state === "Established",
        20_000,
      );
      await bothWays(tern, d);
      assert.equal(await tern.stop(), 0);
      tern = null;
    } catch (e) {
      if (tern) console.error(await tern.log());
      throw e;
    } finally {
      await lab.destroy();
    }
  });

  Deno.test(`${name}: graceful restart keeps routes while the peer restarts`, async () => {
    const lab = await Lab.create(`bgp${name.toLowerCase().slice(0, 4)}`);
    const p = lab.peers[0];
    const d = make(lab, p);
    let tern: Tern | null = null;
    try {
      await d.start(true, true);
      tern = await Tern.start(lab, ternYaml(p, false, true));
      const t = tern;
      await waitFor("Established", async () => (await t.neighbor(p.v4))?.state === "Established");
      await waitFor("peer route", async () => (await t.rib()).has("203.0.113.0/24"));
      assert.equal((await t.neighbor(p.v4)).peerGracefulRestart, true, "GR negotiated");
      await d.kill();
      await waitFor(
        "session down",
        async () => (await t.neighbor(p.v4))?.state !== "Established",
        10_000,
        100,
      );
      const kept = (await t.rib()).get("203.0.113.0/24");
      assert.ok(kept, "route retained over the restart");
      assert.equal(kept.paths[0].stale, true);
      await d.start(true, true);
      await waitFor("refreshed", async () => {
        const e = (await t.rib()).get("203.0.113.0/24");
        return e && e.paths[0].stale === false;
      }, 25_000);
      assert.equal(await t.stop(), 0);
      tern = null;
    } catch (e) {
      if (tern) console.error(await tern.log());
      throw e;
    } finally {
      await lab.destroy();
    }
  });
}

Deno.test("ExaBGP limited to 2-octet ASNs (asn4 disable) meets a 4-octet tern", async () => {
  const lab = await Lab.create("bgpexas2");
  const p = lab.peers[0];
  const x = new ExaBgp(lab, p.ns);
  let tern: Tern | null = null;
  try {
    await Deno.writeTextFile(x.received, "");
    const conf = exabgpConfig({
      routerId: p.v4,
      local: p.v4,
      asn: 65002,
      neighbor: p.ternV4,
      neighborAsn: 23456, // tern's ASN as an OLD speaker sees it: AS_TRANS
      nextHop6: p.v6,
      passive: true,
      routes4: ["203.0.113.0/24"],
      received: x.received,
    }).replace("family {", "capability { asn4 disable; }\n  family {");
    await x.start(conf, p.v4);
    tern = await Tern.start(
      lab,
      ternConfig({
        asn: 4200000001,
        routerId: p.ternV4,
        peers: [{ address: p.v4, asn: 65002, holdTime: 3, connectRetryTime: 1 }],
        prefixes: [{ prefix: "192.0.2.0/24" }],
      }),
    );
    const t = tern;
    await waitFor("Established", async () => (await t.neighbor(p.v4))?.state === "Established");
    // ExaBGP rebuilds the real path from AS_PATH [23456] and AS4_PATH [4200000001].
    const upd = await waitFor(
      "tern's route in ExaBGP",
      async () => (await x.messages()).find((m) => JSON.stringify(m).includes("192.0.2.0/24")),
    );
    assert.deepEqual(upd.neighbor.message.update.attribute["as-path"], [4200000001]);
    const r = await waitFor(
      "ExaBGP's route in tern",
      async () => (await t.rib()).get("203.0.113.0/24"),
    );
    assert.equal(r.paths[0].asPath, "65002");
    assert.equal(await t.stop(), 0);
    tern = null;
  } catch (e) {
    if (tern) console.error(await tern.log());
    throw e;
  } finally {
    await x.stop();
    await lab.destroy();
  }
});
