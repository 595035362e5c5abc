/**
 * The bgp actor: runs one {@link clusterBGPActor} per ClusterBGP, feeds them the nodes and
 * templates, merges their plans (oldest ClusterBGP first) and makes the NodeBGPs and BGPPeers
 * in the cluster match: created, updated and removed as nodes, labels and specs change. It
 * only touches objects it made (label `app.kubernetes.io/managed-by: tern-controller`);
 * nothing is removed before every informer has synced and every ClusterBGP has planned. A
 * NodeBGP carries a finalizer that is lifted once none of its BGPPeers is left.
 */
import {
  actor,
  type ActorDef,
  type ActorRef,
  type SupervisorHandle,
  supervisorHandle,
} from "../../runtime/mod.ts";
import type { BGPPeer } from "../crds/bgp_peer.ts";
import type { BGPPeerTemplate } from "../crds/bgp_peer_template.ts";
import type { ClusterBGP } from "../crds/cluster_bgp.ts";
import { API_VERSION, FINALIZER_NODE_BGP, LABEL_CLUSTER_BGP, LABEL_NODE } from "../crds/names.ts";
import type { NodeBGP } from "../crds/node_bgp.ts";
import { type InformerEvent, type KubeObject, Resources } from "../kube/mod.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "./advertisement_plan.ts";
import { startChild } from "./children.ts";
import { type Api, isAlreadyExists, isNotFound } from "./api.ts";
import {
  ANNOTATION_DUPLICATE_OF,
  type ClusterPlan,
  duplicatePeers,
  mergePlans,
  type NodeInfo,
  nodeInfoOf,
  type NodePlan,
} from "./bgp_plan.ts";
import { clusterBGPActor, type ClusterBGPMsg } from "./cluster_bgp_actor.ts";
import { type EventSink, recordEvent, subjectOf } from "./event_recorder.ts";

/** Messages of the bgp actor. */
export type BgpMsg =
  | { type: "node"; ev: InformerEvent<KubeObject> }
  | { type: "cbgp"; ev: InformerEvent<ClusterBGP> }
  | { type: "tmpl"; ev: InformerEvent<BGPPeerTemplate> }
  | { type: "nodebgp"; ev: InformerEvent<NodeBGP> }
  | { type: "peer"; ev: InformerEvent<BGPPeer> }
  | { type: "plan"; seq: number; plan: ClusterPlan }
  | { type: "reconcile" }
  | { type: "broadcast" };

/** Options of {@link bgpActor}. */
export interface BgpOptions {
  api: Api;
  childrenPath: string;
  events?: () => EventSink | undefined;
  onReady?: (ready: boolean) => void;
}

const INFORMERS = ["node", "cbgp", "tmpl", "nodebgp", "peer"] as const;

/** True when `actual` has every field of `desired` with the same value (recursively). */
export function covers(actual: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length &&
      desired.every((d, i) => covers(actual[i], d));
  }
  if (desired && typeof desired === "object") {
    if (!actual || typeof actual !== "object") return false;
    return Object.entries(desired).every(([k, v]) =>
      covers((actual as Record<string, unknown>)[k], v)
    );
  }
  return actual === desired;
}

function sameSpec(actual: unknown, desired: Record<string, unknown>): boolean {
  if (!covers(actual, desired)) return false;
  return Object.keys((actual ?? {}) as object).every((k) => k in desired);
}

const managed = (o: KubeObject) => o.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY;

