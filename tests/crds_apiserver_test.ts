/**
 * The generated CRDs and the samples against the embedded API server, through the real kubectl:
 * CRDs apply and become served, samples pass a server-side dry run and then apply, `kubectl get
 * tern` lists them through the category, printer columns show, and schema violations are
 * rejected. Skipped when kubectl is not installed.
 */
import assert from "node:assert/strict";
import { hasKubectl, ROOT as root, withKubectl } from "./kubeapi_helpers.ts";
import { ALL_CRDS } from "../actors/crds/registry.ts";

Deno.test({
  name: "crds apiserver: CRDs and samples apply with kubectl; bad objects are rejected",
  ignore: !hasKubectl(),
  async fn() {
    await withKubectl(async (run) => {
      const crds = await run(["apply", "-f", `${root}/crds`]);
      assert.equal(crds.code, 0, crds.all);
      for (const d of ALL_CRDS) {
        assert.match(crds.stdout, new RegExp(`${d.plural}\\.tern\\.dev created`));
      }

      // Samples: namespaces first (the dry run of namespaced objects needs them).
      const dry = await run(["apply", "--dry-run=server", "-f", `${root}/manifests/samples`]);
      const real = await run(["apply", "-f", `${root}/manifests/samples`]);
      assert.equal(real.code, 0, real.all);
      assert.match(real.stdout, /addresspool\.tern\.dev\/default-pod-pool created/);
      assert.match(real.stdout, /clusterbgp\.tern\.dev\/clusterbgp-edge created/);
      assert.match(real.stdout, /bgpadvertisement\.tern\.dev\/lb-aggregate created/);
      // A second server-side dry run of everything now passes as an update (client-side
      // re-apply is covered by tests/kubeapi_reapply_test.ts).
      const dry2 = await run([
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        `${root}/manifests/samples`,
      ]);
      assert.equal(dry2.code, 0, `${dry.all}\n${dry2.all}`);

      // The category lists every kind; columns show.
      const cat = await run(["get", "tern", "-A"]);
      assert.equal(cat.code, 0, cat.all);
      for (
        const name of [
          "default-lb-pool",
          "bgppeertemplate-spine0",
          "clusterbgp-spine1",
          "lb-aggregate",
        ]
      ) {
        assert.match(cat.stdout, new RegExp(name));
      }
      const pools = await run(["get", "ap"]);
      assert.equal(pools.code, 0, pools.all);
      assert.match(pools.stdout, /NAME\s+TYPE\s+CIDRS\s+AUTO\s+BLOCKSIZE\s+READY\s+AGE/);
      assert.match(
        pools.stdout,
        /default-pod-pool\s+pod\s+\["198\.18\.0\.0\/16","fd00:10::\/112"\]\s+true\s+26/,
      );
      // Defaults were applied by the server.
      const peer = await run([
        "get",
        "bgppeertemplate",
        "bgppeertemplate-spine1",
        "-o",
        "jsonpath={.spec.holdTime}/{.spec.port}",
      ]);
      assert.equal(peer.stdout, "90/179", peer.all);

      // Schema violations are rejected and nothing is stored.
      const bad = await run(
        ["apply", "-f", "-"],
        [
          "apiVersion: tern.dev/v1alpha1",
          "kind: AddressPool",
          "metadata: {name: bad-pool}",
          "spec: {type: node, cidrs: [198.18.0.0/16], blockSize: 40}",
        ].join("\n"),
      );
      assert.notEqual(bad.code, 0, bad.all);
      assert.match(bad.all, /spec\.type/);
      const gone = await run(["get", "ap", "bad-pool"]);
      assert.notEqual(gone.code, 0);
    }, { prefix: "tn-crds-kubectl-" });
  },
});
