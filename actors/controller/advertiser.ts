/**
 * The advertiser: makes the BGPAdvertisements in the cluster match what their owners want.
 * Owners declare their whole set (`set`, MetalLB's `Set(advertisements...)`): each LoadBalancer
 * Service actor its addresses; pod blocks are read here from the AddressBlocks (one
 * advertisement per block, in the system namespace, owned by the block, aimed at its node's
 * peers). Targets are expanded to BGPPeer names and follow peers as they come and go.
 *
 * Only objects it made are touched. Each carries a finalizer: on deletion it is lifted only
 * once no peer still shows the prefix as Advertised (the speaker sets Withdrawn), or the peer
 * is gone. Nothing is deleted as unowned before the Service side has declared everything
 * after a (re)start, so a controller restart withdraws nothing.
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import type { AddressBlock } from "../crds/address_block.ts";
import type { BGPAdvertisement } from "../crds/bgp_advertisement.ts";
import type { BGPPeer } from "../crds/bgp_peer.ts";
import { API_VERSION, FINALIZER_ADVERTISEMENT } from "../crds/names.ts";
import { type InformerEvent, type KubeObject, objectKey, Resources } from "../kube/mod.ts";
import {
  type DesiredAd,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type PeerTarget,
  targetPeers,
} from "./advertisement_plan.ts";
import { type Api, isAlreadyExists, isNotFound } from "./api.ts";

/** Messages of the advertiser. */
export type AdvertiserMsg =
  | { type: "set"; owner: string; ads: DesiredAd[] }
  | { type: "owners_ready" }
  | { type: "ad"; ev: InformerEvent<BGPAdvertisement> }
  | { type: "peer"; ev: InformerEvent<BGPPeer> }
  | { type: "block"; ev: InformerEvent<AddressBlock> }
  | { type: "reconcile" };

/** Options of {@link advertiser}. */
export interface AdvertiserOptions {
  api: Api;
  /** Namespace of pod-block advertisements. */
  namespace: string;
  /** Asks the Service side to declare everything again (after this actor restarts). */
  requestOwners: () => void;
  onReady?: (ready: boolean) => void;
}

const INFORMERS = ["ad", "peer", "block"] as const;

/** The advertisement of a pod block. */
export function blockAd(block: AddressBlock, namespace: string): DesiredAd | undefined {
  if (block.spec.type !== "pod" || !block.spec.node || block.metadata.deletionTimestamp) {
    return undefined;
  }
  return {
    namespace,
    name: block.metadata.name,
    owner: {
      apiVersion: API_VERSION,
      kind: "AddressBlock",
      name: block.metadata.name,
      uid: block.metadata.uid ?? "",
    },
    cidr: block.spec.cidr,
    type: "pod",
    family: block.spec.cidr.includes(":") ? "ipv6" : "ipv4",
    nodes: [block.spec.node],
    labels: { "tern.dev/pool": block.spec.pool, "tern.dev/node": block.spec.node },
  };
}

