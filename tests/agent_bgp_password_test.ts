/**
 * A BGPPeer asking for TCP-MD5 (`passwordSecretRef`, as MetalLB's `passwordSecret`): the agent
 * reads the Secret (namespace default tern-system, key default `password`), base64-decodes the
 * key and hands the password to the speaker peer. A missing Secret, a missing key or a value
 * that is not a usable password leaves the peer out (never run unauthenticated) and its status
 * names what is missing, never the password.
 */
import assert from "node:assert/strict";
import {
  type BGPPeerObject,
  DEFAULT_PASSWORD_KEY,
  nodePeers,
  peerPassword,
  peerSecretRef,
  peerStatusFor,
  referencedSecrets,
  runnablePeers,
  type SecretState,
  speakerConfigFor,
  unsupportedPeer,
} from "../actors/agent_bgp/desired.ts";
import type { PeerStatus } from "../actors/bgp/peer_actor.ts";

const NS = "tern-system";

function peer(
  name: string,
  addr: string,
  ref?: { name: string; namespace?: string; key?: string },
): BGPPeerObject {
  return {
    metadata: { name },
    spec: {
      node: "node-1",
      asn: 64700,
      addr,
      holdTime: 9,
      keepaliveTime: 3,
      ...(ref ? { passwordSecretRef: ref } : {}),
    },
  };
}

const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const secret = (data: Record<string, string>): SecretState => ({
  metadata: { name: "x" },
  data,
});

const plain = peer("spine0", "192.0.2.1");
const secured = peer("edge", "192.0.2.10", { name: "bgp-edge-password" });
const keyed = peer("edge2", "192.0.2.11", { name: "other", namespace: "ops", key: "md5" });
const nodeBgp = { metadata: { name: "node-1" }, spec: { asn: 65101, routerId: "198.19.254.11" } };

Deno.test("agent_bgp: passwordSecretRef defaults: tern's namespace and key `password`", () => {
  assert.equal(peerSecretRef(plain, NS), undefined);
  assert.deepEqual(peerSecretRef(secured, NS), {
    namespace: NS,
    name: "bgp-edge-password",
    key: DEFAULT_PASSWORD_KEY,
  });
  assert.equal(DEFAULT_PASSWORD_KEY, "password");
  assert.deepEqual(peerSecretRef(keyed, NS), { namespace: "ops", name: "other", key: "md5" });
  assert.deepEqual(referencedSecrets([keyed, plain, secured, secured], NS), [
    { namespace: "ops", name: "other" },
    { namespace: NS, name: "bgp-edge-password" },
  ]);
});

Deno.test("agent_bgp: Secret present: the decoded password reaches the speaker peer", () => {
  const secrets = new Map<string, SecretState>([
    [`${NS}/bgp-edge-password`, secret({ password: b64("s3cr3t-é") })],
    ["ops/other", secret({ md5: b64("k2"), password: b64("not this one") })],
  ]);
  assert.deepEqual(peerPassword(secured, secrets, NS), { password: "s3cr3t-é" });
  assert.deepEqual(peerPassword(keyed, secrets, NS), { password: "k2" });
  assert.deepEqual(peerPassword(plain, secrets, NS), {});
  const { peers, passwords } = runnablePeers(
    nodePeers("node-1", [plain, secured, keyed]),
    secrets,
    NS,
  );
  assert.deepEqual(peers.map((p) => p.metadata.name), ["edge", "edge2", "spine0"]);
  const cfg = speakerConfigFor(nodeBgp, peers, [], {}, passwords);
  const byAddr = new Map(cfg.peers.map((p) => [p.address, p.password]));
  assert.equal(byAddr.get("192.0.2.10"), "s3cr3t-é");
  assert.equal(byAddr.get("192.0.2.11"), "k2");
  assert.equal(byAddr.get("192.0.2.1"), undefined, "no password for a plain peer");
});

