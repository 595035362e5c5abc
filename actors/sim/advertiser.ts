/**
 * TEST STAND-IN for the tern controller's advertisement planning, used only while
 * `roles/controller.ts` is not on main: writes the `BGPAdvertisement`s the controller would, one
 * per node pod block (in `tern-system`, aimed at that node's BGPPeers) and one per LoadBalancer
 * address (in the Service's namespace, aimed at the BGPPeers of every node for `Cluster`, of the
 * nodes with a ready endpoint for `Local`). The agent side (`actors/agent_bgp/`) does the rest.
 * @module
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import { type InformerEvent, type KubeClient, type KubeObject, Resources } from "../kube/mod.ts";
import type { BGPAdvertisementObject, BGPPeerObject } from "../agent_bgp/desired.ts";
import type { SimEndpointSlice, SimService } from "./endpoints.ts";
import { SERVICE_NAME_LABEL } from "./endpoints.ts";
import type { NodePlan, SimPlan } from "./plan.ts";
import { ingressAddresses } from "./service_path.ts";

/** Label marking the stand-in's advertisements. */
export const ADVERTISER_LABEL = "tern.dev/sim-advertiser";
/** Namespace of pod block advertisements. */
export const SYSTEM_NAMESPACE = "tern-system";

/** A desired advertisement: namespace, name, cidr, type, target peers. */
export interface DesiredAd {
  namespace: string;
  name: string;
  cidr: string;
  type: "pod" | "service";
  peers: string[];
}

/** The advertisements the controller would want. Pure. */
export function desiredAdvertisements(
  plan: SimPlan,
  podPrefixes: (n: NodePlan) => string[],
  peers: BGPPeerObject[],
  services: SimService[],
  slices: SimEndpointSlice[],
): DesiredAd[] {
  // A BGPPeer's session carries the family of its address: a prefix goes to those of its family.
  const peersOf = (node: string, cidr: string) =>
    peers.filter((p) => p.spec.node === node && p.spec.addr.includes(":") === cidr.includes(":"))
      .map((p) => p.metadata.name!).sort();
  const out: DesiredAd[] = [];
  for (const n of plan.nodes) {
    for (const cidr of podPrefixes(n)) {
      out.push({
        namespace: SYSTEM_NAMESPACE,
        name: `pod-${cidr.replace(/[.:/]/g, "-")}`,
        cidr,
        type: "pod",
        peers: peersOf(n.name, cidr),
      });
    }
  }
  for (const svc of services) {
    if (svc.spec?.type !== "LoadBalancer") continue;
    let nodes = plan.nodes.map((n) => n.name);
    if (svc.spec.externalTrafficPolicy === "Local") {
      const withEndpoints = new Set<string>();
      for (const s of slices) {
        if (
          s.metadata.namespace !== svc.metadata.namespace ||
          s.metadata.labels?.[SERVICE_NAME_LABEL] !== svc.metadata.name
        ) continue;
        for (const e of s.endpoints) {
          if (e.conditions.ready && e.nodeName) withEndpoints.add(e.nodeName);
        }
      }
      nodes = nodes.filter((n) => withEndpoints.has(n));
    }
    for (const ip of ingressAddresses(svc)) {
      const cidr = `${ip}/${ip.includes(":") ? 128 : 32}`;
      out.push({
        namespace: svc.metadata.namespace ?? "default",
        name: `lb-${svc.metadata.name}-${ip.replace(/[.:]/g, "-")}`,
        cidr,
        type: "service",
        peers: nodes.flatMap((n) => peersOf(n, cidr)).sort(),
      });
    }
  }
  return out;
}

/** Messages of the advertiser. */
export type AdvertiserMsg =
  | { type: "services"; event: InformerEvent<SimService> }
  | { type: "slices"; event: InformerEvent<SimEndpointSlice> }
  | { type: "blocks"; event: InformerEvent<KubeObject> }
  | { type: "flush" };

