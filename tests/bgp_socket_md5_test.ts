/**
 * TCP-MD5 (RFC 2385, `password`) against FRR (`neighbor … password`) and BIRD (`password "…"`),
 * with tern connecting (the peer passive) and tern passive (its libc listener holds the key).
 * No key or a wrong key never establishes (checked for a bounded time); the right one, set by a
 * live reload, does, and the kernel shows the signature on tern's established socket.
 */
import assert from "node:assert/strict";
import { Bird, birdConfig, Frr, Lab, run, Tern, ternConfig, waitFor } from "./bgp_lab.ts";
import { reload, staysDown } from "./bgp_socket_lab.ts";
import { canonicalAddress } from "../actors/bgp/prefix.ts";

const KEY = "tern-md5-Secret";

function frrConf(o: { routerId: string; n: string; passive: boolean; v6?: boolean }) {
  return `frr defaults traditional
hostname frr
log stdout errors
router bgp 65002
 bgp router-id ${o.routerId}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${o.n} remote-as 65001
 neighbor ${o.n} timers 1 3
 neighbor ${o.n} timers connect 1
 neighbor ${o.n} password ${KEY}
 ${o.passive ? `neighbor ${o.n} passive` : ""}
 ${o.v6 ? "no bgp default ipv4-unicast" : ""}
 address-family ${o.v6 ? "ipv6" : "ipv4"} unicast
  network ${o.v6 ? "fd00:2::/48" : "203.0.113.0/24"}
  neighbor ${o.n} activate
 exit-address-family
exit
`;
}

function ternConf(peer: Record<string, unknown>): string {
  return ternConfig({
    asn: 65001,
    routerId: "192.0.2.1",
    peers: [{ asn: 65002, holdTime: 3, connectRetryTime: 1, families: ["ipv4"], ...peer }],
    prefixes: [{ prefix: "192.0.2.0/24" }, { prefix: "fd00:1::/48" }],
  });
}

/** The established BGP connection in tern's namespace is signed. */
async function signed(lab: Lab) {
  const ss = await run(["ip", "netns", "exec", lab.t, "ss", "-tnie", "state", "established"]);
  const line = ss.stdout.split("\n").find((l) => /:179\b/.test(l));
  assert.ok(line, ss.stdout);
  assert.match(ss.stdout, /md5/, "ss shows the TCP-MD5 signature");
}

/** Runs the none/wrong/right sequence for one peer daemon. */
async function sequence(
  lab: Lab,
  o: {
    ternPassive: boolean;
    peerState: () => Promise<string>;
    routeAtPeer: () => Promise<boolean>;
    v6?: boolean;
  },
) {
  const lp = lab.peers[0];
  const p = { v4: o.v6 ? canonicalAddress(lp.v6) : lp.v4 }; // the session's peer address
  const family = o.v6 ? "ipv6" : "ipv4";
  const base = { address: p.v4, passive: o.ternPassive, families: [family] };
  let tern: Tern | null = null;
  try {
    // No key: the peer's signed SYNs are dropped by tern's kernel, and tern's unsigned SYNs
    // by the peer's.
    tern = await Tern.start(lab, ternConf(base));
    const t = tern;
    const down = async () => {
      const n = await t.neighbor(p.v4);
      return n?.state === "Established" ? n.state : await o.peerState();
    };
    await staysDown("a session without the peer's TCP-MD5 key", down);
    const wrong = await reload(lab, t, ternConf({ ...base, password: "not-the-key" }));
    assert.deepEqual(wrong.reset, [p.v4]);
    assert.equal((await t.neighbor(p.v4)).tcpMd5, true);
    assert.equal(JSON.stringify(await t.neighbor(p.v4)).includes("not-the-key"), false);
    await staysDown("a session with a wrong TCP-MD5 key", down);
    await reload(lab, t, ternConf({ ...base, password: KEY }));
    await waitFor(
      "tern Established",
      async () => (await t.neighbor(p.v4))?.state === "Established",
      20_000,
    );
    await waitFor("peer Established", async () => (await o.peerState()) === "Established");
    const theirs = o.v6 ? "fd00:2::/48" : "203.0.113.0/24";
    await waitFor("peer's route in tern", async () => (await t.rib(family)).has(theirs));
    await waitFor("tern's route at the peer", o.routeAtPeer);
    await signed(lab);
  } finally {
    if (tern) await tern.stop();
  }
}

for (const ternPassive of [false, true]) {
  const how = ternPassive ? "tern passive, FRR connects" : "tern connects, FRR passive";
  Deno.test(`TCP-MD5 with FRR (${how}): no key, wrong key, then the key`, async () => {
    const lab = await Lab.create("bgpmd5f");
    const p = lab.peers[0];
    const frr = new Frr(lab, p.ns);
    try {
      await frr.start(frrConf({ routerId: p.v4, n: p.ternV4, passive: !ternPassive }));
      await sequence(lab, {
        ternPassive,
        peerState: () => frr.state(p.ternV4),
        routeAtPeer: async () => !!(await frr.routes("ipv4"))["192.0.2.0/24"],
      });
    } finally {
      await lab.destroy();
    }
  });

  const bhow = ternPassive ? "tern passive, BIRD connects" : "tern connects, BIRD passive";
  Deno.test(`TCP-MD5 with BIRD (${bhow}): no key, wrong key, then the key`, async () => {
    const lab = await Lab.create("bgpmd5b");
    const p = lab.peers[0];
    const bird = new Bird(lab, p.ns);
    try {
      await bird.start(birdConfig({
        routerId: p.v4,
        local: p.v4,
        asn: 65002,
        neighbor: p.ternV4,
        neighborAsn: 65001,
        nextHop6: p.v6,
        passive: !ternPassive,
        routes4: ["203.0.113.0/24"],
        extra: `password "${KEY}";`,
      }));
      await sequence(lab, {
        ternPassive,
        peerState: () => bird.state(),
        routeAtPeer: async () => (await bird.routes()).has("192.0.2.0/24"),
      });
    } finally {
      await lab.destroy();
    }
  });
}

Deno.test("TCP-MD5 over IPv6 with FRR (tern connects, FRR passive): no key, wrong, the key", async () => {
  const lab = await Lab.create("bgpmd56");
  const p = lab.peers[0];
  const frr = new Frr(lab, p.ns);
  const tern6 = canonicalAddress(p.ternV6);
  try {
    await frr.start(frrConf({ routerId: p.v4, n: tern6, passive: true, v6: true }));
    await sequence(lab, {
      ternPassive: false,
      v6: true,
      peerState: () => frr.state(tern6),
      routeAtPeer: async () => !!(await frr.routes("ipv6"))["fd00:1::/48"],
    });
  } finally {
    await lab.destroy();
  }
});
