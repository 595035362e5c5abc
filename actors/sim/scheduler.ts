/**
 * A minimal scheduler for the simulated cluster: binds each Pod without `spec.nodeName` to a
 * node: the one its `nodeSelector` names by `kubernetes.io/hostname` when it does, otherwise the
 * node with the fewest pods (ties by name). Pure choice plus a small actor.
 * @module
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import { type InformerEvent, type KubeClient, Resources } from "../kube/mod.ts";
import type { SimPod } from "./node_sim.ts";

/** The node a pod should go to, or undefined when none fits. Pure. */
export function chooseNode(
  pod: SimPod & { spec?: { nodeSelector?: Record<string, string> } },
  nodes: string[],
  podsPerNode: Map<string, number>,
): string | undefined {
  const wanted = pod.spec?.nodeSelector?.["kubernetes.io/hostname"];
  if (wanted !== undefined) return nodes.includes(wanted) ? wanted : undefined;
  let best: string | undefined;
  for (const n of [...nodes].sort()) {
    if (best === undefined || (podsPerNode.get(n) ?? 0) < (podsPerNode.get(best) ?? 0)) best = n;
  }
  return best;
}

/** Messages of the scheduler. */
export type SchedulerMsg = { type: "pods"; event: InformerEvent<SimPod> };

/** Defines the scheduler actor for the given node names. */
export function scheduler(client: KubeClient, nodes: string[]): ActorDef<SchedulerMsg> {
  return actor<SchedulerMsg>("scheduler", (ctx) => {
    const pods = new Map<string, SimPod>();
    let bound = 0;
    const count = () => {
      const m = new Map<string, number>();
      for (const p of pods.values()) {
        const n = p.spec?.nodeName;
        if (n) m.set(n, (m.get(n) ?? 0) + 1);
      }
      return m;
    };
    const bind = async (p: SimPod) => {
      if (p.spec?.nodeName || p.metadata.deletionTimestamp) return;
      const node = chooseNode(p, nodes, count());
      if (!node) return;
      try {
        const updated = await client.mergePatch<SimPod>(Resources.pods, p.metadata.name!, {
          spec: { nodeName: node },
        }, { namespace: p.metadata.namespace });
        pods.set(p.metadata.uid!, updated);
        bound++;
      } catch (e) {
        ctx.log.warn("bind failed", { pod: p.metadata.name, error: String(e) });
      }
    };
    return {
      async receive(msg) {
        const ev = msg.event;
        if (ev.type === "synced") {
          pods.clear();
          for (const p of ev.objects) pods.set(p.metadata.uid!, p);
          for (const p of ev.objects) await bind(p);
          return;
        }
        if (ev.type === "deleted") {
          pods.delete(ev.object.metadata.uid!);
          return;
        }
        pods.set(ev.object.metadata.uid!, ev.object);
        await bind(ev.object);
      },
      inspect: () => ({ nodes, bound }),
    };
  });
}
