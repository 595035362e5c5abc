import assert from "node:assert/strict";
import {
  addRoute,
  deleteRoute,
  getLink,
  InterfaceNotFoundError,
  listRoutes,
  MessageWriter,
  NamespaceNotFoundError,
  NetlinkError,
  NetlinkInputError,
  NetlinkSocket,
  NLM_F,
  writeRouteRequest,
} from "../actors/netlink/mod.ts";
import { RTM } from "../actors/netlink/constants.ts";
import {
  basicLinks,
  ip,
  nsPath,
  openFds,
  routes,
  run,
  threadNetns,
  withNamespaces,
} from "./netlink_fixtures.ts";

const PROTO = 211;

Deno.test("netlink routes: add, replace and delete IPv4, IPv6, ECMP, blackhole, table > 255", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    await ip(ns, ["addr", "add", "192.0.2.9/24", "dev", "vb"]);
    const sock = NetlinkSocket.open({ netns: nsPath(ns) });
    try {
      const va = (await getLink(sock, "va")).index;
      const vb = (await getLink(sock, "vb")).index;
      // IPv4 with gateway
      await addRoute(sock, { dst: "198.51.100.0/24", gateway: "192.0.2.2", protocol: PROTO });
      let r4 = await routes(ns, { proto: PROTO });
      assert.deepEqual(r4.map((r) => [r.dst, r.gateway, r.dev]), [[
        "198.51.100.0/24",
        "192.0.2.2",
        "va",
      ]]);
      // replace: new gateway
      await addRoute(
        sock,
        { dst: "198.51.100.0/24", gateway: "192.0.2.3", protocol: PROTO },
        "replace",
      );
      r4 = await routes(ns, { proto: PROTO });
      assert.deepEqual(r4.map((r) => [r.dst, r.gateway]), [["198.51.100.0/24", "192.0.2.3"]]);
      // create-exclusive on an existing key: EEXIST, unchanged
      await assert.rejects(
        addRoute(sock, { dst: "198.51.100.0/24", gateway: "192.0.2.4", protocol: PROTO }),
        (e) =>
          e instanceof NetlinkError && e.errnoName === "EEXIST" &&
          e.request.typeName === "RTM_NEWROUTE",
      );
      assert.equal((await routes(ns, { proto: PROTO }))[0].gateway, "192.0.2.3");
      // ECMP over both links
      await addRoute(sock, {
        dst: "203.0.113.0/24",
        protocol: PROTO,
        nexthops: [{ gateway: "192.0.2.2", oif: va }, { gateway: "192.0.2.5", oif: vb, weight: 3 }],
      });
      const ecmp = (await routes(ns, { proto: PROTO })).find((r) => r.dst === "203.0.113.0/24");
      assert.ok(ecmp?.nexthops, JSON.stringify(ecmp));
      assert.deepEqual(
        ecmp.nexthops.map((h) => [h.gateway, h.dev, h.weight]),
        [["192.0.2.2", "va", 1], ["192.0.2.5", "vb", 3]],
      );
      // blackhole and unreachable
      await addRoute(sock, { dst: "198.18.0.0/16", type: "blackhole", protocol: PROTO });
      await addRoute(sock, { dst: "198.19.0.0/16", type: "unreachable", protocol: PROTO });
      const special = (await routes(ns, { proto: PROTO })).filter((r) => r.type);
      assert.deepEqual(
        special.map((r) => [r.type, r.dst]).sort(),
        [["blackhole", "198.18.0.0/16"], ["unreachable", "198.19.0.0/16"]],
      );
      // IPv6 with gateway, and IPv6 ECMP
      await addRoute(sock, { dst: "fd00:1::/64", gateway: "fd00:db8::2", protocol: PROTO });
      await addRoute(sock, {
        dst: "fd00:2::/64",
        protocol: PROTO,
        nexthops: [{ gateway: "fd00:db8::2", oif: va }, { gateway: "fd00:db8::3", oif: va }],
      });
      const r6 = await routes(ns, { v6: true, proto: PROTO });
      assert.deepEqual(r6.map((r) => r.dst).sort(), ["fd00:1::/64", "fd00:2::/64"]);
      assert.equal(r6.find((r) => r.dst === "fd00:1::/64")?.gateway, "fd00:db8::2");
      assert.deepEqual(
        r6.find((r) => r.dst === "fd00:2::/64")?.nexthops?.map((h) => h.gateway).sort(),
        ["fd00:db8::2", "fd00:db8::3"],
      );
      // our own dump agrees with iproute2
      const ours = await listRoutes(sock, { protocol: PROTO });
      assert.deepEqual(
        ours.map((r) => r.dst).sort(),
        [
          "198.18.0.0/16",
          "198.19.0.0/16",
          "198.51.100.0/24",
          "203.0.113.0/24",
          "fd00:1::/64",
          "fd00:2::/64",
        ],
      );
      assert.equal(ours.find((r) => r.dst === "203.0.113.0/24")?.nexthops?.length, 2);
      // table above 255 goes through RTA_TABLE
      await addRoute(sock, { dst: "198.51.100.128/25", oif: va, table: 1000, protocol: PROTO });
      const t1000 = await routes(ns, { table: 1000 });
      assert.deepEqual(t1000.map((r) => [r.dst, r.dev, r.scope]), [[
        "198.51.100.128/25",
        "va",
        "link",
      ]]);
      assert.deepEqual(
        (await listRoutes(sock, { table: 1000 })).map((r) => [r.dst, r.table]),
        [["198.51.100.128/25", 1000]],
      );
      // delete everything again
      for (const dst of ["198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/16", "198.19.0.0/16"]) {
        await deleteRoute(sock, { dst, protocol: PROTO });
      }
      await deleteRoute(sock, { dst: "fd00:1::/64", protocol: PROTO });
      await deleteRoute(sock, { dst: "fd00:2::/64", protocol: PROTO });
      await deleteRoute(sock, { dst: "198.51.100.128/25", table: 1000 });
      assert.deepEqual(await routes(ns, { proto: PROTO }), []);
      assert.deepEqual(await routes(ns, { v6: true, proto: PROTO }), []);
      assert.deepEqual(await routes(ns, { table: 1000 }), []);
      await assert.rejects(
        deleteRoute(sock, { dst: "198.51.100.0/24", protocol: PROTO }),
        (e) => e instanceof NetlinkError && e.errnoName === "ESRCH",
      );
    } finally {
      sock.close();
    }
  });
});

