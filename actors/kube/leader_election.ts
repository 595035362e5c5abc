/**
 * Leader election over a `coordination.k8s.io/v1` Lease, as client-go does it: a candidate takes
 * the lease when it is free or when its holder has not renewed it for `leaseDuration` (measured
 * on the candidate's own clock from when it last saw the lease change, so clock skew between
 * nodes does not matter); the leader renews every `retryPeriod` and stops acting at once when it
 * could not renew for `renewDeadline`. Writes use optimistic concurrency, so two candidates never
 * both win.
 *
 * `decideLease` is the pure decision; `leaderElector` is the actor doing the I/O.
 */
import { actor, type ActorDef, type ReplyTo } from "../../runtime/mod.ts";
import { KubeApiError, type KubeClient } from "./kube_client.ts";
import type { KubeObject } from "./objects.ts";
import { Resources } from "./resources.ts";

/** A Lease object. */
export interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** What a candidate last saw of the lease, on its own clock. */
export interface LeaseObservation {
  holder: string;
  renewTime: string;
  /** Local time when this (holder, renewTime) was first seen. */
  seenAt: number;
}

/** The decision for one attempt. */
export type LeaseDecision =
  | { kind: "create"; spec: Lease["spec"] }
  | { kind: "renew"; spec: Lease["spec"] }
  | { kind: "takeover"; spec: Lease["spec"] }
  | { kind: "follow"; holder: string; expiresInMs: number };

/** MicroTime as the API writes it. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Decides what a candidate does with the lease it just read. */
export function decideLease(
  lease: Lease | undefined,
  observed: LeaseObservation | undefined,
  identity: string,
  now: number,
  leaseDurationMs: number,
): LeaseDecision {
  const seconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
  const fresh = (transitions: number, acquired?: string): Lease["spec"] => ({
    holderIdentity: identity,
    leaseDurationSeconds: seconds,
    acquireTime: acquired ?? microTime(now),
    renewTime: microTime(now),
    leaseTransitions: transitions,
  });
  if (!lease) return { kind: "create", spec: fresh(0) };
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? "";
  const transitions = spec.leaseTransitions ?? 0;
  if (holder === identity) return { kind: "renew", spec: fresh(transitions, spec.acquireTime) };
  if (!holder) return { kind: "takeover", spec: fresh(transitions + 1) };
  const duration = (spec.leaseDurationSeconds ?? seconds) * 1000;
  const same = observed && observed.holder === holder && observed.renewTime === spec.renewTime;
  const seenAt = same ? observed.seenAt : now;
  const expiresInMs = seenAt + duration - now;
  if (expiresInMs <= 0) return { kind: "takeover", spec: fresh(transitions + 1) };
  return { kind: "follow", holder, expiresInMs };
}

/** Messages of the elector. */
export type ElectorMsg =
  | { type: "tick" }
  | { type: "status"; replyTo: ReplyTo<{ leading: boolean; holder: string }> };

/** Options of {@link leaderElector}. */
export interface ElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  /** Default 15,000 ms. */
  leaseDurationMs?: number;
  /** Default 10,000 ms. */
  renewDeadlineMs?: number;
  /** Default 2,000 ms. */
  retryPeriodMs?: number;
  /** Called when this candidate starts (true) or stops (false) leading. */
  onChange: (leading: boolean) => void;
}

/** The elector actor. */
export function leaderElector(options: ElectorOptions): ActorDef<ElectorMsg> {
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  return actor<ElectorMsg>("leader-elector", (ctx) => {
    const { client, namespace, name, identity } = options;
    let leading = false;
    let holder = "";
    let lastRenew = 0;
    let observed: LeaseObservation | undefined;
    let transitions = 0;
    const leaderGauge = ctx.metrics.gauge("tern_leader", "1 while this replica leads.");

    const setLeading = (value: boolean) => {
      if (value === leading) return;
      leading = value;
      leaderGauge.set(value ? 1 : 0, { lease: `${namespace}/${name}` });
      ctx.log.info(value ? "started leading" : "stopped leading", { lease: name, identity });
      options.onChange(value);
    };

    const attempt = async () => {
      const now = ctx.clock.now();
      const lease = await client.tryGet<Lease>(Resources.leases, name, namespace);
      if (lease) {
        const h = lease.spec?.holderIdentity ?? "";
        const r = lease.spec?.renewTime ?? "";
        if (!observed || observed.holder !== h || observed.renewTime !== r) {
          observed = { holder: h, renewTime: r, seenAt: now };
        }
        transitions = lease.spec?.leaseTransitions ?? 0;
      }
      const d = decideLease(lease, observed, identity, now, leaseDurationMs);
      if (d.kind === "follow") {
        holder = d.holder;
        setLeading(false);
        return;
      }
      const body: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: lease ? { ...lease.metadata } : { name, namespace },
        spec: d.spec,
      };
      try {
        if (d.kind === "create") await client.create(Resources.leases, body, namespace);
        else await client.replace(Resources.leases, body);
      } catch (e) {
        if (e instanceof KubeApiError && (e.isConflict || e.isAlreadyExists)) return; // lost race
        throw e;
      }
      holder = identity;
      lastRenew = ctx.clock.now();
      observed = { holder: identity, renewTime: d.spec.renewTime!, seenAt: lastRenew };
      setLeading(true);
    };

    ctx.timers.every("tick", retryPeriodMs, { type: "tick" });
    ctx.self.tell({ type: "tick" });

    return {
      async receive(msg) {
        if (msg.type === "status") {
          msg.replyTo.reply({ leading, holder });
          return;
        }
        try {
          await attempt();
        } catch (e) {
          ctx.log.warn("lease attempt failed", { error: String(e) });
        }
        if (leading && ctx.clock.now() - lastRenew > renewDeadlineMs) setLeading(false);
      },
      async stop() {
        if (!leading) return;
        setLeading(false);
        // Give the lease up so another replica takes over without waiting for it to expire.
        try {
          const lease = await client.tryGet<Lease>(Resources.leases, name, namespace);
          if (lease?.spec?.holderIdentity === identity) {
            await client.replace(Resources.leases, {
              ...lease,
              spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 },
            });
          }
        } catch (e) {
          ctx.log.warn("could not release the lease", { error: String(e) });
        }
      },
      inspect: () => ({ identity, leading, holder, lease: `${namespace}/${name}`, transitions }),
    };
  });
}
