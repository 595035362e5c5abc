import assert from "node:assert/strict";
import {
  addAddress,
  addRoute,
  createVeth,
  deleteLink,
  getLink,
  listAddresses,
  listLinks,
  moveLink,
  NamespaceNotFoundError,
  NetlinkError,
  NetlinkSocket,
  RTNLGRP,
  setLink,
  Subscription,
  type SubscriptionEvent,
  wirePod,
  withNetns,
} from "../actors/netlink/mod.ts";
import { RTM } from "../actors/netlink/constants.ts";
import { parseRoute } from "../actors/netlink/route_codec.ts";
import {
  ip,
  ipJson,
  nsPath,
  openFds,
  threadNetns,
  waitFor,
  withNamespaces,
} from "./netlink_fixtures.ts";

async function ping(ns: string, addr: string): Promise<boolean> {
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", ns, "ping", "-c", "1", "-W", "2", addr],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

Deno.test("netlink veth: pair created across namespaces, addresses and routes set, ping works", async () => {
  await withNamespaces(2, async ([a, b]) => {
    const sa = NetlinkSocket.open({ netns: nsPath(a) });
    const sb = NetlinkSocket.open({ netns: nsPath(b) });
    try {
      // veth with the peer created straight inside b (IFLA_NET_NS_FD in VETH_INFO_PEER)
      await createVeth(sa, {
        name: "tna",
        peerName: "tnb",
        peerNetns: nsPath(b),
        mtu: 1400,
        peerMac: "02:00:00:00:00:0b",
      });
      const linkA = await getLink(sa, "tna");
      const linkB = await getLink(sb, "tnb");
      assert.equal(linkA.kind, "veth");
      assert.equal(linkA.mtu, 1400);
      assert.equal(linkB.mac, "02:00:00:00:00:0b");
      const ipB = await ipJson<{ ifname: string; mtu: number; address: string }[]>(b, [
        "link",
        "show",
        "tnb",
      ]);
      assert.deepEqual([ipB[0].ifname, ipB[0].mtu, ipB[0].address], [
        "tnb",
        1400,
        "02:00:00:00:00:0b",
      ]);
      // a second pair created in a, then one end moved into b by path and renamed
      await createVeth(sa, { name: "tnc", peerName: "tnd" });
      await moveLink(sa, "tnd", { netns: nsPath(b), name: "tne" });
      await assert.rejects(getLink(sa, "tnd"), { code: "unknown_interface" });
      assert.equal((await getLink(sb, "tne")).kind, "veth");
      // addresses, up, routes on both sides
      await addAddress(sa, "tna", "192.0.2.1/30");
      await addAddress(sb, "tnb", "192.0.2.2/30");
      await addAddress(sa, "tna", "fd00:db8::1/64", { flags: 0x02 });
      await addAddress(sb, "tnb", "fd00:db8::2/64", { flags: 0x02 });
      await setLink(sa, "tna", { up: true });
      await setLink(sb, "tnb", { up: true });
      await setLink(sb, "lo", { up: true });
      await addAddress(sb, "lo", "198.51.100.7/32");
      await addRoute(sa, { dst: "198.51.100.7/32", gateway: "192.0.2.2", protocol: 211 });
      await addRoute(sb, { dst: "0.0.0.0/0", gateway: "192.0.2.1" });
      const addrsB = (await listAddresses(sb)).filter((x) => x.index === linkB.index);
      assert.deepEqual(addrsB.map((x) => x.address).sort(), ["192.0.2.2/30", "fd00:db8::2/64"]);
      const shown = await ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(b, [
        "addr",
        "show",
        "tnb",
      ]);
      assert.ok(shown[0].addr_info.some((x) => x.local === "192.0.2.2" && x.prefixlen === 30));
      assert.equal((await getLink(sb, "tnb")).up, true);
      // traffic across it, through the routes we set
      assert.ok(await ping(a, "192.0.2.2"), "ping a → b over the veth");
      assert.ok(await ping(a, "198.51.100.7"), "ping a → b's loopback address via our route");
      assert.ok(await ping(a, "fd00:db8::2"), "ping a → b over IPv6");
      // down again: MTU and state changes show in iproute2
      await setLink(sa, "tna", { up: false, mtu: 1300 });
      const shownA = await ipJson<{ flags: string[]; mtu: number }[]>(a, ["link", "show", "tna"]);
      assert.equal(shownA[0].mtu, 1300);
      assert.ok(!shownA[0].flags.includes("UP"));
      // deleting one end removes both
      await deleteLink(sa, "tna");
      await assert.rejects(getLink(sb, "tnb"), { code: "unknown_interface" });
      await assert.rejects(deleteLink(sa, "tna"), { code: "unknown_interface" });
      // a name that is taken: EEXIST, nothing else created
      const before = (await listLinks(sa)).length;
      await assert.rejects(
        createVeth(sa, { name: "tnc", peerName: "tnf" }),
        (e) => e instanceof NetlinkError && e.errnoName === "EEXIST",
      );
      assert.equal((await listLinks(sa)).length, before);
      // a missing namespace for the peer: typed error, nothing created
      await assert.rejects(
        createVeth(sa, { name: "tng", peerName: "tnh", peerNetns: "/run/netns/tn-nl-missing" }),
        (e) => e instanceof NamespaceNotFoundError,
      );
      assert.equal((await listLinks(sa)).length, before);
    } finally {
      sa.close();
      sb.close();
    }
  });
});

Deno.test("netlink veth: a link moves into the namespace of a process given by pid", async () => {
  await withNamespaces(2, async ([a, b]) => {
    // a process living in b: its pid names b's network namespace
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", b, "sleep", "30"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const sa = NetlinkSocket.open({ netns: nsPath(a) });
    const sb = NetlinkSocket.open({ netns: nsPath(b) });
    try {
      // `ip netns exec` execs sleep in place, so the child's pid is the sleeper's
      await waitFor(
        () => {
          try {
            return Deno.readTextFileSync(`/proc/${child.pid}/comm`).trim() === "sleep";
          } catch {
            return false;
          }
        },
        "the sleeper to run inside the namespace",
      );
      await createVeth(sa, { name: "tnp1", peerName: "tnp2" });
      await moveLink(sa, "tnp2", { pid: child.pid, name: "tnp3" });
      await assert.rejects(getLink(sa, "tnp2"), { code: "unknown_interface" });
      assert.equal((await getLink(sb, "tnp3")).kind, "veth");
    } finally {
      sa.close();
      sb.close();
      child.kill("SIGKILL");
      await child.status;
    }
  });
});

Deno.test("netlink veth: wirePod wires a pod with no external command", async () => {
  await withNamespaces(2, async ([host, pod]) => {
    const hs = NetlinkSocket.open({ netns: nsPath(host) });
    const ps = NetlinkSocket.open({ netns: nsPath(pod) });
    try {
      const res = await wirePod(hs, ps, {
        hostIfname: "tnpod1",
        netns: nsPath(pod),
        addresses: ["198.18.0.5/32", "fd00:18::5/128"],
        mtu: 1450,
      });
      assert.ok(res.hostIndex > 0 && res.podIndex > 0);
      // host route to the pod (the route-table actor's job in the agent)
      await addRoute(hs, { dst: "198.18.0.5/32", oif: res.hostIndex, protocol: 211 });
      await addRoute(hs, { dst: "fd00:18::5/128", oif: res.hostIndex, protocol: 211 });
      const podRoutes = await ipJson<{ dst: string; gateway?: string; dev: string }[]>(pod, [
        "route",
        "show",
      ]);
      assert.deepEqual(
        podRoutes.map((r) => [r.dst, r.gateway ?? null, r.dev]),
        [["default", "169.254.1.1", "eth0"], ["169.254.1.1", null, "eth0"]],
      );
      assert.ok(await ping(pod, "169.254.1.1"), "pod → its gateway");
      assert.ok(await ping(host, "198.18.0.5"), "host → pod");
      assert.ok(await ping(host, "fd00:18::5"), "host → pod over IPv6");
      // a failed wiring leaves nothing behind: the pod's eth0 exists now, so EEXIST
      await assert.rejects(
        wirePod(hs, ps, { hostIfname: "tnpod2", netns: nsPath(pod), addresses: ["198.18.0.6/32"] }),
        (e) => e instanceof NetlinkError && e.errnoName === "EEXIST",
      );
      await assert.rejects(getLink(hs, "tnpod2"), { code: "unknown_interface" });
    } finally {
      hs.close();
      ps.close();
    }
  });
});

Deno.test("netlink veth: setns always brings the thread home", async () => {
  await withNamespaces(1, ([ns]) => {
    const home = threadNetns();
    const inside = withNetns(nsPath(ns), () => threadNetns());
    assert.notEqual(inside, home);
    assert.equal(threadNetns(), home);
    assert.throws(() =>
      withNetns(nsPath(ns), () => {
        throw new Error("boom");
      }), /boom/);
    assert.equal(threadNetns(), home);
    assert.throws(() => withNetns("/run/netns/tn-nl-nope", () => 1), NamespaceNotFoundError);
    assert.equal(threadNetns(), home);
    return Promise.resolve();
  });
});

Deno.test("netlink veth: a subscription sees route and link changes made by others", async () => {
  await withNamespaces(1, async ([ns]) => {
    const fds = openFds();
    const events: SubscriptionEvent[] = [];
    const sub = Subscription.open(
      { netns: nsPath(ns), groups: [RTNLGRP.IPV4_ROUTE, RTNLGRP.IPV6_ROUTE, RTNLGRP.LINK] },
      (ev) => events.push(ev),
    );
    try {
      await ip(ns, ["link", "add", "sa", "type", "veth", "peer", "name", "sb"]);
      await ip(ns, ["link", "set", "sa", "up"]);
      await ip(ns, ["addr", "add", "192.0.2.1/24", "dev", "sa"]);
      await ip(ns, ["route", "add", "198.51.100.0/24", "via", "192.0.2.2", "proto", "static"]);
      const msgs = () => events.flatMap((e) => (e.type === "messages" ? e.messages : []));
      await waitFor(
        () =>
          msgs().some((m) => m.type === RTM.NEWROUTE && parseRoute(m).dst === "198.51.100.0/24"),
        "the NEWROUTE event",
      );
      assert.ok(msgs().some((m) => m.type === RTM.NEWLINK), "link events too");
      await ip(ns, ["route", "del", "198.51.100.0/24"]);
      await waitFor(
        () =>
          msgs().some((m) => m.type === RTM.DELROUTE && parseRoute(m).dst === "198.51.100.0/24"),
        "the DELROUTE event",
      );
    } finally {
      await sub.close();
    }
    assert.equal(openFds(), fds, "socket and eventfd closed");
  });
});
