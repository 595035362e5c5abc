/**
 * The agent's BGP wiring, pure part: from the node's `NodeBGP`, its `BGPPeer`s and the
 * `BGPAdvertisement`s aimed at them, the speaker configuration to run; from the speaker's
 * neighbor states, the `BGPPeer` and `BGPAdvertisement` statuses to write.
 * @module
 */
import { type SpeakerConfig, validateConfig } from "../bgp/config.ts";
import type { PeerStatus } from "../bgp/peer_actor.ts";
import type { KubeObject } from "../kube/mod.ts";
import { ANNOTATION_DUPLICATE_OF } from "../crds/names.ts";

/** A NodeBGP as read here. */
export interface NodeBGPObject extends KubeObject {
  spec: {
    asn: number;
    routerId: string;
    /** `multipath: true` asks for ECMP across the node's peers whatever their ASes. */
    speaker?: { multipath?: boolean };
  };
}

/** A BGPPeer as read here. */
export interface BGPPeerObject extends KubeObject {
  spec: {
    node: string;
    asn: number;
    addr: string;
    port?: number;
    holdTime?: number;
    keepaliveTime?: number;
    connectRetryTime?: number;
    /** `ipv4-unicast` / `ipv6-unicast` (default: the family of addr). */
    families?: string[];
    maxPrefixes?: number;
    /** TCP-MD5 password (RFC 2385): not supported by tern's speaker, see {@link unsupportedPeer}. */
    passwordSecretRef?: { name: string; namespace?: string; key?: string };
  };
  status?: BGPPeerStatusView;
}

/** The BGPPeer status fields written here. */
export interface BGPPeerStatusView {
  sessionState?: string;
  establishedSince?: string;
  prefixesReceived?: number;
  prefixesAdvertised?: number;
  lastError?: string;
  backoff?: number;
  conditions?: Array<
    { type: string; status: string; reason: string; message?: string; lastTransitionTime: string }
  >;
}

/** A BGPAdvertisement as read here. */
export interface BGPAdvertisementObject extends KubeObject {
  spec: { cidr: string; type?: string; family?: string; peers?: string[] };
  status?: { peers?: Record<string, string> };
}

/** Options the node adds to what the objects say. */
export interface WiringOptions {
  /** Where the speaker listens (default 0.0.0.0:179). */
  listen?: { address: string; port: number };
  /**
   * Advertisement types (`spec.type`) this node originates (the agent's mode: `pod` for cni,
   * `service` for lb); all when left out. Advertisements without a type are always originated.
   */
  adTypes?: readonly string[];
}

