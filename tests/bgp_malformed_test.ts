/**
 * Malformed input from a raw TCP peer gets the exact NOTIFICATION (or RFC 7606
 * treat-as-withdraw), tern never crashes and another session (BIRD) keeps running; a 4-octet
 * tern meets a 2-octet-only (OLD) speaker; a flapping peer leaks nothing.
 */
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { encodeKeepalive } from "../actors/bgp/notification.ts";
import { encodeOpen } from "../actors/bgp/open_message.ts";
import { decodeUpdate, encodeUpdate } from "../actors/bgp/update_message.ts";
import type { Capability } from "../actors/bgp/capabilities.ts";
import { attr, cat, msg, updateBody } from "./bgp_helpers.ts";
import { Bird, birdConfig, Lab, RawPeer, sleep, Tern, ternConfig, waitFor } from "./bgp_lab.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const TERN_ASN = 4200000001;

function openBytes(
  o: { asn?: number; hold?: number; version?: number; as4?: boolean; id: string },
) {
  const asn = o.asn ?? 65002;
  const caps: Capability[] = [
    { kind: "multiprotocol", afi: 1, safi: 1 },
    { kind: "multiprotocol", afi: 2, safi: 1 },
  ];
  if (o.as4 !== false) caps.push({ kind: "four-octet-as", asn });
  const b = encodeOpen({
    myAsn: asn > 0xffff ? 23456 : asn,
    holdTime: o.hold ?? 0,
    bgpId: o.id,
    capabilities: caps,
  });
  if (o.version !== undefined) b[19] = o.version;
  return b;
}

function v4Update(prefix: string, nextHop: string, asPath = [65002]) {
  return encodeUpdate({
    withdrawn: [],
    attributes: { origin: 0, asPath: [{ type: 2, asns: asPath }], nextHop },
    nlri: [prefix],
  }, { as4: true });
}

function nlriOf(prefix: string): Uint8Array {
  const [a, len] = prefix.split("/");
  const n = Math.ceil(Number(len) / 8);
  return new Uint8Array([Number(len), ...a.split(".").map(Number).slice(0, n)]);
}

async function setup() {
  const lab = await Lab.create("bgpbad", 2);
  const [raw, b] = lab.peers;
  const bird = new Bird(lab, b.ns);
  await bird.start(birdConfig({
    routerId: b.v4,
    local: b.v4,
    asn: 65003,
    neighbor: b.ternV4,
    neighborAsn: TERN_ASN,
    nextHop6: b.v6,
    passive: true,
    routes4: ["203.0.113.128/25"],
  }));
  const tern = await Tern.start(
    lab,
    ternConfig({
      asn: TERN_ASN,
      routerId: raw.ternV4,
      peers: [
        { address: raw.v4, asn: 65002, holdTime: 9, passive: true, maxPrefixes: 50 },
        { address: b.v4, asn: 65003, holdTime: 3, connectRetryTime: 1 },
      ],
      prefixes: [{ prefix: "192.0.2.0/24" }],
    }),
  );
  await waitFor(
    "BIRD Established",
    async () => (await tern.neighbor(b.v4))?.state === "Established",
  );
  await waitFor("BIRD route", async () => (await tern.rib()).has("203.0.113.128/25"));
  return { lab, raw, b, bird, tern };
}

async function notificationFor(
  rp: RawPeer,
  bytes: Uint8Array,
  ms = 3000,
): Promise<[number, number] | null> {
  const c = await rp.cmd("connect");
  assert.equal(c.error, undefined, c.error);
  await rp.cmd(`send ${hex(bytes)}`);
  const r = await rp.cmd(`read ${ms}`);
  await rp.cmd("close");
  const n = (r.messages as any[]).find((m) => m.type === 3);
  return n ? [n.code, n.subcode] : null;
}

