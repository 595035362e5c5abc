/**
 * Runs the real kubectl over the generated CRDs and the samples (client-side dry run), against a
 * stub that only answers API discovery, so kubectl parses every document and maps every kind.
 * Skipped when kubectl is not installed.
 */
import assert from "node:assert/strict";
import { ALL_CRDS } from "../actors/crds/registry.ts";
import { GROUP, VERSION } from "../actors/crds/names.ts";
import { hasKubectl, ROOT as root } from "./kubeapi_helpers.ts";

const verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];
const res = (name: string, kind: string, namespaced: boolean) => ({
  name,
  singularName: kind.toLowerCase(),
  namespaced,
  kind,
  verbs,
});

function discovery(port: number): (req: Request) => Response {
  const groups: Record<string, { kind: string; resources: unknown[] }> = {
    "/api/v1": {
      kind: "APIResourceList",
      resources: [
        res("namespaces", "Namespace", false),
        res("pods", "Pod", true),
        res("services", "Service", true),
        res("secrets", "Secret", true),
      ],
    },
    "/apis/apps/v1": {
      kind: "APIResourceList",
      resources: [res("deployments", "Deployment", true)],
    },
    "/apis/apiextensions.k8s.io/v1": {
      kind: "APIResourceList",
      resources: [res("customresourcedefinitions", "CustomResourceDefinition", false)],
    },
    [`/apis/${GROUP}/${VERSION}`]: {
      kind: "APIResourceList",
      resources: ALL_CRDS.map((d) => ({
        ...res(d.plural, d.kind, d.scope === "Namespaced"),
        shortNames: d.shortNames,
        categories: ["tern"],
      })),
    },
  };
  const groupList = {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: ["apps/v1", "apiextensions.k8s.io/v1", `${GROUP}/${VERSION}`].map((gv) => {
      const [name, version] = gv.split("/");
      return {
        name,
        versions: [{ groupVersion: gv, version }],
        preferredVersion: { groupVersion: gv, version },
      };
    }),
  };
  return (req: Request): Response => {
    const path = new URL(req.url).pathname;
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json" },
      });
    if (path === "/api") {
      return json({
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{
          clientCIDR: "0.0.0.0/0",
          serverAddress: `127.0.0.1:${port}`,
        }],
      });
    }
    if (path === "/apis") return json(groupList);
    const g = groups[path];
    if (g) {
      const gv = path === "/api/v1" ? "v1" : path.slice("/apis/".length);
      return json({ kind: g.kind, apiVersion: "v1", groupVersion: gv, resources: g.resources });
    }
    return json({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: `${path} not found`,
      reason: "NotFound",
      code: 404,
    }, 404);
  };
}

Deno.test({
  name: "crds kubectl: the CRDs and samples pass kubectl's client-side dry run",
  ignore: !hasKubectl(),
  async fn() {
    const ac = new AbortController();
    let port = 0;
    let handler: (req: Request) => Response = () => new Response("starting", { status: 503 });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
      (req) => handler(req),
    );
    port = server.addr.port;
    handler = discovery(port);
    const home = await Deno.makeTempDir({ prefix: "tn-crds-" });
    try {
      const run = async (dir: string) => {
        const out = await new Deno.Command("kubectl", {
          args: [
            `--server=http://127.0.0.1:${port}`,
            "apply",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "name",
            "-f",
            dir,
          ],
          env: { KUBECONFIG: `${home}/none`, HOME: home },
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(60_000),
        }).output();
        const stdout = new TextDecoder().decode(out.stdout),
          stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, `kubectl failed on ${dir}:\n${stderr}\n${stdout}`);
        return stdout.trim().split("\n").sort();
      };
      const crds = await run(`${root}/crds`);
      assert.deepEqual(
        crds,
        ALL_CRDS.map((d) => `customresourcedefinition.apiextensions.k8s.io/${d.plural}.${GROUP}`)
          .sort(),
      );
      const samples = await run(`${root}/manifests/samples`);
      for (
        const want of [
          "addresspool.tern.dev/default-pod-pool",
          "addresspool.tern.dev/default-lb-pool",
          "bgppeertemplate.tern.dev/bgppeertemplate-spine0",
          "clusterbgp.tern.dev/clusterbgp-spine0",
          "clusterbgp.tern.dev/clusterbgp-edge",
          "bgpadvertisement.tern.dev/lb-aggregate",
          "service/app-svc-dual",
        ]
      ) assert.ok(samples.includes(want), `${want} missing from:\n${samples.join("\n")}`);
    } finally {
      ac.abort();
      await server.finished;
      await Deno.remove(home, { recursive: true });
    }
  },
});
