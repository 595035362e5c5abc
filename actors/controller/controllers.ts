/**
 * The "controllers" subtree, started while this replica leads: the event recorder and four
 * domains, each a `rest_for_one` supervisor of [domain actor, its children's supervisor, its
 * informers]. A domain actor that crashes takes its children and informers with it, and the
 * informers' relist gives the fresh incarnation everything again (level-triggered).
 */
import { type ActorRef, supervisor, type SupervisorDef } from "../../runtime/mod.ts";
import {
  informer,
  type InformerEvent,
  type KubeObject,
  type Resource,
  Resources,
} from "../kube/mod.ts";
import { advertiser, type AdvertiserMsg } from "./advertiser.ts";
import type { Api } from "./api.ts";
import { bgpActor, type BgpMsg } from "./bgp.ts";
import { eventRecorder, type EventSink } from "./event_recorder.ts";
import { poolsActor, type PoolsMsg } from "./pools.ts";
import type { ClassPolicy } from "./service_view.ts";
import { servicesActor, type ServicesMsg } from "./services.ts";

/** Options of the controllers subtree. */
export interface ControllersOptions {
  api: Api;
  /** Path the subtree is started at (e.g. `/controller/controllers`). */
  path: string;
  /** Namespace of Events about cluster-scoped objects and of pod-block advertisements. */
  namespace: string;
  classPolicy: ClassPolicy;
  repair?: boolean;
  /** Consistency check period (default 60 s). */
  checkMs?: number;
  /** Informer resync period (default 300 s). */
  resyncMs?: number;
  /** Finds an actor by path (the system's lookup). */
  lookup: (path: string) => ActorRef<unknown> | undefined;
  /** Readiness of each domain. */
  readiness?: Readiness;
}