Deno.test("agent_bgp: Secret missing, key missing, bad base64: the peer is not run", () => {
  const cases: Array<[string, Map<string, SecretState>, RegExp]> = [
    ["not read yet", new Map(), /Secret "tern-system\/bgp-edge-password" has not been read yet/],
    [
      "missing Secret",
      new Map([[`${NS}/bgp-edge-password`, null]]),
      /Secret "tern-system\/bgp-edge-password" does not exist/,
    ],
    [
      "missing key",
      new Map([[`${NS}/bgp-edge-password`, secret({ other: b64("x") })]]),
      /Secret "tern-system\/bgp-edge-password" has no key "password"/,
    ],
    [
      "bad base64",
      new Map([[`${NS}/bgp-edge-password`, secret({ password: "!!not-base64" })]]),
      /key "password" of Secret "tern-system\/bgp-edge-password" is not valid base64/,
    ],
    [
      "empty",
      new Map([[`${NS}/bgp-edge-password`, secret({ password: "" })]]),
      /is 0 bytes long; a TCP-MD5 key has 1 to 80 bytes/,
    ],
    [
      "too long",
      new Map([[`${NS}/bgp-edge-password`, secret({ password: b64("x".repeat(81)) })]]),
      /is 81 bytes long/,
    ],
    [
      "unreadable",
      new Map([[`${NS}/bgp-edge-password`, { error: "403 Forbidden" }]]),
      /could not be read: 403 Forbidden/,
    ],
  ];
  for (const [what, secrets, want] of cases) {
    const reason = unsupportedPeer(secured, secrets, NS);
    assert.match(reason ?? "", want, what);
    const { peers, passwords } = runnablePeers(nodePeers("node-1", [plain, secured]), secrets, NS);
    assert.deepEqual(peers.map((p) => p.metadata.name), ["spine0"], what);
    assert.equal(passwords.size, 0, what);
    const cfg = speakerConfigFor(nodeBgp, peers, [], {}, passwords);
    assert.deepEqual(cfg.peers.map((p) => p.address), ["192.0.2.1"], `${what}: edge left out`);
  }
});

Deno.test("agent_bgp: a refusal never quotes the password", () => {
  const pw = "hunter2-secret-value-with-\u0000";
  const secrets = new Map<string, SecretState>([
    [`${NS}/bgp-edge-password`, secret({ password: b64(pw) + "A" })], // bad padding
  ]);
  const reason = unsupportedPeer(secured, secrets, NS)!;
  assert.match(reason, /not valid base64/);
  assert.ok(!reason.includes("hunter2") && !reason.includes(b64(pw)), reason);
});

Deno.test("agent_bgp: the refused peer's status: Idle, not Established, the reason given", () => {
  const now = new Date("2026-11-23T09:00:00Z");
  // Even a session the speaker still reports (configured before) does not make it look up.
  const session = {
    address: "192.0.2.10",
    asn: 64700,
    state: "Established",
    uptimeSeconds: 5,
    families: ["ipv4"],
    prefixesReceived: 1,
    prefixesSent: 2,
    connectRetryCounter: 0,
  } as unknown as PeerStatus;
  const reason = unsupportedPeer(secured, new Map([[`${NS}/bgp-edge-password`, null]]), NS)!;
  const st = peerStatusFor(secured, session, now, reason);
  assert.equal(st.sessionState, "Idle");
  assert.equal(st.establishedSince, undefined);
  assert.equal(st.prefixesAdvertised, 0);
  assert.equal(st.lastError, reason);
  const cond = st.conditions?.find((c) => c.type === "Established");
  assert.equal(cond?.status, "False");
  assert.match(cond?.message ?? "", /is Idle: passwordSecretRef: Secret .* does not exist/);
  // Without a refusal the same session shows Established (the argument is what decides).
  assert.equal(peerStatusFor(secured, session, now).sessionState, "Established");
});