/** Defines the bgp actor. */
export function bgpActor(options: BgpOptions): ActorDef<BgpMsg> {
  return actor<BgpMsg>("bgp", (ctx) => {
    const { api } = options;
    const nodes = new Map<string, NodeInfo>();
    const cbgps = new Map<string, ClusterBGP>();
    const templates = new Map<string, BGPPeerTemplate>();
    const nodeBGPs = new Map<string, NodeBGP>();
    const peers = new Map<string, BGPPeer>();
    const synced = new Set<string>();
    const children = new Map<string, ActorRef<ClusterBGPMsg>>();
    const plans = new Map<string, { seq: number; plan: ClusterPlan }>();
    let seq = 0;
    let ready = false;
    let handle: SupervisorHandle | undefined;
    let writes = 0, passes = 0;
    /** Duplicates reported: `<name>|<uid>|<kept>`. */
    const reportedDuplicates = new Set<string>();

    const sup = () => {
      if (!handle) {
        const ref = ctx.lookup(options.childrenPath);
        if (!ref) throw new Error(`no supervisor at ${options.childrenPath}`);
        handle = supervisorHandle(ref);
      }
      return handle;
    };

    const broadcast = async () => {
      seq++;
      const nodeList = [...nodes.values()];
      for (const [name, cbgp] of cbgps) {
        let ref = children.get(name);
        if (!ref) {
          ref = await startChild<ClusterBGPMsg>(sup(), {
            id: `clusterbgp:${name}`,
            def: clusterBGPActor(name, {
              api,
              events: () => options.events?.(),
              plan: (s, plan) => ctx.self.tell({ type: "plan", seq: s, plan }),
            }),
            restart: "transient",
          });
          children.set(name, ref);
        }
        ref.tell({ type: "inputs", seq, cbgp, nodes: nodeList, templates: new Map(templates) });
      }
      for (const name of [...children.keys()]) {
        if (cbgps.has(name)) continue;
        children.delete(name);
        plans.delete(name);
        await sup().terminateChild(`clusterbgp:${name}`).catch(() => {});
      }
      if (cbgps.size === 0) schedule();
    };

    const schedule = () => {
      if (!ctx.timers.has("reconcile")) ctx.timers.once("reconcile", 50, { type: "reconcile" });
    };

    const nodeBGPBody = (n: NodePlan & { clusterBGPs: string[] }): NodeBGP => {
      const info = nodes.get(n.node);
      const spec: NodeBGP["spec"] = {
        asn: n.asn,
        routerId: n.routerId,
        peers: n.peers.map((p) => ({
          name: p.name,
          asn: p.spec.asn,
          addr: p.spec.addr,
          clusterBGP: p.clusterBGP,
        })),
      };
      if (n.speaker) spec.speaker = n.speaker;
      return {
        apiVersion: API_VERSION,
        kind: "NodeBGP",
        metadata: {
          name: n.node,
          labels: { ...(info?.labels ?? {}), [LABEL_MANAGED_BY]: MANAGED_BY },
          finalizers: [FINALIZER_NODE_BGP],
          ...(info?.uid
            ? {
              ownerReferences: [{
                apiVersion: "v1",
                kind: "Node",
                name: n.node,
                uid: info.uid,
                blockOwnerDeletion: false,
              }],
            }
            : {}),
        },
        spec,
      };
    };

    const reconcile = async () => {
      if (!ready) return;
      for (const name of cbgps.keys()) {
        if (plans.get(name)?.seq !== seq) return; // a plan is still coming
      }
      passes++;
      const order = [...cbgps.values()].sort((a, b) => {
        const ta = a.metadata.creationTimestamp ?? "", tb = b.metadata.creationTimestamp ?? "";
        return ta < tb ? -1 : ta > tb ? 1 : a.metadata.name < b.metadata.name ? -1 : 1;
      });
      const merged = mergePlans(order.map((c) => plans.get(c.metadata.name)!.plan));
      const ops: Promise<void>[] = [];
      const run = (op: () => Promise<void>) =>
        ops.push(
          op().then(() => {
            writes++;
          }),
        );
      // Per node: its NodeBGP first (peers name it as owner), then its peers; nodes in parallel.
      const nodeOps = new Map<string, () => Promise<void>>();
      const peerOps = new Map<string, (() => Promise<void>)[]>();
      for (const [name, n] of merged.nodes) {
        const body = nodeBGPBody(n);
        const cur = nodeBGPs.get(name);
        if (!cur) {
          nodeOps.set(name, async () => {
            try {
              nodeBGPs.set(
                name,
                await api.create(
                  Resources.nodeBGPs,
                  body as unknown as KubeObject,
                ) as unknown as NodeBGP,
              );
            } catch (e) {
              if (!isAlreadyExists(e)) throw e;
            }
          });
        } else if (cur.metadata.deletionTimestamp) continue;
        else if (
          !sameSpec(cur.spec, body.spec as unknown as Record<string, unknown>) ||
          !covers(cur.metadata.labels ?? {}, body.metadata.labels) ||
          !(cur.metadata.finalizers ?? []).includes(FINALIZER_NODE_BGP)
        ) {
          nodeOps.set(name, async () => {
            const fins = [...new Set([...(cur.metadata.finalizers ?? []), FINALIZER_NODE_BGP])];
            nodeBGPs.set(
              name,
              await api.replace(Resources.nodeBGPs, {
                ...cur,
                metadata: { ...cur.metadata, labels: body.metadata.labels, finalizers: fins },
                spec: body.spec,
              } as unknown as KubeObject) as unknown as NodeBGP,
            );
          });
        }
      }
      for (const [name, p] of merged.peers) {
        const cur = peers.get(name);
        const labels = {
          [LABEL_NODE]: p.node,
          [LABEL_CLUSTER_BGP]: p.clusterBGP,
          [LABEL_MANAGED_BY]: MANAGED_BY,
        };
        let list = peerOps.get(p.node);
        if (!list) peerOps.set(p.node, list = []);
        if (!cur) {
          const body = (owner: NodeBGP | undefined): BGPPeer => ({
            apiVersion: API_VERSION,
            kind: "BGPPeer",
            metadata: {
              name,
              labels,
              ...(owner?.metadata.uid
                ? {
                  ownerReferences: [{
                    apiVersion: API_VERSION,
                    kind: "NodeBGP",
                    name: p.node,
                    uid: owner.metadata.uid,
                    blockOwnerDeletion: false,
                  }],
                }
                : {}),
            },
            spec: p.spec,
          });
          list.push(async () => {
            try {
              peers.set(
                name,
                await api.create(
                  Resources.bgpPeers,
                  body(nodeBGPs.get(p.node)) as unknown as KubeObject,
                ) as unknown as BGPPeer,
              );
            } catch (e) {
              if (!isAlreadyExists(e)) throw e;
            }
          });
        } else if (
          !cur.metadata.deletionTimestamp &&
          !sameSpec(cur.spec, p.spec as unknown as Record<string, unknown>)
        ) {
          list.push(async () => {
            peers.set(
              name,
              await api.replace(Resources.bgpPeers, {
                ...cur,
                spec: p.spec,
              } as unknown as KubeObject) as unknown as BGPPeer,
            );
          });
        }
      }
      for (const node of new Set([...nodeOps.keys(), ...peerOps.keys()])) {
        const nodeOp = nodeOps.get(node);
        const list = peerOps.get(node) ?? [];
        if (!nodeOp && list.length === 0) continue;
        run(async () => {
          await nodeOp?.();
          const results = await Promise.allSettled(list.map((f) => f()));
          const bad = results.find((r) => r.status === "rejected");
          if (bad) throw (bad as PromiseRejectedResult).reason;
        });
      }
      for (const [name, cur] of peers) {
        if (merged.peers.has(name) || !managed(cur) || cur.metadata.deletionTimestamp) continue;
        run(async () => {
          await api.delete(Resources.bgpPeers, name);
          peers.delete(name);
        });
      }
      markDuplicates(new Set(merged.peers.keys()), run);
      await settle(ops);
      for (const [name, cur] of nodeBGPs) {
        if (merged.nodes.has(name) || !managed(cur)) continue;
        if (!cur.metadata.deletionTimestamp) {
          run(async () => {
            await api.delete(Resources.nodeBGPs, name);
          });
          continue;
        }
        const fins = cur.metadata.finalizers ?? [];
        if (!fins.includes(FINALIZER_NODE_BGP)) continue;
        const left = [...peers.values()].some((p) => p.spec.node === name);
        if (left) continue;
        run(async () => {
          try {
            await api.patch(Resources.nodeBGPs, name, {
              metadata: { finalizers: fins.filter((f) => f !== FINALIZER_NODE_BGP) },
            });
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
        });
      }
      const failed = await settle(ops);
      for (const [name, ref] of children) {
        const nodesDone = [...merged.nodes.values()]
          .filter((n) => n.clusterBGPs.includes(name)).map((n) => n.node);
        ref.tell({ type: "merged", conflicts: merged.conflicts.get(name) ?? [], nodes: nodesDone });
      }
      if (failed > 0) {
        ctx.log.warn("some NodeBGP/BGPPeer writes failed, retrying", { failed });
        ctx.timers.once("reconcile", 1000, { type: "reconcile" });
      }
    };

    /**
     * A BGPPeer with the same node, ASN and address as another (made by hand: tern has no
     * admission webhook) is left alone but marked with an annotation naming the peer kept, and
     * reported once with a Warning Event; the kept one is not touched. The mark goes when the
     * duplicate stops being one.
     */
    const markDuplicates = (planned: Set<string>, run: (op: () => Promise<void>) => void) => {
      const dups = duplicatePeers(
        [...peers.values()].map((p) => ({
          name: p.metadata.name!,
          node: p.spec.node,
          asn: p.spec.asn,
          addr: p.spec.addr,
          ...(p.metadata.creationTimestamp
            ? { creationTimestamp: p.metadata.creationTimestamp }
            : {}),
          deleting: !!p.metadata.deletionTimestamp,
        })),
        planned,
      );
      for (const [name, cur] of peers) {
        const kept = dups.get(name);
        const mark = cur.metadata.annotations?.[ANNOTATION_DUPLICATE_OF];
        if (kept === undefined) {
          if (mark !== undefined && !cur.metadata.deletionTimestamp) {
            run(async () => {
              await api.patch(Resources.bgpPeers, name, {
                metadata: { annotations: { [ANNOTATION_DUPLICATE_OF]: null } },
              }).catch((e) => {
                if (!isNotFound(e)) throw e;
              });
            });
          }
          continue;
        }
        const key = `${name}|${cur.metadata.uid ?? ""}|${kept}`;
        if (!reportedDuplicates.has(key)) {
          reportedDuplicates.add(key);
          ctx.log.warn("duplicate BGPPeer", { peer: name, keeps: kept });
          recordEvent(options.events?.(), {
            subject: subjectOf("BGPPeer", API_VERSION, cur as unknown as KubeObject),
            type: "Warning",
            reason: "DuplicatePeer",
            message: `BGPPeer ${name} has the node, ASN and address of BGPPeer ${kept} ` +
              `(${cur.spec.node}, AS ${cur.spec.asn}, ${cur.spec.addr}): ${kept} is kept`,
          });
        }
        if (mark !== kept) {
          run(async () => {
            await api.patch(Resources.bgpPeers, name, {
              metadata: { annotations: { [ANNOTATION_DUPLICATE_OF]: kept } },
            }).catch((e) => {
              if (!isNotFound(e)) throw e;
            });
          });
        }
      }
    };

    const settle = async (ops: Promise<void>[]) => {
      const results = await Promise.allSettled(ops.splice(0));
      let failed = 0;
      for (const r of results) {
        if (r.status === "rejected") {
          failed++;
          ctx.log.debug("write failed", { error: String(r.reason) });
        }
      }
      return failed;
    };

    const apply = <T extends KubeObject>(map: Map<string, T>, ev: InformerEvent<T>) => {
      if (ev.type === "synced") {
        map.clear();
        for (const o of ev.objects) map.set(o.metadata.name!, o);
        return;
      }
      if (ev.type === "deleted") map.delete(ev.object.metadata.name!);
      else map.set(ev.object.metadata.name!, ev.object);
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "plan":
            if (!cbgps.has(msg.plan.clusterBGP)) return;
            plans.set(msg.plan.clusterBGP, { seq: msg.seq, plan: msg.plan });
            schedule();
            return;
          case "reconcile":
            await reconcile();
            return;
          case "broadcast":
            await broadcast();
            return;
          case "nodebgp":
            apply(nodeBGPs, msg.ev);
            break;
          case "peer":
            apply(peers, msg.ev);
            break;
          case "tmpl":
            apply(templates, msg.ev);
            break;
          case "cbgp":
            apply(cbgps, msg.ev);
            break;
          case "node": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              nodes.clear();
              for (const o of ev.objects) nodes.set(o.metadata.name!, nodeInfoOf(o));
            } else if (ev.type === "deleted") nodes.delete(ev.object.metadata.name!);
            else {
              const before = nodes.get(ev.object.metadata.name!);
              const info = nodeInfoOf(ev.object);
              nodes.set(info.name, info);
              if (before && JSON.stringify(before) === JSON.stringify(info)) return;
            }
            break;
          }
        }
        if (msg.ev.type === "synced") synced.add(msg.type);
        if (!ready) {
          if (!INFORMERS.every((i) => synced.has(i))) return;
          ready = true;
          options.onReady?.(true);
          await broadcast();
          return;
        }
        if (msg.type === "nodebgp" || msg.type === "peer") schedule();
        else if (!ctx.timers.has("broadcast")) {
          // Coalesce bursts (a thousand nodes joining): every ClusterBGP plans once per burst.
          ctx.timers.once("broadcast", 50, { type: "broadcast" });
        }
      },
      stop() {
        options.onReady?.(false);
      },
      inspect: () => ({
        ready,
        synced: [...synced],
        nodes: nodes.size,
        clusterBGPs: cbgps.size,
        nodeBGPs: nodeBGPs.size,
        peers: peers.size,
        seq,
        passes,
        writes,
      }),
    };
  });
}
