/**
 * The agent's BGP wiring, pure part: from the node's `NodeBGP`, its `BGPPeer`s and the
 * `BGPAdvertisement`s aimed at them, the speaker configuration to run; from the speaker's
 * neighbor states, the `BGPPeer` and `BGPAdvertisement` statuses to write.
 * @module
 */
import { type SpeakerConfig, validateConfig } from "../bgp/config.ts";
import type { PeerStatus } from "../bgp/peer_actor.ts";
import { canonicalAddress } from "../bgp/prefix.ts";
import type { KubeObject } from "../kube/mod.ts";
import { ANNOTATION_DUPLICATE_OF } from "../crds/names.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../controller/advertisement_plan.ts";

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
    /** Peer groups (advertisements with `groups` go to peers of those groups). */
    groups?: string[];
    maxPrefixes?: number;
    /** TCP-MD5 password (RFC 2385) in a Secret, see {@link peerPassword}. */
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
  spec: {
    cidr: string;
    type?: string;
    family?: string;
    peers?: string[];
    /** Peer groups it is limited to (with no `peers`). */
    groups?: string[];
    /** Nodes it is limited to (with no `peers`). */
    nodeSelector?: unknown;
    /** Path attributes to attach (communities `asn:value`, large communities `a:b:c`). */
    attributes?: { communities?: string[]; largeCommunities?: string[]; localPref?: number };
  };
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
 * The names of this node's BGPPeers an advertisement is aimed at: `spec.peers` when the field
 * is there (an empty list: nobody, as the controller writes for a Local Service without
 * endpoints). Without the field, an advertisement written by hand (not labelled as the controller's) goes to every
 * peer of the node carrying its family, narrowed to `spec.groups` when set, as the CRD says; one
 * with a `nodeSelector` is left to the controller's resolution (the agent does not read its Node's
 * labels), so it goes nowhere here.
 */
export function adTargetNames(ad: BGPAdvertisementObject, mine: BGPPeerObject[]): Set<string> {
  if (ad.spec.peers !== undefined) return new Set(ad.spec.peers);
  if (ad.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY) return new Set();
  if (ad.spec.nodeSelector !== undefined) return new Set();
  const family = ad.spec.cidr.includes(":") ? "ipv6" : "ipv4";
  const groups = ad.spec.groups ?? [];
  return new Set(
    mine.filter((p) => {
      const fams = p.spec.families?.map((f) => f.replace(/-unicast$/, "")) ??
        [p.spec.addr.includes(":") ? "ipv6" : "ipv4"];
      if (!fams.includes(family)) return false;
      return groups.length === 0 || (p.spec.groups ?? []).some((g) => groups.includes(g));
    }).map((p) => p.metadata.name!),
  );
}

/** A prefix this node originates and the addresses of the node's peers it is sent to. */
export interface TargetedPrefix {
  /** The prefix (`spec.cidr`). */
  readonly prefix: string;
  /** Addresses of the node's peers named by the advertisements of the prefix, sorted. */
  readonly peers: readonly string[];
  /** Communities of the advertisements of the prefix (their union, sorted). */
  readonly communities?: readonly string[];
  /** Large communities of the advertisements of the prefix (their union, sorted). */
  readonly largeCommunities?: readonly string[];
  /** LOCAL_PREF of the first advertisement of the prefix (by name) that sets one. */
  readonly localPref?: number;
}

/** Whether this node originates an advertisement at all (not being deleted, of its types). */
function originates(a: BGPAdvertisementObject, types?: readonly string[]): boolean {
  if (a.metadata.deletionTimestamp) return false;
  return !types || a.spec.type === undefined || types.includes(a.spec.type);
}

/**
 * The prefixes to originate with their targets: each advertisement's `spec.peers` that are
 * peers of this node, mapped to their addresses (the speaker's peer keys). Several
 * advertisements of one prefix target the union of their peers and carry the union of their
 * communities. An advertisement naming none of the node's peers is not originated here.
 */
