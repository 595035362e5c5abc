/**
 * The agent's BGP wiring as actors: the node's BGP speaker (tern's BGP actors, in-process),
 * configured from its `NodeBGP` and `BGPPeer` objects and originating the `BGPAdvertisement`s
 * aimed at its peers, each sent only to the peers its advertisements name, all changed live; and the statuses written back: each BGPPeer's session
 * state, uptime, prefixes in and out, last error and backoff, and each advertisement's per-peer
 * state.
 *
 * ```
 * /<root>               rest_for_one
 * ├── routes            route table of the routes learned from peers (protocol bgp, main table)
 * ├── installer         RIB best paths -> route table, one source per peer (ECMP across peers)
 * ├── wiring            this actor; starts `bgp` once the NodeBGP exists
 * ├── informers/{nodebgp, peers, ads}
 * └── bgp               tern's BGP subtree (rib, peers, speaker), a dynamic child
 * ```
 * `routes` and `installer` are left out with `installRoutes: false`.
 * @module
 */
import {
  actor,
  type ActorDef,
  type ActorSystem,
  supervisor,
  type SupervisorDef,
} from "../../runtime/mod.ts";
import { bgpPaths, bgpSupervisor, type SpeakerMsg } from "../bgp/speaker_actor.ts";
import { routeTable } from "../netlink/route_table.ts";
import { routeInstaller } from "./route_installer.ts";
import type { PeerStatus } from "../bgp/peer_actor.ts";
import type { RibMsg } from "../bgp/rib_actor.ts";
import { informer, type InformerEvent, type KubeClient, Resources } from "../kube/mod.ts";
import { SYSTEM_NAMESPACE } from "../ship/rbac.ts";
import {
  advertisementPeerStates,
  advertisementStatesChanged,
  type BGPAdvertisementObject,
  type BGPPeerObject,
  type NodeBGPObject,
  nodeOriginated,
  nodePeers,
  peerKey,
  peerStatusChanged,
  peerStatusFor,
  referencedSecrets,
  runnablePeers,
  secretMapKey,
  type SecretObject,
  type SecretState,
  speakerConfigFor,
  unsupportedPeer,
  type WiringOptions,
} from "./desired.ts";

/** Messages of the wiring actor. */
export type WiringMsg =
  | { type: "nodebgp"; event: InformerEvent<NodeBGPObject> }
  | { type: "peers"; event: InformerEvent<BGPPeerObject> }
  | { type: "ads"; event: InformerEvent<BGPAdvertisementObject> }
  | { type: "apply" }
  | { type: "status" }
  | { type: "secrets" };

/** Options of {@link agentBgpTree}. */
export interface AgentBgpOptions extends WiringOptions {
  client: KubeClient;
  node: string;
  /**
   * Absolute path of the subtree's supervisor, default `/agentbgp` (e.g. `/agent/bgp` inside the
   * agent role); its last segment names the supervisor.
   */
  root?: string;
  /** Install the routes learned from peers into the kernel (default true). */
  installRoutes?: boolean;
  /** Route protocol number of the learned routes (default 186, `bgp`). */
  routeProtocol?: number;
  /** Route table id of the learned routes (default 254, main). */
  routeTable?: number;
  /** Work on the routes of the network namespace at this path (tests). */
  netns?: string;
  /** How often statuses are refreshed (default 1,000 ms). */
  statusIntervalMs?: number;
  /** Namespace of a `passwordSecretRef` that names none (default `tern-system`, tern's own). */
  secretNamespace?: string;
  /**
   * How often the referenced password Secrets are read again (default 15,000 ms): a changed
   * password reaches the speaker within this time. A new reference is read at once.
   */
  secretResyncMs?: number;
}

function track<T extends { metadata: { name?: string; namespace?: string } }>(
  m: Map<string, T>,
  ev: InformerEvent<T>,
): void {
  const k = (o: T) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  if (ev.type === "synced") {
    m.clear();
    for (const o of ev.objects) m.set(k(o), o);
  } else if (ev.type === "deleted") m.delete(k(ev.object));
  else m.set(k(ev.object), ev.object);
}

