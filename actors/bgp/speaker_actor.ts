/**
 * The speaker actor: owns the TCP listener and the live configuration. Accepted connections
 * go to the peer actor of their source address; unknown sources get a Cease / Connection
 * Rejected NOTIFICATION. Configuration changes are applied as a diff: added peers are started,
 * removed peers stopped (Cease / Peer De-configured), edited peers told to reconfigure, and
 * originated prefixes reconciled in the RIB. Nothing else is touched.
 *
 * The listener is Deno's own unless a peer sets `password`, `ttlSecurity` or `multihop`
 * ({@link listenerNeedsFfi}); then it is the libc one of `ffi_socket.ts`: it holds the TCP-MD5
 * key of every peer with a password (a SYN without the right signature is dropped by the
 * kernel), sends its SYN-ACKs with TTL 255 (so GTSM peers accept them), and each accepted
 * connection gets its peer's TTL and minimum TTL before anything is read or sent on it. A
 * reload that first needs it replaces the Deno listener on the same port; it stays FFI after.
 * @module
 */
import {
  actor,
  type ActorRef,
  type ReplyTo,
  supervisor,
  type SupervisorDef,
  supervisorHandle,
} from "../../runtime/mod.ts";
import {
  ConfigError,
  listenerNeedsFfi,
  type OriginatedPrefix,
  type PeerConfig,
  peerNeedsFfi,
  type SpeakerConfig,
  unknownTarget,
} from "./config.ts";
import { type BgpConn, FfiTcpConn, FfiTcpListener, loadSocketLibrary } from "./ffi_socket.ts";
import { GTSM_TTL, sessionTtl } from "./socket_options.ts";
import { CeaseSubcode } from "./constants.ts";
import { cease, encodeNotification } from "./notification.ts";
import { peerActor, peerChildId, type PeerMsg, type PeerStatus } from "./peer_actor.ts";
import { canonicalAddress, type Family } from "./prefix.ts";
import { ribActor, type RibEntryView, type RibMsg } from "./rib_actor.ts";

/** Outcome of applying a configuration. */
export interface ApplyResult {
  /** Peers started. */
  readonly added: string[];
  /** Peers stopped. */
  readonly removed: string[];
  /** Peers reconfigured without a reset. */
  readonly changedLive: string[];
  /** Peers whose session was reset by the change. */
  readonly reset: string[];
}

/** Messages of the speaker actor. */
export type SpeakerMsg =
  | { readonly type: "accepted"; readonly conn: BgpConn }
  | { readonly type: "listenerFailed"; readonly error: string }
  | {
    readonly type: "applyConfig";
    readonly config: SpeakerConfig;
    readonly replyTo?: ReplyTo<ApplyResult>;
  }
  | { readonly type: "neighbors"; readonly replyTo: ReplyTo<PeerStatus[]> }
  | { readonly type: "rib"; readonly family?: Family; readonly replyTo: ReplyTo<RibEntryView[]> }
  | {
    readonly type: "announce";
    readonly prefix: OriginatedPrefix;
    /** Field named by the error when a target peer is not configured (default `peers`). */
    readonly field?: string;
    readonly replyTo: ReplyTo<void>;
  }
  | { readonly type: "withdraw"; readonly prefix: string; readonly replyTo: ReplyTo<boolean> }
  | {
    readonly type: "listening";
    readonly replyTo: ReplyTo<{ address: string; port: number } | null>;
  };

/** Paths of the BGP actors under a system root `/<root>`. */
export function bgpPaths(root: string) {
  const base = `/${root}/bgp`;
  return { base, rib: `${base}/rib`, peers: `${base}/peers`, speaker: `${base}/speaker` };
}

function stripMapped(addr: string): string {
  const a = addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
  try {
    return canonicalAddress(a);
  } catch {
    return a;
  }
}

/**
 * The speaker actor definition. `initial` may be a function giving the configuration to start
 * from, read at every (re)start, and `onApplied` is told each configuration applied live: with
 * both, a restarted speaker resumes the last applied configuration rather than the first one.
 */
