/**
 * eBGP multihop and GTSM (RFC 5082) against FRR, with tern and FRR two hops apart (a router
 * namespace in between) or directly connected. tern's TTL settings go through the libc socket
 * transport; each "must not come up" is checked for a bounded time and then reversed by a live
 * configuration reload that resets only the edited peer.
 */
import assert from "node:assert/strict";
import { Frr, Lab, Tern, ternConfig, waitFor } from "./bgp_lab.ts";
import { reload, routedLab, staysDown } from "./bgp_socket_lab.ts";

/** FRR (AS 65002) with one eBGP neighbour `n` (AS 65001) and `extra` neighbour lines. */
function frrConf(o: { routerId: string; n: string; extra: string[]; passive?: boolean }) {
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
 ${o.passive ? `neighbor ${o.n} passive` : ""}
 ${o.extra.map((l) => `neighbor ${o.n} ${l}`).join("\n ")}
 address-family ipv4 unicast
  network 203.0.113.0/24
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
    prefixes: [{ prefix: "192.0.2.0/24" }],
  });
}

async function bothUp(tern: Tern, frr: Frr, ternSide: string, frrSide: string) {
  await waitFor(
    "tern Established",
    async () => (await tern.neighbor(frrSide))?.state === "Established",
    20_000,
  );
  await waitFor("FRR Established", async () => (await frr.state(ternSide)) === "Established");
  await waitFor("FRR's route in tern", async () => (await tern.rib("ipv4")).has("203.0.113.0/24"));
  await waitFor("tern's route in FRR", async () => (await frr.routes("ipv4"))["192.0.2.0/24"]);
}

Deno.test("multihop: TTL 1 cannot reach a peer two hops away, TTL 2 can (live edit)", async () => {
  const lab = await routedLab("bgpmh");
  const [a, b] = lab.peers; // tern in a.ns, FRR in b.ns, lab.t routes between them
  const frr = new Frr(lab, b.ns);
  let tern: Tern | null = null;
  try {
    await frr.start(frrConf({ routerId: b.v4, n: a.v4, extra: ["ebgp-multihop 2"] }));
    tern = await Tern.start(lab, ternConf({ address: b.v4, multihop: 1 }), "tern", a.ns);
    const t = tern;
    const st = await t.neighbor(b.v4);
    assert.equal(st.multihop, 1);
    assert.equal(st.transport, "ffi");
    // Both directions fail: tern's SYNs die at the router (TTL 1), and on FRR's connections
    // (accepted by tern's libc listener) tern's segments get TTL 1 as well.
    await staysDown("a multihop 1 session two hops away", async () => {
      const n = await t.neighbor(b.v4);
      const f = await frr.state(a.v4);
      return n?.state === "Established" ? n.state : f;
    });
    const r = await reload(lab, t, ternConf({ address: b.v4, multihop: 2 }));
    assert.deepEqual(r.reset, [b.v4]);
    await bothUp(t, frr, a.v4, b.v4);
    assert.equal((await t.neighbor(b.v4)).multihop, 2);
  } finally {
    if (tern) await tern.stop();
    await lab.destroy();
  }
});

Deno.test("GTSM two hops apart: FRR ttl-security hops 2 against tern none, 1, then 2", async () => {
  const lab = await routedLab("bgpgt");
  const [a, b] = lab.peers;
  const frr = new Frr(lab, b.ns);
  let tern: Tern | null = null;
  try {
    await frr.start(frrConf({ routerId: b.v4, n: a.v4, extra: ["ttl-security hops 2"] }));
    // Deno's sockets (TTL 64): FRR drops what arrives with TTL 63 (it wants >= 254). tern is
    // passive here: FRR sets IP_MINTTL on its listener's connections only after accept, so an
    // OPEN and KEEPALIVE of tern's sent right after connect can slip through and bring FRR's
    // side up for a hold time; its own connections are checked from the SYN-ACK on.
    tern = await Tern.start(lab, ternConf({ address: b.v4, passive: true }), "tern", a.ns);
    const t = tern;
    assert.equal((await t.neighbor(b.v4)).transport, "deno");
    const down = async () => {
      const n = await t.neighbor(b.v4);
      return n?.state === "Established" ? n.state : await frr.state(a.v4);
    };
    await staysDown("a session without GTSM toward a GTSM peer", down);
    // tern sends 255 (254 on arrival: FRR accepts) but wants 255, and FRR's arrive with 254.
    // The reload also swaps tern's listener for the libc one, on the same port.
    assert.deepEqual((await reload(lab, t, ternConf({ address: b.v4, ttlSecurity: 1 }))).reset, [
      b.v4,
    ]);
    assert.equal((await t.neighbor(b.v4)).transport, "ffi");
    await staysDown("tern's GTSM hops 1 with a peer two hops away", down);
    // FRR's connections were accepted, then dropped on the TTL of their SYN (254 < 255).
    assert.match(await t.log(), /connection below the GTSM minimum TTL dropped.*"ttl":254/);
    await reload(lab, t, ternConf({ address: b.v4, ttlSecurity: 2 }));
    await bothUp(t, frr, a.v4, b.v4);
    assert.equal((await t.neighbor(b.v4)).ttlSecurity, 2);
  } finally {
    if (tern) await tern.stop();
    await lab.destroy();
  }
});

Deno.test("GTSM directly connected: FRR ttl-security hops 1, tern passive then active", async () => {
  const lab = await Lab.create("bgpgd");
  const p = lab.peers[0];
  const frr = new Frr(lab, p.ns);
  let tern: Tern | null = null;
  try {
    await frr.start(frrConf({ routerId: p.v4, n: p.ternV4, extra: ["ttl-security hops 1"] }));
    // tern passive: only FRR's connections, accepted by tern's libc listener (SYN-ACK TTL 255,
    // then the peer's 255 / min 255 on the accepted socket).
    tern = await Tern.start(lab, ternConf({ address: p.v4, ttlSecurity: 1, passive: true }));
    await bothUp(tern, frr, p.ternV4, p.v4);
    const st = await tern.neighbor(p.v4);
    assert.equal(st.ttlSecurity, 1);
    assert.equal(st.transport, "ffi");
    await tern.stop();
    tern = null;
    // tern active only (FRR passive): tern's own connection carries TTL 255.
    await frr.cmd("configure terminal\nrouter bgp 65002\nneighbor " + p.ternV4 + " passive");
    tern = await Tern.start(lab, ternConf({ address: p.v4, ttlSecurity: 1 }), "tern2");
    await bothUp(tern, frr, p.ternV4, p.v4);
  } finally {
    if (tern) await tern.stop();
    await lab.destroy();
  }
});
