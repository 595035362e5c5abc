/**
 * The simulated cluster's pure Service machinery: EndpointSlices from pods, the kube-proxy
 * stand-in's nftables rules (checked by `nft -c`), what each node announces, the scheduler's
 * choice, and CNI invocations as a runtime prepares them.
 */
import assert from "node:assert/strict";
import { desiredSlice, type SimEndpointSlice, type SimService } from "../actors/sim/endpoints.ts";
import { nodeRules, nodeRuleset } from "../actors/sim/service_path.ts";
import { nodeAnnouncements } from "../actors/sim/standin.ts";
import { chooseNode } from "../actors/sim/scheduler.ts";
import { CniError, parseConfList, pluginCalls } from "../actors/sim/cni_exec.ts";
import type { SimPod } from "../actors/sim/node_sim.ts";
import { makePlan } from "../actors/sim/plan.ts";
import { run } from "../actors/sim/exec.ts";

function pod(
  name: string,
  node: string,
  ip: string,
  ready = true,
  labels = { app: "web" },
): SimPod {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}`, labels },
    spec: { nodeName: node },
    status: {
      podIP: ip,
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    },
  };
}

function svc(name: string, policy: string, ip?: string): SimService {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}` },
    spec: {
      type: "LoadBalancer",
      selector: { app: "web" },
      externalTrafficPolicy: policy,
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
    },
    ...(ip ? { status: { loadBalancer: { ingress: [{ ip }] } } } : {}),
  };
}

const pods = [
  pod("a", "node-1", "198.18.0.1"),
  pod("b", "node-2", "198.18.1.1"),
  pod("c", "node-2", "198.18.1.2", false),
  pod("x", "node-3", "198.18.2.1", true, { app: "other" } as { app: string }),
];

Deno.test("endpoints: selected pods with addresses, readiness, node, ports", () => {
  const s = desiredSlice(svc("web", "Cluster"), pods)!;
  assert.deepEqual(
    s.endpoints.map((e) => [e.addresses[0], e.nodeName, e.conditions.ready]),
    [["198.18.0.1", "node-1", true], ["198.18.1.1", "node-2", true], [
      "198.18.1.2",
      "node-2",
      false,
    ]],
  );
  assert.deepEqual(s.ports, [{ name: "http", port: 8080, protocol: "TCP" }]);
  assert.equal(s.metadata.labels?.["kubernetes.io/service-name"], "web");
  assert.equal(s.metadata.ownerReferences?.[0].uid, "uid-web");
  const noSel = svc("x", "Cluster");
  delete noSel.spec!.selector;
  assert.equal(desiredSlice(noSel, pods), undefined);
});

Deno.test("service path: Cluster DNATs to every ready endpoint, Local to local ones; nft accepts", async () => {
  const services = [svc("web", "Cluster", "203.0.113.5"), svc("loc", "Local", "203.0.113.6")];
  services[1].metadata.name = "loc";
  const slices = services.map((s) => {
    const d = desiredSlice(s, pods)!;
    return d;
  }) as SimEndpointSlice[];
  const n1 = nodeRules("node-1", services, slices);
  assert.deepEqual(n1, [
    "ip daddr 203.0.113.5 tcp dport 80 meta mark set 0x4000 dnat ip to numgen random mod 2 map { 0 : 198.18.0.1 . 8080, 1 : 198.18.1.1 . 8080 }",
    "ip daddr 203.0.113.6 tcp dport 80 dnat ip to 198.18.0.1:8080",
  ]);
  const n3 = nodeRules("node-3", services, slices);
  assert.ok(n3.includes("ip daddr 203.0.113.6 tcp dport 80 drop"), "Local without endpoints drops");
  // Without an address, nothing.
  assert.deepEqual(nodeRules("node-1", [svc("web", "Cluster")], slices), []);
  const ns = `tn-e2e-nft${crypto.randomUUID().slice(0, 6)}`;
  await run(["ip", "netns", "add", ns]);
  try {
    const r = await run(["nft", "-c", "-f", "-"], { ns, stdin: nodeRuleset(n1), check: false });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await run(["ip", "netns", "del", ns]);
  }
});

