/**
 * Every role started the way its compiled binary runs: `deno run` with exactly the permission
 * set its `compile:<role>` task bakes in (`-P=<role>`), with the arguments its manifest gives
 * it. Long-running roles must serve `/healthz` (and `/readyz`) and stop cleanly on SIGTERM; the
 * CNI plugin must answer VERSION and reach a socket; ctl must answer `--help`. A permission
 * missing from a set makes the role fail, and so the test.
 *
 * The controller runs against the embedded API server as its own ServiceAccount (RBAC applied
 * from the manifests) behind a recording proxy: any request the API server forbids fails the
 * test. Roles whose entry point is not on this branch yet are skipped, saying so.
 */

import assert from "node:assert/strict";
import { startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { SYSTEM_NAMESPACE } from "../actors/ship/rbac.ts";
import {
  exists,
  find,
  type Obj,
  renderOverlay,
  ROOT,
  run,
  serveBuiltinSchemas,
  tempFile,
} from "./ship_helpers.ts";

const ROLES = ["controller", "agent", "speaker", "cni", "ctl"] as const;
type Role = typeof ROLES[number];

interface DenoJson {
  tasks: Record<string, string>;
  permissions: Record<string, Record<string, unknown>>;
}

const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as DenoJson;

/** The permission set and entry point a role's compile task uses. */
function compileTask(role: Role): { set: string; entry: string } {
  const task = denoJson.tasks[`compile:${role}`];
  assert.ok(task, `task compile:${role}`);
  const set = task.match(/(?:^|\s)-P=([a-z]+)(?:\s|$)/)?.[1];
  const entry = task.match(/\s(roles\/[a-z_]+\.ts)$/)?.[1];
  assert.ok(set && entry, `compile:${role} names a permission set and an entry: ${task}`);
  return { set, entry };
}

/** The permissions each role may have (why: docs/install.md, "Permissions"). */
const EXPECTED_PERMISSIONS: Record<Role, string[]> = {
  controller: ["net", "env", "read", "sys"],
  agent: ["net", "env", "read", "write", "ffi", "sys"],
  speaker: ["net", "env", "read", "ffi"],
  cni: ["net", "env", "read", "write"],
  ctl: ["net", "env", "read"],
};

Deno.test("ship: compile tasks: one permission set per role, host and both Linux targets", () => {
  for (const role of ROLES) {
    const { set, entry } = compileTask(role);
    assert.equal(set, role);
    assert.equal(entry, `roles/${role}.ts`);
    assert.ok(denoJson.permissions[set], `permission set ${set}`);
    const host = denoJson.tasks[`compile:${role}`]!;
    assert.match(host, new RegExp(`--output dist/tern-${role} `));
    for (const [arch, target] of [["amd64", "x86_64"], ["arm64", "aarch64"]]) {
      const t = denoJson.tasks[`compile:${role}:${arch}`];
      assert.ok(t, `compile:${role}:${arch}`);
      assert.equal(
        t.replace(` --target ${target}-unknown-linux-gnu`, "").replace(`linux-${arch}/`, ""),
        host,
        `compile:${role}:${arch} differs from compile:${role} only by target and output`,
      );
    }
    // Each set holds exactly the permissions docs/install.md justifies for the role.
    const perms = denoJson.permissions[set]!;
    assert.deepEqual(Object.keys(perms).sort(), [...EXPECTED_PERMISSIONS[role]].sort(), role);
  }
});

// ---- running a role -------------------------------------------------------------------------

interface Started {
  child: Deno.ChildProcess;
  /** Base URL of its inspection (or API) server. */
  url: string;
  output: () => string;
}

/** Spawns `deno run -P=<set> <entry> ...args` and waits for the line naming its HTTP server. */
async function startRole(
  role: Role,
  args: string[],
  opts: {
    env?: Record<string, string>;
    netns?: string;
    urlLine: RegExp;
    timeoutMs?: number;
    /** Explicit permission flags instead of the role's set (for the minimality probe). */
    flags?: string[];
  },
): Promise<Started> {
  const { set, entry } = compileTask(role);
  const deno = ["run", ...(opts.flags ?? [`-P=${set}`]), entry, ...args];
  const [cmd, argv] = opts.netns
    ? ["ip", ["netns", "exec", opts.netns, Deno.execPath(), ...deno]]
    : [Deno.execPath(), deno];
  const child = new Deno.Command(cmd, {
    args: argv,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let found: ((url: string) => void) | undefined;
  const urlFound = new Promise<string>((resolve) => (found = resolve));
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      text += dec.decode(chunk, { stream: true });
      for (const line of text.split("\n")) {
        const m = line.match(opts.urlLine);
        if (m) found?.(m[1]!);
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then((s) => `exited with ${s.code} before serving`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((r) => {
    timer = setTimeout(() => r("timed out"), opts.timeoutMs ?? 30_000);
  });
  const winner = await Promise.race([urlFound, exited, timeout]);
  clearTimeout(timer);
  if (!winner.startsWith("http")) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await pumps;
    throw new Error(`${role} ${winner}:\n${text}`);
  }
  started.set(child, pumps);
  return { child, url: winner.replace(/\/debug\/?$/, ""), output: () => text };
}

const started = new Map<Deno.ChildProcess, Promise<unknown>>();

/** SIGTERM, then the exit code (SIGKILL and -1 after 10 s). */
async function stopRole(s: Started): Promise<number> {
  try {
    s.child.kill("SIGTERM");
  } catch { /* gone */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    s.child.status.then((st) => st.code),
    new Promise<number>((r) => (timer = setTimeout(() => r(-1), 10_000))),
  ]);
  clearTimeout(timer);
  if (code === -1) {
    s.child.kill("SIGKILL");
    await s.child.status;
  }
  await started.get(s.child);
  started.delete(s.child);
  return code;
}

/** GET a path of a role's server (inside a netns through curl); returns the status. */
async function httpStatus(url: string, netns?: string): Promise<number> {
  if (netns) {
    const r = await run("ip", [
      "netns",
      "exec",
      netns,
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      "5",
      url,
    ]);
    return Number(r.stdout) || 0;
  }
  const res = await fetch(url);
  await res.body?.cancel();
  return res.status;
}

async function eventually(what: string, f: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A manifest container's args with `$(VAR)` substituted and the inspection bound to loopback. */
function manifestArgs(c: Obj, vars: Record<string, string>, replace: Record<string, string>) {
  return (c.args as string[]).map((a) => {
    const name = a.split("=")[0]!;
    if (name in replace) return `${name}=${replace[name]}`;
    return a.replace(/\$\(([A-Z_]+)\)/g, (_, v: string) => {
      assert.ok(v in vars, `no value for $(${v})`);
      return vars[v]!;
    });
  });
}

function skip(role: Role): void {
  console.log(`    SKIPPED: roles/${role}.ts is not on this branch yet`);
}

const INSPECT_LINE = /inspection server listening.*"url":"(http:\/\/[^"]+)"/;

Deno.test({
  name: "ship: controller (-P=controller, manifest args, as its ServiceAccount) serves health",
  sanitizeResources: true,
  fn: async () => {
    if (!(await exists(`${ROOT}/roles/controller.ts`))) return skip("controller");
    const api = await startKubeApiServer({ port: 0, tls: true });
    const kc = ["--kubeconfig", api.kubeconfigPath];
    const seen: Array<{ method: string; path: string; status: number }> = [];
    const upstream = Deno.createHttpClient({ caCerts: [api.caPem!] });
    // A recording proxy: the controller talks plain HTTP to it, it forwards over TLS.
    const proxy = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const u = new URL(req.url);
        const init: RequestInit & { client: Deno.HttpClient } = {
          method: req.method,
          headers: req.headers,
          body: req.body,
          client: upstream,
          redirect: "manual",
        };
        const res = await fetch(api.url + u.pathname + u.search, init);
        seen.push({ method: req.method, path: u.pathname, status: res.status });
        return new Response(res.body, { status: res.status, headers: res.headers });
      },
    );
    const files: string[] = [];
    let role: Started | undefined;
    try {
      serveBuiltinSchemas(api);
      const { yaml, objects } = await renderOverlay("dual");
      const f = await tempFile(yaml);
      files.push(f);
      for (const args of [["apply", "-f", "crds/"], ["apply", "-f", f]]) {
        const r = await run("kubectl", [...kc, ...args]);
        assert.equal(r.code, 0, r.stderr);
      }
      const token = api.serviceAccountToken(SYSTEM_NAMESPACE, "tern-controller");
      assert.ok(token);
      const kubeconfig = await tempFile(
        api.kubeconfigFor(token).replace(api.url, `http://127.0.0.1:${proxy.addr.port}`),
      );
      files.push(kubeconfig);
      const c = find(objects, "Deployment", "tern-controller").spec.template.spec.containers[0];
      const args = manifestArgs(c, { POD_NAMESPACE: SYSTEM_NAMESPACE, POD_NAME: "tn-ship-0" }, {
        "--inspect-address": "127.0.0.1:0",
      });
      role = await startRole("controller", args, {
        env: { KUBECONFIG: kubeconfig },
        urlLine: INSPECT_LINE,
      });
      const base = role.url;
      assert.equal(await httpStatus(`${base}/healthz`), 200);
      const kubectl = async (...args: string[]) => {
        const r = await run("kubectl", [...kc, ...args]);
        assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      };
      await eventually("the controller to lead", async () =>
        (await run("kubectl", [
          ...kc,
          "-n",
          SYSTEM_NAMESPACE,
          "get",
          "leases",
          "-o",
          "jsonpath={.items[*].spec.holderIdentity}",
        ])).stdout.includes("tn-ship-0"));
      await eventually(
        "controller /readyz",
        async () => (await httpStatus(`${base}/readyz`)) === 200,
      );
      // Work for it, as a user would give it: a node, the samples' pools, BGP and Services. It
      // must do its writes (NodeBGP, Service status) as its ServiceAccount.
      if (await exists(`${ROOT}/manifests/samples/cluster_bgp_spine0.yaml`)) {
        const node = await tempFile(JSON.stringify({
          apiVersion: "v1",
          kind: "Node",
          metadata: { name: "tn-ship-node", labels: { bgp: "a", "tern.dev/asn": "65101" } },
        }));
        files.push(node);
        await kubectl("apply", "-f", node);
        await kubectl(
          "patch",
          "node",
          "tn-ship-node",
          "--subresource=status",
          "--type=merge",
          "-p",
          '{"status":{"addresses":[{"type":"InternalIP","address":"192.0.2.11"}]}}',
        );
        for (
          const f of ["peer_templates", "cluster_bgp_spine0", "pod_pools", "service_pools"]
        ) await kubectl("apply", "-f", `manifests/samples/${f}.yaml`);
        await kubectl("apply", "-f", "manifests/samples/lb_services.yaml");
        await eventually(
          "a NodeBGP for the node",
          async () =>
            (await run("kubectl", [...kc, "get", "nodebgps", "-o", "name"])).stdout.includes(
              "tn-ship-node",
            ),
        );
        await eventually("a LoadBalancer address", async () =>
          /\d+\.\d+\.\d+\.\d+/.test(
            (await run("kubectl", [
              ...kc,
              "-n",
              "test-lb",
              "get",
              "services",
              "-o",
              "jsonpath={.items[*].status.loadBalancer.ingress[*].ip}",
            ])).stdout,
          ));
      } else console.log("    (samples not on this branch: no workload given)");
      const forbidden = seen.filter((s) => s.status === 403);
      assert.deepEqual(forbidden, [], "the API server refused some of the controller's calls");
      assert.ok(seen.length > 0, "the controller talked to the API server");
      const calls = new Set(
        seen.map((s) => `${s.method} ${s.path.replace(/\/(tn-ship-[^/]+|app-[^/]+)/g, "/…")}`),
      );
      console.log(`    ${seen.length} API calls, none refused: ${[...calls].join(", ")}`);
      assert.equal(await stopRole(role), 0, role.output());
      role = undefined;
    } finally {
      if (role) await stopRole(role);
      await proxy.shutdown();
      upstream.close();
      for (const f of files) await Deno.remove(f).catch(() => {});
      await api.close();
    }
  },
});

