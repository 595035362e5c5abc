/**
 * The RIB actor: owns the Adj-RIBs-In and the Loc-RIB ({@link Rib}), runs the decision process,
 * computes each established peer's exports and streams best-path changes to subscribers.
 * An originated prefix with target peers (`peers`) is exported to those peers only; changing
 * only its targets announces it to the peers that gain it and withdraws it from those that lose
 * it, and nothing else.
 * Graceful restart (receiving side): a peer that goes down with graceful restart negotiated
 * keeps its routes, marked stale, until its End-of-RIB or the restart timer.
 * @module
 */
import { actor, type ActorRef, type ReplyTo } from "../../runtime/mod.ts";
import type { OriginatedPrefix } from "./config.ts";
import type { PathAttributes } from "./path_attributes.ts";
import type { Family } from "./prefix.ts";

/** The family of a prefix in text. */
const familyOf = (prefix: string): Family => prefix.includes(":") ? "ipv6" : "ipv4";
import type { PrefixList } from "./prefix_list.ts";
import {
  type BestChange,
  ChangeLog,
  type ChangeSink,
  type Export,
  exportRoute,
  type ExportTarget,
  previousBest,
  Rib,
  type Route,
  type RouteSource,
} from "./rib.ts";

/** What the RIB sends a peer: its Adj-RIB-Out changes (null = withdraw). */
export interface ExportBatch {
  /** Discriminator. */
  readonly type: "export";
  /** Prefixes changed (parallel to `exports`). */
  readonly prefixes: readonly string[];
  /** What to send for each prefix, or null to withdraw it. */
  readonly exports: readonly (Export | null)[];
  /** This is the initial full table: send End-of-RIB after it. */
  readonly full: boolean;
}

/** What subscribers receive. */
export interface BestPathEvent {
  /** Discriminator. */
  readonly type: "bestPaths";
  /** Changes in order. The first event after subscribing holds the whole table. */
  readonly changes: readonly BestChange[];
}

/** Messages of the RIB actor. */
export type RibMsg =
  | {
    readonly type: "peerUp";
    readonly target: ExportTarget;
    readonly ref: ActorRef<ExportBatch>;
    readonly replyTo?: ReplyTo<void>;
  }
  | {
    readonly type: "peerDown";
    readonly peer: string;
    /** Keep the routes stale for this long (graceful restart), else drop them. */
    readonly retainMs?: number;
    readonly replyTo?: ReplyTo<void>;
  }
  | {
    readonly type: "routes";
    readonly source: RouteSource;
    /** Prefixes announced or withdrawn, in the order they were received (packed keys; the
     * sender must not change the list afterwards). */
    readonly prefixes: PrefixList;
    /** Parallel to `prefixes`: the route to install (built by the peer, installed as it is and
     * shared by the prefixes of one UPDATE), or null to withdraw. */
    readonly routes: readonly (Route | null)[];
    /** Answered with the peer's Adj-RIB-In size after the change. */
    readonly replyTo?: ReplyTo<number>;
  }
  | { readonly type: "endOfRib"; readonly peer: string; readonly family: Family }
  | { readonly type: "staleTimeout"; readonly peer: string }
  | {
    readonly type: "originate";
    readonly prefix: OriginatedPrefix;
    readonly replyTo?: ReplyTo<void>;
  }
  | { readonly type: "unoriginate"; readonly prefix: string; readonly replyTo?: ReplyTo<boolean> }
  | {
    readonly type: "setOriginated";
    readonly prefixes: readonly OriginatedPrefix[];
    readonly replyTo?: ReplyTo<void>;
  }
  | {
    readonly type: "subscribe";
    readonly ref: ActorRef<BestPathEvent>;
    readonly replyTo?: ReplyTo<void>;
  }
  | { readonly type: "unsubscribe"; readonly path: string }
  | { readonly type: "dump"; readonly family?: Family; readonly replyTo: ReplyTo<RibEntryView[]> }
  | {
    readonly type: "lookup";
    readonly prefix: string;
    readonly replyTo: ReplyTo<RibEntryView | null>;
  }
  | { readonly type: "stats"; readonly replyTo: ReplyTo<RibStats> }
  | {
    readonly type: "exportedTo";
    /** Prefixes asked about. */
    readonly prefixes: readonly string[];
    /** Per prefix asked, the peers (established) its best path is exported to now. */
    readonly replyTo: ReplyTo<Record<string, string[]>>;
  };

