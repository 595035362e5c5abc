/**
 * The agent and the real controller, both as processes, with the embedded API server, in a node
 * namespace: an AddressPool applied, pods' addresses come from blocks the controller cut for this
 * node (BlockRequests answered by the controller, then deleted by the agent), a second block is
 * requested when the first is full, and an agent killed with SIGKILL and started again keeps every
 * address (and asks for no block it already has).
 */
import assert from "node:assert/strict";
import { ROOT, TestNode, waitFor } from "./agent_fixtures.ts";

/** IPv4 `a.b.c.d/len` contains `a.b.c.d`. */
function inside(cidr: string, address: string): boolean {
  const [base, len] = cidr.split("/");
  const n = (s: string) => s.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(len));
  return n(address) >= n(base!) && n(address) < n(base!) + size;
}

interface Block {
  name: string;
  cidr: string;
  node: string;
  labels: Record<string, string>;
}

Deno.test("agent+controller: blocks cut by the controller, a second on demand, kept across SIGKILL", async () => {
  const node = await TestNode.create({
    flags: [],
    beforeAgent: async (n) => {
      n.setFlags(["--kubeconfig", n.kubeconfig]);
      await n.startApiServer();
      const objects = [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "tern-system" } },
        { apiVersion: "v1", kind: "Node", metadata: { name: "node-a" } },
        {
          apiVersion: "tern.dev/v1alpha1",
          kind: "AddressPool",
          metadata: { name: "pods" },
          // /30 blocks: two addresses each (the first and the last are never handed out)
          spec: { type: "pod", cidrs: ["198.18.0.0/24"], blockSize: 30, autoAssign: true },
        },
      ];
      await n.apply(objects);
      // The real controller, as a process.
      n.startRole([
        "-P=controller",
        `${ROOT}/roles/controller.ts`,
        "--kubeconfig",
        n.kubeconfig,
        "--log-level",
        "silent",
      ]);
      await waitFor("the controller's lease", async () => {
        const r = await n.kubectl(["get", "leases", "-n", "tern-system", "-o", "name"]);
        return r.code === 0 && r.stdout.trim() !== "";
      }, 30_000);
    },
  });
  try {
    const blocks = async (): Promise<Block[]> => {
      const r = await node.kubectl(["get", "addressblocks", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout).items as {
        metadata: { name: string; labels?: Record<string, string> };
        spec: { cidr: string; node: string };
      }[]).map((b) => ({
        name: b.metadata.name,
        cidr: b.spec.cidr,
        node: b.spec.node,
        labels: b.metadata.labels ?? {},
      })).sort((a, b) => a.cidr.localeCompare(b.cidr, "en", { numeric: true }));
    };
    const add = async (cid: string): Promise<string> => {
      const r = await node.add(cid, await node.pod(cid));
      assert.equal(r.code, 0, `${cid}: ${r.stdout}\n${node.agentLog.slice(-2000)}`);
      return (r.json.ips[0].address as string).split("/")[0]!;
    };
    const check = async (cid: string) => {
      const vars = { CNI_CONTAINERID: cid, CNI_NETNS: `/run/netns/${node.id}-${cid}` };
      const r = await node.plugin("CHECK", node.conf(), { ...vars, CNI_IFNAME: "eth0" });
      assert.equal(r.code, 0, `${cid}: ${r.stdout}`);
    };

    // The first block: cut by the controller for this node, two pods from it.
    const a1 = await add("p1");
    const a2 = await add("p2");
    let bs = await blocks();
    assert.equal(bs.length, 1, JSON.stringify(bs));
    assert.equal(bs[0]!.node, "node-a");
    assert.equal(bs[0]!.labels["tern.dev/node"], "node-a");
    assert.equal(bs[0]!.labels["tern.dev/pool"], "pods");
    assert.ok(inside(bs[0]!.cidr, a1) && inside(bs[0]!.cidr, a2), `${a1} ${a2} in ${bs[0]!.cidr}`);
    assert.notEqual(a1, a2);

    // The first block is full: the third pod's address comes from a second block.
    const a3 = await add("p3");
    bs = await blocks();
    assert.equal(bs.length, 2, JSON.stringify(bs));
    const second = bs.find((b) => !inside(b.cidr, a1))!;
    assert.ok(inside(second.cidr, a3), `${a3} in ${second.cidr}`);
    assert.ok(bs.every((b) => b.node === "node-a"));
    const brs = await node.kubectl(["get", "blockrequests", "-o", "name"]);
    assert.equal(brs.stdout.trim(), "", "answered BlockRequests are deleted");

    // SIGKILL and restart: every address kept, no block asked for or given back.
    const before = node.state().map((r: { containerId: string; addresses: unknown }) => [
      r.containerId,
      r.addresses,
    ]).sort();
    await node.stopAgent("SIGKILL");
    await node.startAgent();
    const after = node.state().map((r: { containerId: string; addresses: unknown }) => [
      r.containerId,
      r.addresses,
    ]).sort();
    assert.deepEqual(after, before);
    for (const cid of ["p1", "p2", "p3"]) await check(cid);
    const ipam = await node.api("/api/ipam/pods");
    assert.deepEqual(
      (ipam.pods as { addresses: { address: string }[] }[])
        .flatMap((p) => p.addresses.map((x) => x.address)).sort(),
      [a1, a2, a3].sort(),
    );
    // A new pod after the restart gets the second block's free address: nothing given twice.
    const a4 = await add("p4");
    assert.ok(![a1, a2, a3].includes(a4), `${a4} given twice`);
    assert.ok(inside(second.cidr, a4), `${a4} in ${second.cidr}`);
    assert.deepEqual((await blocks()).map((b) => b.cidr), bs.map((b) => b.cidr));
  } finally {
    await node.cleanup();
  }
});
