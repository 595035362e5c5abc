// deno-lint-ignore-file no-explicit-any
/**
 * `sourceAddress` (FRR's `update-source`) seen by FRR: FRR knows tern only by loopback
 * addresses (IPv4 and IPv6) and waits passively, so a session comes up only when tern's
 * connection comes from them. Editing one peer's source address resets that peer alone.
 */
import assert from "node:assert/strict";
import { Frr, Lab, must, Tern, ternConfig, waitFor } from "./bgp_lab.ts";
import { reload, staysDown } from "./bgp_socket_lab.ts";
import { canonicalAddress } from "../actors/bgp/prefix.ts";

const SRC4 = "192.0.2.77", SRC6 = "fd00:77::77", OTHER4 = "192.0.2.78";

function frrConf(routerId: string) {
  const n = (a: string) =>
    [
      `neighbor ${a} remote-as 65001`,
      `neighbor ${a} timers 1 3`,
      `neighbor ${a} passive`,
      `neighbor ${a} disable-connected-check`,
    ].join("\n ");
  return `frr defaults traditional
hostname frr
log stdout errors
router bgp 65002
 bgp router-id ${routerId}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 ${n(SRC4)}
 ${n(SRC6)}
 address-family ipv4 unicast
  neighbor ${SRC4} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor ${SRC6} activate
 exit-address-family
exit
`;
}

function ternConf(p: { v4: string; v6: string }, src4: string): string {
  const peer = { asn: 65002, holdTime: 3, connectRetryTime: 1 };
  return ternConfig({
    asn: 65001,
    routerId: "192.0.2.1",
    peers: [
      { ...peer, address: p.v4, sourceAddress: src4, families: ["ipv4"] },
      { ...peer, address: p.v6, sourceAddress: SRC6, families: ["ipv6"] },
    ],
    prefixes: [{ prefix: "192.0.2.0/24" }, { prefix: "fd00:1::/48" }],
  });
}

Deno.test("sourceAddress: FRR sees tern's sessions from its loopback addresses", async () => {
  const lab = await Lab.create("bgpsrc");
  const p = lab.peers[0];
  const frr = new Frr(lab, p.ns);
  let tern: Tern | null = null;
  try {
    for (const a of [`${SRC4}/32`, `${OTHER4}/32`, `${SRC6}/128`]) {
      await must(["ip", "-n", lab.t, "addr", "add", a, "dev", "lo"]);
    }
    await must(["ip", "-n", p.ns, "route", "add", `${SRC4}/32`, "via", p.ternV4]);
    await must(["ip", "-n", p.ns, "-6", "route", "add", `${SRC6}/128`, "via", p.ternV6]);
    await frr.start(frrConf(p.v4));
    tern = await Tern.start(lab, ternConf(p, SRC4));
    const t = tern;
    const v6 = canonicalAddress(p.v6); // as tern and FRR print it
    for (const [addr, src] of [[p.v4, SRC4], [v6, SRC6]]) {
      await waitFor(
        `tern Established with ${addr}`,
        async () => (await t.neighbor(addr))?.state === "Established",
        20_000,
      ).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify(await t.neighbor(addr))}`);
      });
      const st = await t.neighbor(addr);
      assert.equal(st.localAddress, src);
      assert.equal(st.sourceAddress, src);
      assert.equal(st.transport, "ffi");
      const fn = (await frr.json(`show bgp neighbors ${src} json`))[src];
      assert.equal(fn.bgpState, "Established");
      assert.equal(fn.hostForeign, src, "FRR's foreign address is tern's source address");
      assert.equal(fn.hostLocal, addr);
    }
    // Next hop self is the session's local address: the source address.
    const r4: any = await waitFor(
      "tern's IPv4 route in FRR",
      async () => (await frr.routes("ipv4"))["192.0.2.0/24"],
    );
    assert.equal(r4[0].nexthops[0].ip, SRC4);
    // Another source address for the IPv4 peer: FRR does not know it, so that session stays
    // down; the IPv6 session is not touched.
    const before6 = (await t.neighbor(v6)).establishedCount;
    const r = await reload(lab, t, ternConf(p, OTHER4));
    assert.deepEqual(r.reset, [p.v4]);
    await staysDown(
      "a session from a source address the peer does not know",
      async () => (await t.neighbor(p.v4))?.state,
      3000,
    );
    const n6 = await t.neighbor(v6);
    assert.equal(n6.state, "Established");
    assert.equal(n6.establishedCount, before6);
  } finally {
    if (tern) await tern.stop();
    await lab.destroy();
  }
});