/** JSON view of one path. */
export interface PathView {
  /** Peer address or `local`. */
  readonly peer: string;
  /** Next hop. */
  readonly nextHop: string;
  /** AS path as text (`{}` around sets). */
  readonly asPath: string;
  /** ORIGIN as igp/egp/incomplete. */
  readonly origin: string;
  /** LOCAL_PREF. */
  readonly localPref?: number;
  /** MED. */
  readonly med?: number;
  /** Communities as `a:b`. */
  readonly communities?: string[];
  /** Large communities as `a:b:c`. */
  readonly largeCommunities?: string[];
  /** Best path. */
  readonly best: boolean;
  /** Part of the ECMP set. */
  readonly multipath: boolean;
  /** Retained over a graceful restart. */
  readonly stale: boolean;
}

/** JSON view of one prefix. */
export interface RibEntryView {
  /** Prefix. */
  readonly prefix: string;
  /** Candidates, best first. */
  readonly paths: PathView[];
  /** Originated here for these peers only (left out: every peer). */
  readonly targets?: readonly string[];
}

/** Counters of the RIB. */
export interface RibStats {
  /** Prefixes in the Loc-RIB. */
  readonly prefixes: number;
  /** Adj-RIB-In size per peer. */
  readonly adjIn: Record<string, number>;
  /** Peers receiving exports. */
  readonly peersUp: number;
  /** Subscribers. */
  readonly subscribers: number;
}

const ORIGIN_NAMES = ["igp", "egp", "incomplete"];

/** Formats an AS path. */
export function formatAsPath(attrs: PathAttributes): string {
  return (attrs.asPath ?? []).map((s) =>
    s.type === 1 || s.type === 4 ? `{${s.asns.join(",")}}` : s.asns.join(" ")
  ).join(" ");
}

function pathView(r: Route, best: boolean, multipath: boolean): PathView {
  const a = r.attrs;
  return {
    peer: r.source.peer,
    nextHop: r.nextHop,
    asPath: formatAsPath(a),
    origin: ORIGIN_NAMES[a.origin ?? 2] ?? String(a.origin),
    ...(a.localPref !== undefined ? { localPref: a.localPref } : {}),
    ...(a.med !== undefined ? { med: a.med } : {}),
    ...(a.communities
      ? { communities: a.communities.map((c) => `${c >>> 16}:${c & 0xffff}`) }
      : {}),
    ...(a.largeCommunities ? { largeCommunities: a.largeCommunities.map((c) => c.join(":")) } : {}),
    best,
    multipath,
    stale: r.stale,
  };
}

/** Settings of the RIB actor. */
export interface RibActorOptions {
  /** Our ASN. */
  readonly asn: number;
  /** Our BGP identifier. */
  readonly routerId: string;
  /** Build ECMP sets. */
  readonly multipath: boolean;
  /** ECMP across neighbouring ASes too (default false). */
  readonly multipathRelax?: boolean;
  /** LOCAL_PREF assumed for routes without one. */
  readonly defaultLocalPref: number;
  /** Initially originated prefixes (a function is called at every start of the actor). */
  readonly prefixes: readonly OriginatedPrefix[] | (() => readonly OriginatedPrefix[]);
  /**
   * Export routes learned from peers (default true). With false, a peer gets only what this
   * speaker originates: no transit.
   */
  readonly exportLearned?: boolean;
}

interface PeerLink {
  target: ExportTarget;
  ref: ActorRef<ExportBatch>;
  /** Exports per attributes object, one cache per family (next hops differ). */
  cache4: WeakMap<PathAttributes, Export>;
  cache6: WeakMap<PathAttributes, Export>;
}

