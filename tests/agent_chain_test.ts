/**
 * tern first in a conflist, followed by Debian's reference plugins (portmap, bandwidth,
 * tuning), executed as a runtime executes a chain: each plugin gets the previous result as
 * `prevResult`; DEL runs in reverse order. The chain runs inside the node namespace, which is
 * the "host" of these pods.
 */
import assert from "node:assert/strict";
import { ip, run, TestNode, withNode } from "./agent_fixtures.ts";

async function exec(
  node: TestNode,
  plugin: string,
  conf: Record<string, unknown>,
  vars: Record<string, string>,
) {
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_PATH: "/usr/lib/cni",
    ...vars,
  };
  const r = await run("ip", ["netns", "exec", node.netns, `/usr/lib/cni/${plugin}`], {
    stdin: JSON.stringify(conf),
    env,
    allowFail: true,
  });
  return {
    code: r.code,
    json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined,
    stderr: r.stderr,
  };
}

Deno.test("agent+plugin: chains with portmap, bandwidth and tuning", async () => {
  await withNode({
    flags: ["--static-block=default=198.18.0.0/28", "--chain", "portmap,bandwidth,tuning"],
  }, async (node) => {
    const conflist = JSON.parse(Deno.readTextFileSync(`${node.conflistDir}/10-tern.conflist`));
    assert.deepEqual(conflist.plugins.map((p: { type: string }) => p.type), [
      "tern",
      "portmap",
      "bandwidth",
      "tuning",
    ]);
    const netns = await node.pod("chain");
    const vars = {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "chain1",
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
    };
    const runtimeConfig: Record<string, Record<string, unknown>> = {
      portmap: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: "tcp" }] },
      bandwidth: {
        bandwidth: { ingressRate: 8_000_000, ingressBurst: 800_000, egressRate: 0, egressBurst: 0 },
      },
      tuning: {},
    };
    const extra: Record<string, Record<string, unknown>> = {
      tuning: { sysctl: { "net.core.somaxconn": "512" } },
    };
    /** One plugin's configuration as the runtime builds it (capabilities as runtimeConfig). */
    const confOf = (p: (typeof conflist.plugins)[number], prevResult: unknown) => {
      const conf = {
        cniVersion: conflist.cniVersion,
        name: conflist.name,
        ...p,
        ...(extra[p.type] ?? {}),
        ...(runtimeConfig[p.type] ? { runtimeConfig: runtimeConfig[p.type] } : {}),
        ...(prevResult ? { prevResult } : {}),
      };
      delete (conf as { capabilities?: unknown }).capabilities;
      return conf;
    };
    // ADD down the chain, each plugin getting the previous result.
    let prev: Record<string, unknown> | undefined;
    for (const [i, p] of conflist.plugins.entries()) {
      const conf = confOf(p, prev);
      const r = i === 0
        ? await node.plugin("ADD", conf, vars)
        : await exec(node, p.type, conf, vars);
      assert.equal(
        r.code,
        0,
        `${p.type}: ${JSON.stringify(r.json)} ${"stderr" in r ? r.stderr : ""}`,
      );
      prev = r.json;
    }
    assert.equal((prev as { ips: { address: string }[] }).ips[0]!.address, "198.18.0.1/32");
    const hostIf = (prev as { interfaces: { name: string }[] }).interfaces[0]!.name;
    // portmap: a DNAT rule for the host port; bandwidth: a shaper on the host end; tuning: the
    // pod's sysctl.
    const nat = await run("ip", ["netns", "exec", node.netns, "iptables-save", "-t", "nat"], {
      allowFail: true,
    });
    const nft = await run("ip", ["netns", "exec", node.netns, "nft", "list", "ruleset"], {
      allowFail: true,
    });
    assert.match(nat.stdout + nft.stdout, /18080/);
    assert.match(nat.stdout + nft.stdout, /198\.18\.0\.1:80/);
    assert.match(
      await run("tc", ["-n", node.netns, "qdisc", "show", "dev", hostIf]).then((r) => r.stdout),
      /tbf/,
    );
    const somax = await run("ip", [
      "netns",
      "exec",
      `${node.id}-chain`,
      "sysctl",
      "-n",
      "net.core.somaxconn",
    ]);
    assert.equal(somax.stdout.trim(), "512");
    // CHECK down the chain would need every plugin's support; tern's own CHECK with the final
    // result:
    const chk = await node.plugin("CHECK", { ...node.conf(), prevResult: prev }, vars);
    assert.equal(chk.code, 0, chk.stdout);

    // DEL in reverse order, with the final result as prevResult.
    for (const p of [...conflist.plugins].reverse()) {
      const conf = confOf(p, prev);
      const dv = { ...vars, CNI_COMMAND: "DEL" };
      const r = p.type === "tern"
        ? await node.plugin("DEL", conf, dv)
        : await exec(node, p.type, conf, dv);
      assert.equal(r.code, 0, `DEL ${p.type}: ${JSON.stringify(r.json)}`);
    }
    const natAfter = await run("ip", ["netns", "exec", node.netns, "iptables-save", "-t", "nat"], {
      allowFail: true,
    });
    assert.doesNotMatch(natAfter.stdout, /198\.18\.0\.1:80/);
    assert.doesNotMatch(await ip("-n", node.netns, "link"), new RegExp(hostIf));
    assert.deepEqual(node.state(), []);
  });
});