/** The wiring actor. */
export function wiringActor(opts: AgentBgpOptions): ActorDef<WiringMsg> {
  const root = rootPath(opts).slice(1);
  const paths = bgpPaths(root);
  return actor<WiringMsg>("agent-bgp-wiring", (ctx) => {
    let nodeBgp: NodeBGPObject | undefined;
    const peers = new Map<string, BGPPeerObject>();
    const ads = new Map<string, BGPAdvertisementObject>();
    const synced = new Set<string>();
    let running:
      | { asn: number; routerId: string; multipathRelax: boolean; exportLearned: boolean }
      | undefined;
    let lastConfig = "";
    /** Originated prefixes and the peer addresses each is sent to, as configured. */
    let originated = new Map<string, ReadonlySet<string>>();
    let configErrors = 0;
    let statusWrites = 0;
    const { client, node } = opts;
    const secretNs = opts.secretNamespace ?? SYSTEM_NAMESPACE;
    /** Password Secrets by `namespace/name` (values only in memory, never logged or shown). */
    const secrets = new Map<string, SecretState>();
    let secretReads = 0;
    ctx.timers.every("status", opts.statusIntervalMs ?? 1_000, { type: "status" });
    ctx.timers.every("secrets", opts.secretResyncMs ?? 15_000, { type: "secrets" });

    /** What a GET of a Secret says, in the form {@link peerPassword} reads. */
    const readSecret = async (ref: { namespace: string; name: string }): Promise<SecretState> => {
      secretReads++;
      try {
        const s = await client.tryGet<SecretObject>(Resources.secrets, ref.name, ref.namespace);
        return s ? { metadata: s.metadata, data: s.data ?? {} } : null;
      } catch (e) {
        return { error: (e as Error).message.slice(0, 300) };
      }
    };

    /**
     * Reads the Secrets the node's peers reference (all of them with `all`, else only those not
     * read yet) and forgets the others; true when what is known changed.
     */
    const refreshSecrets = async (all: boolean): Promise<boolean> => {
      const refs = referencedSecrets(nodePeers(node, [...peers.values()]), secretNs);
      const wanted = new Set(refs.map(secretMapKey));
      let changed = false;
      for (const k of [...secrets.keys()]) {
        if (!wanted.has(k)) {
          secrets.delete(k);
          changed = true;
        }
      }
      for (const r of refs) {
        const k = secretMapKey(r);
        if (!all && secrets.has(k)) continue;
        const before = secrets.get(k);
        const now = await readSecret(r);
        const same = before !== undefined && JSON.stringify(stateData(before)) ===
            JSON.stringify(stateData(now));
        if (!same) {
          secrets.set(k, now);
          changed = true;
        }
      }
      return changed;
    };

    const speaker = () => ctx.lookup<SpeakerMsg>(paths.speaker);
    const parent = () => {
      if (!ctx.parent) throw new Error("the wiring actor must run under a supervisor");
      return ctx.parent;
    };

    const apply = async () => {
      if (synced.size < 3) return;
      if (!nodeBgp) {
        if (running) {
          await parent().terminateChild("bgp").catch(() => {});
          running = undefined;
          lastConfig = "";
        }
        return;
      }
      // Peers whose TCP-MD5 password Secret is missing or unusable are left out; their status
      // says why.
      await refreshSecrets(false);
      const { peers: mine, passwords } = runnablePeers(
        nodePeers(node, [...peers.values()]),
        secrets,
        secretNs,
      );
      const prefixes = nodeOriginated(mine, [...ads.values()], opts.adTypes);
      let config;
      try {
        config = speakerConfigFor(nodeBgp, mine, prefixes, opts, passwords);
      } catch (e) {
        configErrors++;
        ctx.log.error("invalid BGP configuration from the objects", { error: String(e) });
        return;
      }
      const text = JSON.stringify(config);
      if (text === lastConfig) return;
      if (
        running &&
        (running.asn !== config.asn || running.routerId !== config.routerId ||
          running.multipathRelax !== config.multipathRelax ||
          running.exportLearned !== config.exportLearned)
      ) {
        await parent().terminateChild("bgp").catch(() => {});
        running = undefined;
      }
      if (!running) {
        // A subtree left by an earlier incarnation of this actor is replaced.
        await parent().terminateChild("bgp").catch(() => {});
        await parent().startChild({ id: "bgp", def: bgpSupervisor(root, config) });
        running = {
          asn: config.asn,
          routerId: config.routerId,
          multipathRelax: config.multipathRelax,
          exportLearned: config.exportLearned,
        };
      } else {
        const ref = speaker();
        if (!ref) throw new Error("the BGP speaker is not running");
        await ref.ask((replyTo) => ({ type: "applyConfig", config, replyTo }), {
          timeoutMs: 10_000,
        });
      }
      lastConfig = text;
      originated = new Map(prefixes.map((p) => [p.prefix, new Set(p.peers)]));
      ctx.log.info("speaker configured", { peers: mine.length, prefixes: prefixes.length });
    };

    const writeStatuses = async () => {
      const ref = running ? speaker() : undefined;
      let sessions: PeerStatus[] = [];
      if (ref) {
        try {
          sessions = await ref.ask<PeerStatus[]>((replyTo) => ({ type: "neighbors", replyTo }), {
            timeoutMs: 5_000,
          });
        } catch {
          return;
        }
      }
      const byAddr = new Map(sessions.map((s) => [s.address, s]));
      // What the RIB exports each originated prefix to right now: the per-peer states say
      // Advertised only where the prefix is really sent.
      let exported = new Map<string, ReadonlySet<string>>();
      const rib = running ? ctx.lookup<RibMsg>(paths.rib) : undefined;
      if (rib && originated.size > 0) {
        try {
          const r = await rib.ask<Record<string, string[]>>((replyTo) => ({
            type: "exportedTo",
            prefixes: [...originated.keys()],
            replyTo,
          }), { timeoutMs: 5_000 });
          exported = new Map(Object.entries(r).map(([p, a]) => [p, new Set(a)]));
        } catch {
          return;
        }
      }
      const mine = nodePeers(node, [...peers.values()]);
      const now = new Date();
      for (const p of mine) {
        const refused = unsupportedPeer(p, secrets, secretNs);
        const want = refused === undefined
          ? peerStatusFor(p, byAddr.get(peerKey(p.spec.addr)), now)
          : peerStatusFor(p, undefined, now, refused);
        if (!peerStatusChanged(p.status, want)) continue;
        // A merge patch keeps what it leaves out: an error or uptime that no longer holds (a
        // Secret now found, a session now down) is removed explicitly.
        const patch: Record<string, unknown> = { ...want };
        for (const k of ["lastError", "establishedSince"] as const) {
          if (p.status?.[k] !== undefined && want[k] === undefined) patch[k] = null;
        }
        try {
          const updated = await client.mergePatch<BGPPeerObject>(
            Resources.bgpPeers,
            p.metadata.name!,
            { status: patch },
            { status: true },
          );
          peers.set(`/${p.metadata.name}`, updated);
          statusWrites++;
        } catch (e) {
          ctx.log.warn("BGPPeer status write failed", { peer: p.metadata.name, error: String(e) });
        }
      }
      for (const [key, ad] of ads) {
        if (opts.adTypes && ad.spec.type !== undefined && !opts.adTypes.includes(ad.spec.type)) {
          continue; // another mode's advertisement
        }
        const states = advertisementPeerStates(ad, mine, byAddr, exported);
        if (!advertisementStatesChanged(ad.status?.peers, states)) continue;
        try {
          const updated = await client.mergePatch<BGPAdvertisementObject>(
            Resources.bgpAdvertisements,
            ad.metadata.name!,
            { status: { peers: states } },
            { namespace: ad.metadata.namespace, status: true },
          );
          ads.set(key, updated);
          statusWrites++;
        } catch (e) {
          ctx.log.warn("BGPAdvertisement status write failed", {
            advertisement: key,
            error: String(e),
          });
        }
      }
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "nodebgp": {
            const ev = msg.event;
            if (ev.type === "synced") {
              nodeBgp = ev.objects.find((o) => o.metadata.name === node);
              synced.add("nodebgp");
            } else if (ev.object.metadata.name === node) {
              nodeBgp = ev.type === "deleted" ? undefined : ev.object;
            }
            ctx.timers.once("apply", 20, { type: "apply" });
            return;
          }
          case "peers":
          case "ads":
            if (msg.type === "peers") track(peers, msg.event);
            else track(ads, msg.event);
            if (msg.event.type === "synced") synced.add(msg.type);
            ctx.timers.once("apply", 20, { type: "apply" });
            return;
          case "apply":
            await apply();
            return;
          case "status":
            await writeStatuses();
            return;
          case "secrets":
            if (synced.size < 3) return;
            if (await refreshSecrets(true)) ctx.timers.once("apply", 20, { type: "apply" });
            return;
        }
      },
      inspect: () => ({
        node,
        asn: running?.asn,
        routerId: running?.routerId,
        peers: nodePeers(node, [...peers.values()]).map((p) =>
          `${p.metadata.name} ${p.spec.addr} ${p.status?.sessionState ?? "?"}`
        ),
        originated: [...originated].slice(0, 50).map(([p, t]) => `${p} -> ${[...t].join(",")}`),
        configErrors,
        statusWrites,
        // Which password Secrets are known, never their contents.
        secrets: [...secrets].map(([k, v]) =>
          `${k} ${v === null ? "missing" : "error" in v ? "unreadable" : "read"}`
        ),
        secretReads,
      }),
    };
  });
}

