/**
 * The RIB actor: owns the Adj-RIBs-In and the Loc-RIB ({@link Rib}), runs the decision process,
 * computes each established peer's exports and streams best-path changes to subscribers.
 * Graceful restart (receiving side): a peer that goes down with graceful restart negotiated
 * keeps its routes, marked stale, until its End-of-RIB or the restart timer.
 * @module
 */
import { actor, type ActorRef, type ReplyTo } from "../../runtime/mod.ts";
import type { OriginatedPrefix } from "./config.ts";
import type { PathAttributes } from "./path_attributes.ts";
import type { Family } from "./prefix.ts";
import {
  type BestChange,
  type Export,
  exportRoute,
  type ExportTarget,
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
    /** Prefixes announced or withdrawn, in the order they were received. */
    readonly prefixes: readonly string[];
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
  | { readonly type: "stats"; readonly replyTo: ReplyTo<RibStats> };

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
  /**
   * Export routes learned from peers (default true). With false, a peer gets only what this
   * speaker originates: no transit.
   */
  readonly exportLearned?: boolean;
  /** Initially originated prefixes. */
  readonly prefixes: readonly OriginatedPrefix[];
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

    const exportFor = (link: PeerLink, prefix: string, best: Route | null): Export | null => {
      if (!best) return null;
      // Local origin wins the decision, so an originated prefix's best path is our own.
      if (opts.exportLearned === false && !best.source.local) return null;
      if (best.source.local) {
        // An originated prefix may be aimed at some peers only.
        const only = originated.get(prefix)?.peers;
        if (only && !only.includes(link.target.peer)) return null;
      }
      if (best.source.peer === link.target.peer) return null;
      // The cache is per attributes object; iBGP filtering depends on the source, so only
      // eBGP-learned and local routes are cached.
      const v6 = prefix.includes(":");
      const cache = v6 ? link.cache6 : link.cache4;
      const cached = cache.get(best.attrs);
      if (cached !== undefined && !best.source.ibgp) return cached;
      const e = exportRoute(best, link.target, v6 ? "ipv6" : "ipv4");
      if (e && !best.source.ibgp) cache.set(best.attrs, e);
      return e;
    };

    const publish = (changes: BestChange[]) => {
      if (changes.length === 0) return;
      changeCounter.inc(undefined, changes.length);
      prefixGauge.set(rib.size);
      let prefixes: string[] | null = null;
      for (const link of links.values()) {
        prefixes ??= changes.map((c) => c.prefix);
        const exports = new Array<Export | null>(changes.length);
        for (let i = 0; i < changes.length; i++) {
          exports[i] = exportFor(link, changes[i].prefix, changes[i].best);
        }
        link.ref.tell({ type: "export", prefixes, exports, full: false });
      }
      for (const s of subscribers.values()) s.tell({ type: "bestPaths", changes });
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
    const sameOrigin = (a: OriginatedPrefix, b: OriginatedPrefix) =>
      JSON.stringify(a) === JSON.stringify(b);

    /**
     * Publishes the changes, and re-exports the prefixes whose target peers changed while their
     * route (interned by attributes) stayed the same, so no best-path change was computed.
     */
    const publishOriginated = (retargeted: readonly string[], changes: BestChange[]) => {
      publish(changes);
      const changed = new Set(changes.map((c) => c.prefix));
      const rest = retargeted.filter((p) => !changed.has(p));
      if (rest.length === 0) return;
      for (const link of links.values()) {
        const exports = rest.map((p) => exportFor(link, p, rib.best(p) ?? null));
        link.ref.tell({ type: "export", prefixes: rest, exports, full: false });
      }
    };

    {
      const changes: BestChange[] = [];
      for (const p of opts.prefixes) {
        originated.set(p.prefix, p);
        rib.upsert(p.prefix, originRoute(p), changes);
      }
      prefixGauge.set(rib.size);
    }

    const view = (prefix: string): RibEntryView => {
      const cands = rib.candidates(prefix);
      const mp = new Set(rib.view(prefix).paths);
      return { prefix, paths: cands.map((r, i) => pathView(r, i === 0, mp.has(r))) };
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
              const x = exportFor(link, e.prefix, e.best);
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
            const changes: BestChange[] = [];
            const peer = msg.source.peer;
            const { prefixes, routes } = msg;
            for (let i = 0; i < prefixes.length; i++) {
              const r = routes[i];
              if (r === null) rib.remove(peer, prefixes[i], changes);
              else rib.upsert(prefixes[i], r, changes);
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
            const old = originated.get(msg.prefix.prefix);
            if (!old || !sameOrigin(old, msg.prefix)) {
              originated.set(msg.prefix.prefix, msg.prefix);
              const changes: BestChange[] = [];
              rib.upsert(msg.prefix.prefix, originRoute(msg.prefix), changes);
              publishOriginated(old ? [msg.prefix.prefix] : [], changes);
            }
            msg.replyTo?.reply();
            break;
          }
          case "unoriginate": {
            const had = originated.delete(msg.prefix);
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
            const wanted = new Map(msg.prefixes.map((p) => [p.prefix, p]));
            for (const [prefix] of originated) {
              if (!wanted.has(prefix)) {
                originated.delete(prefix);
                rib.remove("local", prefix, changes);
              }
            }
            const retargeted: string[] = [];
            for (const [prefix, p] of wanted) {
              const old = originated.get(prefix);
              if (!old || !sameOrigin(old, p)) {
                originated.set(prefix, p);
                rib.upsert(p.prefix, originRoute(p), changes);
                if (old) retargeted.push(prefix);
              }
            }
            publishOriginated(retargeted, changes);
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
          subscribers: subscribers.size,
          staleFrom: Object.fromEntries(staleSince),
        };
      },
    };
  });
}
