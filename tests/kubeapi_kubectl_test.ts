/** kubectl (the real binary, as a subprocess) against the embedded API server. */

import assert from "node:assert/strict";
import { withKubectl } from "./kubeapi_helpers.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ippools.tern.example.com
spec:
  group: tern.example.com
  scope: Namespaced
  names: {plural: ippools, singular: ippool, kind: IPPool, shortNames: [ipp], categories: [tern]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: CIDR, type: string, jsonPath: .spec.cidr}
        - {name: Block, type: integer, jsonPath: .spec.blockSize}
        - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [cidr]
              properties:
                cidr: {type: string, pattern: '^[0-9a-f.:]+/[0-9]+$'}
                blockSize: {type: integer, minimum: 16, maximum: 32, default: 26}
                mode: {type: string, enum: [bgp, l2]}
                nodes: {type: array, maxItems: 2, items: {type: string}}
                port: {x-kubernetes-int-or-string: true}
            status:
              type: object
              properties:
                conditions:
                  type: array
                  items:
                    type: object
                    properties:
                      type: {type: string}
                      status: {type: string}
`;

function pool(name: string, spec: string): string {
  return `apiVersion: tern.example.com/v1
kind: IPPool
metadata:
  name: ${name}
  namespace: default
spec:
${spec}
`;
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);
  return r.stdout;
}

Deno.test(
  "kubeapi kubectl: CRD and custom objects (client-side and server-side apply), printer columns, label, wait, delete",
  opts,
  async () => {
    await withKubectl(async (run) => {
      assert.match(
        ok(await run(["apply", "-f", "-"], crd), "apply crd"),
        /customresourcedefinition.apiextensions.k8s.io\/ippools.tern.example.com created/,
      );
      assert.match(
        ok(
          await run(["apply", "-f", "-"], pool("pool-a", "  cidr: 198.18.0.0/16\n  mode: bgp")),
          "apply a",
        ),
        /ippool.tern.example.com\/pool-a created/,
      );
      const table = ok(await run(["get", "ippools"]), "get");
      const [header, row] = table.trim().split("\n");
      assert.deepEqual(header.split(/\s+/), ["NAME", "CIDR", "BLOCK", "READY", "AGE"]);
      assert.match(row, /^pool-a\s+198\.18\.0\.0\/16\s+26\s+\d+s$/);
      const yaml = ok(await run(["get", "ipp", "pool-a", "-o", "yaml"]), "get -o yaml");
      assert.match(yaml, /blockSize: 26/, "default applied");
      assert.match(yaml, /generation: 1/);
      assert.match(ok(await run(["get", "tern"]), "get category"), /pool-a/);
      // client-side apply of a change: a JSON merge patch computed from last-applied
      ok(
        await run(["apply", "-f", "-"], pool("pool-a", "  cidr: 198.18.0.0/16\n  mode: l2")),
        "re-apply",
      );
      assert.equal(
        ok(
          await run(["get", "ipp", "pool-a", "-o", "jsonpath={.spec.mode} {.metadata.generation}"]),
          "jsonpath",
        ),
        "l2 2",
      );
      // server-side apply: create, then update, then a conflicting manager
      assert.match(
        ok(
          await run(
            ["apply", "--server-side", "-f", "-"],
            pool("pool-b", "  cidr: 198.19.0.0/24\n  blockSize: 28"),
          ),
          "ssa create",
        ),
        /pool-b serverside-applied/,
      );
      ok(
        await run(
          ["apply", "--server-side", "-f", "-"],
          pool("pool-b", "  cidr: 198.19.0.0/24\n  blockSize: 30"),
        ),
        "ssa update",
      );
      assert.equal(
        ok(await run(["get", "ipp", "pool-b", "-o", "jsonpath={.spec.blockSize}"]), "ssa read"),
        "30",
      );
      const other = await run(
        ["apply", "--server-side", "--field-manager", "other", "-f", "-"],
        pool("pool-b", "  cidr: 198.19.0.0/24\n  blockSize: 31"),
      );
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, /conflict with "kubectl"/);
      ok(
        await run([
          "apply",
          "--server-side",
          "--force-conflicts",
          "--field-manager",
          "other",
          "-f",
          "-",
        ], pool("pool-b", "  cidr: 198.19.0.0/24\n  blockSize: 31")),
        "forced",
      );
      const owners = ok(
        await run([
          "get",
          "ipp",
          "pool-b",
          "--show-managed-fields",
          "-o",
          "jsonpath={range .metadata.managedFields[*]}{.manager}:{.operation} {end}",
        ]),
        "managedFields",
      );
      assert.deepEqual(owners.trim().split(" ").sort(), ["kubectl:Apply", "other:Apply"]);
      // removing a field from the applied config removes it from the object
      ok(
        await run(
          ["apply", "--server-side", "-f", "-"],
          pool("pool-c", "  cidr: 198.19.1.0/24\n  mode: bgp"),
        ),
        "ssa c",
      );
      ok(
        await run(["apply", "--server-side", "-f", "-"], pool("pool-c", "  cidr: 198.19.1.0/24")),
        "ssa c without mode",
      );
      assert.equal(
        ok(await run(["get", "ipp", "pool-c", "-o", "jsonpath={.spec.mode}"]), "mode gone"),
        "",
      );
      // label, annotate, selectors
      ok(await run(["label", "ipp", "pool-a", "team=net"]), "label");
      ok(await run(["annotate", "ipp", "pool-a", "note=hello"]), "annotate");
      assert.match(
        ok(await run(["get", "ipp", "-l", "team=net", "-o", "name"]), "selector"),
        /^ippool.tern.example.com\/pool-a\s*$/,
      );
      assert.match(
        ok(await run(["describe", "ipp", "pool-a"]), "describe"),
        /Annotations:\s+note: hello/,
      );
      // schema violations: the real error shape
      const bad = await run(
        ["apply", "-f", "-"],
        pool("pool-bad", "  cidr: nope\n  blockSize: 40\n  mode: ospf\n  nodes: [a, b, c]"),
      );
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /The IPPool "pool-bad" is invalid/);
      assert.match(
        bad.stderr,
        /spec.blockSize: Invalid value: 40: spec.blockSize in body should be less than or equal to 32/,
      );
      assert.match(
        bad.stderr,
        /spec.mode: Unsupported value: "ospf": supported values: "bgp", "l2"/,
      );
      assert.match(bad.stderr, /spec.cidr: Invalid value: "nope": spec.cidr in body should match/);
      assert.match(bad.stderr, /spec.nodes: Too many: 3: must have at most 2 items/);
      const missing = await run(["apply", "-f", "-"], pool("pool-bad", "  mode: bgp"));
      assert.match(missing.stderr, /spec.cidr: Required value/);
      const unknown = await run(
        ["apply", "-f", "-"],
        pool("pool-bad", "  cidr: 198.18.0.0/16\n  colour: blue"),
      );
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /strict decoding error: unknown field "spec.colour"/);
      // wait for a condition set through the status subresource
      const statusPatch = '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}';
      ok(
        await run([
          "patch",
          "ipp",
          "pool-a",
          "--subresource=status",
          "--type=merge",
          "-p",
          statusPatch,
        ]),
        "status patch",
      );
      assert.match(
        ok(await run(["wait", "--for=condition=Ready", "ipp/pool-a", "--timeout=10s"]), "wait"),
        /condition met/,
      );
      assert.match(
        ok(await run(["get", "ipp", "pool-a"]), "get ready"),
        /pool-a\s+198\.18\.0\.0\/16\s+26\s+True/,
      );
      // delete
      assert.match(
        ok(await run(["delete", "ipp", "pool-a"]), "delete"),
        /ippool.tern.example.com "pool-a" deleted/,
      );
      const gone = await run(["get", "ipp", "pool-a"]);
      assert.notEqual(gone.code, 0);
      assert.match(
        gone.stderr,
        /Error from server \(NotFound\): ippools.tern.example.com "pool-a" not found/,
      );
      // deleting the CRD removes its objects and its resources
      ok(await run(["delete", "crd", "ippools.tern.example.com"]), "delete crd");
      const noType = await run(["get", "ippools"]);
      assert.notEqual(noType.code, 0);
    });
  },
);

Deno.test("kubeapi kubectl: built-in kinds, get -w, wait, api-resources", opts, async () => {
  await withKubectl(async (run, api, cache) => {
    const manifest = (image: string, port: number) =>
      `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: ${port}, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  containers: [{name: app, image: "${image}", ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
`;
    ok(await run(["apply", "-f", "-"], manifest("nginx:1.27", 80)), "apply built-ins");
    const again = ok(
      await run(["apply", "-f", "-"], manifest("nginx:1.28", 81)),
      "re-apply built-ins",
    );
    assert.match(again, /service\/web configured/);
    assert.match(again, /pod\/web-1 configured/);
    assert.match(again, /configmap\/cfg unchanged/);
    const svc = ok(await run(["get", "svc", "web"]), "get svc");
    assert.match(svc, /web\s+LoadBalancer\s+198\.19\.\d+\.\d+\s+<pending>\s+81:3\d{4}\/TCP\s+\d+s/);
    assert.equal(
      ok(await run(["get", "pod", "web-1", "-o", "jsonpath={.spec.containers[0].image}"]), "image"),
      "nginx:1.28",
    );
    assert.match(
      ok(await run(["describe", "pod", "web-1"]), "describe pod"),
      /Image:\s+nginx:1.28/,
    );
    assert.match(
      ok(await run(["api-resources"]), "api-resources"),
      /endpointslices\s+discovery.k8s.io\/v1\s+true\s+EndpointSlice/,
    );
    // get -w sees a change made meanwhile
    const child = new Deno.Command("kubectl", {
      args: [
        "--kubeconfig",
        api.kubeconfigPath,
        "--cache-dir",
        cache,
        "get",
        "cm",
        "-w",
        "--request-timeout=0",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const timer = setTimeout(() => child.kill("SIGTERM"), 15_000);
    try {
      let changed = false;
      while (!/cfg\s+2\s+/.test(seen)) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
        if (!changed && /cfg\s+1\s+/.test(seen)) {
          changed = true;
          ok(
            await run(["patch", "cm", "cfg", "--type=merge", "-p", '{"data":{"b":"2"}}']),
            "patch cm",
          );
        }
      }
    } finally {
      clearTimeout(timer);
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      await reader.cancel().catch(() => {});
      await child.status;
    }
    assert.match(seen, /cfg\s+1\s+\d+s/);
    assert.match(seen, /cfg\s+2\s+\d+s/);
    const workloads = (image: string) =>
      `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: agent, image: "${image}"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ctl}
spec:
  replicas: 2
  selector: {matchLabels: {app: ctl}}
  template:
    metadata: {labels: {app: ctl}}
    spec: {containers: [{name: ctl, image: "${image}"}]}
`;
    ok(await run(["apply", "-f", "-"], workloads("tern:1")), "apply workloads");
    const rolled = ok(await run(["apply", "-f", "-"], workloads("tern:2")), "re-apply workloads");
    assert.match(rolled, /daemonset.apps\/agent configured/);
    assert.match(rolled, /deployment.apps\/ctl configured/);
    assert.match(
      ok(await run(["get", "deploy", "ctl"]), "get deploy"),
      /ctl\s+0\/2\s+0\s+0\s+\d+s/,
    );
    assert.equal(
      ok(
        await run([
          "get",
          "ds",
          "agent",
          "-o",
          "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}",
        ]),
        "ds",
      ),
      "tern:2 2",
    );
    assert.match(
      ok(await run(["scale", "deployment", "ctl", "--replicas=5"]), "scale"),
      /deployment.apps\/ctl scaled/,
    );
    assert.equal(
      ok(await run(["get", "deploy", "ctl", "-o", "jsonpath={.spec.replicas}"]), "replicas"),
      "5",
    );
    ok(await run(["rollout", "restart", "deployment", "ctl"]), "rollout restart");
    assert.match(
      ok(
        await run(["get", "deploy", "ctl", "-o", "jsonpath={.spec.template.metadata.annotations}"]),
        "restartedAt",
      ),
      /kubectl.kubernetes.io\/restartedAt/,
    );
    const mismatch = await run(
      ["apply", "-f", "-"],
      workloads("x:1").replace("labels: {app: ctl}", "labels: {app: other}"),
    );
    assert.match(
      mismatch.stderr,
      /spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`/,
    );
    ok(await run(["label", "pod", "web-1", "ready=yes"]), "label pod");
    assert.match(
      ok(
        await run([
          "wait",
          "--for=jsonpath={.metadata.labels.ready}=yes",
          "pod/web-1",
          "--timeout=10s",
        ]),
        "wait jsonpath",
      ),
      /condition met/,
    );
    ok(await run(["delete", "pod", "web-1", "--wait=true"]), "delete pod");
    assert.match((await run(["get", "pod", "web-1"])).stderr, /NotFound/);
  });
});