/** The node's peers, by BGPPeer name, sorted by name. */
export function nodePeers(node: string, peers: BGPPeerObject[]): BGPPeerObject[] {
  const live = peers.filter((p) =>
    p.spec.node === node && !p.metadata.deletionTimestamp &&
    !p.metadata.annotations?.[ANNOTATION_DUPLICATE_OF]
  );
  // A duplicate the controller has not marked yet (same address) must not make the whole
  // speaker configuration invalid: keep the oldest, as the controller will.
  const byAge = [...live].sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? "", tb = b.metadata.creationTimestamp ?? "";
    return ta < tb ? -1 : ta > tb ? 1 : a.metadata.name!.localeCompare(b.metadata.name!);
  });
  const seen = new Set<string>();
  const kept = byAge.filter((p) => {
    const key = p.spec.addr;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return kept.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
}

/**
 * Why the node's speaker cannot run a peer the way its object asks (undefined: it can). Such a
 * peer is left out of the speaker and its status says why: a session the operator asked to
 * authenticate is not run unauthenticated.
 */
export function unsupportedPeer(p: BGPPeerObject): string | undefined {
  if (p.spec.passwordSecretRef) {
    return "passwordSecretRef: TCP-MD5 authentication (RFC 2385) is not supported by tern's " +
      "speaker (a Deno socket cannot set TCP_MD5SIG), so the session is not started rather " +
      "than run without it";
  }
  return undefined;
}

/** The node's peers its speaker runs: {@link nodePeers} without the unsupported ones. */
export function runnablePeers(mine: BGPPeerObject[]): BGPPeerObject[] {
  return mine.filter((p) => unsupportedPeer(p) === undefined);
}

/** The prefixes to originate: advertisements aimed at one of the node's peers. */
export function nodePrefixes(
  mine: BGPPeerObject[],
  ads: BGPAdvertisementObject[],
  types?: readonly string[],
): string[] {
  const names = new Set(mine.map((p) => p.metadata.name!));
  const out = new Set<string>();
  for (const a of ads) {
    if (a.metadata.deletionTimestamp) continue;
    if (types && a.spec.type !== undefined && !types.includes(a.spec.type)) continue;
    if ((a.spec.peers ?? []).some((p) => names.has(p))) out.add(a.spec.cidr);
  }
  return [...out].sort();
}

/** A prefix to originate, and the addresses of the node's peers it goes to (no list: all). */
export interface NodePrefix {
  prefix: string;
  peers?: string[];
}

/**
 * The prefixes to originate with their targets: each goes to the node's peers that the
 * advertisements of its CIDR name (a Service limited to a peer group reaches only those peers),
 * with no list when that is every peer of the node. Sorted by prefix.
 */
export function nodeOrigination(
  mine: BGPPeerObject[],
  ads: BGPAdvertisementObject[],
  types?: readonly string[],
): NodePrefix[] {
  const byName = new Map(mine.map((p) => [p.metadata.name!, p.spec.addr]));
  const targets = new Map<string, Set<string>>();
  for (const a of ads) {
    if (a.metadata.deletionTimestamp) continue;
    if (types && a.spec.type !== undefined && !types.includes(a.spec.type)) continue;
    for (const name of a.spec.peers ?? []) {
      const addr = byName.get(name);
      if (addr === undefined) continue;
      let t = targets.get(a.spec.cidr);
      if (!t) targets.set(a.spec.cidr, t = new Set());
      t.add(addr);
    }
  }
  const all = new Set(byName.values());
  return [...targets.keys()].sort().map((prefix) => {
    const t = targets.get(prefix)!;
    return t.size === all.size ? { prefix } : { prefix, peers: [...t].sort() };
  });
}

/**
 * The speaker configuration (validated by the speaker's own validator, so a bad object shows up
 * as a typed `ConfigError` naming the field). Prefixes are CIDRs (to every peer) or
 * {@link NodePrefix}es (to some).
 */
export function speakerConfigFor(
  nodeBgp: NodeBGPObject,
  mine: BGPPeerObject[],
  prefixes: ReadonlyArray<string | NodePrefix>,
  opts: WiringOptions = {},
): SpeakerConfig {
  return validateConfig({
    asn: nodeBgp.spec.asn,
    routerId: nodeBgp.spec.routerId,
    listen: opts.listen ?? { address: "0.0.0.0", port: 179 },
    // ECMP among paths of one neighbouring AS always; with speaker.multipath also across
    // neighbouring ASes (spines with different ASNs), as FRR's as-path multipath-relax.
    multipath: nodeBgp.spec.speaker?.multipath === true ? "relax" : true,
    // A node announces what its advertisements say and nothing it learned: never transit
    // between its peers (spines, an edge router of a second ClusterBGP).
    exportLearned: false,
    peers: mine.map((p) => ({
      address: p.spec.addr,
      asn: p.spec.asn,
      ...(p.spec.port !== undefined ? { port: p.spec.port } : {}),
      ...(p.spec.holdTime !== undefined ? { holdTime: p.spec.holdTime } : {}),
      ...(p.spec.keepaliveTime !== undefined ? { keepaliveTime: p.spec.keepaliveTime } : {}),
      ...(p.spec.connectRetryTime !== undefined
        ? { connectRetryTime: p.spec.connectRetryTime }
        : {}),
      ...(p.spec.families
        ? { families: p.spec.families.map((f) => f.replace(/-unicast$/, "")) }
        : {}),
      ...(p.spec.maxPrefixes !== undefined ? { maxPrefixes: p.spec.maxPrefixes } : {}),
    })),
    prefixes: prefixes.map((p) =>
      typeof p === "string" ? { prefix: p } : p.peers ? { prefix: p.prefix, peers: p.peers } : {
        prefix: p.prefix,
      }
    ),
  });
}

/**
 * The status a BGPPeer should show, given its session (undefined: not configured yet), or why
 * the speaker does not run it (`refused`, from {@link unsupportedPeer}).
 */
export function peerStatusFor(
  peer: BGPPeerObject,
  sessionIn: PeerStatus | undefined,
  now: Date,
  refused?: string,
): BGPPeerStatusView {
  const session = refused === undefined ? sessionIn : undefined;
  const lastError = refused ?? session?.lastError;
  const old = peer.status ?? {};
  const state = session?.state ?? "Idle";
  const established = state === "Established";
  const since = established
    ? (old.sessionState === "Established" && old.establishedSince
      ? old.establishedSince
      : new Date(now.getTime() - (session?.uptimeSeconds ?? 0) * 1000).toISOString())
    : undefined;
  const oldCond = old.conditions?.find((c) => c.type === "Established");
  const condStatus = established ? "True" : "False";
  return {
    sessionState: state,
    ...(since ? { establishedSince: since } : {}),
    prefixesReceived: session?.prefixesReceived ?? 0,
    prefixesAdvertised: session?.prefixesSent ?? 0,
    ...(lastError ? { lastError: lastError.slice(0, 1024) } : {}),
    backoff: established ? 0 : session?.connectRetryCounter ?? 0,
    conditions: [{
      type: "Established",
      status: condStatus,
      reason: state,
      message: established
        ? `Session with ${peer.spec.addr} (AS ${peer.spec.asn}) is Established`
        : `Session with ${peer.spec.addr} (AS ${peer.spec.asn}) is ${state}` +
          (lastError ? `: ${lastError.slice(0, 200)}` : ""),
      lastTransitionTime: oldCond && oldCond.status === condStatus
        ? oldCond.lastTransitionTime
        : now.toISOString(),
    }],
  };
}

/** Whether two statuses differ in anything but timestamps that did not move. */
export function peerStatusChanged(a: BGPPeerStatusView | undefined, b: BGPPeerStatusView): boolean {
  return JSON.stringify(a ?? {}) !== JSON.stringify(b);
}

/**
 * The per-peer states an advertisement should show for this node's peers it targets:
 * Advertised when the session is Established, carries the prefix's family and the prefix is
 * originated, else NotAdvertised.
 */
export function advertisementPeerStates(
  ad: BGPAdvertisementObject,
  mine: BGPPeerObject[],
  sessions: Map<string, PeerStatus>,
  originated: Set<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of mine) {
    if (!(ad.spec.peers ?? []).includes(p.metadata.name!)) continue;
    const s = sessions.get(p.spec.addr);
    const family = ad.spec.cidr.includes(":") ? "ipv6" : "ipv4";
    // Advertised only over a session that carries the prefix's family.
    out[p.metadata.name!] = s?.state === "Established" && originated.has(ad.spec.cidr) &&
        s.families.includes(family)
      ? "Advertised"
      : "NotAdvertised";
  }
  return out;
}
