/**
 * A BGP sender that is as fast as the TCP connection: it connects to HOST:179, opens a session
 * (ASN, router id), sends N pre-encoded IPv4 prefixes packed into full 4096-octet UPDATEs (one
 * shared attribute set, next hop NEXTHOP), prints `{"sent": <ms since epoch>}` when the last
 * byte is written, and then keeps the session alive until stdin closes.
 *
 *   deno run -A tests/bgp_blaster.ts HOST ASN ROUTER_ID N NEXTHOP [FAMILY]
 */
import { encodeKeepalive } from "../actors/bgp/notification.ts";
import { encodeEndOfRib, packAnnouncement } from "../actors/bgp/update_message.ts";
import { rawEstablish } from "./bgp_bench_lib.ts";
import { prefixes, prefixes6 } from "./bgp_mrt.ts";

const [host, asnText, routerId, nText, nextHop, familyText = "ipv4"] = Deno.args;
const asn = Number(asnText), n = Number(nText);
if (familyText !== "ipv4" && familyText !== "ipv6") throw new Error(`bad family "${familyText}"`);
const family: "ipv4" | "ipv6" = familyText;
const list: string[] = [];
for (const p of family === "ipv4" ? prefixes(n) : prefixes6(n)) list.push(p.text);
const asPath = [{ type: 2, asns: [asn, 64512] }];
const updates = packAnnouncement({
  family,
  attributes: family === "ipv4" ? { origin: 0, asPath, nextHop } : { origin: 0, asPath },
  prefixes: list,
  ...(family === "ipv6" ? { mpNextHop: nextHop } : {}),
}, { as4: true, maxLength: 4096 });
let total = 0;
for (const u of updates) total += u.length;
const blob = new Uint8Array(total + encodeEndOfRib(family).length);
let o = 0;
for (const u of updates) {
  blob.set(u, o);
  o += u.length;
}
const eor = encodeEndOfRib(family);
blob.set(eor, o);

const conn = await Deno.connect({ hostname: host, port: 179 });
conn.setNoDelay(true);
await rawEstablish(conn, { asn, routerId, afi: family === "ipv4" ? 1 : 2 });
console.log(JSON.stringify({ established: Date.now(), messages: updates.length, bytes: total }));
let off = 0;
while (off < blob.length) off += await conn.write(blob.subarray(off));
console.log(JSON.stringify({ sent: Date.now() }));
// Keep the session: answer with keepalives, drain what the receiver sends.
const ka = setInterval(() => conn.write(encodeKeepalive()).catch(() => {}), 20_000);
const buf = new Uint8Array(65536);
const drain = (async () => {
  try {
    while ((await conn.read(buf)) !== null) { /* discard */ }
  } catch { /* closed */ }
})();
for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
clearInterval(ka);
conn.close();
await drain;
