/**
 * The speaker's configuration: parsing (YAML through the `yaml` package), validation with
 * errors naming the offending field, and the diff used to apply changes live.
 * @module
 */
import { parse as parseYaml } from "yaml";
import { canonicalAddress, canonicalPrefix, type Family } from "./prefix.ts";

/** A configuration error: `field` is the path of the offending field, e.g. `peers[1].asn`. */
export class ConfigError extends Error {
  /** Discriminator. */
  readonly code = "invalid_config";
  /** Path of the offending field. */
  readonly field: string;
  /** Creates an error for `field`. */
  constructor(field: string, why: string) {
    super(`Invalid configuration at "${field}": ${why}`);
    this.name = "ConfigError";
    this.field = field;
  }
}

/** Graceful restart settings of a peer. */
export interface GracefulRestartConfig {
  /** Announce the capability and retain routes over the peer's restarts. */
  readonly enabled: boolean;
  /** Our restart time announced in the capability, seconds (0-4095). */
  readonly restartTime: number;
}

/** One configured peer. */
export interface PeerConfig {
  /** Peer address (canonical). */
  readonly address: string;
  /** Peer ASN. */
  readonly asn: number;
  /** TCP port to connect to. */
  readonly port: number;
  /** Proposed hold time, seconds (0 or >= 3). */
  readonly holdTime: number;
  /** Keepalive interval, seconds (capped at a third of the negotiated hold time). */
  readonly keepaliveTime: number;
  /** ConnectRetry time, seconds. */
  readonly connectRetryTime: number;
  /** Never connect; wait for the peer. */
  readonly passive: boolean;
  /**
   * TTL of the packets sent (1 = directly connected eBGP, as FRR's default; 2..255 = eBGP
   * multihop). Unset: the kernel's default TTL (64) and no check.
   */
  readonly multihop?: number;
  /**
   * GTSM (RFC 5082, FRR's `ttl-security hops`): send with TTL 255 and drop packets that arrive
   * with a TTL below 256 - hops (1 = directly connected). Excludes `multihop`.
   */
  readonly ttlSecurity?: number;
  /** Local address to connect from (FRR's `update-source`); same family as `address`. */
  readonly sourceAddress?: string;
  /** TCP-MD5 signature key (RFC 2385), 1 to 80 bytes. */
  readonly password?: string;
  /** Families offered. */
  readonly families: readonly Family[];
  /** Maximum accepted prefixes (0 = unlimited). */
  readonly maxPrefixes: number;
  /** Graceful restart. */
  readonly gracefulRestart: GracefulRestartConfig;
  /** Next hop self addresses (default: the session's local address for its family). */
  readonly nextHop: { readonly ipv4?: string; readonly ipv6?: string };
}

/** One originated prefix with its attributes. */
export interface OriginatedPrefix {
  /** Canonical prefix. */
  readonly prefix: string;
  /** ORIGIN (0 IGP, 1 EGP, 2 INCOMPLETE). */
  readonly origin: number;
  /** MULTI_EXIT_DISC. */
  readonly med?: number;
  /** LOCAL_PREF (sent to iBGP peers). */
  readonly localPref?: number;
  /** COMMUNITIES as 32-bit values. */
  readonly communities?: readonly number[];
  /** LARGE_COMMUNITIES. */
  readonly largeCommunities?: readonly (readonly [number, number, number])[];
  /**
   * Target peers by address (canonical, sorted, no duplicates): the prefix is sent only to these
   * peers. Left out: every peer.
   */
  readonly peers?: readonly string[];
}

