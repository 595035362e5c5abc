/**
 * The agent and the plugin together, as on a node: an agent process in a node namespace,
 * plugin processes run as a container runtime runs them, pods in their own namespaces, and
 * `ip -n` as the oracle.
 */
import assert from "node:assert/strict";
import { ip, run, TestNode, waitFor, withNode } from "./agent_fixtures.ts";

const V4 = "--static-block=default=198.18.0.0/28";
const V6 = "--static-block=default=fd00:18::/124";

async function ternLinks(node: TestNode): Promise<string[]> {
  const out = await ip("-n", node.netns, "-o", "link", "show");
  return [...out.matchAll(/^\d+: (tern[0-9a-f]{11})@/gm)].map((m) => m[1]!);
}

Deno.test("agent+plugin: ADD, CHECK, DEL, DEL again, with ip as the oracle", async () => {
  await withNode({ flags: [V4, V6, "--mtu", "1400"] }, async (node) => {
    const p = await node.pod("p1");
    const add = await node.add("c1", p, node.conf({}, "1.1.0"));
    assert.equal(add.code, 0, add.stdout);
    const r = add.json;
    assert.equal(r.cniVersion, "1.1.0");
    assert.deepEqual(r.ips, [
      { address: "198.18.0.1/32", gateway: "169.254.1.1", interface: 1 },
      { address: "fd00:18::1/128", gateway: "fe80::1", interface: 1 },
    ]);
    assert.equal(r.interfaces[1].name, "eth0");
    assert.equal(r.interfaces[1].sandbox, p);
    assert.equal(r.interfaces[1].mtu, 1400);
    const hostIf = r.interfaces[0].name as string;
    assert.match(hostIf, /^tern[0-9a-f]{11}$/);

    const podAddr = await ip("-n", `${node.id}-p1`, "addr", "show", "dev", "eth0");
    assert.match(podAddr, /inet 198\.18\.0\.1\/32 /);
    assert.match(podAddr, /inet6 fd00:18::1\/128 /);
    assert.match(podAddr, /mtu 1400 /);
    assert.match(podAddr, /state UP/);
    assert.match(await ip("-n", `${node.id}-p1`, "route"), /default via 169\.254\.1\.1 dev eth0/);
    assert.match(await ip("-n", `${node.id}-p1`, "-6", "route"), /default via fe80::1 dev eth0/);
    assert.match(
      await ip("-n", node.netns, "route"),
      new RegExp(`198\\.18\\.0\\.1 dev ${hostIf} proto 212 scope link`),
    );
    assert.match(
      await ip("-n", node.netns, "-6", "route"),
      new RegExp(`fd00:18::1 dev ${hostIf} proto 212`),
    );
    assert.deepEqual(node.state().map((a: { containerId: string }) => a.containerId), ["c1"]);

    const vars = { CNI_CONTAINERID: "c1", CNI_NETNS: p, CNI_IFNAME: "eth0" };
    const check = await node.plugin("CHECK", node.conf({ prevResult: r }, "1.1.0"), vars);
    assert.equal(check.code, 0, check.stdout);
    // Take the pod's address away: CHECK compares with the pod's own addresses and fails.
    await ip("-n", `${node.id}-p1`, "addr", "del", "198.18.0.1/32", "dev", "eth0");
    const bad = await node.plugin("CHECK", node.conf({ prevResult: r }, "1.1.0"), vars);
    assert.equal(bad.code, 1);
    assert.equal(bad.json.code, 103);
    assert.match(bad.json.details, /198\.18\.0\.1\/32/);

    const del = await node.del("c1", p);
    assert.deepEqual([del.code, del.stdout], [0, ""]);
    assert.deepEqual(await ternLinks(node), []);
    assert.doesNotMatch(await ip("-n", node.netns, "route"), /198\.18\.0\.1/);
    assert.doesNotMatch(await ip("-n", `${node.id}-p1`, "link"), /eth0/);
    assert.deepEqual(node.state(), []);
    // DEL again, with and without the namespace, and after the namespace is gone: success.
    assert.equal((await node.del("c1", p)).code, 0);
    await node.removePod(p);
    assert.equal((await node.del("c1", p)).code, 0);
    assert.equal((await node.del("c1")).code, 0);
    assert.equal((await node.del("never-added")).code, 0);
    // The released address is handed out again (lowest first).
    const p2 = await node.pod("p2");
    const again = await node.add("c2", p2, node.conf({}, "0.4.0"));
    assert.equal(again.json.cniVersion, "0.4.0");
    assert.equal(again.json.ips[0].version, "4");
    assert.equal(again.json.ips[0].address, "198.18.0.1/32");
  });
});