async function establish(rp: RawPeer, tern: Tern, addr: string, open: Uint8Array) {
  await waitFor(
    "peer not Established",
    async () => (await tern.neighbor(addr))?.state !== "Established",
  );
  await rp.cmd("connect");
  await rp.cmd(`send ${hex(open)}`);
  const r = await rp.cmd("until-open 3000");
  const types = (r.messages as any[]).map((m) => m.type);
  assert.ok(types.includes(1) && types.includes(4), `got ${JSON.stringify(r.messages)}`);
  await rp.cmd(`send ${hex(encodeKeepalive())}`);
  await waitFor(
    "raw session Established",
    async () => (await tern.neighbor(addr))?.state === "Established",
    5000,
    50,
  );
  return r.messages as any[];
}

async function expectNotification(
  rp: RawPeer,
  bytes: Uint8Array,
): Promise<[number, number] | null> {
  await rp.cmd(`send ${hex(bytes)}`);
  const r = await rp.cmd("read 3000");
  await rp.cmd("close");
  const n = (r.messages as any[]).find((m) => m.type === 3);
  return n ? [n.code, n.subcode] : null;
}

Deno.test("malformed input: exact NOTIFICATIONs, RFC 7606 treat-as-withdraw, others unaffected", async () => {
  const { lab, raw, b, tern } = await setup();
  const rp = RawPeer.start(lab, raw.ns, raw.ternV4);
  try {
    const open = openBytes({ id: raw.v4 });
    // Header and OPEN errors, before the session exists.
    const keepalive = encodeKeepalive();
    const badMarker = keepalive.slice();
    badMarker[5] = 0;
    assert.deepEqual(await notificationFor(rp, badMarker), [1, 1], "bad marker");
    const badLen = keepalive.slice();
    badLen[17] = 18;
    assert.deepEqual(await notificationFor(rp, badLen), [1, 2], "bad length");
    const badType = keepalive.slice();
    badType[18] = 9;
    assert.deepEqual(await notificationFor(rp, badType), [1, 3], "bad type");
    assert.deepEqual(
      await notificationFor(rp, openBytes({ id: raw.v4, version: 3 })),
      [2, 1],
      "version",
    );
    assert.deepEqual(
      await notificationFor(rp, openBytes({ id: raw.v4, asn: 65099 })),
      [2, 2],
      "peer AS",
    );
    assert.deepEqual(
      await notificationFor(rp, openBytes({ id: raw.v4, hold: 1 })),
      [2, 6],
      "hold 1",
    );
    assert.deepEqual(
      await notificationFor(rp, openBytes({ id: raw.v4, hold: 2 })),
      [2, 6],
      "hold 2",
    );
    assert.deepEqual(await notificationFor(rp, openBytes({ id: "0.0.0.0" })), [2, 3], "BGP id 0");

    // UPDATE errors handled by treat-as-withdraw keep the session.
    await establish(rp, tern, raw.v4, open);
    await rp.cmd(`send ${hex(v4Update("198.18.0.0/24", raw.v4))}`);
    await rp.cmd(`send ${hex(v4Update("198.18.1.0/24", raw.v4))}`);
    await waitFor("valid routes", async () => {
      const r = await tern.rib();
      return r.has("198.18.0.0/24") && r.has("198.18.1.0/24");
    });
    const nh = attr(0x40, 3, raw.v4.split(".").map(Number));
    const badAsPath = msg(
      2,
      updateBody(
        new Uint8Array(0),
        cat(attr(0x40, 1, [0]), attr(0x40, 2, [2, 5, 0, 0, 0xfd, 0xea]), nh),
        nlriOf("198.18.0.0/24"),
      ),
    );
    const noOrigin = msg(
      2,
      updateBody(
        new Uint8Array(0),
        cat(attr(0x40, 2, [2, 1, 0, 0, 0xfd, 0xea]), nh),
        nlriOf("198.18.1.0/24"),
      ),
    );
    const dupOrigin = msg(
      2,
      updateBody(
        new Uint8Array(0),
        cat(attr(0x40, 1, [0]), attr(0x40, 1, [2]), attr(0x40, 2, [2, 1, 0, 0, 0xfd, 0xea]), nh),
        nlriOf("198.18.2.0/24"),
      ),
    );
    await rp.cmd(`send ${hex(badAsPath)}`);
    await rp.cmd(`send ${hex(noOrigin)}`);
    await rp.cmd(`send ${hex(dupOrigin)}`);
    await waitFor("treat-as-withdraw applied", async () => {
      const r = await tern.rib();
      return !r.has("198.18.0.0/24") && !r.has("198.18.1.0/24") && r.has("198.18.2.0/24");
    });
    assert.equal(
      (await tern.rib()).get("198.18.2.0/24").paths[0].origin,
      "igp",
      "first ORIGIN kept",
    );
    const quiet = await rp.cmd("read 300");
    assert.equal(
      (quiet.messages as any[]).filter((m) => m.type === 3).length,
      0,
      "no NOTIFICATION",
    );
    assert.equal((await tern.neighbor(raw.v4)).state, "Established");
    await rp.cmd("close");

    // Errors that require a session reset.
    const resets: [string, Uint8Array, [number, number]][] = [
      [
        "truncated MP_REACH",
        msg(
          2,
          updateBody(
            new Uint8Array(0),
            cat(attr(0x80, 14, [0, 2, 1, 16, 0xfd, 0]), attr(0x40, 1, [0]), attr(0x40, 2, [])),
            new Uint8Array(0),
          ),
        ),
        [3, 9],
      ],
      [
        "duplicate MP_REACH",
        msg(
          2,
          updateBody(
            new Uint8Array(0),
            cat(
              attr(0x80, 14, [0, 1, 1, 4, 198, 51, 100, 2, 0]),
              attr(0x80, 14, [0, 1, 1, 4, 198, 51, 100, 2, 0]),
            ),
            new Uint8Array(0),
          ),
        ),
        [3, 1],
      ],
      [
        "invalid network field",
        msg(
          2,
          updateBody(
            new Uint8Array(0),
            cat(attr(0x40, 1, [0]), attr(0x40, 2, []), nh),
            new Uint8Array([33, 198, 18, 0, 0, 0]),
          ),
        ),
        [3, 10],
      ],
      [
        "unrecognized well-known attribute",
        msg(
          2,
          updateBody(
            new Uint8Array(0),
            cat(attr(0x40, 1, [0]), attr(0x40, 2, []), nh, attr(0x40, 99, [1])),
            nlriOf("198.18.3.0/24"),
          ),
        ),
        [3, 2],
      ],
      [
        "attribute length beyond the message",
        msg(2, new Uint8Array([0, 0, 0, 0x40])),
        [3, 1],
      ],
    ];
    for (const [name, bytes, want] of resets) {
      await establish(rp, tern, raw.v4, open);
      assert.deepEqual(await expectNotification(rp, bytes), want, name);
    }
    // Maximum prefixes (50): Cease / Maximum Number of Prefixes Reached.
    await establish(rp, tern, raw.v4, open);
    const many = encodeUpdate({
      withdrawn: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: raw.v4 },
      nlri: Array.from({ length: 60 }, (_, i) => `198.19.${i}.0/24`),
    }, { as4: true });
    assert.deepEqual(await expectNotification(rp, many), [6, 1], "max prefixes");
    await waitFor(
      "routes of the reset session withdrawn",
      async () => !(await tern.rib()).has("198.18.2.0/24"),
    );

    // The other session never noticed.
    const other = await tern.neighbor(b.v4);
    assert.equal(other.state, "Established");
    assert.equal(other.establishedCount, 1);
    assert.ok((await tern.rib()).has("203.0.113.128/25"));
    assert.equal(await tern.stop(), 0, "tern is still running and exits cleanly");
  } catch (e) {
    console.error(await tern.log());
    throw e;
  } finally {
    await rp.stop();
    await lab.destroy();
  }
});