/** The whole speaker configuration. */
export interface SpeakerConfig {
  /** Our ASN. */
  readonly asn: number;
  /** BGP identifier. */
  readonly routerId: string;
  /** Listener (address and port; port 0 picks a free one; `enabled: false` for none). */
  readonly listen: { readonly address: string; readonly port: number; readonly enabled: boolean };
  /** Inspection and control API server. */
  readonly api: { readonly address: string; readonly port: number };
  /** Build ECMP sets (`multipath: true` or `relax` in the file). */
  readonly multipath: boolean;
  /** ECMP across neighbouring ASes too (`multipath: relax` in the file). */
  readonly multipathRelax: boolean;
  /** LOCAL_PREF assumed for routes without one. */
  readonly defaultLocalPref: number;
  /**
   * Pass on routes learned from peers (a router's default, `true`). `false` exports only the
   * originated prefixes: a Kubernetes node announces its own, never transit for its peers.
   */
  readonly exportLearned: boolean;
  /** Peers. */
  readonly peers: readonly PeerConfig[];
  /** Originated prefixes. */
  readonly prefixes: readonly OriginatedPrefix[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(o: Obj, field: string, allowed: string[]) {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new ConfigError(
        field ? `${field}.${k}` : k,
        `unknown field (expected one of ${allowed.join(", ")})`,
      );
    }
  }
}

function int(v: unknown, field: string, min: number, max: number, dflt?: number): number {
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new ConfigError(field, "is required");
    return dflt;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `${JSON.stringify(v)} is not an integer in ${min}..${max}`);
  }
  return v;
}

function bool(v: unknown, field: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") throw new ConfigError(field, `${JSON.stringify(v)} is not a boolean`);
  return v;
}

function address(v: unknown, field: string, family?: Family): string {
  if (typeof v !== "string") throw new ConfigError(field, `${JSON.stringify(v)} is not an address`);
  let a: string;
  try {
    a = canonicalAddress(v);
  } catch (e) {
    throw new ConfigError(field, (e as Error).message);
  }
  if (family && (a.includes(":") ? "ipv6" : "ipv4") !== family) {
    throw new ConfigError(field, `"${v}" is not an ${family === "ipv4" ? "IPv4" : "IPv6"} address`);
  }
  return a;
}

/** Parses `65000:1` (or a 32-bit number) into a community value. */
export function parseCommunity(v: unknown, field: string): number {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  if (typeof v === "string") {
    const m = /^(\d{1,5}):(\d{1,5})$/.exec(v);
    if (m && Number(m[1]) <= 65535 && Number(m[2]) <= 65535) {
      return ((Number(m[1]) << 16) >>> 0) + Number(m[2]);
    }
  }
  throw new ConfigError(field, `${JSON.stringify(v)} is not a community "asn:value"`);
}

/** Parses `65000:1:2` into a large community. */
export function parseLargeCommunity(v: unknown, field: string): [number, number, number] {
  if (typeof v === "string") {
    const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(v);
    if (m) {
      const t = [Number(m[1]), Number(m[2]), Number(m[3])];
      if (t.every((x) => x <= 0xffffffff)) return t as [number, number, number];
    }
  }
  throw new ConfigError(field, `${JSON.stringify(v)} is not a large community "a:b:c"`);
}

const ORIGINS: Record<string, number> = { igp: 0, egp: 1, incomplete: 2 };

/**
 * Validates one originated prefix (also used by the control API). With `knownPeers`, every
 * target peer must be one of them.
 */
export function parseOriginated(
  v: unknown,
  field: string,
  knownPeers?: { has(address: string): boolean },
): OriginatedPrefix {
  if (!isObj(v)) throw new ConfigError(field, "must be a mapping with at least `prefix`");
  checkKeys(v, field, [
    "prefix",
    "origin",
    "med",
    "localPref",
    "communities",
    "largeCommunities",
    "peers",
  ]);
  if (typeof v.prefix !== "string") throw new ConfigError(`${field}.prefix`, "is required");
  let prefix: string;
  try {
    prefix = canonicalPrefix(v.prefix);
  } catch (e) {
    throw new ConfigError(`${field}.prefix`, (e as Error).message);
  }
  const originText = v.origin ?? "igp";
  if (typeof originText !== "string" || !(originText in ORIGINS)) {
    throw new ConfigError(
      `${field}.origin`,
      `${JSON.stringify(originText)} is not igp, egp or incomplete`,
    );
  }
  const out: { -readonly [K in keyof OriginatedPrefix]: OriginatedPrefix[K] } = {
    prefix,
    origin: ORIGINS[originText],
  };
  if (v.med !== undefined) out.med = int(v.med, `${field}.med`, 0, 0xffffffff);
  if (v.localPref !== undefined) {
    out.localPref = int(v.localPref, `${field}.localPref`, 0, 0xffffffff);
  }
  if (v.communities !== undefined) {
    if (!Array.isArray(v.communities)) {
      throw new ConfigError(`${field}.communities`, "must be a list");
    }
    out.communities = v.communities.map((c, i) => parseCommunity(c, `${field}.communities[${i}]`));
  }
  if (v.largeCommunities !== undefined) {
    if (!Array.isArray(v.largeCommunities)) {
      throw new ConfigError(`${field}.largeCommunities`, "must be a list");
    }
    out.largeCommunities = v.largeCommunities.map((c, i) =>
      parseLargeCommunity(c, `${field}.largeCommunities[${i}]`)
    );
  }
  if (v.peers !== undefined) out.peers = targetPeers(v.peers, `${field}.peers`, knownPeers);
  return out;
}

