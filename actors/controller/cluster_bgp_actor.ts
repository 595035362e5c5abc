/**
 * One actor per ClusterBGP: plans its NodeBGPs and BGPPeers from the nodes and templates it is
 * given (pure {@link planClusterBGP}), hands the plan to the bgp actor, and reports in the
 * ClusterBGP's status (desired nodes, nodes done, Ready condition naming any problem) with an
 * Event per new problem.
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import type { BGPPeerTemplate } from "../crds/bgp_peer_template.ts";
import type { ClusterBGP } from "../crds/cluster_bgp.ts";
import { API_VERSION, CONDITION } from "../crds/names.ts";
import { Resources } from "../kube/mod.ts";
import { type Api, isNotFound } from "./api.ts";
import { type ClusterPlan, type NodeInfo, planClusterBGP, type PlanProblem } from "./bgp_plan.ts";
import { type Condition, conditionTime, sameConditions, setCondition } from "./conditions.ts";
import { type EventSink, recordEvent, subjectOf } from "./event_recorder.ts";

/** Messages of a ClusterBGP actor. */
export type ClusterBGPMsg =
  | {
    type: "inputs";
    seq: number;
    cbgp: ClusterBGP;
    nodes: readonly NodeInfo[];
    templates: ReadonlyMap<string, BGPPeerTemplate>;
  }
  | { type: "merged"; conflicts: PlanProblem[]; nodes: string[] }
  | { type: "status" };

/** Dependencies of a ClusterBGP actor. */
export interface ClusterBGPDeps {
  api: Api;
  events?: () => EventSink | undefined;
  /** Hands a plan to the bgp actor. */
  plan: (seq: number, plan: ClusterPlan) => void;
}

/** Defines the actor of one ClusterBGP. */
export function clusterBGPActor(name: string, deps: ClusterBGPDeps): ActorDef<ClusterBGPMsg> {
  return actor<ClusterBGPMsg>("cluster-bgp", (ctx) => {
    let cbgp: ClusterBGP | undefined;
    let plan: ClusterPlan | undefined;
    let conflicts: PlanProblem[] = [];
    let doneNodes: string[] = [];
    const reported = new Set<string>();

    const writeStatus = async () => {
      if (!cbgp || !plan) return;
      const problems = [...plan.problems, ...conflicts];
      const now = conditionTime(ctx.clock.now());
      const gen = cbgp.metadata.generation;
      const conds = setCondition(cbgp.status?.conditions as Condition[], {
        type: CONDITION.Ready,
        status: problems.length === 0 ? "True" : "False",
        reason: problems.length === 0 ? "Configured" : problems[0]!.reason,
        message: problems.length === 0
          ? `${doneNodes.length} node(s) configured`
          : problems.map((p) => p.message).join("; ").slice(0, 4000),
        ...(gen !== undefined ? { observedGeneration: gen } : {}),
      }, now);
      for (const p of problems) {
        const k = `${p.reason}|${p.message}`;
        if (reported.has(k)) continue;
        reported.add(k);
        recordEvent(deps.events?.(), {
          subject: subjectOf("ClusterBGP", API_VERSION, cbgp),
          type: "Warning",
          reason: p.reason,
          message: p.message,
        });
      }
      const status = {
        ...(gen !== undefined ? { observedGeneration: gen } : {}),
        desiredNodes: plan.desiredNodes,
        nodes: doneNodes,
        conditions: conds,
      };
      const cur = cbgp.status ?? {};
      if (
        cur.desiredNodes === status.desiredNodes &&
        JSON.stringify(cur.nodes ?? []) === JSON.stringify(status.nodes) &&
        sameConditions(cur.conditions as Condition[], conds) &&
        cur.observedGeneration === status.observedGeneration
      ) return;
      try {
        cbgp = await deps.api.patch<ClusterBGP>(Resources.clusterBGPs, name, { status }, {
          status: true,
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "inputs":
            cbgp = msg.cbgp;
            plan = planClusterBGP(msg.cbgp, msg.nodes, msg.templates);
            deps.plan(msg.seq, plan);
            return;
          case "merged":
            conflicts = msg.conflicts;
            doneNodes = msg.nodes;
            if (!ctx.timers.has("status")) ctx.timers.once("status", 100, { type: "status" });
            return;
          case "status":
            try {
              await writeStatus();
            } catch (e) {
              ctx.log.warn("ClusterBGP status write failed", { error: String(e) });
              ctx.timers.once("status", 1000, { type: "status" });
            }
            return;
        }
      },
      inspect: () => ({
        clusterBGP: name,
        desiredNodes: plan?.desiredNodes,
        nodes: plan?.nodes.length,
        problems: [...(plan?.problems ?? []), ...conflicts].length,
      }),
    };
  });
}