Deno.test("announcements: pod blocks always; Cluster on every node, Local where endpoints are", () => {
  const plan = makePlan({ prefix: "tn-e2e-ann001", nodes: 3 });
  const services = [svc("web", "Cluster", "203.0.113.5"), svc("loc", "Local", "203.0.113.6")];
  services[1].metadata.name = "loc";
  const slices = services.map((s) => desiredSlice(s, pods)!) as SimEndpointSlice[];
  const at = (i: number) =>
    nodeAnnouncements(plan.nodes[i], [`198.18.${i}.0/25`], services, slices);
  assert.deepEqual(at(0), ["198.18.0.0/25", "203.0.113.5/32", "203.0.113.6/32"]);
  assert.deepEqual(at(1), ["198.18.1.0/25", "203.0.113.5/32", "203.0.113.6/32"]);
  assert.deepEqual(at(2), ["198.18.2.0/25", "203.0.113.5/32"]);
});

Deno.test("scheduler: nodeSelector hostname, else the least loaded node", () => {
  const nodes = ["node-1", "node-2", "node-3"];
  const load = new Map([["node-1", 2], ["node-2", 0], ["node-3", 1]]);
  assert.equal(chooseNode(pod("p", "", ""), nodes, load), "node-2");
  const pinned = {
    ...pod("p", "", ""),
    spec: { nodeSelector: { "kubernetes.io/hostname": "node-3" } },
  };
  assert.equal(chooseNode(pinned, nodes, load), "node-3");
  const nowhere = {
    ...pod("p", "", ""),
    spec: { nodeSelector: { "kubernetes.io/hostname": "nope" } },
  };
  assert.equal(chooseNode(nowhere, nodes, load), undefined);
});

Deno.test("CNI: calls as a runtime prepares them; bad conflists are typed errors", () => {
  const list = parseConfList(JSON.stringify({
    cniVersion: "1.0.0",
    name: "net",
    plugins: [{ type: "tern", socket: "/run/x.sock" }, { type: "portmap" }],
  }));
  const a = {
    containerId: "sim0123",
    netns: "/run/netns/p",
    ifname: "eth0",
    podNamespace: "ns",
    podName: "web",
    podUid: "u1",
  };
  const add = pluginCalls("ADD", list, a, ["/opt/cni/bin"]);
  assert.deepEqual(add.map((c) => c.binary), ["tern", "portmap"]);
  assert.equal(add[0].env.CNI_COMMAND, "ADD");
  assert.equal(add[0].env.CNI_NETNS, "/run/netns/p");
  assert.match(add[0].env.CNI_ARGS, /K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;/);
  assert.deepEqual(JSON.parse(add[0].stdin), {
    type: "tern",
    socket: "/run/x.sock",
    name: "net",
    cniVersion: "1.0.0",
  });
  assert.deepEqual(pluginCalls("DEL", list, a, []).map((c) => c.binary), ["portmap", "tern"]);
  assert.throws(() => parseConfList("{"), CniError);
  assert.throws(() => parseConfList('{"cniVersion":"1.0.0","name":"n","plugins":[]}'), (e) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.code, "cni_failed");
    return true;
  });
});

Deno.test("block answerer stand-in: lowest free block of the pool's size, IPv4 and IPv6", async () => {
  const { nextBlock } = await import("../actors/sim/block_answerer.ts");
  assert.equal(nextBlock(["198.18.0.0/16"], 26, new Set()), "198.18.0.0/26");
  assert.equal(
    nextBlock(["198.18.0.0/16"], 26, new Set(["198.18.0.0/26", "198.18.0.128/26"])),
    "198.18.0.64/26",
  );
  assert.equal(nextBlock(["198.19.0.0/29"], 32, new Set(["198.19.0.0/32"])), "198.19.0.1/32");
  const full = new Set(Array.from({ length: 8 }, (_, i) => `198.19.0.${i}/32`));
  assert.equal(nextBlock(["198.19.0.0/29"], 32, full), undefined, "exhausted");
  assert.equal(nextBlock(["fd00:10::/112"], 122, new Set(["fd00:10::/122"])), "fd00:10::40/122");
  assert.equal(nextBlock(["198.18.0.0/24"], 16, new Set()), undefined, "block larger than pool");
});