Deno.test("agent+plugin: two pods ping each other; a pod reaches the host", async () => {
  await withNode({ flags: [V4, V6] }, async (node) => {
    await ip("-n", node.netns, "addr", "add", "192.0.2.10/32", "dev", "lo");
    const a = await node.pod("a");
    const b = await node.pod("b");
    assert.equal((await node.add("ca", a)).code, 0);
    assert.equal((await node.add("cb", b)).code, 0);
    const ping = (ns: string, dst: string) =>
      run("ip", ["netns", "exec", `${node.id}-${ns}`, "ping", "-c", "1", "-W", "2", dst], {
        allowFail: true,
      });
    assert.equal((await ping("a", "198.18.0.2")).code, 0, "a -> b over IPv4");
    assert.equal((await ping("b", "198.18.0.1")).code, 0, "b -> a over IPv4");
    assert.equal((await ping("a", "fd00:18::2")).code, 0, "a -> b over IPv6");
    assert.equal((await ping("a", "192.0.2.10")).code, 0, "a -> the host's address");
    assert.equal((await ping("a", "169.254.1.1")).code, 0, "a -> its gateway");
  });
});

Deno.test("agent+plugin: GC keeps the valid attachments only; STATUS with the agent up and down", async () => {
  await withNode({ flags: [V4] }, async (node) => {
    const pods = await Promise.all(["g1", "g2", "g3"].map((n) => node.pod(n)));
    for (let i = 0; i < 3; i++) assert.equal((await node.add(`g${i + 1}`, pods[i]!)).code, 0);
    assert.equal((await ternLinks(node)).length, 3);
    const gc = await node.plugin("GC", {
      ...node.conf({}, "1.1.0"),
      "cni.dev/valid-attachments": [{ containerID: "g2", ifname: "eth0" }],
    });
    assert.deepEqual([gc.code, gc.stdout], [0, ""]);
    assert.deepEqual(node.state().map((a: { containerId: string }) => a.containerId), ["g2"]);
    assert.equal((await ternLinks(node)).length, 1);
    assert.match(
      await ip("-n", `${node.id}-g2`, "addr", "show", "dev", "eth0"),
      /198\.18\.0\.2\/32/,
    );
    assert.doesNotMatch(await ip("-n", `${node.id}-g1`, "link"), /eth0/);

    assert.deepEqual(await node.plugin("STATUS", node.conf({}, "1.1.0")), {
      code: 0,
      json: undefined,
      stdout: "",
    });
    await node.stopAgent("SIGTERM");
    const down = await node.plugin("STATUS", node.conf({}, "1.1.0"));
    assert.equal(down.code, 1);
    assert.equal(down.json.code, 50);
    const p = await node.pod("late");
    const add = await node.add("late", p);
    assert.equal(add.json.code, 11, "try again later while the agent is away");
  });
});