/**
 * Validates the target peers of an originated prefix: a non-empty list of peer addresses
 * (leave the field out for every peer). Returns them canonical, sorted and without duplicates.
 */
export function targetPeers(
  v: unknown,
  field: string,
  known?: { has(address: string): boolean },
): string[] {
  if (!Array.isArray(v)) {
    throw new ConfigError(field, `${JSON.stringify(v)} is not a list of peer addresses`);
  }
  if (v.length === 0) {
    throw new ConfigError(
      field,
      "is empty (name at least one peer address, or leave the field out for every peer)",
    );
  }
  const out = new Set<string>();
  v.forEach((a, i) => {
    const addr = address(a, `${field}[${i}]`);
    if (known && !known.has(addr)) {
      throw new ConfigError(`${field}[${i}]`, `"${a}" is not a configured peer`);
    }
    out.add(addr);
  });
  return [...out].sort();
}

/** The first target peer of `p` that is not one of `peers` (addresses), if any. */
export function unknownTarget(
  p: OriginatedPrefix,
  peers: { has(address: string): boolean },
): string | undefined {
  return p.peers?.find((a) => !peers.has(a));
}

function parsePeer(v: unknown, field: string): PeerConfig {
  if (!isObj(v)) throw new ConfigError(field, "must be a mapping");
  checkKeys(v, field, [
    "address",
    "asn",
    "port",
    "holdTime",
    "keepaliveTime",
    "connectRetryTime",
    "passive",
    "multihop",
    "families",
    "maxPrefixes",
    "gracefulRestart",
    "nextHop",
    "ttlSecurity",
    "sourceAddress",
    "password",
  ]);
  const holdTime = int(v.holdTime, `${field}.holdTime`, 0, 65535, 90);
  if (holdTime === 1 || holdTime === 2) {
    throw new ConfigError(`${field}.holdTime`, `${holdTime} is not allowed (0 or at least 3)`);
  }
  let families: Family[] = ["ipv4", "ipv6"];
  if (v.families !== undefined) {
    if (!Array.isArray(v.families) || v.families.length === 0) {
      throw new ConfigError(`${field}.families`, "must be a non-empty list of ipv4/ipv6");
    }
    families = v.families.map((f, i) => {
      if (f !== "ipv4" && f !== "ipv6") {
        throw new ConfigError(
          `${field}.families[${i}]`,
          `${JSON.stringify(f)} is not ipv4 or ipv6`,
        );
      }
      return f;
    });
  }
  let gr: GracefulRestartConfig = { enabled: false, restartTime: 120 };
  if (v.gracefulRestart !== undefined) {
    const g = v.gracefulRestart;
    if (typeof g === "boolean") gr = { enabled: g, restartTime: 120 };
    else if (isObj(g)) {
      checkKeys(g, `${field}.gracefulRestart`, ["enabled", "restartTime"]);
      gr = {
        enabled: bool(g.enabled, `${field}.gracefulRestart.enabled`, true),
        restartTime: int(g.restartTime, `${field}.gracefulRestart.restartTime`, 0, 4095, 120),
      };
    } else throw new ConfigError(`${field}.gracefulRestart`, "must be a boolean or a mapping");
  }
  const nh: { ipv4?: string; ipv6?: string } = {};
  if (v.nextHop !== undefined) {
    if (!isObj(v.nextHop)) throw new ConfigError(`${field}.nextHop`, "must be a mapping");
    checkKeys(v.nextHop, `${field}.nextHop`, ["ipv4", "ipv6"]);
    if (v.nextHop.ipv4 !== undefined) {
      nh.ipv4 = address(v.nextHop.ipv4, `${field}.nextHop.ipv4`, "ipv4");
    }
    if (v.nextHop.ipv6 !== undefined) {
      nh.ipv6 = address(v.nextHop.ipv6, `${field}.nextHop.ipv6`, "ipv6");
    }
  }
  const peerAddress = address(v.address, `${field}.address`);
  const socket: {
    multihop?: number;
    ttlSecurity?: number;
    sourceAddress?: string;
    password?: string;
  } = {};
  if (v.multihop !== undefined && v.multihop !== null) {
    socket.multihop = int(v.multihop, `${field}.multihop`, 1, 255);
  }
  if (v.ttlSecurity !== undefined && v.ttlSecurity !== null) {
    if (socket.multihop !== undefined) {
      throw new ConfigError(
        `${field}.ttlSecurity`,
        "cannot be combined with multihop (GTSM always sends TTL 255)",
      );
    }
    socket.ttlSecurity = int(v.ttlSecurity, `${field}.ttlSecurity`, 1, 254);
  }
  if (v.sourceAddress !== undefined && v.sourceAddress !== null) {
    socket.sourceAddress = address(
      v.sourceAddress,
      `${field}.sourceAddress`,
      peerAddress.includes(":") ? "ipv6" : "ipv4",
    );
  }
  if (v.password !== undefined && v.password !== null) {
    const pw = v.password;
    if (typeof pw !== "string") {
      throw new ConfigError(`${field}.password`, `${JSON.stringify(pw)} is not a string`);
    }
    const len = new TextEncoder().encode(pw).length;
    if (len < 1 || len > 80) {
      throw new ConfigError(
        `${field}.password`,
        `is ${len} bytes long; a TCP-MD5 key has 1 to 80 bytes`,
      );
    }
    socket.password = pw;
  }
  return {
    address: peerAddress,
    asn: int(v.asn, `${field}.asn`, 1, 0xffffffff),
    port: int(v.port, `${field}.port`, 1, 65535, 179),
    holdTime,
    keepaliveTime: int(
      v.keepaliveTime,
      `${field}.keepaliveTime`,
      0,
      65535,
      Math.floor(holdTime / 3),
    ),
    connectRetryTime: int(v.connectRetryTime, `${field}.connectRetryTime`, 1, 65535, 5),
    passive: bool(v.passive, `${field}.passive`, false),
    families,
    maxPrefixes: int(v.maxPrefixes, `${field}.maxPrefixes`, 0, 0xffffffff, 0),
    gracefulRestart: gr,
    nextHop: nh,
    ...socket,
  };
}