/** The part of a Secret's state that matters for a password (its data, absence or error). */
function stateData(s: SecretState): unknown {
  if (s === null) return null;
  if ("error" in s) return { error: s.error };
  return { data: (s as SecretObject).data ?? {} };
}

function rootPath(opts: AgentBgpOptions): string {
  const r = opts.root ?? "/agentbgp";
  const p = r.startsWith("/") ? r : `/${r}`;
  if (!/^(\/[A-Za-z0-9_.\-]+)+$/.test(p)) throw new Error(`bad subtree path ${JSON.stringify(r)}`);
  return p;
}

/** Paths of the subtree's actors. */
export function agentBgpPaths(root = "/agentbgp") {
  const base = rootPath({ root } as AgentBgpOptions);
  return {
    base,
    routes: `${base}/routes`,
    installer: `${base}/installer`,
    wiring: `${base}/wiring`,
    ...(({ rib, speaker, peers }) => ({ rib, speaker, peers }))(bgpPaths(base.slice(1))),
  };
}

/** The agent's BGP subtree; `system` routes informer events to the wiring actor. */
export function agentBgpTree(
  opts: AgentBgpOptions,
  system: () => ActorSystem | undefined,
): SupervisorDef {
  const p = agentBgpPaths(rootPath(opts));
  // Events that arrive before the system is known (the role learns it once started) wait here,
  // in order, and are delivered as soon as the wiring actor can be looked up.
  const queue: WiringMsg[] = [];
  let flushing: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    flushing = undefined;
    const ref = system()?.lookup<WiringMsg>(p.wiring);
    if (!ref) {
      flushing = setTimeout(flush, 20);
      return;
    }
    for (const m of queue.splice(0)) ref.tell(m);
  };
  const tell = (msg: WiringMsg) => {
    const ref = queue.length === 0 ? system()?.lookup<WiringMsg>(p.wiring) : undefined;
    if (ref) return ref.tell(msg);
    queue.push(msg);
    if (flushing === undefined) flushing = setTimeout(flush, 20);
  };
  const install = opts.installRoutes ?? true;
  return supervisor(p.base.slice(p.base.lastIndexOf("/") + 1), {
    strategy: "rest_for_one",
    intensity: { maxRestarts: 10, withinMs: 60_000 },
    children: [
      ...(install
        ? [
          {
            id: "routes",
            def: routeTable({
              protocol: opts.routeProtocol ?? 186,
              table: opts.routeTable ?? 254,
              ...(opts.netns ? { netns: opts.netns } : {}),
            }),
          },
          {
            id: "installer",
            def: routeInstaller({
              ribPath: p.rib,
              routesPath: p.routes,
              resolve: {
                learnedProtocol: opts.routeProtocol ?? 186,
                table: opts.routeTable ?? 254,
                ...(opts.netns ? { netns: opts.netns } : {}),
              },
            }),
          },
        ]
        : []),
      { id: "wiring", def: wiringActor(opts) },
      {
        id: "informers",
        def: supervisor("informers", {
          strategy: "one_for_one",
          children: [
            {
              id: "nodebgp",
              def: informer<NodeBGPObject>("nodebgp", {
                client: opts.client,
                resource: Resources.nodeBGPs,
                fieldSelector: `metadata.name=${opts.node}`,
                deliver: (event) => tell({ type: "nodebgp", event }),
              }),
            },
            {
              id: "peers",
              def: informer<BGPPeerObject>("peers", {
                client: opts.client,
                resource: Resources.bgpPeers,
                deliver: (event) => tell({ type: "peers", event }),
              }),
            },
            {
              id: "ads",
              def: informer<BGPAdvertisementObject>("ads", {
                client: opts.client,
                resource: Resources.bgpAdvertisements,
                deliver: (event) => tell({ type: "ads", event }),
              }),
            },
          ],
        }),
      },
    ],
  });
}