/** Pod AddressBlocks by node name (what each node's pod advertisements cover). */
export function blocksByNode(blocks: KubeObject[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const b of blocks) {
    const spec = b.spec as { cidr?: string; node?: string; type?: string } | undefined;
    if (spec?.type !== "pod" || !spec.node || !spec.cidr || b.metadata.deletionTimestamp) continue;
    out.set(spec.node, [...(out.get(spec.node) ?? []), spec.cidr].sort());
  }
  return out;
}

/** Defines the advertiser actor. */
export function advertiser(plan: SimPlan, client: KubeClient): ActorDef<AdvertiserMsg> {
  return actor<AdvertiserMsg>("advertiser", (ctx) => {
    const services = new Map<string, SimService>();
    const slices = new Map<string, SimEndpointSlice>();
    const blocks = new Map<string, KubeObject>();
    const synced = new Set<string>();
    let writes = 0;
    const track = <T extends KubeObject>(m: Map<string, T>, ev: InformerEvent<T>) => {
      const k = (o: T) => `${o.metadata.namespace}/${o.metadata.name}`;
      if (ev.type === "synced") {
        m.clear();
        for (const o of ev.objects) m.set(k(o), o);
      } else if (ev.type === "deleted") m.delete(k(ev.object));
      else m.set(k(ev.object), ev.object);
    };
    ctx.timers.every("resync", 10_000, { type: "flush" });
    return {
      async receive(msg) {
        if (msg.type === "services") track(services, msg.event);
        else if (msg.type === "slices") track(slices, msg.event);
        else if (msg.type === "blocks") track(blocks, msg.event);
        if (msg.type !== "flush") {
          if (msg.event.type === "synced") synced.add(msg.type);
          ctx.timers.once("flush", 50, { type: "flush" });
          return;
        }
        if (synced.size < 3) return;
        const byNode = blocksByNode([...blocks.values()]);
        const podPrefixes = (n: NodePlan) => byNode.get(n.name) ?? [];
        const peers = (await client.listAll<BGPPeerObject>(Resources.bgpPeers)).items;
        const want = desiredAdvertisements(plan, podPrefixes, peers, [...services.values()], [
          ...slices.values(),
        ]);
        const have = (await client.listAll<BGPAdvertisementObject>(Resources.bgpAdvertisements, {
          labelSelector: ADVERTISER_LABEL,
        })).items;
        const haveByKey = new Map(
          have.map((a) => [`${a.metadata.namespace}/${a.metadata.name}`, a]),
        );
        for (const d of want) {
          const cur = haveByKey.get(`${d.namespace}/${d.name}`);
          haveByKey.delete(`${d.namespace}/${d.name}`);
          const spec = {
            cidr: d.cidr,
            type: d.type,
            family: "ipv4",
            peers: d.peers,
          };
          try {
            if (!cur) {
              await client.create(Resources.bgpAdvertisements, {
                apiVersion: "tern.dev/v1alpha1",
                kind: "BGPAdvertisement",
                metadata: {
                  name: d.name,
                  namespace: d.namespace,
                  labels: { [ADVERTISER_LABEL]: "true" },
                },
                spec,
              });
              writes++;
            } else if (JSON.stringify(cur.spec.peers ?? []) !== JSON.stringify(d.peers)) {
              await client.mergePatch(Resources.bgpAdvertisements, d.name, {
                spec: { peers: d.peers },
              }, {
                namespace: d.namespace,
              });
              writes++;
            }
          } catch (e) {
            ctx.log.warn("advertisement write failed", { name: d.name, error: String(e) });
            ctx.timers.once("flush", 1_000, { type: "flush" });
          }
        }
        for (const stale of haveByKey.values()) {
          await client.delete(Resources.bgpAdvertisements, stale.metadata.name!, {
            namespace: stale.metadata.namespace,
          }).catch(() => {});
          writes++;
        }
      },
      inspect: () => ({ services: services.size, writes }),
    };
  });
}
