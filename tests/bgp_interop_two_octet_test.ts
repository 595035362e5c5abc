/**
 * A 4-octet-ASN tern meets FRR acting as a 2-octet-only (OLD) speaker: FRR's
 * `dont-capability-negotiate` makes it send an OPEN without capabilities, so it carries
 * AS_TRANS toward tern's 4-octet ASN and tern must speak the RFC 6793 OLD-speaker rules to it
 * (AS_TRANS in OPEN and AS_PATH, the real path in AS4_PATH).
 */
import assert from "node:assert/strict";
import { Frr, Lab, run, Tern, ternConfig, waitFor } from "./bgp_lab.ts";

/** FRR without capability negotiation toward tern (IPv4 unicast only, 2-octet AS_PATH). */
function oldFrrConfig(o: { routerId: string; neighbor: string; neighborAsn: number }): string {
  return `frr defaults traditional
hostname frr
log stdout errors
router bgp 65002
 bgp router-id ${o.routerId}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${o.neighbor} remote-as ${o.neighborAsn}
 neighbor ${o.neighbor} timers 1 3
 neighbor ${o.neighbor} timers connect 1
 neighbor ${o.neighbor} dont-capability-negotiate
 address-family ipv4 unicast
  network 203.0.113.0/24
  neighbor ${o.neighbor} activate
 exit-address-family
exit
`;
}

Deno.test("FRR as a 2-octet-only speaker (dont-capability-negotiate) meets a 4-octet tern", async () => {
  const lab = await Lab.create("bgpfras2");
  const p = lab.peers[0];
  const frr = new Frr(lab, p.ns);
  let tern: Tern | null = null;
  try {
    await frr.start(oldFrrConfig({ routerId: p.v4, neighbor: p.ternV4, neighborAsn: 4200000001 }));
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
    // tern saw an OPEN without capabilities: IPv4 unicast only, 2-octet AS_PATH.
    assert.deepEqual((await t.neighbor(p.v4)).families, ["ipv4"]);
    // FRR read tern's AS4 capability (its remote AS is the 4-octet one) but did not advertise
    // its own, so the session runs by the OLD-speaker rules.
    const fn = (await frr.json(`show bgp neighbors ${p.ternV4} json`))[p.ternV4];
    assert.equal(fn.remoteAs, 4200000001);
    assert.equal(fn.neighborCapabilities["4byteAs"], "received");
    // An OLD speaker sees AS_TRANS where tern's 4-octet ASN stands.
    const fr = await waitFor(
      "tern's route in FRR",
      async () => (await frr.routes("ipv4"))["192.0.2.0/24"],
    );
    assert.equal(fr[0].path, "23456");
    const r = await waitFor(
      "FRR's route in tern",
      async () => (await t.rib()).get("203.0.113.0/24"),
    );
    assert.equal(r.paths[0].asPath, "65002");
    assert.equal(r.paths[0].nextHop, p.v4);
    // Withdrawal from the OLD side reaches tern.
    await run([
      "vtysh",
      "--vty_socket",
      frr.vty,
      "-d",
      "bgpd",
      ...["-c", "configure terminal", "-c", "router bgp 65002"],
      ...["-c", "address-family ipv4 unicast", "-c", "no network 203.0.113.0/24"],
    ]);
    await waitFor(
      "FRR's withdrawal in tern",
      async () => !(await t.rib()).has("203.0.113.0/24"),
    );
    assert.equal(await t.stop(), 0);
    tern = null;
  } catch (e) {
    if (tern) console.error(await tern.log());
    throw e;
  } finally {
    await lab.destroy();
  }
});