/**
 * True when a peer needs the FFI TCP transport (`ffi_socket.ts`): it sets a TTL, GTSM, a source
 * address or a TCP-MD5 key. Other peers use Deno's own sockets.
 */
export function peerNeedsFfi(p: PeerConfig): boolean {
  return p.multihop !== undefined || p.ttlSecurity !== undefined ||
    p.sourceAddress !== undefined || p.password !== undefined;
}

/**
 * True when the listener must be the FFI one: a peer that may connect to us needs a TCP-MD5 key
 * on the listening socket, a TTL check or a TTL on the accepted socket.
 */
export function listenerNeedsFfi(peers: readonly PeerConfig[]): boolean {
  return peers.some((p) =>
    p.multihop !== undefined || p.ttlSecurity !== undefined || p.password !== undefined
  );
}

/** `multipath`: true, false (default) or `relax` (ECMP across neighbouring ASes too). */
function multipathMode(v: unknown): { multipath: boolean; multipathRelax: boolean } {
  if (v === "relax") return { multipath: true, multipathRelax: true };
  if (v === undefined || v === null || typeof v === "boolean") {
    return { multipath: v === true, multipathRelax: false };
  }
  throw new ConfigError("multipath", `${JSON.stringify(v)} is not true, false or "relax"`);
}