/** The RIB actor definition. */
export function ribActor(opts: RibActorOptions) {
  return actor<RibMsg>("bgp-rib", (ctx) => {
    const rib = new Rib({
      multipath: opts.multipath,
      multipathRelax: opts.multipathRelax ?? false,
      defaultLocalPref: opts.defaultLocalPref,
    });
    const links = new Map<string, PeerLink>();
    const subscribers = new Map<string, ActorRef<BestPathEvent>>();
    const originated = new Map<string, OriginatedPrefix>();
    /** Target peers of the originated prefixes that have some (the others go to every peer). */
    const targets = new Map<string, ReadonlySet<string>>();
    const setTargets = (p: OriginatedPrefix) => {
      if (p.peers) targets.set(p.prefix, new Set(p.peers));
      else targets.delete(p.prefix);
    };
    /** Whether an originated prefix goes to `peer` (given its target set, if any). */
    const aimed = (t: ReadonlySet<string> | undefined, peer: string) => !t || t.has(peer);
    const staleSince = new Map<string, number>();
    const local: RouteSource = {
      peer: "local",
      asn: opts.asn,
      bgpId: opts.routerId,
      ibgp: false,
      local: true,
    };
    const prefixGauge = ctx.metrics.gauge("tern_bgp_rib_prefixes", "Prefixes in the Loc-RIB");
    const changeCounter = ctx.metrics.counter(
      "tern_bgp_best_path_changes_total",
      "Best-path changes computed by the decision process",
    );

    /** The export of `best` toward one peer; `prefixOf` names the prefix, read only for a
     *  targeted originated route (the receive path makes no prefix text otherwise). */
    const exportFor = (
      link: PeerLink,
      family: Family,
      best: Route | null,
      prefixOf: () => string,
    ): Export | null => {
      if (!best) return null;
      // Local origin wins the decision, so an originated prefix's best path is our own.
      if (opts.exportLearned === false && !best.source.local) return null;
      if (best.source.peer === link.target.peer) return null;
      if (
        best.source.local && targets.size > 0 && !aimed(targets.get(prefixOf()), link.target.peer)
      ) return null;
      // The cache is per attributes object; iBGP filtering depends on the source, so only
      // eBGP-learned and local routes are cached.
      const v6 = family === "ipv6";
      const cache = v6 ? link.cache6 : link.cache4;
      const cached = cache.get(best.attrs);
      if (cached !== undefined && !best.source.ibgp) return cached;
      const e = exportRoute(best, link.target, v6 ? "ipv6" : "ipv4");
      if (e && !best.source.ibgp) cache.set(best.attrs, e);
      return e;
    };

    const publish = (changes: ChangeSink) => {
      const n = changes.length;
      if (n === 0) return;
      changeCounter.inc(undefined, n);
      prefixGauge.set(rib.size);
      // The receive path records its changes in a log (columns, no object or text per change).
      const log = changes instanceof ChangeLog ? changes : null;
      const list = changes instanceof ChangeLog ? null : changes;
      // One closure for the whole batch: the prefix text of change `at`, made only if read.
      let at = 0;
      const prefixAt = () => log ? log.prefix(at) : list![at].prefix;
      for (const link of links.values()) {
        const prefixes: string[] = [], exports: (Export | null)[] = [];
        for (let i = 0; i < n; i++) {
          const family = log ? log.family(i) : list![i].family;
          at = i;
          const e = exportFor(link, family, log ? log.best(i) : list![i].best, prefixAt);
          if (e === null) {
            // Nothing to withdraw when the previous best was not sent to this peer either (a
            // table load from one peer exports nothing back to it, and makes no prefix text).
            const before = log ? log.before(i) : previousBest(list![i]);
            if (before === null || exportFor(link, family, before, prefixAt) === null) continue;
          }
          prefixes.push(log ? log.prefix(i) : list![i].prefix);
          exports.push(e);
        }
        if (prefixes.length > 0) link.ref.tell({ type: "export", prefixes, exports, full: false });
      }
      if (subscribers.size === 0) return;
      const records = log ? log.toArray() : list!;
      for (const s of subscribers.values()) s.tell({ type: "bestPaths", changes: records });
    };

    // Originated prefixes with equal attributes share one attributes object, so that their
    // exports are computed once and packed into the same UPDATEs.
    const interned = new Map<string, Route>();
    const originRoute = (p: OriginatedPrefix): Route => {
      const key = JSON.stringify([p.origin, p.med, p.localPref, p.communities, p.largeCommunities]);
      let route = interned.get(key);
      if (!route) {
        const a: { -readonly [K in keyof PathAttributes]: PathAttributes[K] } = {
          origin: p.origin,
          asPath: [],
        };
        if (p.med !== undefined) a.med = p.med;
        if (p.localPref !== undefined) a.localPref = p.localPref;
        if (p.communities?.length) a.communities = p.communities;
        if (p.largeCommunities?.length) a.largeCommunities = p.largeCommunities;
        route = { source: local, attrs: a, nextHop: "", stale: false };
        interned.set(key, route);
      }
      return route;
    };
    /** Same attributes (the targets aside). */
    const sameOrigin = (a: OriginatedPrefix, b: OriginatedPrefix) =>
      JSON.stringify({ ...a, peers: undefined }) === JSON.stringify({ ...b, peers: undefined });
    const sameTargets = (a: OriginatedPrefix, b: OriginatedPrefix) =>
      (a.peers ?? []).join() === (b.peers ?? []).join() && !a.peers === !b.peers;

    /**
     * Applies new targets to originated prefixes whose attributes did not change: each peer
     * that gains one is sent it, each peer that loses one gets a withdrawal; nobody else hears
     * anything, and no best path changes.
     */
    const retarget = (moved: readonly { prefix: string; before?: ReadonlySet<string> }[]) => {
      if (moved.length === 0) return;
      for (const link of links.values()) {
        const peer = link.target.peer;
        const prefixes: string[] = [], exports: (Export | null)[] = [];
        for (const { prefix, before } of moved) {
          const now = targets.get(prefix);
          if (aimed(before, peer) === aimed(now, peer)) continue;
          prefixes.push(prefix);
          exports.push(exportFor(link, familyOf(prefix), rib.best(prefix) ?? null, () => prefix));
        }
        if (prefixes.length > 0) link.ref.tell({ type: "export", prefixes, exports, full: false });
      }
    };

    {
      const changes: BestChange[] = [];
      const initial = typeof opts.prefixes === "function" ? opts.prefixes() : opts.prefixes;
      for (const p of initial) {
        originated.set(p.prefix, p);
        setTargets(p);
        rib.upsert(p.prefix, originRoute(p), changes);
      }
      prefixGauge.set(rib.size);
    }

    const view = (prefix: string): RibEntryView => {
      const cands = rib.candidates(prefix);
      const mp = new Set(rib.view(prefix).paths);
      const t = targets.get(prefix);
      return {
        prefix,
        paths: cands.map((r, i) => pathView(r, i === 0, mp.has(r))),
        ...(t ? { targets: [...t] } : {}),
      };
    };

    return {
      receive(msg) {
        switch (msg.type) {
          case "peerUp": {
            const link: PeerLink = {
              target: msg.target,
              ref: msg.ref,
              cache4: new WeakMap(),
              cache6: new WeakMap(),
            };
            links.set(msg.target.peer, link);
            const prefixes: string[] = [], exports: Export[] = [];
            for (const e of rib.entries()) {
              const x = exportFor(link, e.family, e.best, () => e.prefix);
              if (x) {
                prefixes.push(e.prefix);
                exports.push(x);
              }
            }
            msg.ref.tell({ type: "export", prefixes, exports, full: true });
            msg.replyTo?.reply();
            break;
          }
          case "peerDown": {
            links.delete(msg.peer);
            const changes: BestChange[] = [];
            if (msg.retainMs !== undefined && msg.retainMs > 0) {
              const n = rib.markStale(msg.peer, changes);
              if (n > 0) {
                staleSince.set(msg.peer, ctx.clock.now());
                ctx.timers.once(`stale:${msg.peer}`, msg.retainMs, {
                  type: "staleTimeout",
                  peer: msg.peer,
                });
                ctx.log.info("graceful restart: routes retained", {
                  peer: msg.peer,
                  routes: n,
                  retainMs: msg.retainMs,
                });
              }
            } else {
              ctx.timers.cancel(`stale:${msg.peer}`);
              rib.dropPeer(msg.peer, changes);
            }
            publish(changes);
            msg.replyTo?.reply();
            break;
          }
          case "routes": {
            const changes = new ChangeLog(msg.prefixes.length);
            const peer = msg.source.peer;
            const { prefixes, routes } = msg;
            for (let i = 0; i < prefixes.length; i++) {
              const r = routes[i];
              if (r === null) rib.removeAt(peer, prefixes, i, changes);
              else rib.upsertAt(prefixes, i, r, changes);
            }
            publish(changes);
            msg.replyTo?.reply(rib.peerCount(peer));
            break;
          }
          case "endOfRib": {
            const changes: BestChange[] = [];
            const n = rib.sweepStale(msg.peer, changes, msg.family);
            if (n > 0) {
              ctx.log.info("stale routes swept at End-of-RIB", { peer: msg.peer, routes: n });
            }
            if (rib.peerStaleCount(msg.peer) === 0) {
              ctx.timers.cancel(`stale:${msg.peer}`);
              staleSince.delete(msg.peer);
            }
            publish(changes);
            break;
          }
          case "staleTimeout": {
            const changes: BestChange[] = [];
            const n = rib.sweepStale(msg.peer, changes);
            staleSince.delete(msg.peer);
            ctx.log.info("graceful restart timer expired", { peer: msg.peer, routes: n });
            publish(changes);
            break;
          }
          case "originate": {
            const p = msg.prefix;
            const old = originated.get(p.prefix);
            if (!old || !sameOrigin(old, p)) {
              // New attributes: the peers it was aimed at are sent the change; then, if the
              // targets changed too, they move (publish compares with what each peer was sent,
              // so the old targets must hold while it runs).
              originated.set(p.prefix, p);
              const moves = old !== undefined && !sameTargets(old, p);
              if (!old) setTargets(p);
              const changes: BestChange[] = [];
              rib.upsert(p.prefix, originRoute(p), changes);
              publish(changes);
              if (moves) {
                const before = targets.get(p.prefix);
                setTargets(p);
                retarget([{ prefix: p.prefix, before }]);
              }
            } else if (!sameTargets(old, p)) {
              const before = targets.get(p.prefix);
              originated.set(p.prefix, p);
              setTargets(p);
              retarget([{ prefix: p.prefix, before }]);
            }
            msg.replyTo?.reply();
            break;
          }
          case "unoriginate": {
            const had = originated.delete(msg.prefix);
            targets.delete(msg.prefix);
            if (had) {
              const changes: BestChange[] = [];
              rib.remove("local", msg.prefix, changes);
              publish(changes);
            }
            msg.replyTo?.reply(had);
            break;
          }
          case "setOriginated": {
            const changes: BestChange[] = [];
            const moved: { prefix: string; before?: ReadonlySet<string> }[] = [];
            const wanted = new Map(msg.prefixes.map((p) => [p.prefix, p]));
            for (const [prefix] of originated) {
              if (!wanted.has(prefix)) {
                originated.delete(prefix);
                targets.delete(prefix);
                rib.remove("local", prefix, changes);
              }
            }
            // Prefixes whose attributes and targets both change move after the publish (which
            // compares with what each peer was sent under the old targets).
            const late: OriginatedPrefix[] = [];
            for (const [prefix, p] of wanted) {
              const old = originated.get(prefix);
              if (!old || !sameOrigin(old, p)) {
                originated.set(prefix, p);
                if (!old) setTargets(p);
                else if (!sameTargets(old, p)) late.push(p);
                rib.upsert(p.prefix, originRoute(p), changes);
              } else if (!sameTargets(old, p)) {
                moved.push({ prefix, before: targets.get(prefix) });
                originated.set(prefix, p);
                setTargets(p);
              }
            }
            publish(changes);
            for (const p of late) {
              moved.push({ prefix: p.prefix, before: targets.get(p.prefix) });
              setTargets(p);
            }
            retarget(moved);
            msg.replyTo?.reply();
            break;
          }
          case "subscribe": {
            subscribers.set(msg.ref.path, msg.ref);
            ctx.watch(msg.ref, (t) => ({ type: "unsubscribe", path: t.path }));
            msg.ref.tell({ type: "bestPaths", changes: [...rib.entries()] });
            msg.replyTo?.reply();
            break;
          }
          case "unsubscribe":
            subscribers.delete(msg.path);
            break;
          case "dump": {
            const out: RibEntryView[] = [];
            for (const e of rib.entries(msg.family)) out.push(view(e.prefix));
            out.sort((a, b) => a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0);
            msg.replyTo.reply(out);
            break;
          }
          case "lookup":
            msg.replyTo.reply(rib.best(msg.prefix) ? view(msg.prefix) : null);
            break;
          case "exportedTo": {
            const out: Record<string, string[]> = {};
            for (const prefix of msg.prefixes) {
              const best = rib.best(prefix) ?? null;
              const to: string[] = [];
              for (const link of links.values()) {
                if (exportFor(link, familyOf(prefix), best, () => prefix) !== null) {
                  to.push(link.target.peer);
                }
              }
              out[prefix] = to.sort();
            }
            msg.replyTo.reply(out);
            break;
          }
          case "stats": {
            const adjIn: Record<string, number> = {};
            for (const [p, n] of rib.peerCounts()) adjIn[p] = n;
            msg.replyTo.reply({
              prefixes: rib.size,
              adjIn,
              peersUp: links.size,
              subscribers: subscribers.size,
            });
            break;
          }
        }
      },
      inspect() {
        return {
          prefixes: rib.size,
          peersUp: [...links.keys()],
          originated: originated.size,
          targeted: targets.size,
          subscribers: subscribers.size,
          staleFrom: Object.fromEntries(staleSince),
        };
      },
    };
  });
}