Deno.test("agent+plugin: bad input gets the spec's codes and leaves nothing behind", async () => {
  await withNode({ flags: [V4] }, async (node) => {
    const p = await node.pod("e");
    const notNs = `${node.dir}/not-a-netns`;
    Deno.writeTextFileSync(notNs, "");
    const cases: [string, Promise<{ code: number; json: { code: number } }>, number][] = [
      ["broken config", node.add("e1", p, "{ this is not json" as never), 6],
      ["wrong cniVersion", node.add("e2", p, node.conf({ cniVersion: "0.3.1" })), 1],
      ["ipam section", node.add("e3", p, node.conf({ ipam: { type: "host-local" } })), 2],
      [
        "missing name",
        node.add("e4", p, { cniVersion: "1.0.0", type: "tern", socket: node.socket }),
        7,
      ],
      ["unknown pool", node.add("e5", p, node.conf({ pool: "nope" })), 7],
      ["relative CNI_NETNS", node.add("e6", "run/netns/x"), 4],
      ["missing CNI_NETNS", node.add("e7", "/run/netns/tn-agent-does-not-exist"), 3],
      ["CNI_NETNS not a namespace", node.add("e8", notNs), 4],
      ["bad container id", node.add("../x", p), 4],
    ];
    for (const [what, pr, code] of cases) {
      const r = await pr;
      assert.equal(r.code, 1, what);
      assert.equal(r.json.code, code, `${what}: ${JSON.stringify(r.json)}`);
    }
    assert.deepEqual(await ternLinks(node), [], "no veth left");
    assert.deepEqual(node.state(), [], "no allocation left");
    assert.doesNotMatch(await ip("-n", `${node.id}-e`, "link"), /eth0/);
    assert.doesNotMatch(await ip("-n", node.netns, "route"), /proto 212/);
    // and the pool still starts at its lowest address
    assert.equal((await node.add("ok", p)).json.ips[0].address, "198.18.0.1/32");
  });
});

Deno.test("agent+plugin: a restarted agent puts back missing pod routes and removes orphan veths", async () => {
  await withNode({
    flags: [V4, "--gc-interval-ms", "200", "--gc-grace-ms", "300"],
  }, async (node) => {
    const p = await node.pod("r1");
    const add = await node.add("r1", p);
    assert.equal(add.code, 0, add.stdout);
    const hostIf = add.json.interfaces[0].name as string;
    await node.stopAgent("SIGKILL");
    // While the agent is away: its pod route disappears, and a stray tern veth appears.
    await ip("-n", node.netns, "route", "del", "198.18.0.1/32");
    await ip(
      "-n",
      node.netns,
      "link",
      "add",
      "tern00000000000",
      "type",
      "veth",
      "peer",
      "name",
      "stray-peer",
    );
    await node.startAgent();
    await waitFor("the route and the stray veth", async () => {
      const routes = await ip("-n", node.netns, "route");
      const links = await ip("-n", node.netns, "link");
      return routes.includes(`198.18.0.1 dev ${hostIf}`) && !links.includes("tern00000000000");
    }, 10_000);
    await waitFor(
      "the collector's report",
      () => /removed an orphan veth.*tern00000000000/.test(node.agentLog),
      5_000,
    );
    // and the pod is whole again
    const vars = { CNI_CONTAINERID: "r1", CNI_NETNS: p, CNI_IFNAME: "eth0" };
    assert.equal((await node.plugin("CHECK", node.conf(), vars)).code, 0);
  });
});

Deno.test("agent+plugin: an IPv6-only pool gives an IPv6-only pod", async () => {
  await withNode({
    flags: [V4, "--static-block=six=fd00:19::/124"],
  }, async (node) => {
    const a = await node.pod("v6a");
    const b = await node.pod("v6b");
    const ra = await node.add("v6a", a, node.conf({ pool: "six" }));
    const rb = await node.add("v6b", b, node.conf({ pool: "six" }));
    assert.equal(ra.code, 0, ra.stdout);
    assert.deepEqual(ra.json.ips, [{
      address: "fd00:19::1/128",
      gateway: "fe80::1",
      interface: 1,
    }]);
    assert.deepEqual(ra.json.routes, [{ dst: "::/0", gw: "fe80::1" }]);
    assert.doesNotMatch(
      await ip("-n", `${node.id}-v6a`, "-4", "addr", "show", "dev", "eth0"),
      /inet /,
    );
    assert.equal(rb.json.ips[0].address, "fd00:19::2/128");
    const ping = await run("ip", [
      "netns",
      "exec",
      `${node.id}-v6a`,
      "ping",
      "-c",
      "1",
      "-W",
      "2",
      "fd00:19::2",
    ], {
      allowFail: true,
    });
    assert.equal(ping.code, 0, "IPv6-only pods reach each other");
  });
});
