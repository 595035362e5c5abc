import assert from "node:assert/strict";
import { type KubeObject, Resources } from "../actors/kube/mod.ts";
import { ingress, lbService, list, pool, startCluster, waitFor } from "./controller_fixtures.ts";

const root = new URL("..", import.meta.url).pathname;

function spawnController(kubeconfig: string, identity: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=controller",
      `${root}/roles/controller.ts`,
      "--kubeconfig",
      kubeconfig,
      "--identity",
      identity,
      "--lease-duration",
      "3s",
      "--log-level",
      Deno.env.get("TERN_TEST_LOGS") ? "info" : "error",
    ],
    cwd: root,
    stdin: "null",
    stdout: "null",
    stderr: Deno.env.get("TERN_TEST_LOGS") ? "inherit" : "null",
  }).spawn();
}

Deno.test("controller: leader failover between two processes (SIGKILL) converges without duplicates", async () => {
  const cluster = await startCluster();
  const c = cluster.client;
  const procs = new Map<string, Deno.ChildProcess>();
  try {
    await c.create(
      Resources.addressPools,
      pool("lb", { type: "service", cidrs: ["203.0.113.0/24"], autoAssign: true }),
    );
    for (const id of ["ctl-a", "ctl-b"]) {
      procs.set(id, spawnController(cluster.server.kubeconfigPath, id));
    }
    const holder = async () =>
      ((await c.tryGet(Resources.leases, "tern-controller", "tern-system")) as
        | KubeObject
        | undefined)
        ?.spec?.holderIdentity as string | undefined;
    const first = await waitFor(
      async () => {
        const h = await holder();
        return h && procs.has(h) ? h : undefined;
      },
      "a leader",
      30_000,
    );
    for (let i = 0; i < 20; i++) {
      await c.create(Resources.services, lbService("default", `before-${i}`));
    }
    await waitFor(
      async () =>
        (await list(c, Resources.services, "default")).every((s) => ingress(s).length === 1),
      "first leader serves",
      30_000,
    );

    // Kill the leader outright: no lease release, no goodbye.
    const leader = procs.get(first)!;
    leader.kill("SIGKILL");
    await leader.status;
    procs.delete(first);
    for (let i = 0; i < 20; i++) {
      await c.create(Resources.services, lbService("default", `after-${i}`));
    }
    const second = await waitFor(
      async () => {
        const h = await holder();
        return h && h !== first ? h : undefined;
      },
      "the other replica to take the lease",
      3000 * 3,
    );
    assert.ok(procs.has(second));
    const all = await waitFor(
      async () => {
        const svcs = await list(c, Resources.services, "default");
        return svcs.length === 40 && svcs.every((s) => ingress(s).length === 1) ? svcs : undefined;
      },
      "every Service served by the new leader",
      30_000,
    );
    const ips = all.map((s) => ingress(s)[0]!);
    assert.equal(new Set(ips).size, 40, "no address given twice");
    // The first leader's addresses did not move.
    const byName = new Map(all.map((s) => [s.metadata.name!, ingress(s)[0]!]));
    for (let i = 0; i < 20; i++) assert.equal(byName.get(`before-${i}`), `203.0.113.${i}`);
  } finally {
    for (const p of procs.values()) {
      p.kill("SIGTERM");
      await p.status;
    }
    await cluster.close();
  }
});

Deno.test("controller role: a bad flag or kubeconfig exits 2 with the reason", async () => {
  for (
    const [args, expected] of [
      [["--lease-duration", "soon"], /Invalid --lease-duration "soon"/],
      [["--kubeconfig", "/nonexistent/kubeconfig"], /Kubeconfig "\/nonexistent\/kubeconfig"/],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=controller", `${root}/roles/controller.ts`, ...args],
      cwd: root,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.match(new TextDecoder().decode(out.stderr), expected);
  }
});