export function speakerActor(
  root: string,
  initial: SpeakerConfig | (() => SpeakerConfig),
  onApplied?: (config: SpeakerConfig) => void,
) {
  const paths = bgpPaths(root);
  return actor<SpeakerMsg>("bgp-speaker", async (ctx) => {
    let config = typeof initial === "function" ? initial() : initial;
    const peersRef = ctx.lookup(paths.peers);
    if (!peersRef) throw new Error(`No peers supervisor at "${paths.peers}"`);
    const peers = supervisorHandle(peersRef);
    const rib = () => ctx.lookup<RibMsg>(paths.rib);
    let listener: Deno.TcpListener | FfiTcpListener | null = null;
    let closing = false;
    const needsFfi = (c: SpeakerConfig) => c.peers.some(peerNeedsFfi) || listenerNeedsFfi(c.peers);
    // Fails now (start-up or reload) rather than at the first connection without --allow-ffi.
    if (needsFfi(config)) loadSocketLibrary();
    const refused = ctx.metrics.counter(
      "tern_bgp_connections_refused_total",
      "Connections from unknown addresses refused",
    );

    const peerSpec = (p: PeerConfig) => ({
      id: peerChildId(p.address),
      def: peerActor({
        config: p,
        localAsn: config.asn,
        routerId: config.routerId,
        ribPath: paths.rib,
        defaultLocalPref: config.defaultLocalPref,
      }),
      restart: "permanent" as const,
      mailbox: { capacity: 100_000 },
    });
    const peerRef = (address: string) =>
      ctx.lookup<PeerMsg>(`${paths.peers}/${peerChildId(address)}`);

    // Reconcile the running peers with the configuration (also after a restart of this actor).
    const running = new Set((await peers.children()).map((c) => c.id));
    const current = new Map<string, PeerConfig>();
    for (const p of config.peers) {
      current.set(p.address, p);
      const ref = peerRef(p.address);
      if (running.has(peerChildId(p.address)) && ref) {
        ref.tell({ type: "reconfigure", config: p });
      } else await peers.startChild(peerSpec(p));
    }
    for (const id of running) {
      if (![...current.keys()].some((a) => peerChildId(a) === id)) await peers.terminateChild(id);
    }

    const listenAddr = () => listener?.addr as { hostname: string; port: number } | undefined;

    /** Sets the TCP-MD5 keys of `peers` on the FFI listener (and removes the others). */
    const syncPasswords = (peers: readonly PeerConfig[]) => {
      if (!(listener instanceof FfiTcpListener)) return;
      const l = listener;
      // An IPv6 peer cannot reach an IPv4 listener: its key only matters for our connections.
      const keyed = peers.filter((p) => p.password !== undefined && l.reaches(p.address));
      const want = new Map(keyed.map((p) => [p.address, p.password!]));
      for (const a of l.passwordPeers) if (!want.has(a)) l.setPassword(a, null);
      for (const [a, key] of want) l.setPassword(a, key);
    };

    const startListener = async (ffi: boolean, port: number, peers: readonly PeerConfig[]) => {
      const self = ctx.self;
      let l: Deno.TcpListener | FfiTcpListener;
      if (ffi) {
        // The port may still be held for a moment by a Deno listener just closed.
        for (let i = 0;; i++) {
          try {
            l = FfiTcpListener.listen({
              hostname: config.listen.address,
              port,
              ttl: { ttl: GTSM_TTL },
              saveSyn: true,
            });
            break;
          } catch (e) {
            if (i >= 20) throw e;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      } else {
        l = Deno.listen({ hostname: config.listen.address, port, transport: "tcp" });
      }
      listener = l;
      syncPasswords(peers);
      (async () => {
        try {
          for await (const conn of l) {
            if (closing || listener !== l) {
              conn.close();
              break;
            }
            self.tell({ type: "accepted", conn });
          }
        } catch (e) {
          if (!closing && listener === l) self.tell({ type: "listenerFailed", error: String(e) });
        }
      })();
      const addr = listenAddr()!;
      ctx.log.info("listening", {
        address: addr.hostname,
        port: addr.port,
        transport: ffi ? "ffi" : "deno",
      });
    };

    if (config.listen.enabled) {
      await startListener(listenerNeedsFfi(config.peers), config.listen.port, config.peers);
    }

    const apply = async (next: SpeakerConfig): Promise<ApplyResult> => {
      const result: ApplyResult = { added: [], removed: [], changedLive: [], reset: [] };
      if (
        next.asn !== config.asn || next.routerId !== config.routerId ||
        JSON.stringify(next.listen) !== JSON.stringify(config.listen) ||
        next.multipath !== config.multipath ||
        next.multipathRelax !== config.multipathRelax ||
        next.defaultLocalPref !== config.defaultLocalPref ||
        next.exportLearned !== config.exportLearned
      ) {
        throw new Error(
          "Changing asn, routerId, listen, multipath, defaultLocalPref or exportLearned needs a " +
            "restart of the speaker",
        );
      }
      if (needsFfi(next)) loadSocketLibrary();
      if (
        listener && !(listener instanceof FfiTcpListener) && listenerNeedsFfi(next.peers)
      ) {
        const port = listenAddr()!.port;
        const old = listener;
        listener = null;
        old.close();
        try {
          await startListener(true, port, next.peers);
        } catch (e) {
          // Keep listening as before; the reload fails and says why.
          await startListener(false, port, config.peers);
          throw e;
        }
      }
      syncPasswords(next.peers);
      const wanted = new Map(next.peers.map((p) => [p.address, p]));
      for (const [address] of current) {
        if (!wanted.has(address)) {
          await peers.terminateChild(peerChildId(address));
          current.delete(address);
          result.removed.push(address);
        }
      }
      for (const [address, p] of wanted) {
        const old = current.get(address);
        if (!old) {
          await peers.startChild(peerSpec(p));
          result.added.push(address);
        } else if (JSON.stringify(old) !== JSON.stringify(p)) {
          const ref = peerRef(address);
          const how = ref
            ? await ref.ask<"unchanged" | "live" | "reset">((replyTo) => ({
              type: "reconfigure",
              config: p,
              replyTo,
            }))
            : "reset";
          if (how === "reset") result.reset.push(address);
          else result.changedLive.push(address);
        }
        current.set(address, p);
      }
      await rib()?.ask<void>((replyTo) => ({
        type: "setOriginated",
        prefixes: next.prefixes,
        replyTo,
      }));
      config = next;
      onApplied?.(next);
      return result;
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "accepted": {
            const remote = stripMapped(msg.conn.remoteAddr.hostname);
            const ref = current.has(remote) ? peerRef(remote) : undefined;
            if (ref && msg.conn instanceof FfiTcpConn) {
              // The peer's TTL and GTSM check, before a byte is read or sent (the listener's
              // TTL 255 is for SYN-ACKs only; -1 restores the kernel's default).
              const p = current.get(remote)!;
              const t = sessionTtl({ multihop: p.multihop, ttlSecurityHops: p.ttlSecurity });
              try {
                msg.conn.setTtl({ ttl: t.ttl ?? -1, minTtl: t.minTtl ?? 0 });
                // GTSM: what arrived before IP_MINTTL was set passed unchecked; the SYN's TTL
                // tells whether the peer is near enough.
                const synTtl = t.minTtl !== undefined ? msg.conn.synTtl() : null;
                if (synTtl !== null && synTtl < t.minTtl!) {
                  refused.inc();
                  ctx.log.warn("connection below the GTSM minimum TTL dropped", {
                    remote,
                    ttl: synTtl,
                    minTtl: t.minTtl,
                  });
                  msg.conn.close();
                  break;
                }
              } catch (e) {
                ctx.log.warn("cannot set TTL on accepted connection", {
                  remote,
                  error: String(e),
                });
                msg.conn.close();
                break;
              }
            }
            if (ref) {
              ref.tell({ type: "incoming", conn: msg.conn });
            } else {
              refused.inc();
              ctx.log.warn("connection from unknown peer refused", { remote });
              const conn = msg.conn;
              const bytes = encodeNotification(cease(CeaseSubcode.CONNECTION_REJECTED));
              conn.write(bytes).catch(() => 0).finally(() => {
                try {
                  conn.close();
                } catch { /* closed */ }
              });
            }
            break;
          }
          case "listenerFailed":
            throw new Error(`Listener failed: ${msg.error}`);
          case "applyConfig":
            try {
              msg.replyTo?.reply(await apply(msg.config));
            } catch (e) {
              msg.replyTo?.fail(e as Error);
            }
            break;
          case "neighbors": {
            const out = await Promise.all([...current.keys()].map(async (address) => {
              const ref = peerRef(address);
              if (!ref) return null;
              try {
                return await ref.ask<PeerStatus>((replyTo) => ({ type: "status", replyTo }), {
                  timeoutMs: 2000,
                });
              } catch {
                return null;
              }
            }));
            msg.replyTo.reply(out.filter((x): x is PeerStatus => x !== null));
            break;
          }
          case "rib": {
            const r = rib();
            if (!r) {
              msg.replyTo.fail(new Error("RIB is not running"));
              break;
            }
            try {
              msg.replyTo.reply(
                await r.ask<RibEntryView[]>((replyTo) => ({
                  type: "dump",
                  family: msg.family,
                  replyTo,
                }), { timeoutMs: 30_000 }),
              );
            } catch (e) {
              msg.replyTo.fail(e as Error);
            }
            break;
          }
          case "announce": {
            const unknown = unknownTarget(msg.prefix, current);
            if (unknown !== undefined) {
              msg.replyTo.fail(
                new ConfigError(msg.field ?? "peers", `"${unknown}" is not a configured peer`),
              );
              break;
            }
            await rib()?.ask<void>((replyTo) => ({
              type: "originate",
              prefix: msg.prefix,
              replyTo,
            }));
            msg.replyTo.reply();
            break;
          }
          case "withdraw": {
            const had = await rib()?.ask<boolean>((replyTo) => ({
              type: "unoriginate",
              prefix: msg.prefix,
              replyTo,
            }));
            msg.replyTo.reply(had ?? false);
            break;
          }
          case "listening": {
            const a = listenAddr();
            msg.replyTo.reply(a ? { address: a.hostname, port: a.port } : null);
            break;
          }
        }
      },
      stop() {
        closing = true;
        try {
          listener?.close();
        } catch { /* closed */ }
      },
      inspect() {
        const a = listenAddr();
        return {
          asn: config.asn,
          routerId: config.routerId,
          listening: a ? `${a.hostname}:${a.port}` : null,
          listener: listener instanceof FfiTcpListener ? "ffi" : listener ? "deno" : null,
          peers: current.size,
          originated: config.prefixes.length,
        };
      },
    };
  });
}