Deno.test("AS4: a 4-octet ASN speaker meets a 2-octet-only (OLD) speaker both ways", async () => {
  const { lab, raw, tern } = await setup();
  const rp = RawPeer.start(lab, raw.ns, raw.ternV4);
  try {
    const msgs = await establish(rp, tern, raw.v4, openBytes({ id: raw.v4, as4: false }));
    const open = msgs.find((m) => m.type === 1);
    assert.equal(open.body.slice(2, 6), "5ba0", "My AS is AS_TRANS");
    // tern's route toward the OLD speaker: AS_PATH with AS_TRANS plus AS4_PATH.
    const r = await rp.cmd("read 2000");
    // The UPDATE of the originated 192.0.2.0/24 (NLRI 18 c00002 ends the body): the full table
    // goes out in the RIB's table order, so the learned routes may come first.
    const upd = (r.messages as any[]).find((m) => m.type === 2 && m.body.endsWith("18c00002"));
    assert.ok(upd, "an UPDATE arrived");
    assert.ok(upd.body.includes("4002040201" + "5ba0"), `AS_PATH [23456]: ${upd.body}`);
    assert.ok(upd.body.includes("c01106" + "0201fa56ea01"), `AS4_PATH [4200000001]: ${upd.body}`);
    const body = Uint8Array.from(upd.body.match(/../g).map((h: string) => parseInt(h, 16)));
    const d = decodeUpdate(body, { as4: false, ibgp: false });
    assert.deepEqual(d.message.attributes.asPath, [{ type: 2, asns: [TERN_ASN] }]);
    // And the OLD speaker's route carrying a 4-octet AS in AS4_PATH.
    const nh = attr(0x40, 3, raw.v4.split(".").map(Number));
    const u = msg(
      2,
      updateBody(
        new Uint8Array(0),
        cat(
          attr(0x40, 1, [0]),
          attr(0x40, 2, [2, 2, 0xfd, 0xea, 0x5b, 0xa0]),
          nh,
          attr(0xc0, 17, [2, 1, 0xfa, 0x56, 0xea, 0x07]),
        ),
        nlriOf("198.18.4.0/24"),
      ),
    );
    await rp.cmd(`send ${hex(u)}`);
    const e = await waitFor(
      "route from the OLD speaker",
      async () => (await tern.rib()).get("198.18.4.0/24"),
    );
    assert.equal(e.paths[0].asPath, "65002 4200000007");
    assert.equal(await tern.stop(), 0);
  } catch (e) {
    console.error(await tern.log());
    throw e;
  } finally {
    await rp.stop();
    await lab.destroy();
  }
});