export function nodeOriginated(
  mine: BGPPeerObject[],
  ads: BGPAdvertisementObject[],
  types?: readonly string[],
): TargetedPrefix[] {
  const addrOf = new Map(mine.map((p) => [p.metadata.name!, p.spec.addr]));
  interface Acc {
    peers: Set<string>;
    communities: Set<string>;
    large: Set<string>;
    localPref?: number;
  }
  const out = new Map<string, Acc>();
  // By name, so that the LOCAL_PREF chosen among differing advertisements is stable.
  const byName = [...ads].sort((a, b) =>
    (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "")
  );
  for (const a of byName) {
    if (!originates(a, types)) continue;
    const addrs = [...adTargetNames(a, mine)].map((n) => addrOf.get(n)).filter((x) =>
      x !== undefined
    );
    if (addrs.length === 0) continue;
    let acc = out.get(a.spec.cidr);
    if (!acc) {
      out.set(a.spec.cidr, acc = { peers: new Set(), communities: new Set(), large: new Set() });
    }
    for (const addr of addrs) acc.peers.add(addr);
    const at = a.spec.attributes;
    for (const c of at?.communities ?? []) acc.communities.add(c);
    for (const c of at?.largeCommunities ?? []) acc.large.add(c);
    if (acc.localPref === undefined && at?.localPref !== undefined) acc.localPref = at.localPref;
  }
  return [...out.keys()].sort().map((prefix) => {
    const acc = out.get(prefix)!;
    return {
      prefix,
      peers: [...acc.peers].sort(),
      ...(acc.communities.size ? { communities: [...acc.communities].sort() } : {}),
      ...(acc.large.size ? { largeCommunities: [...acc.large].sort() } : {}),
      ...(acc.localPref !== undefined ? { localPref: acc.localPref } : {}),
    };
  });
}

/** A Secret as read here (`data` values are base64, as the API server returns them). */
export interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

/** A peer's `passwordSecretRef` with its defaults filled in. */
export interface SecretRef {
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
}

/** The key of `spec.passwordSecretRef.key` when left out (docs/crds.md). */
export const DEFAULT_PASSWORD_KEY = "password";

/**
 * What the agent knows of one Secret: `undefined` in the map (not read yet), `null` (it does
 * not exist), the object, or `{ error }` (it could not be read, e.g. forbidden).
 */
export type SecretState = SecretObject | null | { readonly error: string };

/** `namespace/name` of a Secret, the key of the agent's Secret map. */
export function secretMapKey(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}

/**
 * The Secret a peer's TCP-MD5 password comes from (undefined: no password). The namespace
 * defaults to `defaultNamespace` (tern's own), the key to {@link DEFAULT_PASSWORD_KEY}.
 */
export function peerSecretRef(p: BGPPeerObject, defaultNamespace: string): SecretRef | undefined {
  const r = p.spec.passwordSecretRef;
  if (!r) return undefined;
  return {
    namespace: r.namespace || defaultNamespace,
    name: r.name,
    key: r.key || DEFAULT_PASSWORD_KEY,
  };
}

/** The Secrets referenced by some peers (deduplicated, sorted by `namespace/name`). */
export function referencedSecrets(
  mine: readonly BGPPeerObject[],
  defaultNamespace: string,
): Array<{ namespace: string; name: string }> {
  const out = new Map<string, { namespace: string; name: string }>();
  for (const p of mine) {
    const r = peerSecretRef(p, defaultNamespace);
    if (r) out.set(secretMapKey(r), { namespace: r.namespace, name: r.name });
  }
  return [...out.keys()].sort().map((k) => out.get(k)!);
}

/** Strict standard base64 (as Secret `data` is): the bytes, or undefined when malformed. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  try {
    const bin = atob(text);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * A peer's TCP-MD5 password from the Secrets read so far: `{ password }` (undefined when the
 * peer asks for none) or `{ refused }`, the reason the peer is not run. The reason names the
 * Secret and key, never the value: a session the operator asked to authenticate is never run
 * without its password.
 */
export function peerPassword(
  p: BGPPeerObject,
  secrets: ReadonlyMap<string, SecretState>,
  defaultNamespace: string,
): { password?: string; refused?: undefined } | { refused: string; password?: undefined } {
  const ref = peerSecretRef(p, defaultNamespace);
  if (!ref) return {};
  const where = `Secret ${JSON.stringify(secretMapKey(ref))}`;
  const s = secrets.get(secretMapKey(ref));
  if (s === undefined) return { refused: `passwordSecretRef: ${where} has not been read yet` };
  if (s === null) return { refused: `passwordSecretRef: ${where} does not exist` };
  if ("error" in s && typeof s.error === "string") {
    return { refused: `passwordSecretRef: ${where} could not be read: ${s.error}` };
  }
  const obj = s as SecretObject;
  const raw = obj.data?.[ref.key];
  if (raw === undefined) {
    return { refused: `passwordSecretRef: ${where} has no key ${JSON.stringify(ref.key)}` };
  }
  const bytes = decodeBase64(raw);
  if (!bytes) {
    return {
      refused: `passwordSecretRef: key ${JSON.stringify(ref.key)} of ${where} is not valid base64`,
    };
  }
  let password: string;
  try {
    password = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return {
      refused: `passwordSecretRef: key ${JSON.stringify(ref.key)} of ${where} is not UTF-8 text`,
    };
  }
  if (bytes.length < 1 || bytes.length > 80) {
    return {
      refused: `passwordSecretRef: key ${JSON.stringify(ref.key)} of ${where} is ${bytes.length} ` +
        "bytes long; a TCP-MD5 key has 1 to 80 bytes",
    };
  }
  return { password };
}

