/**
 * The agent's Kubernetes side against the embedded API server: the block source asks for blocks
 * with BlockRequests (this test plays the controller), returns them, and finds them again after
 * a restart; pod metadata picks pools by annotation and tells whether a Pod is gone.
 */
import assert from "node:assert/strict";
import { ActorSystem, ManualClock, supervisor } from "../runtime/mod.ts";
import { ALL_CRDS } from "../actors/crds/registry.ts";
import { toCrd } from "../actors/crds/crd.ts";
import { KubeClient, type KubeObject, loadKubeEndpoint, Resources } from "../actors/kube/mod.ts";
import { startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { kubeBlockSource } from "../actors/agent/kube_block_source.ts";
import { kubeMetadata } from "../actors/agent/kube_metadata.ts";
import { type BlockUsage, type NodeIpamMsg } from "../actors/agent/node_ipam.ts";
import { choosePool } from "../actors/agent/pool_choice.ts";
import { poolManager, type PoolManagerMsg } from "../actors/agent/pool_manager.ts";
import type { RecordAddress } from "../actors/agent/records.ts";
import { allocationStore, type StoreMsg } from "../actors/agent/store.ts";
import { Cidr } from "../actors/ipam/mod.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

async function withApi(fn: (client: KubeClient) => Promise<void>) {
  const api = await startKubeApiServer({});
  const client = new KubeClient(loadKubeEndpoint(api.kubeconfigPath));
  try {
    for (const def of ALL_CRDS) {
      const res = await client.request(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        { body: toCrd(def) },
      );
      await res.body?.cancel();
    }
    await fn(client);
  } finally {
    client.close();
    await api.close();
  }
}

/** A stand-in for the controller: answers BlockRequests with blocks cut from the pool. */
function fakeController(client: KubeClient, limits: Record<string, number>) {
  let stop = false;
  const given = new Map<string, number>();
  const seen = new Set<string>();
  const loop = (async () => {
    while (!stop) {
      const { items } = await client.listAll<KubeObject>(Resources.blockRequests);
      for (const r of items) {
        const name = r.metadata.name!;
        if (seen.has(name)) continue;
        seen.add(name);
        const { pool, node, family } = r.spec;
        const p = await client.get<KubeObject>(Resources.addressPools, pool);
        const cidr = Cidr.parse(
          (p.spec.cidrs as string[]).find((c) => c.includes(":") === (family === "ipv6"))!,
        );
        const size = family === "ipv6" ? p.spec.blockSizeV6 : p.spec.blockSize;
        const key = `${pool}/${family}`;
        const n = given.get(key) ?? 0;
        const now = new Date().toISOString();
        if (n >= (limits[key] ?? 99)) {
          await client.mergePatch(Resources.blockRequests, name, {
            status: {
              conditions: [{
                type: "Failed",
                status: "True",
                reason: "PoolExhausted",
                message: "no block left",
                lastTransitionTime: now,
              }],
            },
          }, { status: true });
          continue;
        }
        given.set(key, n + 1);
        const block = cidr.blockAt(size, BigInt(n)).toString();
        const blockName = `${pool}-${family}-${n}`;
        await client.create(Resources.addressBlocks, {
          apiVersion: "tern.dev/v1alpha1",
          kind: "AddressBlock",
          metadata: { name: blockName, labels: { "tern.dev/node": node, "tern.dev/pool": pool } },
          spec: { cidr: block, pool, node, type: "pod", request: name },
        } as KubeObject);
        await client.mergePatch(Resources.blockRequests, name, {
          status: {
            addressBlock: blockName,
            cidr: block,
            conditions: [{
              type: "Complete",
              status: "True",
              reason: "Allocated",
              message: block,
              lastTransitionTime: now,
            }],
          },
        }, { status: true });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })().catch((e) => {
    console.error("fake controller failed:", e);
    throw e;
  });
  return { stop: async () => (stop = true, await loop) };
}

async function pool(client: KubeClient, name: string, spec: Record<string, unknown>) {
  await client.create(Resources.addressPools, {
    apiVersion: "tern.dev/v1alpha1",
    kind: "AddressPool",
    metadata: { name },
    spec: { type: "pod", ...spec },
  } as KubeObject);
}

async function startAgentCore(client: KubeClient, dir: string, clock: ManualClock) {
  const system = new ActorSystem({ name: "agent", clock, logLevel: "silent" });
  await system.start(supervisor("agent", {
    strategy: "rest_for_one",
    children: [
      { id: "store", def: allocationStore(dir, "node-a") },
      { id: "blocks", def: kubeBlockSource({ client, node: "node-a", pollMs: 10 }) },
      {
        id: "ipam",
        def: supervisor("ipam", {
          strategy: "one_for_one",
          children: [{
            id: "pools",
            def: poolManager({
              storePath: "/agent/store",
              sourcePath: "/agent/blocks",
              blockGraceMs: 10_000,
            }),
          }],
        }),
      },
    ],
  }));
  const ensure = (p: string) =>
    system.lookup<PoolManagerMsg>("/agent/ipam/pools")!.ask<void>((replyTo) => ({
      type: "ensure",
      pool: p,
      replyTo,
    }));
  const ref = (p: string) => system.lookup<NodeIpamMsg>(`/agent/ipam/pool-${p}`)!;
  const allocate = async (p: string, owner: string) => {
    await ensure(p);
    return ref(p).ask<RecordAddress[]>((replyTo) => ({ type: "allocate", owner, replyTo }), {
      timeoutMs: 60_000,
    });
  };
  const usage = (p: string) => ref(p).ask<BlockUsage[]>((replyTo) => ({ type: "usage", replyTo }));
  return { system, allocate, usage, ref, store: system.lookup<StoreMsg>("/agent/store")! };
}

Deno.test(
  "agent kube: blocks come from BlockRequests, dual-stack, and the requests are removed",
  opts,
  async () => {
    await withApi(async (client) => {
      await pool(client, "default", {
        cidrs: ["198.18.0.0/24", "fd00:18::/120"],
        blockSize: 30,
        blockSizeV6: 126,
        autoAssign: true,
      });
      await pool(client, "blue", { cidrs: ["198.18.1.0/24"], blockSize: 30 });
      const ctl = fakeController(client, { "blue/ipv4": 1 });
      const dir = await Deno.makeTempDir({ prefix: "tn-agent-kube-" });
      const clock = new ManualClock(1_000_000);
      let a = await startAgentCore(client, dir, clock);
      try {
        const got = [];
        for (const o of ["a", "b", "c"]) got.push(await a.allocate("default", `${o}/eth0`));
        assert.deepEqual(got.map((x) => x.map((r) => r.address)), [
          ["198.18.0.1", "fd00:18::1"],
          ["198.18.0.2", "fd00:18::2"],
          ["198.18.0.5", "fd00:18::3"],
        ]);
        const blocks = (await client.listAll<KubeObject>(Resources.addressBlocks)).items;
        assert.deepEqual(blocks.map((b) => b.spec.cidr).sort(), [
          "198.18.0.0/30",
          "198.18.0.4/30",
          "fd00:18::/126",
        ]);
        assert.equal(
          (await client.listAll<KubeObject>(Resources.blockRequests)).items.length,
          0,
          "every BlockRequest is deleted once answered",
        );
        // blue: the controller gives one block, then refuses: error, nothing kept.
        await a.allocate("blue", "x/eth0");
        await a.allocate("blue", "y/eth0");
        await assert.rejects(a.allocate("blue", "z/eth0"), /PoolExhausted/);
        assert.equal((await a.usage("blue"))[0]!.used, 2);
        await assert.rejects(a.allocate("nope", "q/eth0"));

        // Persist a and b only, then restart: blocks owned by the node in the API come back too
        // (the empty one included), and addresses are not handed out twice.
        for (const [o, addrs] of [["a", got[0]!], ["b", got[1]!]] as const) {
          await a.store.ask<void>((replyTo) => ({
            type: "put",
            record: {
              containerId: o,
              ifname: "eth0",
              network: "tern",
              pool: "default",
              addresses: addrs,
              hostIfname: "x",
              created: new Date().toISOString(),
            },
            replyTo,
          }));
        }
        await a.system.shutdown();
        a = await startAgentCore(client, dir, clock);
        await settle();
        const u = await a.usage("default");
        assert.deepEqual(u.map((b) => [b.block, b.used]), [
          ["198.18.0.0/30", 2],
          ["fd00:18::/126", 2],
          ["198.18.0.4/30", 0],
        ]);
        assert.equal((await a.allocate("default", "d/eth0"))[0]!.address, "198.18.0.5");
        await a.ref("default").ask<string[]>((replyTo) => ({
          type: "release",
          owner: "d/eth0",
          replyTo,
        }));
        // An empty block goes back to the API after the grace period.
        clock.advance(11_000);
        await settle();
        clock.advance(3_000);
        for (let i = 0; i < 50; i++) {
          const left = (await client.listAll<KubeObject>(Resources.addressBlocks)).items
            .map((b) => b.spec.cidr);
          if (!left.includes("198.18.0.4/30")) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const left = (await client.listAll<KubeObject>(Resources.addressBlocks)).items.map((b) =>
          b.spec.cidr
        );
        assert.ok(!left.includes("198.18.0.4/30"), `returned: ${left.join(", ")}`);
        assert.ok(left.includes("198.18.0.0/30"), "a block in use stays");
      } finally {
        await a.system.shutdown();
        await ctl.stop();
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

Deno.test(
  "agent kube: pool by pod annotation, then namespace annotation; pods that are gone",
  opts,
  async () => {
    await withApi(async (client) => {
      const m = kubeMetadata(client);
      await client.create(Resources.namespaces, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "team", annotations: { "tern.dev/addresspool": "blue" } },
      } as KubeObject);
      const pod = (name: string, annotations?: Record<string, string>) =>
        client.create(Resources.pods, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace: "team", ...(annotations ? { annotations } : {}) },
          spec: { containers: [{ name: "c", image: "x" }] },
        } as KubeObject, "team");
      const web = await pod("web");
      await pod("api", { "tern.dev/addresspool": "red" });
      const choose = async (name: string) =>
        choosePool({
          podAnnotations: await m.podAnnotations("team", name),
          namespaceAnnotations: await m.namespaceAnnotations("team"),
          autoPool: "default",
        });
      assert.deepEqual(await choose("api"), { pool: "red", origin: "pod" });
      assert.deepEqual(await choose("web"), { pool: "blue", origin: "namespace" });
      assert.equal(await m.podExists("team", "web", web.metadata.uid), true);
      assert.equal(await m.podExists("team", "web", "another-uid"), false, "recreated pod");
      await client.delete(Resources.pods, "web", { namespace: "team" });
      assert.equal(await m.podExists("team", "web", web.metadata.uid), false);
    });
  },
);

Deno.test(
  "agent kube: an unreachable API at start is survived; allocation says try later",
  opts,
  async () => {
    const client = new KubeClient({ server: "http://127.0.0.1:9", namespace: "default" });
    const dir = await Deno.makeTempDir({ prefix: "tn-agent-kube-" });
    const clock = new ManualClock(1_000_000);
    try {
      const a = await startAgentCore(client, dir, clock);
      try {
        await settle();
        assert.ok(a.system.isRunning("/agent/blocks"), "the block source runs");
        assert.ok(a.system.isRunning("/agent/ipam/pools"), "the pool manager runs");
        await assert.rejects(a.allocate("default", "a/eth0"), /No such pool/);
      } finally {
        await a.system.shutdown();
      }
    } finally {
      client.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
