/**
 * Client-side `kubectl apply` run again and again over tern's CRDs and every sample, as users do
 * against a real API server: the second run must not fail (kubectl 1.32 picks the patch type from
 * the OpenAPI v3 document: strategic merge only where the PATCH operation advertises it for that
 * kind, else its compiled-in types for built-ins, else a JSON merge patch; a custom resource
 * answered with 415 is not retried), objects the second run does not change keep their
 * resourceVersion, and an edited field shows in `kubectl diff` and lands with the third run.
 * Skipped when kubectl is not installed.
 */
import assert from "node:assert/strict";
import { hasKubectl, ROOT as root, withKubectl } from "./kubeapi_helpers.ts";

/** Every `kind/name` line kubectl printed for an apply, as a map to its verb. */
function verbs(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.trim().split("\n")) {
    const m = /^(\S+) (created|configured|unchanged)$/.exec(line.trim());
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

Deno.test({
  name: "kubeapi reapply: client-side apply of crds/ and samples twice, then an edit shows in diff",
  ignore: !hasKubectl(),
  async fn() {
    await withKubectl(async (run, _api, cache) => {
      const versions = async (): Promise<Map<string, string>> => {
        const r = await run([
          "get",
          "tern,services,secrets,namespaces,pods,crd",
          "-A",
          "-o",
          'jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}',
        ]);
        assert.equal(r.code, 0, r.all);
        return new Map(r.stdout.trim().split("\n").map((l) => l.split("=") as [string, string]));
      };

      // First run: everything is created.
      const crds1 = await run(["apply", "-f", `${root}/crds`]);
      assert.equal(crds1.code, 0, crds1.all);
      const s1 = await run(["apply", "-f", `${root}/manifests/samples`]);
      assert.equal(s1.code, 0, s1.all);
      const first = verbs(s1.stdout);
      assert.ok(first.size >= 20, s1.all);
      for (const [obj, verb] of first) assert.equal(verb, "created", obj);
      const before = await versions();

      // Second run of the same files: no error, and no 415 on any custom resource.
      const crds2 = await run(["apply", "-f", `${root}/crds`]);
      assert.equal(crds2.code, 0, crds2.all);
      for (const [obj, verb] of verbs(crds2.stdout)) assert.equal(verb, "unchanged", obj);
      const s2 = await run(["apply", "-f", `${root}/manifests/samples`]);
      assert.equal(s2.code, 0, s2.all);
      assert.doesNotMatch(s2.all, /UnsupportedMediaType|unknown format|415/);
      const second = verbs(s2.stdout);
      assert.deepEqual([...second.keys()].sort(), [...first.keys()].sort());
      // As on a real server, a JSON merge patch carries whole lists, so a custom resource with
      // server-side defaults inside a list item (clusterbgp-edge's peer) and a Secret written
      // with stringData are "configured" again; every other object is "unchanged".
      for (const [obj, verb] of second) {
        const expected = obj === "clusterbgp.tern.dev/clusterbgp-edge" ||
            obj === "secret/bgp-edge-password"
          ? "configured"
          : "unchanged";
        assert.equal(verb, expected, obj);
      }
      // Those patches were no-ops: nothing was written, no resourceVersion moved.
      assert.deepEqual(await versions(), before);

      // An edit to a custom resource and to a built-in kind.
      const dir = await Deno.makeTempDir({ prefix: "tn-kubeapi-reapply-edit-", dir: cache });
      await Deno.copyFile(`${root}/manifests/samples/cluster_bgp_spine0.yaml`, `${dir}/a.yaml`);
      const spine0 = await Deno.readTextFile(`${dir}/a.yaml`);
      assert.match(spine0, /multipath: true/);
      await Deno.writeTextFile(
        `${dir}/a.yaml`,
        spine0.replace("multipath: true", "multipath: false"),
      );
      const lb = await Deno.readTextFile(`${root}/manifests/samples/lb_services.yaml`);
      const svcDoc = lb.split(/^---$/m).find((d) => /name: app-svc-local\n/.test(d));
      assert.ok(svcDoc, "app-svc-local in lb_services.yaml");
      assert.match(svcDoc, /port: 80\n/);
      await Deno.writeTextFile(`${dir}/b.yaml`, svcDoc.replace(/port: 80\n/, "port: 8081\n"));

      const diff = await run(["diff", "-f", dir]);
      assert.equal(diff.code, 1, `kubectl diff exits 1 when there are differences\n${diff.all}`);
      assert.match(diff.stdout, /^-\s+multipath: true$/m);
      assert.match(diff.stdout, /^\+\s+multipath: false$/m);
      assert.match(diff.stdout, /^-\s+port: 80$/m);
      assert.match(diff.stdout, /^\+\s+port: 8081$/m);
      // Third run with the edit: both configured; the live objects carry it.
      const s3 = await run(["apply", "-f", dir]);
      assert.equal(s3.code, 0, s3.all);
      assert.equal(verbs(s3.stdout).get("clusterbgp.tern.dev/clusterbgp-spine0"), "configured");
      assert.equal(verbs(s3.stdout).get("service/app-svc-local"), "configured");
      const mp = await run([
        "get",
        "clusterbgp",
        "clusterbgp-spine0",
        "-o",
        "jsonpath={.spec.speaker.multipath}/{.metadata.generation}",
      ]);
      assert.equal(mp.stdout, "false/2", mp.all);
      const port = await run([
        "get",
        "svc",
        "-n",
        "test-lb",
        "app-svc-local",
        "-o",
        "jsonpath={.spec.ports[*].port}",
      ]);
      assert.equal(port.stdout, "8081", port.all);
      // Nothing left to diff; re-applying the edit is unchanged.
      const diff2 = await run(["diff", "-f", dir]);
      assert.equal(diff2.code, 0, diff2.all);
      const s4 = await run(["apply", "-f", dir]);
      assert.equal(s4.code, 0, s4.all);
      for (const [obj, verb] of verbs(s4.stdout)) assert.equal(verb, "unchanged", obj);
    }, { prefix: "tn-kubeapi-reapply-" });
  },
});