Deno.test("ship: agent (-P=agent, DaemonSet args, temp state and socket) serves health", async () => {
  if (!(await exists(`${ROOT}/roles/agent.ts`))) return skip("agent");
  const ns = `tn-ship-${crypto.randomUUID().slice(0, 8)}`;
  const veth = `tnsh${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-agent-" });
  let role: Started | undefined;
  let api: Awaited<ReturnType<typeof startKubeApiServer>> | undefined;
  try {
    for (const args of [["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"]]) {
      const r = await run("ip", args);
      assert.equal(r.code, 0, r.stderr);
    }
    const { yaml, objects } = await renderOverlay("dual");
    const c = find(objects, "DaemonSet", "tern-agent").spec.template.spec.containers
      .find((x: Obj) => x.name === "agent");
    const replace: Record<string, string> = {
      "--inspect-address": "127.0.0.1:0",
      "--state-dir": `${dir}/state`,
      "--socket": `${dir}/run/cni.sock`,
      "--conflist-dir": `${dir}/net.d`,
    };
    let args = manifestArgs(c, { NODE_NAME: "tn-ship-node" }, replace);
    if (args.includes("--in-cluster")) {
      // In a cluster the agent finds the API server from its ServiceAccount; here it gets a
      // kubeconfig with its ServiceAccount's token for the embedded API server, reached over a
      // veth pair from its network namespace (a random /30 in 198.18.0.0/15).
      const b = crypto.getRandomValues(new Uint8Array(2));
      const net = `198.19.${b[0]}.${(b[1]! & 0xfc)}`;
      const [hostIp, nsIp] = [1, 2].map((i) => net.replace(/\d+$/, (x) => String(Number(x) + i)));
      for (
        const a of [
          ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns],
          ["addr", "add", `${hostIp}/30`, "dev", veth],
          ["link", "set", veth, "up"],
          ["-n", ns, "addr", "add", `${nsIp}/30`, "dev", "eth0"],
          ["-n", ns, "link", "set", "eth0", "up"],
        ]
      ) {
        const r = await run("ip", a);
        assert.equal(r.code, 0, `ip ${a.join(" ")}: ${r.stderr}`);
      }
      api = await startKubeApiServer({ hostname: hostIp, port: 0, tls: true });
      serveBuiltinSchemas(api);
      const kc = ["--kubeconfig", api.kubeconfigPath];
      const f = await tempFile(yaml);
      try {
        for (const a of [["apply", "-f", "crds/"], ["apply", "-f", f]]) {
          const r = await run("kubectl", [...kc, ...a]);
          assert.equal(r.code, 0, r.stderr);
        }
      } finally {
        await Deno.remove(f);
      }
      const token = api.serviceAccountToken(SYSTEM_NAMESPACE, "tern-agent");
      assert.ok(token);
      const kubeconfig = `${dir}/agent.kubeconfig`;
      await Deno.writeTextFile(kubeconfig, api.kubeconfigFor(token));
      args = args.map((a) => a === "--in-cluster" ? `--kubeconfig=${kubeconfig}` : a);
    } else {
      console.log("    (the DaemonSet does not pass --in-cluster: the agent runs without the API)");
    }
    role = await startRole("agent", args, { netns: ns, urlLine: INSPECT_LINE });
    const base = role.url;
    assert.equal(await httpStatus(`${base}/healthz`, ns), 200);
    await eventually("agent /readyz", async () => (await httpStatus(`${base}/readyz`, ns)) === 200);
    const sock = await Deno.stat(`${dir}/run/cni.sock`);
    assert.ok(sock.isSocket, "the CNI socket listens");
    assert.equal(sock.mode! & 0o777, 0o600);
    const out = role.output();
    assert.equal(await stopRole(role), 0, out);
    role = undefined;
    assert.doesNotMatch(out, /\b403\b|[Ff]orbidden/, "the API server refused none of its calls");
  } finally {
    if (role) await stopRole(role);
    await api?.close();
    await run("ip", ["link", "del", veth]);
    await run("ip", ["netns", "del", ns]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("ship: speaker (-P=speaker, a minimal config) serves health", async () => {
  if (!(await exists(`${ROOT}/roles/speaker.ts`))) return skip("speaker");
  const config = await tempFile(
    [
      "asn: 64512",
      "routerId: 192.0.2.250",
      "listen: { address: 127.0.0.1, port: 0 }",
      "api: { address: 127.0.0.1, port: 0 }",
      "prefixes:",
      "  - prefix: 198.51.100.0/24",
      "",
    ].join("\n"),
  );
  let role: Started | undefined;
  try {
    role = await startRole("speaker", ["--config", config], {
      urlLine: /"event":"ready".*"api":"(http:\/\/[^"]+)"/,
    });
    assert.equal(await httpStatus(`${role.url}/healthz`), 200);
    await eventually(
      "speaker /readyz",
      async () => (await httpStatus(`${role!.url}/readyz`)) === 200,
    );
    assert.equal(await stopRole(role), 0, role.output());
    role = undefined;
  } finally {
    if (role) await stopRole(role);
    await Deno.remove(config);
  }
});

async function cni(env: Record<string, string>, stdin: string, flags?: string[]) {
  const { set, entry } = compileTask("cni");
  return await run(Deno.execPath(), ["run", ...(flags ?? [`-P=${set}`]), entry], {
    env: { NO_COLOR: "1", ...env },
    stdin,
    timeoutMs: 30_000,
  });
}

Deno.test("ship: cni (-P=cni) answers VERSION and reaches the agent's socket", async () => {
  if (!(await exists(`${ROOT}/roles/cni.ts`))) return skip("cni");
  const v = await cni({ CNI_COMMAND: "VERSION" }, JSON.stringify({ cniVersion: "1.1.0" }));
  assert.equal(v.code, 0, v.stderr);
  const versions = JSON.parse(v.stdout);
  assert.ok(versions.supportedVersions.includes("1.1.0"), v.stdout);

  // ADD with the permission set: the plugin connects to the socket (which hangs up at once), so
  // the error it reports is the agent's, not a denied permission.
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-cni-" });
  const socket = `${dir}/cni.sock`;
  const listener = Deno.listen({ transport: "unix", path: socket });
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      conn.close();
    }
  })();
  try {
    const add = await cni({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "tnship0123456789",
      CNI_NETNS: "/proc/self/ns/net",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/opt/cni/bin",
    }, JSON.stringify({ cniVersion: "1.0.0", name: "tern", type: "tern", socket }));
    assert.notEqual(add.code, 0);
    const err = JSON.parse(add.stdout);
    assert.equal(err.code, 11, add.stdout);
    assert.doesNotMatch(add.stdout + add.stderr, /NotCapable|Requires \w+ access|--allow-/);
    assert.equal(accepted, 1, "the plugin reached the socket");
  } finally {
    listener.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ship: ctl (-P=ctl) answers --help", async () => {
  if (!(await exists(`${ROOT}/roles/ctl.ts`))) return skip("ctl");
  const { set, entry } = compileTask("ctl");
  const r = await run(Deno.execPath(), ["run", `-P=${set}`, entry, "--help"], {
    env: { NO_COLOR: "1" },
  });
  // Usage on stdout or stderr; exit 0, or 2 as some CLIs do for usage text.
  assert.ok(r.code === 0 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stdout + r.stderr, /usage|Usage/);
  assert.match(r.stdout + r.stderr, /ctl bgp/, "lists its command groups");
  assert.doesNotMatch(r.stdout + r.stderr, /NotCapable|Requires \w+ access/);
});

Deno.test("ship: a permission set missing a permission makes the role fail", async () => {
  // The checks above depend on this: without `net` the plugin cannot reach its socket, and the
  // failure shows up (the same run with -P=cni passes above).
  if (!(await exists(`${ROOT}/roles/cni.ts`))) return skip("cni");
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-cni-" });
  const socket = `${dir}/cni.sock`;
  const listener = Deno.listen({ transport: "unix", path: socket });
  try {
    const r = await run(Deno.execPath(), [
      "run",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "roles/cni.ts",
    ], {
      env: {
        NO_COLOR: "1",
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "tnship0123456789",
        CNI_NETNS: "/proc/self/ns/net",
        CNI_IFNAME: "eth0",
        CNI_PATH: "/opt/cni/bin",
      },
      stdin: JSON.stringify({ cniVersion: "1.0.0", name: "tern", type: "tern", socket }),
      timeoutMs: 30_000,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Requires net access/);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- every permission in a set is used ------------------------------------------------------

/** The `--allow-*` flags equivalent to a permission set, minus the permission `drop`. */
function flagsWithout(set: Record<string, unknown>, drop: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(set)) {
    if (k === drop) continue;
    out.push(v === true ? `--allow-${k}` : `--allow-${k}=${(v as string[]).join(",")}`);
  }
  return out;
}

/** Starts a role with `flags` and says whether it became healthy and ready (then stops it). */
async function servesWith(
  role: Role,
  flags: string[],
  args: string[],
  opts: { netns?: string; urlLine: RegExp },
): Promise<boolean> {
  let s: Started;
  try {
    s = await startRole(role, args, { ...opts, flags, timeoutMs: 15_000 });
  } catch {
    return false;
  }
  try {
    if ((await httpStatus(`${s.url}/healthz`, opts.netns)) !== 200) return false;
    await eventually(
      "ready",
      async () => (await httpStatus(`${s.url}/readyz`, opts.netns)) === 200,
      5000,
    );
    return true;
  } catch {
    return false;
  } finally {
    await stopRole(s);
  }
}

Deno.test("ship: each permission of the agent, speaker and cni sets is needed", async () => {
  const needed: Record<string, string[]> = {};
  const ns = `tn-ship-${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-min-" });
  // A passive peer with GTSM: the speaker loads the libc socket transport at start-up (ffi).
  const speakerConfig = await tempFile(
    "asn: 64512\nrouterId: 192.0.2.250\nlisten: { address: 127.0.0.1, port: 0 }\n" +
      "peers: [{ address: 192.0.2.251, asn: 64513, passive: true, ttlSecurity: 1 }]\n",
  );
  try {
    for (const args of [["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"]]) {
      const r = await run("ip", args);
      assert.equal(r.code, 0, r.stderr);
    }
    if (await exists(`${ROOT}/roles/agent.ts`)) {
      const set = denoJson.permissions.agent!;
      const args = [
        "--node=tn-ship-node",
        `--state-dir=${dir}/state`,
        `--socket=${dir}/run/cni.sock`,
        `--conflist-dir=${dir}/net.d`,
        "--inspect-address=127.0.0.1:0",
      ];
      const opts = { netns: ns, urlLine: INSPECT_LINE };
      assert.ok(await servesWith("agent", flagsWithout(set, ""), args, opts), "agent, full set");
      needed.agent = [];
      for (const p of Object.keys(set)) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        if (!(await servesWith("agent", flagsWithout(set, p), args, opts))) needed.agent.push(p);
      }
    } else skip("agent");
    if (await exists(`${ROOT}/roles/speaker.ts`)) {
      const set = denoJson.permissions.speaker!;
      const args = ["--config", speakerConfig];
      const opts = { urlLine: /"event":"ready".*"api":"(http:\/\/[^"]+)"/ };
      assert.ok(await servesWith("speaker", flagsWithout(set, ""), args, opts), "speaker");
      needed.speaker = [];
      for (const p of Object.keys(set)) {
        if (!(await servesWith("speaker", flagsWithout(set, p), args, opts))) {
          needed.speaker.push(p);
        }
      }
    } else skip("speaker");
    if (await exists(`${ROOT}/roles/cni.ts`)) {
      const set = denoJson.permissions.cni!;
      const socket = `${dir}/cni.sock`;
      await Deno.mkdir(dir, { recursive: true });
      const listener = Deno.listen({ transport: "unix", path: socket });
      const serving = (async () => {
        for await (const conn of listener) conn.close();
      })();
      try {
        // Works = reaches the socket and reports the agent hanging up (code 11), not a denial.
        const works = async (flags: string[]) => {
          const r = await cni(
            {
              CNI_COMMAND: "ADD",
              CNI_CONTAINERID: "tnship0123456789",
              CNI_NETNS: "/proc/self/ns/net",
              CNI_IFNAME: "eth0",
              CNI_PATH: "/opt/cni/bin",
            },
            JSON.stringify({ cniVersion: "1.0.0", name: "tern", type: "tern", socket }),
            flags,
          );
          return /"code":\s*11/.test(r.stdout) &&
            !/NotCapable|Requires \w+ access/.test(r.stdout + r.stderr);
        };
        assert.ok(await works(flagsWithout(set, "")), "cni, full set");
        needed.cni = [];
        for (const p of Object.keys(set)) {
          if (!(await works(flagsWithout(set, p)))) needed.cni.push(p);
        }
      } finally {
        listener.close();
        await serving.catch(() => {});
      }
    } else skip("cni");
    console.log(
      `    permissions whose removal stops the role at start-up: ${JSON.stringify(needed)}`,
    );
    // Start-up exercises these; the rest of each set is used on paths start-up does not take
    // (in-cluster configuration, pod wiring, log level from the environment): docs/install.md.
    if (needed.agent) {
      for (const p of ["net", "read", "write", "ffi", "sys"]) {
        assert.ok(needed.agent.includes(p), `the agent needs ${p} to start`);
      }
    }
    if (needed.cni) assert.deepEqual(needed.cni.sort(), ["env", "net", "read", "write"]);
    if (needed.speaker) {
      for (const p of ["net", "env", "read", "ffi"]) {
        assert.ok(needed.speaker.includes(p), `the speaker needs ${p} to start`);
      }
    }
  } finally {
    await run("ip", ["netns", "del", ns]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(speakerConfig);
  }
});
