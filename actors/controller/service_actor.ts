/**
 * One actor per LoadBalancer Service: shows the addresses the allocator gave it in
 * `status.loadBalancer.ingress` with a condition, records Events when they change or when the
 * request cannot be served, and declares the Service's advertisements. The allocation itself
 * happens in the services actor (one allocator, serialised); this actor does the Service's I/O,
 * so writes for different Services run side by side.
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import { Resources } from "../kube/mod.ts";
import { type DesiredAd, serviceAds } from "./advertisement_plan.ts";
import type { Api } from "./api.ts";
import { isNotFound } from "./api.ts";
import { conditionTime, sameConditions, setCondition } from "./conditions.ts";
import { type EventSink, recordEvent, subjectOf } from "./event_recorder.ts";
import { ingressOf, type Service, showsAddresses } from "./service_view.ts";

/** Condition type tern sets on the Services it handles. */
export const SERVICE_CONDITION = "tern.dev/AddressAssigned";

/** What the allocator decided for a Service. */
export type Outcome =
  | {
    kind: "assigned";
    addresses: { ip: string; pool?: string; aggregationLength?: number }[];
    /** Families wanted but not served (PreferDualStack). */
    missing: { reason: string; message: string }[];
  }
  | {
    kind: "failed";
    reason: string;
    message: string;
    /** What the Service keeps holding (unchanged by the failure). */
    addresses: { ip: string; pool?: string; aggregationLength?: number }[];
  }
  | { kind: "unmanaged"; released: string[] };

/** Messages of a Service actor. */
export type ServiceMsg =
  | { type: "apply"; svc: Service; outcome: Outcome; readyNodes: readonly string[] | undefined }
  | { type: "gone" }
  | { type: "resend_ads" }
  | { type: "retry" };

/** Where a Service actor sends things. */
export interface ServiceActorDeps {
  api: Api;
  events?: EventSink;
  /** Declares the Service's advertisements (owner key, ads). */
  advertise: (owner: string, ads: DesiredAd[]) => void;
  /** Peer groups of the Service (parsed from its annotation). */
  groupsOf: (svc: Service) => string[] | undefined;
}

/** Defines the actor of one Service. */
export function serviceActor(key: string, deps: ServiceActorDeps): ActorDef<ServiceMsg> {
  return actor<ServiceMsg>("lb-service", (ctx) => {
    const owner = `svc/${key}`;
    let last:
      | { svc: Service; outcome: Outcome; readyNodes: readonly string[] | undefined }
      | undefined;
    let reported = ""; // the outcome last told as an Event
    let ads: DesiredAd[] = [];
    let failures = 0;
    let writes = 0;

    const subject = (svc: Service) => subjectOf("Service", "v1", svc);

    const apply = async () => {
      if (!last) return;
      const { svc, outcome, readyNodes } = last;
      const name = svc.metadata.name!, namespace = svc.metadata.namespace!;
      const now = conditionTime(ctx.clock.now());
      if (outcome.kind === "unmanaged") {
        const shown = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "");
        const ours = shown.length > 0 && shown.every((ip) => outcome.released.includes(ip));
        const conds = (svc.status?.conditions ?? []).filter((c) => c.type !== SERVICE_CONDITION);
        const hadCond = (svc.status?.conditions ?? []).length !== conds.length;
        if (ours || hadCond) {
          const status: Record<string, unknown> = { conditions: conds };
          if (ours) status.loadBalancer = { ingress: null };
          await patchStatus(name, namespace, status);
        }
        if (outcome.released.length > 0) {
          recordEvent(deps.events, {
            subject: subject(svc),
            type: "Normal",
            reason: "IPReleased",
            message: `Released ${outcome.released.join(", ")}`,
          });
        }
        declare([]);
        return;
      }
      const addresses = outcome.addresses.map((a) => a.ip);
      const condition = outcome.kind === "assigned"
        ? {
          type: SERVICE_CONDITION,
          status: "True" as const,
          reason: outcome.missing.length > 0 ? "PartiallyAssigned" : "Assigned",
          message: outcome.missing.length > 0
            ? `Assigned ${addresses.join(", ")}; ${
              outcome.missing.map((m) => m.message).join("; ")
            }`
            : `Assigned ${addresses.join(", ")}`,
        }
        : {
          type: SERVICE_CONDITION,
          status: "False" as const,
          reason: outcome.reason,
          message: outcome.message,
        };
      const conds = setCondition(svc.status?.conditions, condition, now);
      if (!showsAddresses(svc, addresses) || !sameConditions(svc.status?.conditions, conds)) {
        await patchStatus(name, namespace, {
          loadBalancer: { ingress: addresses.length > 0 ? ingressOf(addresses) : null },
          conditions: conds,
        });
      }
      const summary = `${condition.reason}|${condition.message}`;
      if (summary !== reported) {
        reported = summary;
        if (outcome.kind === "assigned") {
          recordEvent(deps.events, {
            subject: subject(svc),
            type: "Normal",
            reason: "IPAllocated",
            message: `Assigned IP ${JSON.stringify(addresses)}`,
          });
          for (const m of outcome.missing) {
            recordEvent(deps.events, {
              subject: subject(svc),
              type: "Warning",
              reason: m.reason,
              message: m.message,
            });
          }
        } else {
          recordEvent(deps.events, {
            subject: subject(svc),
            type: "Warning",
            reason: outcome.reason,
            message: outcome.message,
          });
        }
      }
      const local = svc.spec?.externalTrafficPolicy === "Local";
      const groups = deps.groupsOf(svc);
      declare(serviceAds(
        { namespace, name, uid: svc.metadata.uid ?? "" },
        outcome.addresses,
        { nodes: local ? (readyNodes ?? []) : "all", ...(groups ? { groups } : {}) },
      ));
    };

    const declare = (next: DesiredAd[]) => {
      ads = next;
      deps.advertise(owner, next);
    };

    const patchStatus = async (name: string, namespace: string, status: unknown) => {
      try {
        await deps.api.patch(Resources.services, name, { status }, { namespace, status: true });
        writes++;
      } catch (e) {
        if (isNotFound(e)) return; // deleted meanwhile: the services actor will tell us
        throw e;
      }
    };

    const attempt = async () => {
      try {
        await apply();
        failures = 0;
      } catch (e) {
        failures++;
        ctx.log.warn("service update failed, retrying", { service: key, error: String(e) });
        ctx.timers.once("retry", Math.min(10_000, 100 * 2 ** failures), { type: "retry" });
      }
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "apply":
            last = { svc: msg.svc, outcome: msg.outcome, readyNodes: msg.readyNodes };
            await attempt();
            return;
          case "retry":
            await attempt();
            return;
          case "resend_ads":
            deps.advertise(owner, ads);
            return;
          case "gone":
            declare([]);
            ctx.stop();
            return;
        }
      },
      inspect: () => ({
        service: key,
        outcome: last?.outcome.kind,
        addresses: last && last.outcome.kind !== "unmanaged"
          ? last.outcome.addresses.map((a) => a.ip)
          : [],
        ads: ads.map((a) => a.cidr),
        writes,
        failures,
      }),
    };
  });
}