Deno.test("netlink routes: a batch matches every ACK and error to its request", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    const sock = NetlinkSocket.open({ netns: nsPath(ns), rcvbuf: 256 * 1024 });
    try {
      const w = new MessageWriter();
      const subjects: string[] = [];
      for (let i = 0; i < 600; i++) {
        // every 100th route has an unreachable gateway (ENETUNREACH), the rest succeed
        const gw = i % 100 === 7 ? "203.0.113.1" : "192.0.2.2";
        const dst = `198.18.${i >> 8}.${i & 255}/32`;
        writeRouteRequest(w, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, sock.nextSeq(), {
          dst,
          gateway: gw,
          protocol: PROTO,
        });
        subjects.push(dst);
      }
      const res = await sock.batch(w, subjects);
      assert.equal(res.sent, 600);
      assert.equal(res.failed, 6);
      assert.ok(res.sends > 1, `small receive buffer forces several sends, got ${res.sends}`);
      for (let i = 0; i < 600; i++) {
        const o = res.outcomes[i];
        if (i % 100 === 7) {
          assert.ok(o instanceof NetlinkError, `request ${i}`);
          assert.equal(o.errnoName, "ENETUNREACH");
          assert.equal(o.request.subject, subjects[i]);
        } else {
          assert.equal(o, undefined, `request ${i}: ${o?.message}`);
        }
      }
      assert.equal((await routes(ns, { proto: PROTO })).length, 594);
    } finally {
      sock.close();
    }
  });
});

Deno.test("netlink routes: exchanges on one socket never read each other's replies", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    const sock = NetlinkSocket.open({ netns: nsPath(ns) });
    try {
      const w = new MessageWriter(1 << 20);
      for (let i = 0; i < 20_000; i++) {
        writeRouteRequest(w, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, sock.nextSeq(), {
          dst: `198.18.${(i >> 8) & 255}.${i & 255}/32`,
          gateway: "192.0.2.2",
          protocol: PROTO,
        });
      }
      // the batch yields between chunks; requests and dumps started meanwhile wait their turn
      const batch = sock.batch(w);
      assert.throws(() => sock.requestSync(() => {}), { code: "socket_busy" });
      const [res, link, list] = await Promise.all([
        batch,
        getLink(sock, "va"),
        listRoutes(sock, { protocol: PROTO }),
      ]);
      assert.deepEqual([res.sent, res.failed], [20_000, 0]);
      assert.equal(link.name, "va");
      assert.equal(list.length, 20_000, "the dump ran after the batch");
    } finally {
      sock.close();
    }
  });
});

Deno.test("netlink routes: invalid input gives typed errors and changes nothing", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    const home = threadNetns();
    const fds = openFds();
    // missing namespace: typed error, no socket left open, thread still at home
    assert.throws(
      () => NetlinkSocket.open({ netns: "/run/netns/tn-nl-does-not-exist" }),
      (e) => e instanceof NamespaceNotFoundError && e.errno === 2,
    );
    assert.throws(
      () => NetlinkSocket.open({ netns: "/etc/hostname" }), // a file that is not a namespace
      (e) => (e as { code?: string }).code === "namespace_failed",
    );
    assert.equal(threadNetns(), home);
    assert.equal(openFds(), fds);
    const sock = NetlinkSocket.open({ netns: nsPath(ns) });
    try {
      assert.equal(threadNetns(), home);
      const before = JSON.stringify(await routes(ns));
      await assert.rejects(
        addRoute(sock, { dst: "198.51.100.1/24", gateway: "192.0.2.2" }),
        (e) => e instanceof NetlinkInputError && e.code === "invalid_prefix",
      );
      await assert.rejects(
        addRoute(sock, { dst: "198.51.100.0/24", gateway: "fd00::1" }),
        (e) => e instanceof NetlinkInputError && e.code === "invalid_route",
      );
      await assert.rejects(
        addRoute(sock, { dst: "198.51.100.0/24", oif: 9999 }),
        (e) => e instanceof NetlinkError && e.errnoName === "ENODEV",
      );
      await assert.rejects(getLink(sock, "nosuchif0"), (e) => e instanceof InterfaceNotFoundError);
      assert.equal(JSON.stringify(await routes(ns)), before);
    } finally {
      sock.close();
    }
  });
});

Deno.test("netlink routes: without CAP_NET_ADMIN the kernel's EPERM is a typed error", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    const script = new URL("./netlink_fixture_noperm.ts", import.meta.url).pathname;
    const out = await run("setpriv", [
      "--inh-caps=-net_admin",
      "--bounding-set=-net_admin",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      script,
      nsPath(ns),
    ]);
    const res = JSON.parse(out.trim().split("\n").pop()!);
    assert.deepEqual(res, { name: "NetlinkError", errnoName: "EPERM", type: "RTM_NEWROUTE" });
    assert.deepEqual(await routes(ns, { proto: PROTO }), []);
  });
});