/** Validates a configuration object. Throws {@linkcode ConfigError}. */
export function validateConfig(raw: unknown): SpeakerConfig {
  if (!isObj(raw)) throw new ConfigError("(root)", "must be a mapping");
  checkKeys(raw, "", [
    "asn",
    "routerId",
    "listen",
    "api",
    "multipath",
    "defaultLocalPref",
    "exportLearned",
    "peers",
    "prefixes",
  ]);
  const asn = int(raw.asn, "asn", 1, 0xffffffff);
  const routerId = address(raw.routerId, "routerId", "ipv4");
  if (routerId === "0.0.0.0") {
    throw new ConfigError("routerId", `"0.0.0.0" is not a valid BGP identifier`);
  }
  let listen = { address: "0.0.0.0", port: 179, enabled: true };
  if (raw.listen !== undefined) {
    if (raw.listen === false) listen = { ...listen, enabled: false };
    else if (isObj(raw.listen)) {
      checkKeys(raw.listen, "listen", ["address", "port"]);
      listen = {
        address: raw.listen.address === undefined
          ? "0.0.0.0"
          : address(raw.listen.address, "listen.address"),
        port: int(raw.listen.port, "listen.port", 0, 65535, 179),
        enabled: true,
      };
    } else throw new ConfigError("listen", "must be a mapping or false");
  }
  let api = { address: "127.0.0.1", port: 7179 };
  if (raw.api !== undefined) {
    if (!isObj(raw.api)) throw new ConfigError("api", "must be a mapping");
    checkKeys(raw.api, "api", ["address", "port"]);
    api = {
      address: raw.api.address === undefined
        ? "127.0.0.1"
        : address(raw.api.address, "api.address"),
      port: int(raw.api.port, "api.port", 0, 65535, 7179),
    };
  }
  const peersRaw = raw.peers ?? [];
  if (!Array.isArray(peersRaw)) throw new ConfigError("peers", "must be a list");
  const peers = peersRaw.map((p, i) => parsePeer(p, `peers[${i}]`));
  const seen = new Set<string>();
  peers.forEach((p, i) => {
    if (seen.has(p.address)) {
      throw new ConfigError(`peers[${i}].address`, `duplicate peer "${p.address}"`);
    }
    seen.add(p.address);
  });
  const prefRaw = raw.prefixes ?? [];
  if (!Array.isArray(prefRaw)) throw new ConfigError("prefixes", "must be a list");
  const prefixes = prefRaw.map((p, i) => parseOriginated(p, `prefixes[${i}]`, seen));
  return {
    asn,
    routerId,
    listen,
    api,
    ...multipathMode(raw.multipath),
    defaultLocalPref: int(raw.defaultLocalPref, "defaultLocalPref", 0, 0xffffffff, 100),
    exportLearned: bool(raw.exportLearned, "exportLearned", true),
    peers,
    prefixes,
  };
}

/** Parses YAML text and validates it. Throws {@linkcode ConfigError}. */
export function parseConfig(text: string): SpeakerConfig {
  let raw: unknown;
  try {
    // JSON is YAML; parsing it as JSON is ~100x faster for big prefix lists.
    const t = text.trimStart();
    raw = t.startsWith("{") ? jsonOrYaml(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError("(yaml)", (e as Error).message.split("\n")[0]);
  }
  return validateConfig(raw);
}

function jsonOrYaml(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return parseYaml(text);
  }
}

/** True when two peer configurations differ in something that needs a new session. */
export function peerNeedsReset(a: PeerConfig, b: PeerConfig): boolean {
  const sessionFields: (keyof PeerConfig)[] = [
    "asn",
    "port",
    "holdTime",
    "keepaliveTime",
    "passive",
    "multihop",
    "ttlSecurity",
    "sourceAddress",
    "password",
  ];
  if (sessionFields.some((k) => a[k] !== b[k])) return true;
  if (a.families.join() !== b.families.join()) return true;
  if (a.gracefulRestart.enabled !== b.gracefulRestart.enabled) return true;
  if (a.gracefulRestart.restartTime !== b.gracefulRestart.restartTime) return true;
  return false;
}