/**
 * The BGP subtree: `rib`, then the `peers` supervisor (one_for_one, one dynamic child per
 * peer: a crashing peer restarts alone), then the `speaker`. rest_for_one: if the RIB dies,
 * everything after it restarts with it; a speaker crash restarts only the speaker.
 */
export function bgpSupervisor(root: string, config: SpeakerConfig): SupervisorDef {
  // The configuration last applied live: restarted children (the RIB with its originated
  // prefixes and their targets, the speaker with its peers) resume it, not the first one.
  let live = config;
  return supervisor("bgp", {
    strategy: "rest_for_one",
    intensity: { maxRestarts: 5, withinMs: 30_000 },
    children: [
      {
        id: "rib",
        def: ribActor({
          asn: config.asn,
          routerId: config.routerId,
          multipath: config.multipath,
          multipathRelax: config.multipathRelax,
          defaultLocalPref: config.defaultLocalPref,
          exportLearned: config.exportLearned,
          prefixes: () => live.prefixes,
        }),
        mailbox: { capacity: 1_000_000 },
      },
      {
        id: "peers",
        def: supervisor("bgp-peers", {
          strategy: "one_for_one",
          intensity: { maxRestarts: 20, withinMs: 60_000 },
          children: [],
        }),
      },
      {
        id: "speaker",
        def: speakerActor(root, () => live, (c) => {
          live = c;
        }),
      },
    ],
  });
}

/** Re-exported for roles. */
export type { ActorRef };
