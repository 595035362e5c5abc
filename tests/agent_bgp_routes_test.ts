// deno-lint-ignore-file no-explicit-any
/**
 * The agent role with BGP, in a network namespace: the embedded API server and `roles/agent.ts
 * --mode lb` run in the node's namespace; two BIRD peers (same AS) in their own namespaces
 * announce the same prefix. The agent configures its speaker from the NodeBGP and BGPPeer objects,
 * writes the peers' statuses, and installs one multipath route (protocol bgp) with both next hops;
 * a withdrawal by one peer removes its next hop, and the last withdrawal the route; the NodeBGP
 * deleted stops the speaker and withdraws what it learned. In lb mode the tree holds only `bgp`.
 */
import assert from "node:assert/strict";
import { Bird, birdConfig, Lab, must, run, waitFor } from "./bgp_lab.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();
const PREFIX = "203.0.113.0/24";
const INSPECT_PORT = 19100;

function spawn(lab: Lab, name: string, ns: string, argv: string[]): Deno.ChildProcess {
  const p = new Deno.Command("bash", {
    args: ["-c", `exec ip netns exec ${ns} ${argv.join(" ")} >>${lab.dir}/${name}.log 2>&1`],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
  lab.track(p);
  return p;
}

async function stop(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch { /* gone */ }
  const t = setTimeout(() => {
    try {
      p.kill("SIGKILL");
    } catch { /* gone */ }
  }, 5000);
  await p.status;
  clearTimeout(t);
}

async function kubectl(lab: Lab, kc: string, ...args: string[]): Promise<string> {
  return await must(["ip", "netns", "exec", lab.t, "kubectl", "--kubeconfig", kc, ...args]);
}

async function learned(ns: string): Promise<any[]> {
  const out = await must(["ip", "-n", ns, "-j", "route", "show", "proto", "186"]);
  return JSON.parse(out || "[]");
}

function gateways(r: any): string[] {
  if (!r) return [];
  if (r.nexthops) return r.nexthops.map((n: any) => n.gateway).sort();
  return r.gateway ? [r.gateway] : [];
}

Deno.test({
  name: "agent_bgp: agent role learns one prefix from two peers as one multipath route",
  sanitizeOps: true,
  sanitizeResources: true,
  fn: async () => {
    const lab = await Lab.create("ab", 2);
    const procs: Deno.ChildProcess[] = [];
    const logs = async () => {
      const out = [];
      for (const n of ["apiserver", "agent"]) {
        out.push(
          `--- ${n}\n${
            (await Deno.readTextFile(`${lab.dir}/${n}.log`).catch(() => "")).slice(-3000)
          }`,
        );
      }
      return out.join("\n");
    };
    try {
      const kc = `${lab.dir}/kubeconfig`;
      procs.push(spawn(lab, "apiserver", lab.t, [
        DENO,
        "run",
        "-P=apiserver",
        `${ROOT}roles/apiserver.ts`,
        "--listen",
        "127.0.0.1",
        "--port",
        "16443",
        "--plain",
        "--kubeconfig",
        kc,
        "--inspect-address",
        "127.0.0.1:0",
      ]));
      await waitFor("the API server", async () => {
        const r = await run([
          "ip",
          "netns",
          "exec",
          lab.t,
          "curl",
          "-sf",
          "-m",
          "2",
          "http://127.0.0.1:16443/version",
        ]);
        return r.code === 0 && (await Deno.stat(kc).catch(() => null)) !== null;
      }, 30_000).catch(async (e) => {
        throw new Error(`${e.message}\n${await logs()}`);
      });
      await kubectl(lab, kc, "apply", "-f", `${ROOT}crds/`);
      const [p0, p1] = lab.peers;
      const objects = {
        apiVersion: "v1",
        kind: "List",
        items: [
          {
            apiVersion: "tern.dev/v1alpha1",
            kind: "NodeBGP",
            metadata: { name: "n1" },
            spec: { asn: 65001, routerId: p0.ternV4, peers: [] },
          },
          ...[p0, p1].map((p, i) => ({
            apiVersion: "tern.dev/v1alpha1",
            kind: "BGPPeer",
            metadata: { name: `spine${i}` },
            spec: {
              node: "n1",
              asn: 65010,
              addr: p.v4,
              holdTime: 3,
              keepaliveTime: 1,
              connectRetryTime: 1,
              families: ["ipv4-unicast"],
            },
          })),
        ],
      };
      const file = await lab.file("objects.json", JSON.stringify(objects));
      await waitFor(
        "the objects created",
        async () => (await kubectl(lab, kc, "apply", "--validate=false", "-f", file), true),
        15_000,
      );
      const birds = [p0, p1].map((p, i) => new Bird(lab, p.ns, `bird${i}`));
      for (const [i, p] of [p0, p1].entries()) {
        await birds[i].start(birdConfig({
          routerId: p.v4,
          local: p.v4,
          asn: 65010,
          neighbor: p.ternV4,
          neighborAsn: 65001,
          nextHop6: p.v6,
          routes4: [PREFIX],
        }));
      }
      procs.push(spawn(lab, "agent", lab.t, [
        DENO,
        "run",
        "-P=agent",
        `${ROOT}roles/agent.ts`,
        "--node",
        "n1",
        "--mode",
        "lb",
        "--kubeconfig",
        kc,
        "--inspect-address",
        `127.0.0.1:${INSPECT_PORT}`,
      ]));

      // One route, both next hops.
      const both = await waitFor("a multipath route with both peers", async () => {
        const r = (await learned(lab.t)).find((x) => x.dst === PREFIX);
        return gateways(r).length === 2 ? r : undefined;
      }, 60_000).catch(async (e) => {
        throw new Error(`${e.message}\n${await logs()}`);
      });
      assert.deepEqual(gateways(both), [p0.v4, p1.v4]);
      assert.equal((await learned(lab.t)).filter((x) => x.dst === PREFIX).length, 1);
      // The BGPPeer statuses say so.
      const peers = await waitFor("BGPPeer statuses Established", async () => {
        const l = JSON.parse(await kubectl(lab, kc, "get", "bgppeers", "-o", "json"));
        return l.items.every((p: any) =>
            p.status?.sessionState === "Established" && p.status.prefixesReceived === 1
          )
          ? l.items
          : undefined;
      }, 30_000);
      assert.equal(peers.length, 2);

      // One peer withdraws: its next hop goes, the route stays.
      await birds[1].cmd("disable", "tern");
      const one = await waitFor("the route with one next hop", async () => {
        const r = (await learned(lab.t)).find((x) => x.dst === PREFIX);
        return gateways(r).length === 1 ? r : undefined;
      }, 30_000);
      assert.deepEqual(gateways(one), [p0.v4]);
      // The other too: the route goes.
      await birds[0].cmd("disable", "tern");
      await waitFor("the route removed", async () => {
        return (await learned(lab.t)).every((x) => x.dst !== PREFIX);
      }, 30_000);
      // And comes back with the peer.
      await birds[1].cmd("enable", "tern");
      const back = await waitFor("the route back", async () => {
        const r = (await learned(lab.t)).find((x) => x.dst === PREFIX);
        return gateways(r).length === 1 ? r : undefined;
      }, 30_000);
      assert.deepEqual(gateways(back), [p1.v4]);
      // The NodeBGP deleted: the speaker (and its RIB) stops, its routes go with it.
      await kubectl(lab, kc, "delete", "nodebgp", "n1");
      await waitFor("the learned routes withdrawn with the speaker", async () => {
        return (await learned(lab.t)).length === 0;
      }, 30_000);
      // lb mode: no CNI server, no conflist, no pod IPAM in the tree.
      const tree = JSON.parse(
        await must([
          "ip",
          "netns",
          "exec",
          lab.t,
          "curl",
          "-sf",
          "-m",
          "5",
          `http://127.0.0.1:${INSPECT_PORT}/debug/supervision`,
        ]),
      );
      const ids = (tree.root.children ?? []).map((c: any) => c.id);
      assert.deepEqual(ids, ["bgp"]);
    } finally {
      for (const p of procs.reverse()) await stop(p);
      await lab.destroy();
    }
  },
});