/** Defines the advertiser actor. */
export function advertiser(options: AdvertiserOptions): ActorDef<AdvertiserMsg> {
  return actor<AdvertiserMsg>("advertiser", (ctx) => {
    const { api } = options;
    const owned = new Map<string, DesiredAd[]>(); // owner -> ads
    const ads = new Map<string, BGPAdvertisement>(); // ns/name -> object
    const peers = new Map<string, PeerTarget>();
    const synced = new Set<string>();
    let ownersReady = false;
    let ready = false;
    let writes = 0;

    options.requestOwners();

    const schedule = (ms = 20) => {
      if (!ctx.timers.has("reconcile")) ctx.timers.once("reconcile", ms, { type: "reconcile" });
    };

    const specOf = (d: DesiredAd) => {
      const spec: Record<string, unknown> = {
        cidr: d.cidr,
        type: d.type,
        family: d.family,
        peers: targetPeers(d, peers.values()),
      };
      if (d.groups && d.groups.length > 0) spec.groups = [...d.groups];
      return spec;
    };

    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

    const reconcile = async () => {
      if (!ready) return;
      const desired = new Map<string, DesiredAd>();
      for (const list of owned.values()) {
        for (const d of list) desired.set(`${d.namespace}/${d.name}`, d);
      }
      const ops: Promise<unknown>[] = [];
      for (const [key, d] of desired) {
        const cur = ads.get(key);
        const spec = specOf(d);
        if (!cur) {
          const body = {
            apiVersion: API_VERSION,
            kind: "BGPAdvertisement",
            metadata: {
              name: d.name,
              namespace: d.namespace,
              labels: { ...(d.labels ?? {}), [LABEL_MANAGED_BY]: MANAGED_BY },
              finalizers: [FINALIZER_ADVERTISEMENT],
              ownerReferences: [{ ...d.owner, blockOwnerDeletion: false }],
            },
            spec,
          };
          ops.push(
            api.create(Resources.bgpAdvertisements, body as unknown as KubeObject, 1).then(
              (o) => {
                writes++;
                ads.set(key, o as unknown as BGPAdvertisement);
              },
              (e) => {
                if (!isAlreadyExists(e)) throw e;
              },
            ),
          );
        } else if (!cur.metadata.deletionTimestamp) {
          const curSpec = {
            cidr: cur.spec.cidr,
            type: cur.spec.type,
            family: cur.spec.family,
            peers: [...(cur.spec.peers ?? [])].sort(),
            ...(cur.spec.groups && cur.spec.groups.length > 0 ? { groups: cur.spec.groups } : {}),
          };
          if (!same(curSpec, spec)) {
            ops.push(
              api.patch(Resources.bgpAdvertisements, d.name, { spec }, {
                namespace: d.namespace,
                priority: 1,
              }).then((o) => {
                writes++;
                ads.set(key, o as unknown as BGPAdvertisement);
              }),
            );
          }
        }
      }
      for (const [key, cur] of ads) {
        if (cur.metadata.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY) continue;
        const ns = cur.metadata.namespace!, name = cur.metadata.name;
        if (cur.metadata.deletionTimestamp) {
          const fins = cur.metadata.finalizers ?? [];
          if (!fins.includes(FINALIZER_ADVERTISEMENT)) continue;
          const still = Object.entries(cur.status?.peers ?? {}).some(([peer, state]) =>
            state === "Advertised" && peers.has(peer)
          );
          if (still) continue;
          ops.push(
            api.patch(Resources.bgpAdvertisements, name, {
              metadata: { finalizers: fins.filter((f) => f !== FINALIZER_ADVERTISEMENT) },
            }, { namespace: ns }).catch((e) => {
              if (!isNotFound(e)) throw e;
            }),
          );
          continue;
        }
        if (desired.has(key)) continue;
        const fromBlock = cur.spec.type === "pod";
        if (!fromBlock && !ownersReady) continue;
        ops.push(api.delete(Resources.bgpAdvertisements, name, ns, 1).then(() => writes++));
      }
      const results = await Promise.allSettled(ops);
      const failed = results.filter((r) => r.status === "rejected").length;
      if (failed > 0) {
        ctx.log.warn("some advertisement writes failed, retrying", { failed });
        schedule(1000);
      }
    };

    const peerOf = (p: BGPPeer): PeerTarget => ({
      name: p.metadata.name,
      node: p.spec.node,
      groups: p.spec.groups ?? [],
      // A BGPPeer's session carries the family of its address.
      families: [p.spec.addr.includes(":") ? "ipv6" : "ipv4"],
    });

    return {
      async receive(msg) {
        switch (msg.type) {
          case "set":
            if (msg.ads.length === 0) owned.delete(msg.owner);
            else owned.set(msg.owner, msg.ads);
            schedule();
            return;
          case "owners_ready":
            ownersReady = true;
            schedule();
            return;
          case "reconcile":
            await reconcile();
            return;
          case "ad": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              ads.clear();
              for (const o of ev.objects) ads.set(objectKey(o), o);
              synced.add("ad");
            } else if (ev.type === "deleted") ads.delete(objectKey(ev.object));
            else ads.set(objectKey(ev.object), ev.object);
            break;
          }
          case "peer": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              peers.clear();
              for (const o of ev.objects) {
                if (!o.metadata.deletionTimestamp) peers.set(o.metadata.name, peerOf(o));
              }
              synced.add("peer");
            } else if (ev.type === "deleted" || ev.object.metadata.deletionTimestamp) {
              peers.delete(ev.object.metadata.name);
            } else {
              const before = peers.get(ev.object.metadata.name);
              const next = peerOf(ev.object);
              peers.set(next.name, next);
              if (before && same(before, next)) return;
            }
            break;
          }
          case "block": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              for (const k of [...owned.keys()]) if (k.startsWith("block/")) owned.delete(k);
              for (const o of ev.objects) {
                const d = blockAd(o, options.namespace);
                if (d) owned.set(`block/${o.metadata.name}`, [d]);
              }
              synced.add("block");
            } else {
              const d = ev.type === "deleted" ? undefined : blockAd(ev.object, options.namespace);
              if (d) owned.set(`block/${ev.object.metadata.name}`, [d]);
              else owned.delete(`block/${ev.object.metadata.name}`);
            }
            break;
          }
        }
        if (!ready && INFORMERS.every((i) => synced.has(i))) {
          ready = true;
          options.onReady?.(true);
        }
        schedule();
      },
      stop() {
        options.onReady?.(false);
      },
      inspect: () => ({
        ready,
        ownersReady,
        owners: owned.size,
        advertisements: ads.size,
        peers: peers.size,
        writes,
      }),
    };
  });
}
