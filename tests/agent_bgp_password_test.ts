/**
 * A BGPPeer asking for TCP-MD5 (`passwordSecretRef`, as the inline sample ClusterBGP does): the
 * agent does not read the Secret yet, so it leaves the peer out rather than run the session
 * unauthenticated, and its status says why. Before, the password was
 * silently dropped and the session came up without it.
 */
import assert from "node:assert/strict";
import {
  type BGPPeerObject,
  nodePeers,
  peerStatusFor,
  runnablePeers,
  speakerConfigFor,
  unsupportedPeer,
} from "../actors/agent_bgp/desired.ts";
import type { PeerStatus } from "../actors/bgp/peer_actor.ts";

function peer(name: string, addr: string, password: boolean): BGPPeerObject {
  return {
    metadata: { name },
    spec: {
      node: "node-1",
      asn: 64700,
      addr,
      holdTime: 9,
      keepaliveTime: 3,
      ...(password ? { passwordSecretRef: { name: "bgp-edge-password", key: "password" } } : {}),
    },
  };
}

const plain = peer("spine0", "192.0.2.1", false);
const secured = peer("edge", "192.0.2.10", true);

Deno.test("agent_bgp: a peer with a TCP-MD5 password is not run, and says why", () => {
  assert.equal(unsupportedPeer(plain), undefined);
  assert.match(unsupportedPeer(secured) ?? "", /TCP-MD5.*not started rather than run without it/);
  const mine = nodePeers("node-1", [plain, secured]);
  assert.deepEqual(runnablePeers(mine).map((p) => p.metadata.name), ["spine0"]);
  const cfg = speakerConfigFor(
    { metadata: { name: "node-1" }, spec: { asn: 65101, routerId: "198.19.254.11" } },
    runnablePeers(mine),
    [],
  );
  assert.deepEqual(cfg.peers.map((p) => p.address), ["192.0.2.1"], "the edge is left out");
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
  const reason = unsupportedPeer(secured)!;
  const st = peerStatusFor(secured, session, now, reason);
  assert.equal(st.sessionState, "Idle");
  assert.equal(st.establishedSince, undefined);
  assert.equal(st.prefixesAdvertised, 0);
  assert.equal(st.lastError, reason);
  const cond = st.conditions?.find((c) => c.type === "Established");
  assert.equal(cond?.status, "False");
  assert.match(cond?.message ?? "", /is Idle: passwordSecretRef: TCP-MD5/);
  // Without a refusal the same session shows Established (the argument is what decides).
  assert.equal(peerStatusFor(secured, session, now).sessionState, "Established");
});
