/**
 * The manifests users install: every overlay renders with `kubectl kustomize`, holds what each
 * mode needs and nothing a mode must not have, and is accepted by `kubectl apply
 * --dry-run=server` against the embedded API server (with the CRDs and full schemas of the
 * built-in kinds, so a misspelt field fails). The CNI installer script is run for real.
 */

import assert from "node:assert/strict";
import { startKubeApiServer } from "../actors/kubeapi/mod.ts";
import { staleFiles } from "../actors/ship/generate.ts";
import {
  find,
  type Obj,
  OVERLAYS,
  parseYamlDocs,
  renderOverlay,
  ROOT,
  run,
  serveBuiltinSchemas,
  tempFile,
} from "./ship_helpers.ts";

const CNI_MODES = new Set(["cni", "dual", "kind"]);

function container(podSpec: Obj, name: string): Obj {
  const c = [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])].find((x: Obj) =>
    x.name === name
  );
  assert.ok(c, `container ${name}`);
  return c;
}

function flag(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`${name}=`));
  return a?.slice(name.length + 1);
}

Deno.test("ship: the generated RBAC manifests are current", async () => {
  assert.deepEqual(await staleFiles(ROOT), [], "run `just manifests`");
});

for (const overlay of OVERLAYS) {
  Deno.test(`ship: overlay ${overlay} renders what its mode needs`, async () => {
    const { objects } = await renderOverlay(overlay);
    const cniMode = CNI_MODES.has(overlay);
    const ns = find(objects, "Namespace", "tern-system");
    assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
    find(objects, "ServiceAccount", "tern-controller");
    find(objects, "ServiceAccount", "tern-agent");
    for (const o of objects) {
      if (o.kind !== "Namespace" && !o.kind.startsWith("Cluster")) {
        assert.equal(o.metadata.namespace, "tern-system", `${o.kind} ${o.metadata.name}`);
      }
      assert.equal(o.metadata.labels?.["app.kubernetes.io/part-of"], "tern", o.metadata.name);
    }

    // Controller: 2 replicas, non-root, probes on the inspection server it is told to serve.
    const dep = find(objects, "Deployment", "tern-controller");
    assert.equal(dep.spec.replicas, 2);
    const cpod = dep.spec.template.spec;
    assert.equal(cpod.serviceAccountName, "tern-controller");
    assert.equal(cpod.securityContext.runAsNonRoot, true);
    assert.equal(cpod.hostNetwork === true, cniMode, "host network exactly in CNI modes");
    const ctl = container(cpod, "controller");
    assert.deepEqual(ctl.command, ["/usr/local/bin/tern-controller"]);
    assert.deepEqual(ctl.securityContext.capabilities, { drop: ["ALL"] });
    assert.equal(ctl.securityContext.allowPrivilegeEscalation, false);
    const cport = Number(flag(ctl.args, "--inspect-address")?.split(":").pop());
    assert.equal(ctl.ports.find((p: Obj) => p.name === "inspect").containerPort, cport);
    assert.equal(ctl.livenessProbe.httpGet.path, "/healthz");
    assert.equal(ctl.readinessProbe.httpGet.path, "/readyz");
    assert.equal(ctl.livenessProbe.httpGet.port, "inspect");
    assert.ok(flag(ctl.args, "--identity"), "leader election identity");
    assert.equal(flag(ctl.args, "--namespace"), "$(POD_NAMESPACE)");
    assert.equal(
      ctl.args.includes("--handle-classless=false"),
      overlay === "cni",
      "only cni mode leaves classless LoadBalancers to another implementation",
    );

    const pdb = find(objects, "PodDisruptionBudget", "tern-controller");
    assert.equal(pdb.spec.minAvailable, 1);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) {
      assert.equal(dep.spec.template.metadata.labels[k], v, "the PDB selects the controller");
    }

    // Agent: host network, root with named capabilities only, never privileged.
    const ds = find(objects, "DaemonSet", "tern-agent");
    const apod = ds.spec.template.spec;
    assert.equal(apod.hostNetwork, true);
    assert.equal(apod.serviceAccountName, "tern-agent");
    assert.deepEqual(apod.tolerations, [{ operator: "Exists" }]);
    const agent = container(apod, "agent");
    assert.deepEqual(agent.command, ["/usr/local/bin/tern-agent"]);
    assert.equal(agent.securityContext.privileged, undefined);
    assert.deepEqual(agent.securityContext.capabilities.drop, ["ALL"]);
    assert.deepEqual(
      [...agent.securityContext.capabilities.add].sort(),
      cniMode ? ["NET_ADMIN", "NET_BIND_SERVICE", "SYS_ADMIN"] : ["NET_ADMIN", "NET_BIND_SERVICE"],
    );
    const aport = Number(flag(agent.args, "--inspect-address")?.split(":").pop());
    assert.equal(agent.ports.find((p: Obj) => p.name === "inspect").containerPort, aport);
    assert.notEqual(aport, cport, "agent and controller may share a host network");
    assert.equal(agent.readinessProbe.httpGet.path, "/readyz");
    const vols = new Map<string, Obj>(apod.volumes.map((v: Obj) => [v.name, v]));
    const hostPathAt = (c: Obj, mountPath: string) => {
      const m = c.volumeMounts.find((x: Obj) => x.mountPath === mountPath);
      return m ? vols.get(m.name)?.hostPath?.path : undefined;
    };
    assert.equal(hostPathAt(agent, "/var/lib/tern"), flag(agent.args, "--state-dir"));
    assert.equal(hostPathAt(agent, "/run/tern"), "/run/tern");
    assert.ok(flag(agent.args, "--socket")?.startsWith("/run/tern/"));
    const init = apod.initContainers?.find((c: Obj) => c.name === "install-cni");
    if (cniMode) {
      assert.equal(hostPathAt(agent, "/run/netns"), "/run/netns");
      assert.equal(hostPathAt(agent, "/etc/cni/net.d"), "/etc/cni/net.d");
      assert.ok(init, "the init container installs the plugin");
      assert.deepEqual(init.command, ["/usr/local/bin/tern-install-cni"]);
      assert.equal(hostPathAt(init, "/host/opt/cni/bin"), "/opt/cni/bin");
      assert.equal(hostPathAt(init, "/host/etc/cni/net.d"), "/etc/cni/net.d");
      assert.equal(init.image, agent.image);
    } else {
      // lb mode leaves the node's CNI alone: no host CNI directories, no installer.
      assert.equal(init, undefined);
      assert.equal(hostPathAt(agent, "/etc/cni/net.d"), undefined);
      assert.ok(!apod.volumes.some((v: Obj) => v.hostPath?.path?.startsWith("/opt/cni")));
    }

    // Every container: requests and limits, declared env for $(VAR), mounts of real volumes.
    for (const [w, pod] of [["controller", cpod], ["agent", apod]] as const) {
      const podVols = new Set(pod.volumes.map((v: Obj) => v.name));
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        for (const k of ["cpu", "memory"]) {
          assert.ok(c.resources.requests[k], `${w}/${c.name} requests ${k}`);
          assert.ok(c.resources.limits[k], `${w}/${c.name} limits ${k}`);
        }
        const env = new Set((c.env ?? []).map((e: Obj) => e.name));
        for (const a of c.args ?? []) {
          for (const m of String(a).matchAll(/\$\(([A-Z_]+)\)/g)) {
            assert.ok(env.has(m[1]), `${w}/${c.name}: ${a} uses undeclared ${m[1]}`);
          }
        }
        for (const m of c.volumeMounts ?? []) {
          assert.ok(podVols.has(m.name), `${w}/${c.name} mounts unknown ${m.name}`);
        }
        assert.match(c.image, overlay === "kind" ? /^tern:dev$/ : /^ghcr\.io\/tern-dev\/tern:/);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${w}/${c.name}`);
      }
    }
  });
}

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown>>;
}

for (const overlay of OVERLAYS.filter((o) => CNI_MODES.has(o))) {
  Deno.test(`ship: overlay ${overlay} installs the conflist the agent writes`, async () => {
    const { objects } = await renderOverlay(overlay);
    const cm = find(objects, "ConfigMap", "tern-cni-conflist");
    const files = Object.keys(cm.data);
    assert.deepEqual(files, ["10-tern.conflist"]);
    const conf = JSON.parse(cm.data["10-tern.conflist"]) as Conflist;
    const apod = find(objects, "DaemonSet", "tern-agent").spec.template.spec;
    const agent = container(apod, "agent");
    const init = container(apod, "install-cni");
    const env = Object.fromEntries(init.env.map((e: Obj) => [e.name, e.value]));
    assert.equal(conf.plugins[0]!.type, env.TERN_CNI_NAME, "type = installed binary name");
    assert.equal(env.TERN_CONFLIST, `/etc/tern/cni/${files[0]}`);
    assert.equal(conf.plugins[0]!.socket, flag(agent.args, "--socket"));
    const chain = (flag(agent.args, "--chain") ?? "portmap,bandwidth").split(",");
    assert.deepEqual(conf.plugins.slice(1).map((p) => p.type), chain);

    // When the agent's conflist renderer is on this branch, the ConfigMap must equal its output
    // for the DaemonSet's own flags, byte for byte (so neither writer changes the other's file).
    const renderer = `${ROOT}/actors/agent/conflist.ts`;
    const config = `${ROOT}/actors/agent/config.ts`;
    let haveAgent = true;
    try {
      await Deno.stat(renderer);
      await Deno.stat(config);
    } catch {
      haveAgent = false;
    }
    if (!haveAgent) {
      console.log("    (actors/agent/conflist.ts not on this branch: byte comparison skipped)");
      return;
    }
    const { renderConflist } = await import(renderer);
    const { parseAgentFlags } = await import(config);
    const args = agent.args.filter((a: string) =>
      !a.startsWith("--inspect-address") && !a.startsWith("--log-level")
    ).map((a: string) => a.replace("$(NODE_NAME)", "node-a"));
    const rendered = JSON.stringify(renderConflist(parseAgentFlags(args, "node-a")), null, 2) +
      "\n";
    assert.equal(cm.data["10-tern.conflist"], rendered);
  });
}

Deno.test("ship: every overlay passes kubectl apply --dry-run=server; a typo does not", async () => {
  const api = await startKubeApiServer({ port: 0 });
  const kc = ["--kubeconfig", api.kubeconfigPath];
  const files: string[] = [];
  try {
    serveBuiltinSchemas(api);
    const crds = await run("kubectl", [...kc, "apply", "-f", "crds/"]);
    assert.equal(crds.code, 0, crds.stderr);
    const wait = await run("kubectl", [
      ...kc,
      "wait",
      "--for=condition=established",
      "--timeout=20s",
      "-f",
      "crds/",
    ]);
    assert.equal(wait.code, 0, wait.stderr);
    const ns = await run("kubectl", [...kc, "apply", "-f", "manifests/base/namespace.yaml"]);
    assert.equal(ns.code, 0, ns.stderr);

    for (const overlay of OVERLAYS) {
      const { yaml, objects } = await renderOverlay(overlay);
      const f = await tempFile(yaml);
      files.push(f);
      const r = await run("kubectl", [...kc, "apply", "--dry-run=server", "-f", f]);
      assert.equal(r.code, 0, `${overlay}: ${r.stderr}`);
      for (const o of objects) {
        assert.match(
          r.stdout,
          new RegExp(`${o.metadata.name}\\b.*\\(server dry run\\)`),
          `${overlay}: ${o.kind} ${o.metadata.name} went through the server`,
        );
      }
    }
    // Nothing was created by the dry runs.
    const get = await run("kubectl", [...kc, "get", "deployments,daemonsets", "-A", "-o", "name"]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout.trim(), "");

    // The checks are real: a misspelt field and a mistyped value are refused, naming the field.
    const { yaml } = await renderOverlay("dual");
    const broken: Array<[string, string, RegExp]> = [
      ["hostNetwork: true", "hostNetwrok: true", /hostNetwrok/],
      ["replicas: 2", "replicas: two", /replicas/],
      ["minAvailable: 1", "minAvailabel: 1", /minAvailabel/],
      ["readOnlyRootFilesystem: true", "readOnlyRootFilesystem: yes please", /readOnlyRoot/],
    ];
    for (const [from, to, why] of broken) {
      assert.ok(yaml.includes(from), from);
      const f = await tempFile(yaml.replace(from, to));
      files.push(f);
      const r = await run("kubectl", [...kc, "apply", "--dry-run=server", "-f", f]);
      assert.notEqual(r.code, 0, `${to} was accepted`);
      assert.match(r.stderr, why);
    }
  } finally {
    for (const f of files) await Deno.remove(f).catch(() => {});
    await api.close();
  }
});

Deno.test("ship: the rendered objects parse back as the same documents kubectl printed", async () => {
  // Guards the YAML helpers the other checks rely on (a silent parse failure would pass them).
  const { yaml, objects } = await renderOverlay("lb");
  assert.equal(objects.length, (yaml.match(/^kind: /gm) ?? []).length);
  assert.deepEqual(parseYamlDocs("a: 1\n---\n---\nb: 2\n"), [{ a: 1 }, { b: 2 }]);
});

// ---- the CNI installer (hack/install_cni.sh) -------------------------------------------------

async function installCni(env: Record<string, string>) {
  return await run("sh", [`${ROOT}/hack/install_cni.sh`], { env, timeoutMs: 10_000 });
}

Deno.test("ship: install-cni installs atomically, in place, and touches nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tn-ship-cni-" });
  try {
    const bin = `${dir}/host/opt/cni/bin`;
    const conf = `${dir}/host/etc/cni/net.d`;
    await Deno.mkdir(bin, { recursive: true });
    await Deno.mkdir(conf, { recursive: true });
    // Another plugin's files, which the installer must leave alone.
    await Deno.writeTextFile(`${bin}/portmap`, "other plugin");
    await Deno.writeTextFile(`${conf}/05-other.conflist`, "{}");
    await Deno.writeTextFile(`${dir}/tern-cni`, "#!/bin/sh\necho v1\n");
    await Deno.mkdir(`${dir}/cm`);
    await Deno.writeTextFile(`${dir}/cm/10-tern.conflist`, '{"name":"tern"}\n');
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      TERN_CNI_SOURCE: `${dir}/tern-cni`,
      TERN_CNI_BIN_DIR: bin,
      TERN_CNI_NAME: "tern",
      TERN_CONFLIST: `${dir}/cm/10-tern.conflist`,
      TERN_CNI_CONF_DIR: conf,
    };

    let r = await installCni(env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await Deno.readTextFile(`${bin}/tern`), "#!/bin/sh\necho v1\n");
    assert.equal((await Deno.stat(`${bin}/tern`)).mode! & 0o777, 0o755);
    assert.equal(await Deno.readTextFile(`${conf}/10-tern.conflist`), '{"name":"tern"}\n');
    assert.equal((await Deno.stat(`${conf}/10-tern.conflist`)).mode! & 0o777, 0o644);
    const ino1 = (await Deno.stat(`${bin}/tern`)).ino;

    // Again with the same files: nothing changes (same inode).
    r = await installCni(env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /unchanged/);
    assert.equal((await Deno.stat(`${bin}/tern`)).ino, ino1);

    // An upgrade replaces the file by rename: a new inode, never a half-written file.
    const held = await Deno.open(`${bin}/tern`); // a runtime executing the old plugin
    try {
      await Deno.writeTextFile(`${dir}/tern-cni`, "#!/bin/sh\necho v2\n");
      r = await installCni(env);
      assert.equal(r.code, 0, r.stderr);
      assert.notEqual((await Deno.stat(`${bin}/tern`)).ino, ino1);
      assert.equal(await Deno.readTextFile(`${bin}/tern`), "#!/bin/sh\necho v2\n");
      const old = new Uint8Array(64);
      const n = await held.read(old);
      assert.equal(new TextDecoder().decode(old.subarray(0, n!)), "#!/bin/sh\necho v1\n");
    } finally {
      held.close();
    }

    const names = async (d: string) => {
      const out: string[] = [];
      for await (const e of Deno.readDir(d)) out.push(e.name);
      return out.sort();
    };
    assert.deepEqual(await names(bin), ["portmap", "tern"], "no temporary file left");
    assert.deepEqual(await names(conf), ["05-other.conflist", "10-tern.conflist"]);
    assert.equal(await Deno.readTextFile(`${bin}/portmap`), "other plugin");

    // A missing source fails loudly and changes nothing.
    r = await installCni({ ...env, TERN_CNI_SOURCE: `${dir}/missing` });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /source missing/);
    assert.equal(await Deno.readTextFile(`${bin}/tern`), "#!/bin/sh\necho v2\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
