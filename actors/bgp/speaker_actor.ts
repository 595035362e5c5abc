/**
 * The speaker actor: owns the TCP listener and the live configuration. Accepted connections
 * go to the peer actor of their source address; unknown sources get a Cease / Connection
 * Rejected NOTIFICATION. Configuration changes are applied as a diff: added peers are started,
 * removed peers stopped (Cease / Peer De-configured), edited peers told to reconfigure, and
 * originated prefixes reconciled in the RIB. Nothing else is touched.
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
import type { OriginatedPrefix, PeerConfig, SpeakerConfig } from "./config.ts";
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
  | { readonly type: "accepted"; readonly conn: Deno.TcpConn }
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

/** The speaker actor definition. */
export function speakerActor(root: string, initial: SpeakerConfig) {
  const paths = bgpPaths(root);
  return actor<SpeakerMsg>("bgp-speaker", async (ctx) => {
    let config = initial;
    const peersRef = ctx.lookup(paths.peers);
    if (!peersRef) throw new Error(`No peers supervisor at "${paths.peers}"`);
    const peers = supervisorHandle(peersRef);
    const rib = () => ctx.lookup<RibMsg>(paths.rib);
    let listener: Deno.TcpListener | null = null;
    let closing = false;
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

    if (config.listen.enabled) {
      listener = Deno.listen({
        hostname: config.listen.address,
        port: config.listen.port,
        transport: "tcp",
      });
      const l = listener;
      const self = ctx.self;
      (async () => {
        try {
          for await (const conn of l) {
            if (closing) {
              conn.close();
              break;
            }
            self.tell({ type: "accepted", conn });
          }
        } catch (e) {
          if (!closing) self.tell({ type: "listenerFailed", error: String(e) });
        }
      })();
      const addr = l.addr as Deno.NetAddr;
      ctx.log.info("listening", { address: addr.hostname, port: addr.port });
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
      return result;
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "accepted": {
            const remote = stripMapped((msg.conn.remoteAddr as Deno.NetAddr).hostname);
            const ref = current.has(remote) ? peerRef(remote) : undefined;
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
          case "announce":
            await rib()?.ask<void>((replyTo) => ({
              type: "originate",
              prefix: msg.prefix,
              replyTo,
            }));
            msg.replyTo.reply();
            break;
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
            const a = listener?.addr as Deno.NetAddr | undefined;
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
        const a = listener?.addr as Deno.NetAddr | undefined;
        return {
          asn: config.asn,
          routerId: config.routerId,
          listening: a ? `${a.hostname}:${a.port}` : null,
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
          prefixes: config.prefixes,
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
      { id: "speaker", def: speakerActor(root, config) },
    ],
  });
}

/** Re-exported for roles. */
export type { ActorRef };