async function procStats(pid: number) {
  const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  return { fds, rssKb: rss };
}

Deno.test("flapping peer: 100 connect/close cycles leak no sockets, timers or memory", async () => {
  const lab = await Lab.create("bgpflap");
  const raw = lab.peers[0];
  const rp = RawPeer.start(lab, raw.ns, raw.ternV4);
  let tern: Tern | null = null;
  try {
    tern = await Tern.start(
      lab,
      ternConfig({
        asn: 65001,
        routerId: raw.ternV4,
        peers: [{ address: raw.v4, asn: 65002, holdTime: 9, passive: true }],
      }),
    );
    const open = hex(openBytes({ id: raw.v4 }));
    // Warm up, then measure.
    assert.equal((await rp.cmd(`flap 5 ${open}`)).opened, 5);
    await sleep(300);
    const before = await procStats(tern.pid);
    const r = await rp.cmd(`flap 100 ${open}`);
    assert.equal(r.opened, 100, "tern answered every connection with an OPEN");
    await sleep(1500);
    const after = await procStats(tern.pid);
    assert.ok(after.fds <= before.fds + 1, `fds ${before.fds} -> ${after.fds}`);
    assert.ok(after.rssKb - before.rssKb < 30_000, `RSS ${before.rssKb} -> ${after.rssKb} kB`);
    const snap = await tern.call("GET", "/debug/supervision");
    const text = JSON.stringify(snap.json);
    const m = /"connections":(\d+)/.exec(text);
    assert.equal(m?.[1], "0", "no connection left in the peer actor");
    const timers = /"timers":\[([^\]]*)\]/.exec(text)?.[1] ?? "";
    assert.ok(!timers.includes("hold") && !timers.includes("keepalive"), `timers left: ${timers}`);
    assert.equal(await tern.stop(), 0);
    tern = null;
  } catch (e) {
    if (tern) console.error(await tern.log());
    throw e;
  } finally {
    await rp.stop();
    await lab.destroy();
  }
});
