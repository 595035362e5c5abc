/**
 * The simulated cluster's Service machinery, one actor: it writes EndpointSlices for Services
 * from their pods (standing in for kube-controller-manager) and programs every node's TEST
 * STAND-IN Service data path (nftables DNAT, see `service_path.ts`; standing in for kube-proxy).
 * Changes are batched: a burst of events is applied once, 50 ms after the first.
 * @module
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import { type InformerEvent, type KubeClient, type KubeObject, Resources } from "../kube/mod.ts";
import {
  desiredSlices,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  sameSlice,
  type SimEndpointSlice,
  type SimService,
} from "./endpoints.ts";
import { run } from "./exec.ts";
import type { SimPod } from "./node_sim.ts";
import { nodeRules, nodeRuleset } from "./service_path.ts";

/** Messages of the Service actor. */
export type ServiceSimMsg =
  | { type: "pods"; event: InformerEvent<SimPod> }
  | { type: "services"; event: InformerEvent<SimService> }
  | { type: "slices"; event: InformerEvent<SimEndpointSlice> }
  | { type: "flush" };

function track<T extends KubeObject>(map: Map<string, T>, ev: InformerEvent<T>): void {
  const key = (o: T) => `${o.metadata.namespace}/${o.metadata.name}`;
  if (ev.type === "synced") {
    map.clear();
    for (const o of ev.objects) map.set(key(o), o);
  } else if (ev.type === "deleted") map.delete(key(ev.object));
  else map.set(key(ev.object), ev.object);
}

/** Defines the Service actor for the given nodes (name → namespace). */
export function serviceSimulator(
  client: KubeClient,
  nodes: Array<{ name: string; ns: string }>,
): ActorDef<ServiceSimMsg> {
  return actor<ServiceSimMsg>("services", (ctx) => {
    const pods = new Map<string, SimPod>();
    const services = new Map<string, SimService>();
    const slices = new Map<string, SimEndpointSlice>();
    const synced = new Set<string>();
    const applied = new Map<string, string>(); // node → ruleset text
    let writes = 0;
    let nftApplies = 0;

    const schedule = () => ctx.timers.once("flush", 50, { type: "flush" });

    const flush = async () => {
      if (synced.size < 3) return;
      const podList = [...pods.values()];
      const desired = new Map<string, SimEndpointSlice>();
      for (const svc of services.values()) {
        for (const d of desiredSlices(svc, podList)) {
          desired.set(`${d.metadata.namespace}/${d.metadata.name}`, d);
        }
      }
      for (const [key, d] of desired) {
        const cur = slices.get(key);
        try {
          if (!cur) {
            slices.set(key, await client.create(Resources.endpointSlices, d));
            writes++;
          } else if (!sameSlice(cur, d)) {
            d.metadata.resourceVersion = cur.metadata.resourceVersion;
            slices.set(key, await client.replace(Resources.endpointSlices, d));
            writes++;
          }
        } catch (e) {
          ctx.log.warn("EndpointSlice write failed", { slice: key, error: String(e) });
          ctx.timers.once("flush", 1_000, { type: "flush" });
        }
      }
      for (const [key, cur] of slices) {
        if (cur.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY || desired.has(key)) continue;
        await client.delete(Resources.endpointSlices, cur.metadata.name!, {
          namespace: cur.metadata.namespace,
        })
          .catch(() => {});
        slices.delete(key);
        writes++;
      }
      const svcList = [...services.values()];
      const sliceList = [...desired.values()];
      for (const node of nodes) {
        const text = nodeRuleset(nodeRules(node.name, svcList, sliceList));
        if (applied.get(node.name) === text) continue;
        const r = await run(["nft", "-f", "-"], { ns: node.ns, stdin: text, check: false });
        if (r.code === 0) {
          applied.set(node.name, text);
          nftApplies++;
        } else {
          ctx.log.error("nft apply failed", { node: node.name, error: r.stderr.trim() });
          ctx.timers.once("flush", 1_000, { type: "flush" });
        }
      }
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "pods":
          case "services":
          case "slices": {
            const m = msg.type === "pods" ? pods : msg.type === "services" ? services : slices;
            track(m as Map<string, KubeObject>, msg.event as InformerEvent<KubeObject>);
            if (msg.event.type === "synced") synced.add(msg.type);
            schedule();
            return;
          }
          case "flush":
            await flush();
            return;
        }
      },
      inspect: () => ({
        services: services.size,
        slices: slices.size,
        sliceWrites: writes,
        nftApplies,
      }),
    };
  });
}