/**
 * Why the node's speaker cannot run a peer the way its object asks (undefined: it can): its
 * TCP-MD5 password Secret is missing, lacks the key or holds no usable password. Such a peer is
 * left out of the speaker and its status says why.
 */
export function unsupportedPeer(
  p: BGPPeerObject,
  secrets: ReadonlyMap<string, SecretState> = new Map(),
  defaultNamespace = "tern-system",
): string | undefined {
  return peerPassword(p, secrets, defaultNamespace).refused;
}

/**
 * The node's peers its speaker runs ({@link nodePeers} without the refused ones) and the
 * password of each that has one, by BGPPeer name.
 */
export function runnablePeers(
  mine: BGPPeerObject[],
  secrets: ReadonlyMap<string, SecretState> = new Map(),
  defaultNamespace = "tern-system",
): { peers: BGPPeerObject[]; passwords: Map<string, string> } {
  const peers: BGPPeerObject[] = [];
  const passwords = new Map<string, string>();
  for (const p of mine) {
    const r = peerPassword(p, secrets, defaultNamespace);
    if (r.refused !== undefined) continue;
    peers.push(p);
    if (r.password !== undefined) passwords.set(p.metadata.name!, r.password);
  }
  return { peers, passwords };
}

/** The prefixes to originate: advertisements aimed at one of the node's peers. */
export function nodePrefixes(
  mine: BGPPeerObject[],
  ads: BGPAdvertisementObject[],
  types?: readonly string[],
): string[] {
  return nodeOriginated(mine, ads, types).map((t) => t.prefix);
}

/**
 * The speaker configuration (validated by the speaker's own validator, so a bad object shows up
 * as a typed `ConfigError` naming the field). `passwords` (BGPPeer name -> TCP-MD5 password, from
 * {@link runnablePeers}) become the peers' `password`.
 */
export function speakerConfigFor(
  nodeBgp: NodeBGPObject,
  mine: BGPPeerObject[],
  prefixes: readonly (string | TargetedPrefix)[],
  opts: WiringOptions = {},
  passwords: ReadonlyMap<string, string> = new Map(),
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
      ...(passwords.has(p.metadata.name!) ? { password: passwords.get(p.metadata.name!) } : {}),
    })),
    // A plain prefix goes to every peer; a targeted one only to its peers' addresses, with the
    // advertisements' path attributes (parsed, and so checked, by the speaker's validator).
    prefixes: prefixes.map((p) => typeof p === "string" ? { prefix: p } : { ...p, peers: p.peers }),
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
 * The per-peer states an advertisement should show for this node's peers. `Advertised` exactly
 * when the speaker sends the prefix to the peer: `exported` (prefix -> addresses of the peers
 * its best path is exported to, as the RIB answers) holds the peer and its session is
 * Established with the prefix's family. Otherwise, for a peer the advertisement targets
 * (`spec.peers`): `Withdrawn` once the advertisement is being deleted, else `NotAdvertised`. A
 * peer of this node it does not target shows nothing: a state still recorded for it is mapped to
 * `null` (removed by a JSON merge patch) once nothing is sent to it.
 */
export function advertisementPeerStates(
  ad: BGPAdvertisementObject,
  mine: BGPPeerObject[],
  sessions: Map<string, PeerStatus>,
  exported: ReadonlyMap<string, ReadonlySet<string>>,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const targeted = adTargetNames(ad, mine);
  const recorded = ad.status?.peers ?? {};
  const family = ad.spec.cidr.includes(":") ? "ipv6" : "ipv4";
  const sentTo = exported.get(ad.spec.cidr);
  for (const p of mine) {
    const name = p.metadata.name!;
    const addr = peerKey(p.spec.addr);
    const s = sessions.get(addr);
    const sending = s?.state === "Established" && !!sentTo?.has(addr) &&
      s.families.includes(family);
    if (!targeted.has(name)) {
      if (name in recorded && !sending) out[name] = null;
      continue;
    }
    out[name] = sending
      ? "Advertised"
      : ad.metadata.deletionTimestamp
      ? "Withdrawn"
      : "NotAdvertised";
  }
  return out;
}

/** The speaker's key of a peer address (canonical text; the address as given if invalid). */
export function peerKey(addr: string): string {
  try {
    return canonicalAddress(addr);
  } catch {
    return addr;
  }
}

/** Whether writing `states` (from {@link advertisementPeerStates}) would change `recorded`. */
export function advertisementStatesChanged(
  recorded: Record<string, string> | undefined,
  states: Record<string, string | null>,
): boolean {
  const cur = recorded ?? {};
  return Object.entries(states).some(([k, v]) => v === null ? k in cur : cur[k] !== v);
}
