import assert from "node:assert/strict";
import {
  collectionPath,
  decideLease,
  decodeWatchChunk,
  KubeconfigError,
  type Lease,
  microTime,
  objectPath,
  parseKubeconfig,
  Resources,
  WatchDecodeError,
} from "../actors/kube/mod.ts";

const lease = (spec: Lease["spec"]): Lease => ({ metadata: { name: "l", namespace: "n" }, spec });

Deno.test("kube lease: create when absent, renew when held, follow a live holder", () => {
  const now = 1_700_000_000_000;
  const created = decideLease(undefined, undefined, "a", now, 15_000);
  assert.equal(created.kind, "create");
  assert.equal((created as { spec: Lease["spec"] }).spec.holderIdentity, "a");
  assert.equal((created as { spec: Lease["spec"] }).spec.leaseDurationSeconds, 15);

  const held = lease({
    holderIdentity: "a",
    renewTime: microTime(now - 5_000),
    acquireTime: "x",
    leaseTransitions: 3,
  });
  const renew = decideLease(held, undefined, "a", now, 15_000);
  assert.equal(renew.kind, "renew");
  assert.equal((renew as { spec: Lease["spec"] }).spec.acquireTime, "x");
  assert.equal((renew as { spec: Lease["spec"] }).spec.leaseTransitions, 3);

  const other = lease({ holderIdentity: "b", renewTime: "t1", leaseDurationSeconds: 15 });
  const follow = decideLease(other, undefined, "a", now, 15_000);
  assert.deepEqual(follow, { kind: "follow", holder: "b", expiresInMs: 15_000 });
});

Deno.test("kube lease: expiry is judged on the candidate's own clock since it last saw a change", () => {
  const other = lease({
    holderIdentity: "b",
    renewTime: "2000-01-01T00:00:00.000000Z", // ancient by the lease's clock: must not matter
    leaseDurationSeconds: 10,
    leaseTransitions: 4,
  });
  const seenAt = 1_000;
  const observed = { holder: "b", renewTime: "2000-01-01T00:00:00.000000Z", seenAt };
  assert.equal(decideLease(other, observed, "a", seenAt + 9_999, 10_000).kind, "follow");
  const taken = decideLease(other, observed, "a", seenAt + 10_000, 10_000);
  assert.equal(taken.kind, "takeover");
  assert.equal((taken as { spec: Lease["spec"] }).spec.leaseTransitions, 5);
  // A renewal seen by the candidate restarts the countdown.
  const renewed = { ...other, spec: { ...other.spec, renewTime: "later" } };
  assert.equal(decideLease(renewed, observed, "a", seenAt + 20_000, 10_000).kind, "follow");
  // A released lease (empty holder) is taken at once.
  assert.equal(
    decideLease(lease({ holderIdentity: "" }), undefined, "a", 0, 10_000).kind,
    "takeover",
  );
});

Deno.test("kube config: resolves server, CA, token and namespace; rejects what it cannot use", () => {
  const ca = btoa("-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
  const text = `
apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u, namespace: tern-system}
clusters:
- name: k
  cluster: {server: "https://192.0.2.10:6443/", certificate-authority-data: "${ca}"}
users:
- name: u
  user: {token: abc}
`;
  const ep = parseKubeconfig(text, "test");
  assert.equal(ep.server, "https://192.0.2.10:6443");
  assert.match(ep.caCert!, /BEGIN CERTIFICATE/);
  assert.equal(ep.token, "abc");
  assert.equal(ep.namespace, "tern-system");
  assert.throws(() => parseKubeconfig(text, "test", { context: "nope" }), KubeconfigError);
  assert.throws(() => parseKubeconfig("current-context: x\n", "t"), /context "x" not found/);
  assert.throws(() => parseKubeconfig(": : :", "t"), KubeconfigError);
  const files: Record<string, string> = { "/etc/k/ca.pem": "PEM" };
  const withFile = parseKubeconfig(
    text.replace(`certificate-authority-data: "${ca}"`, "certificate-authority: ca.pem"),
    "t",
    { readFile: (p) => files[p] ?? "", baseDir: "/etc/k" },
  );
  assert.equal(withFile.caCert, "PEM");
});

Deno.test("kube watch lines: complete lines decode, partial lines wait, junk is a typed error", () => {
  const a = JSON.stringify({ type: "ADDED", object: { metadata: { name: "a" } } });
  const b = JSON.stringify({ type: "DELETED", object: { metadata: { name: "b" } } });
  const { events, rest } = decodeWatchChunk(`${a}\n${b}\n${b.slice(0, 10)}`);
  assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [["ADDED", "a"], [
    "DELETED",
    "b",
  ]]);
  assert.equal(rest, b.slice(0, 10));
  assert.throws(() => decodeWatchChunk("not json\n"), WatchDecodeError);
  assert.throws(() => decodeWatchChunk('{"type":"ADDED"}\n'), WatchDecodeError);
});

Deno.test("kube resources: paths for core, grouped, namespaced and cluster kinds", () => {
  assert.equal(collectionPath(Resources.pods, "ns1"), "/api/v1/namespaces/ns1/pods");
  assert.equal(collectionPath(Resources.pods), "/api/v1/pods");
  assert.equal(objectPath(Resources.nodes, "n1"), "/api/v1/nodes/n1");
  assert.equal(
    objectPath(Resources.leases, "tern", "kube-system"),
    "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/tern",
  );
  assert.equal(
    collectionPath(Resources.addressPools, "ignored"),
    "/apis/tern.dev/v1alpha1/addresspools",
  );
});
