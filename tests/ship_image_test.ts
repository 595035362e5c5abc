/**
 * The image cannot be built here (no Docker, no Docker Hub), so what a build needs is checked
 * statically: the build context (after `.dockerignore`) holds every module each role's entry
 * point can load, plus what the compile tasks include; the Dockerfile compiles every role with
 * its task for the target architecture; and every binary the manifests run is in the image.
 */

import assert from "node:assert/strict";
import { importClosure, type Obj, OVERLAYS, renderOverlay, ROOT } from "./ship_helpers.ts";

const ROLES = ["controller", "agent", "speaker", "cni", "ctl"];

/** `.dockerignore` patterns (top-level names and `*.ext` globs, as the file uses). */
async function ignored(): Promise<(path: string) => boolean> {
  const patterns = (await Deno.readTextFile(`${ROOT}/.dockerignore`)).split("\n")
    .map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  for (const p of patterns) {
    assert.match(p, /^(\*\.[a-z]+|[A-Za-z0-9._-]+)$/, `pattern ${p} is understood by this test`);
  }
  return (path: string) =>
    patterns.some((p) =>
      p.startsWith("*.")
        ? path.endsWith(p.slice(1)) && !path.includes("/")
        : path === p || path.startsWith(`${p}/`)
    );
}

Deno.test("ship: the build context holds everything each role's compile task needs", async () => {
  const isIgnored = await ignored();
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks as Record<
    string,
    string
  >;
  for (const f of ["deno.json", "deno.lock", "hack/install_cni.sh", "crds"]) {
    assert.ok(!isIgnored(f), `${f} is in the build context`);
  }
  let checked = 0;
  for (const role of ROLES) {
    const entry = `${ROOT}/roles/${role}.ts`;
    try {
      await Deno.stat(entry);
    } catch {
      console.log(`    SKIPPED: roles/${role}.ts is not on this branch yet`);
      continue;
    }
    for (const file of await importClosure(entry)) {
      const rel = file.slice(ROOT.length + 1);
      assert.ok(!isIgnored(rel), `${rel} (loaded by ${role}) is excluded by .dockerignore`);
      checked++;
    }
    for (const m of tasks[`compile:${role}`]!.matchAll(/--include (\S+)/g)) {
      assert.ok(!isIgnored(m[1]!), `${m[1]} (included in ${role}) is excluded by .dockerignore`);
    }
  }
  assert.ok(checked > 20, `${checked} modules checked`);
  // And the exclusions are real: tests and benchmarks stay out of the image.
  assert.ok(isIgnored("tests/ship_image_test.ts") && isIgnored(".git/HEAD"));
});

Deno.test("ship: the Dockerfile compiles every role and the manifests run what it installs", async () => {
  const df = await Deno.readTextFile(`${ROOT}/Dockerfile`);
  assert.match(df, /^FROM --platform=\$BUILDPLATFORM denoland\/deno:\$\{DENO_VERSION\} AS build$/m);
  assert.match(df, /^FROM debian:\$\{DEBIAN_RELEASE\}-slim AS runtime$/m);
  assert.match(df, /apt-get install -y --no-install-recommends libmnl0 ca-certificates/);
  assert.match(df, /^USER 65532:65532$/m, "non-root by default");
  const loop = df.match(/for role in ([a-z ]+); do/);
  assert.ok(loop, "a loop over the roles");
  assert.deepEqual(loop[1]!.trim().split(/\s+/).sort(), [...ROLES].sort());
  assert.match(df, /deno task "compile:\$\{role\}:\$\{TARGETARCH\}"/);
  assert.match(df, /COPY --from=build \/src\/dist\/linux-\$\{TARGETARCH\}\/ \/usr\/local\/bin\//);
  assert.match(df, /COPY hack\/install_cni\.sh \/usr\/local\/bin\/tern-install-cni/);
  const installed = new Set([
    ...ROLES.map((r) => `/usr/local/bin/tern-${r}`),
    "/usr/local/bin/tern-install-cni",
  ]);
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks as Record<
    string,
    string
  >;
  for (const role of ROLES) {
    for (const arch of ["amd64", "arm64"]) {
      assert.match(
        tasks[`compile:${role}:${arch}`] ?? "",
        new RegExp(`--output dist/linux-${arch}/tern-${role} `),
      );
    }
  }
  for (const overlay of OVERLAYS) {
    const { objects } = await renderOverlay(overlay);
    for (const o of objects.filter((x) => x.spec?.template?.spec)) {
      const pod = o.spec.template.spec;
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])] as Obj[]) {
        assert.ok(installed.has(c.command[0]), `${overlay}: ${c.name} runs ${c.command[0]}`);
      }
    }
  }
});