Deno.test(
  "kubeapi kubectl: imperative create (protobuf bodies), create token, auth can-i, impersonation",
  opts,
  async () => {
    await withKubectl(async (run, api) => {
      ok(await run(["create", "namespace", "demo"]), "create ns");
      ok(
        await run([
          "-n",
          "demo",
          "create",
          "configmap",
          "cfg",
          "--from-literal=a=b",
          "--from-literal=c=d",
        ]),
        "create cm",
      );
      ok(
        await run(["-n", "demo", "create", "secret", "generic", "s", "--from-literal=pw=hunter2"]),
        "create secret",
      );
      ok(await run(["-n", "demo", "create", "serviceaccount", "bot"]), "create sa");
      ok(
        await run([
          "-n",
          "demo",
          "create",
          "role",
          "reader",
          "--verb=get,list,watch",
          "--resource=configmaps",
        ]),
        "create role",
      );
      ok(
        await run([
          "-n",
          "demo",
          "create",
          "rolebinding",
          "bot-reads",
          "--role=reader",
          "--serviceaccount=demo:bot",
        ]),
        "create rb",
      );
      ok(
        await run(["create", "clusterrole", "node-get", "--verb=get", "--resource=nodes"]),
        "create cr",
      );
      ok(
        await run([
          "create",
          "clusterrolebinding",
          "alice-nodes",
          "--clusterrole=node-get",
          "--user=alice",
        ]),
        "create crb",
      );
      ok(
        await run([
          "-n",
          "demo",
          "create",
          "deployment",
          "web",
          "--image=nginx:1.27",
          "--replicas=3",
          "--port=8080",
        ]),
        "create deploy",
      );
      assert.equal(
        ok(
          await run([
            "-n",
            "demo",
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type}",
          ]),
          "deploy fields",
        ),
        "3 web nginx:1.27 8080 RollingUpdate",
      );
      ok(
        await run(["-n", "demo", "create", "service", "nodeport", "np", "--tcp=443:https"]),
        "create svc",
      );
      /** `kubectl -n demo get KIND NAME -o jsonpath=PATH`, which must succeed. */
      const get = async (kind: string, name: string, path: string) =>
        ok(
          await run(["-n", "demo", "get", kind, name, "-o", `jsonpath=${path}`]),
          `${kind} ${name}`,
        );
      assert.match(
        await get(
          "svc",
          "np",
          "{.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.ports[0].nodePort}",
        ),
        /^NodePort 443 https 3\d{4}$/,
      );
      const batch = await run(["-n", "demo", "create", "job", "j", "--image=busybox"]);
      assert.match(batch.stderr, /the server could not find the requested resource/);
      assert.equal(await get("cm", "cfg", "{.data.a}{.data.c}"), "bd");
      assert.equal(atob(await get("secret", "s", "{.data.pw}")), "hunter2");
      assert.equal(
        await get("rolebinding", "bot-reads", "{.roleRef.name} {.subjects[0].name}"),
        "reader bot",
      );
      const token = ok(await run(["-n", "demo", "create", "token", "bot"]), "create token").trim();
      assert.equal(token, api.serviceAccountToken("demo", "bot"));
      const can = async (args: string[]) => (await run(["auth", "can-i", ...args])).stdout.trim();
      const bot = "--as=system:serviceaccount:demo:bot";
      assert.equal(await can(["list", "configmaps", "-n", "demo", bot]), "yes");
      assert.equal(await can(["create", "configmaps", "-n", "demo", bot]), "no");
      assert.equal(await can(["list", "configmaps", "-n", "default", bot]), "no");
      assert.equal(await can(["get", "nodes", "--as=alice"]), "yes");
      assert.equal(await can(["delete", "nodes", "--as=alice"]), "no");
      assert.equal(await can(["*", "*"]), "yes");
      assert.equal(
        ok(await run(["-n", "demo", "get", "cm", "-o", "name", bot]), "impersonated get"),
        "configmap/cfg\n",
      );
      const denied = await run(["-n", "default", "get", "cm", bot]);
      assert.notEqual(denied.code, 0);
      assert.match(
        denied.stderr,
        /Error from server \(Forbidden\): configmaps is forbidden: User "system:serviceaccount:demo:bot" cannot list resource "configmaps" in API group "" in the namespace "default"/,
      );
    });
  },
);