/** Which domains have synced and rebuilt their state. */
export class Readiness {
  readonly #domains = new Map<string, boolean>([
    ["pools", false],
    ["services", false],
    ["bgp", false],
    ["advertisements", false],
  ]);
  /** Sets one domain. */
  set(domain: string, ready: boolean): void {
    this.#domains.set(domain, ready);
  }
  /** True when every domain is ready. */
  get all(): boolean {
    return [...this.#domains.values()].every((v) => v);
  }
  /** Resets every domain (the subtree stopped). */
  reset(): void {
    for (const k of this.#domains.keys()) this.#domains.set(k, false);
  }
  /** Per domain. */
  toJSON(): Record<string, boolean> {
    return Object.fromEntries(this.#domains);
  }
}

/** Builds the subtree. */
export function controllers(options: ControllersOptions): SupervisorDef {
  const { api, path } = options;
  const p = {
    events: `${path}/events`,
    pools: `${path}/pools/pools`,
    poolActors: `${path}/pools/pool-actors`,
    services: `${path}/services/services`,
    serviceActors: `${path}/services/service-actors`,
    bgp: `${path}/bgp/bgp`,
    bgpActors: `${path}/bgp/clusterbgp-actors`,
    advertiser: `${path}/advertisements/advertiser`,
  };
  const ref = <M>(at: string) => options.lookup(at) as ActorRef<M> | undefined;
  const events = () => ref<never>(p.events) as EventSink | undefined;
  const ready = (domain: string) => (v: boolean) => options.readiness?.set(domain, v);
  const resyncMs = options.resyncMs ?? 300_000;

  const feed = <M, T extends KubeObject>(
    id: string,
    resource: Resource,
    to: string,
    wrap: (ev: InformerEvent<T>) => M,
  ) => ({
    id: `informer-${id}`,
    def: informer<T>(`informer-${id}`, {
      client: api.client,
      resource,
      resyncMs,
      deliver: (ev) => ref<M>(to)?.tell(wrap(ev)),
    }),
  });
  const children = () =>
    supervisor("actors", {
      strategy: "one_for_one",
      intensity: { maxRestarts: 100, withinMs: 10_000 },
    });
  const big = { capacity: 1_000_000, overflow: "drop_oldest" as const };

  const pools = supervisor("pools", {
    strategy: "rest_for_one",
    children: [
      {
        id: "pools",
        def: poolsActor({
          api,
          childrenPath: p.poolActors,
          events,
          repair: options.repair ?? false,
          ...(options.checkMs ? { checkMs: options.checkMs } : {}),
          onReady: ready("pools"),
        }),
        mailbox: big,
      },
      { id: "pool-actors", def: children() },
      feed<PoolsMsg, never>(
        "addresspools",
        Resources.addressPools,
        p.pools,
        (ev) => ({ type: "pool", ev }),
      ),
      feed<PoolsMsg, never>(
        "addressblocks",
        Resources.addressBlocks,
        p.pools,
        (ev) => ({ type: "block", ev }),
      ),
      feed<PoolsMsg, never>(
        "blockrequests",
        Resources.blockRequests,
        p.pools,
        (ev) => ({ type: "breq", ev }),
      ),
      feed<PoolsMsg, never>("nodes", Resources.nodes, p.pools, (ev) => ({ type: "node", ev })),
    ],
  });

  const services = supervisor("services", {
    strategy: "rest_for_one",
    children: [
      {
        id: "services",
        def: servicesActor({
          api,
          classPolicy: options.classPolicy,
          childrenPath: p.serviceActors,
          events,
          advertise: (owner, ads) =>
            ref<AdvertiserMsg>(p.advertiser)?.tell({ type: "set", owner, ads }),
          adsReady: () => ref<AdvertiserMsg>(p.advertiser)?.tell({ type: "owners_ready" }),
          usage: (usage) => ref<PoolsMsg>(p.pools)?.tell({ type: "service_usage", usage }),
          ...(options.checkMs ? { checkMs: options.checkMs } : {}),
          repair: options.repair ?? false,
          onReady: ready("services"),
        }),
        mailbox: big,
      },
      { id: "service-actors", def: children() },
      feed<ServicesMsg, never>(
        "services",
        Resources.services,
        p.services,
        (ev) => ({ type: "svc", ev }),
      ),
      feed<ServicesMsg, never>(
        "namespaces",
        Resources.namespaces,
        p.services,
        (ev) => ({ type: "ns", ev }),
      ),
      feed<ServicesMsg, never>(
        "addresspools",
        Resources.addressPools,
        p.services,
        (ev) => ({ type: "pool", ev }),
      ),
      feed<ServicesMsg, never>(
        "endpointslices",
        Resources.endpointSlices,
        p.services,
        (ev) => ({ type: "slice", ev }),
      ),
    ],
  });

  const bgp = supervisor("bgp", {
    strategy: "rest_for_one",
    children: [
      {
        id: "bgp",
        def: bgpActor({ api, childrenPath: p.bgpActors, events, onReady: ready("bgp") }),
        mailbox: big,
      },
      { id: "clusterbgp-actors", def: children() },
      feed<BgpMsg, never>("nodes", Resources.nodes, p.bgp, (ev) => ({ type: "node", ev })),
      feed<BgpMsg, never>(
        "clusterbgps",
        Resources.clusterBGPs,
        p.bgp,
        (ev) => ({ type: "cbgp", ev }),
      ),
      feed<BgpMsg, never>(
        "bgppeertemplates",
        Resources.bgpPeerTemplates,
        p.bgp,
        (ev) => ({ type: "tmpl", ev }),
      ),
      feed<BgpMsg, never>("nodebgps", Resources.nodeBGPs, p.bgp, (ev) => ({ type: "nodebgp", ev })),
      feed<BgpMsg, never>("bgppeers", Resources.bgpPeers, p.bgp, (ev) => ({ type: "peer", ev })),
    ],
  });

  const advertisements = supervisor("advertisements", {
    strategy: "rest_for_one",
    children: [
      {
        id: "advertiser",
        def: advertiser({
          api,
          namespace: options.namespace,
          requestOwners: () => ref<ServicesMsg>(p.services)?.tell({ type: "resend_ads" }),
          onReady: ready("advertisements"),
        }),
        mailbox: big,
      },
      feed<AdvertiserMsg, never>(
        "bgpadvertisements",
        Resources.bgpAdvertisements,
        p.advertiser,
        (ev) => ({ type: "ad", ev }),
      ),
      feed<AdvertiserMsg, never>(
        "bgppeers",
        Resources.bgpPeers,
        p.advertiser,
        (ev) => ({ type: "peer", ev }),
      ),
      feed<AdvertiserMsg, never>(
        "addressblocks",
        Resources.addressBlocks,
        p.advertiser,
        (ev) => ({ type: "block", ev }),
      ),
    ],
  });

  return supervisor("controllers", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 10, withinMs: 30_000 },
    children: [
      {
        id: "events",
        def: eventRecorder({ api, namespace: options.namespace }),
        mailbox: { capacity: 50_000, overflow: "drop_oldest" },
      },
      // Advertisements first: the Service side declares into it as soon as it is ready.
      { id: "advertisements", def: advertisements },
      { id: "pools", def: pools },
      { id: "services", def: services },
      { id: "bgp", def: bgp },
    ],
  });
}
