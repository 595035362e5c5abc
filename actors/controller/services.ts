/**
 * The services actor: owns the LoadBalancer address allocator (one, so decisions are
 * serialised), feeds it from the Service, Namespace, AddressPool and EndpointSlice informers,
 * and runs one {@link serviceActor} per handled Service for the I/O.
 *
 * Restart safety: nothing is allocated before every informer has synced; then every address
 * the Services' statuses show is taken back (oldest Service first) before any Service is
 * assigned, so no address is given twice and no Service's address changes because of a
 * restart. A periodic check compares the allocator with the cluster and reports (and with
 * `repair`, fixes) leaked and double allocations.
 */
import {
  actor,
  type ActorDef,
  type ActorRef,
  type SupervisorHandle,
  supervisorHandle,
} from "../../runtime/mod.ts";
import type { AddressPool } from "../crds/address_pool.ts";
import {
  checkConsistency,
  IpAddress,
  IpamError,
  type Pool,
  ServiceAllocator,
  type ServiceRequest,
} from "../ipam/mod.ts";
import type { InformerEvent, KubeObject } from "../kube/mod.ts";
import type { DesiredAd } from "./advertisement_plan.ts";
import type { Api } from "./api.ts";
import { startChild } from "./children.ts";
import { type EventSink, recordEvent } from "./event_recorder.ts";
import { resolvePoolObjects } from "./pool_view.ts";
import { type Outcome, serviceActor, type ServiceMsg } from "./service_actor.ts";
import {
  type ClassPolicy,
  isManaged,
  type Service,
  serviceKey,
  servicePeerGroups,
  serviceRequest,
  statusAddresses,
} from "./service_view.ts";

/** An EndpointSlice (the fields used). */
export interface EndpointSlice extends KubeObject {
  endpoints?: { nodeName?: string; conditions?: { ready?: boolean; serving?: boolean } }[];
}

/** Messages of the services actor. */
export type ServicesMsg =
  | { type: "svc"; ev: InformerEvent<Service> }
  | { type: "ns"; ev: InformerEvent<KubeObject> }
  | { type: "pool"; ev: InformerEvent<AddressPool> }
  | { type: "slice"; ev: InformerEvent<EndpointSlice> }
  | { type: "resend_ads" }
  | { type: "check" }
  | { type: "usage_flush" }
  | {
    type: "state";
    replyTo: import("../../runtime/mod.ts").ReplyTo<
      { ready: boolean; assignments: Record<string, string[]> }
    >;
  };

/** Usage of the service pools, sent to the pools actor. */
export type ServiceUsage = Record<string, { ipv4?: string; ipv6?: string }>;

/** Options of {@link servicesActor}. */
export interface ServicesOptions {
  api: Api;
  classPolicy: ClassPolicy;
  /** Path of the supervisor the per-Service actors run under. */
  childrenPath: string;
  events?: () => EventSink | undefined;
  /** Where advertisements are declared. */
  advertise: (owner: string, ads: DesiredAd[]) => void;
  /** Told once every Service has declared its advertisements after a (re)start. */
  adsReady: () => void;
  /** Usage of service pools (for their status). */
  usage?: (usage: ServiceUsage) => void;
  /** Consistency check period (default 60 s). */
  checkMs?: number;
  /** Fix what the check finds. */
  repair?: boolean;
  /** Called with readiness changes (all informers synced and allocations rebuilt). */
  onReady?: (ready: boolean) => void;
}

const INFORMERS = ["svc", "ns", "pool", "slice"] as const;

/** Defines the services actor. */
export function servicesActor(options: ServicesOptions): ActorDef<ServicesMsg> {
  return actor<ServicesMsg>("lb-services", (ctx) => {
    const { api } = options;
    const services = new Map<string, Service>();
    const namespaces = new Map<string, Record<string, string>>();
    const poolObjects = new Map<string, AddressPool>();
    const slices = new Map<string, Map<string, string[]>>(); // svc key -> slice -> ready nodes
    const synced = new Set<string>();
    const allocator = new ServiceAllocator();
    const children = new Map<string, ActorRef<ServiceMsg>>();
    const changedAt = new Map<string, number>();
    let poolsKey = "";
    let ready = false;
    let supervisorRef: SupervisorHandle | undefined;
    let usageDirty = false;
    let lastReport = { leaked: 0, missing: 0, doubles: 0 };
    let previous = new Set<string>();
    const inconsistencies = ctx.metrics.gauge(
      "tern_controller_lb_inconsistencies",
      "Leaked, missing and double LoadBalancer allocations found by the last check.",
    );
    const allocated = ctx.metrics.gauge(
      "tern_controller_lb_services",
      "LoadBalancer Services holding addresses.",
    );
    const failuresMetric = ctx.metrics.counter(
      "tern_controller_lb_failures_total",
      "LoadBalancer allocation failures, by reason.",
    );

    const sup = () => {
      if (!supervisorRef) {
        const ref = ctx.lookup(options.childrenPath);
        if (!ref) throw new Error(`no supervisor at ${options.childrenPath}`);
        supervisorRef = supervisorHandle(ref);
      }
      return supervisorRef;
    };

    const childDeps = {
      api,
      get events() {
        return options.events?.();
      },
      advertise: options.advertise,
      groupsOf: servicePeerGroups,
    };

    const ensureChild = async (key: string): Promise<ActorRef<ServiceMsg>> => {
      let ref = children.get(key);
      if (ref) return ref;
      const id = `svc:${key.replace("/", ":")}`;
      ref = await startChild<ServiceMsg>(sup(), {
        id,
        def: serviceActor(key, childDeps),
        restart: "transient",
        mailbox: { capacity: 1000, overflow: "drop_oldest" },
      });
      children.set(key, ref);
      return ref;
    };

    const dropChild = (key: string) => {
      const ref = children.get(key);
      if (!ref) return;
      children.delete(key);
      ref.tell({ type: "gone" });
    };

    const readyNodesOf = (key: string): string[] => {
      const m = slices.get(key);
      if (!m) return [];
      const s = new Set<string>();
      for (const nodes of m.values()) for (const n of nodes) s.add(n);
      return [...s].sort();
    };

    const aggregation = (ip: IpAddress, pool?: Pool) =>
      pool ? (ip.family === 4 ? pool.aggregationLength : pool.aggregationLengthV6) : undefined;

    const describe = (key: string) =>
      (allocator.assignmentOf(key)?.addresses ?? []).map((a) => {
        const pool = a.pool ? allocator.pools.get(a.pool) : undefined;
        const out: { ip: string; pool?: string; aggregationLength?: number } = {
          ip: a.address.toString(),
        };
        if (a.pool) out.pool = a.pool;
        const len = aggregation(a.address, pool);
        if (len !== undefined) out.aggregationLength = len;
        return out;
      });

    const reconcile = async (key: string) => {
      const svc = services.get(key);
      if (!svc || !isManaged(svc, options.classPolicy)) {
        const released = allocator.release(key).map((a) => a.toString());
        const had = children.get(key);
        if (svc && (had || released.length > 0)) {
          const ref = await ensureChild(key);
          ref.tell({
            type: "apply",
            svc,
            outcome: { kind: "unmanaged", released },
            readyNodes: undefined,
          });
          children.delete(key);
          ref.tell({ type: "gone" });
        } else dropChild(key);
        if (released.length > 0) usageDirty = true;
        changedAt.set(key, ctx.clock.now());
        return;
      }
      let outcome: Outcome;
      const before = allocator.assignmentOf(key)?.addresses.map((a) => a.address.toString())
        .join(",");
      try {
        const req = serviceRequest(svc, namespaces.get(svc.metadata.namespace ?? ""));
        const result = allocator.assign(req);
        outcome = {
          kind: "assigned",
          addresses: describe(key),
          missing: result.missing.map((m) => ({
            reason: m.error.reason,
            message: m.error.message,
          })),
        };
      } catch (e) {
        if (!(e instanceof IpamError)) throw e;
        failuresMetric.inc({ reason: e.reason });
        outcome = {
          kind: "failed",
          reason: e.reason,
          message: e.message,
          addresses: describe(key),
        };
      }
      const after = allocator.assignmentOf(key)?.addresses.map((a) => a.address.toString())
        .join(",");
      if (before !== after) {
        usageDirty = true;
        changedAt.set(key, ctx.clock.now());
      }
      const ref = await ensureChild(key);
      ref.tell({ type: "apply", svc, outcome, readyNodes: readyNodesOf(key) });
    };

    const applyPools = () => {
      const { accepted } = resolvePoolObjects(poolObjects.values());
      const service = [...accepted.values()].filter((p) => p.type === "service");
      const key = JSON.stringify(service.map((p) => p.input));
      if (key === poolsKey) return false;
      poolsKey = key;
      allocator.setPools(service);
      return true;
    };

    const start = async () => {
      applyPools();
      // Take back what the cluster shows, oldest Service first, before assigning anything.
      const managed = [...services.values()].filter((s) => isManaged(s, options.classPolicy));
      managed.sort((a, b) => {
        const ta = a.metadata.creationTimestamp ?? "", tb = b.metadata.creationTimestamp ?? "";
        return ta < tb ? -1 : ta > tb ? 1 : serviceKey(a) < serviceKey(b) ? -1 : 1;
      });
      const entries: { request: ServiceRequest; addresses: string[] }[] = [];
      for (const svc of managed) {
        const addresses = statusAddresses(svc);
        if (addresses.length === 0) continue;
        let request: ServiceRequest;
        try {
          request = serviceRequest(svc, namespaces.get(svc.metadata.namespace ?? ""));
        } catch {
          // A bad annotation does not take the Service's address away.
          request = { key: serviceKey(svc), namespace: svc.metadata.namespace ?? "default" };
        }
        entries.push({ request, addresses });
      }
      const report = allocator.restore(entries);
      for (const c of report.conflicts) {
        const svc = services.get(c.key);
        ctx.log.warn("address not restored", { service: c.key, error: c.error.message });
        if (svc) {
          recordEvent(options.events?.(), {
            subject: {
              apiVersion: "v1",
              kind: "Service",
              name: svc.metadata.name!,
              namespace: svc.metadata.namespace!,
              ...(svc.metadata.uid ? { uid: svc.metadata.uid } : {}),
            },
            type: "Warning",
            reason: "DoubleAllocation",
            message: c.error.message,
          });
        }
      }
      ctx.log.info("allocations rebuilt", {
        services: report.restored.length,
        conflicts: report.conflicts.length,
        orphans: report.orphans.length,
      });
      ready = true;
      options.onReady?.(true);
      for (const key of [...services.keys()].sort()) await reconcile(key);
      options.adsReady();
      usageDirty = true;
    };

    const maybeStart = async () => {
      if (ready || !INFORMERS.every((i) => synced.has(i))) return;
      await start();
    };

    const check = () => {
      const held = new Map<string, string[]>();
      const observed = new Map<string, string[]>();
      const now = ctx.clock.now();
      const settledKey = (k: string) =>
        now - (changedAt.get(k) ?? 0) > (options.checkMs ?? 60_000) / 2;
      for (const a of allocator.assignments()) {
        if (!settledKey(a.key)) continue;
        held.set(a.key, a.addresses.map((x) => x.address.toString()));
      }
      for (const svc of services.values()) {
        const key = serviceKey(svc);
        if (!isManaged(svc, options.classPolicy) || !settledKey(key)) continue;
        const addrs = statusAddresses(svc);
        if (addrs.length > 0) observed.set(key, addrs);
      }
      const raw = checkConsistency(held, observed, (a, b) => {
        const sa = services.get(a), sb = services.get(b);
        if (!sa || !sb) return false;
        try {
          const ra = serviceRequest(sa, namespaces.get(sa.metadata.namespace ?? ""));
          const rb = serviceRequest(sb, namespaces.get(sb.metadata.namespace ?? ""));
          return !!ra.sharingKey && ra.sharingKey === rb.sharingKey;
        } catch {
          return false;
        }
      });
      // A finding counts only if the previous check saw it too: writes in flight come and go.
      const seen = new Set<string>();
      const keep = (kind: string) => (f: { owner: string; address: string }) => {
        const k = `${kind}|${f.owner}|${f.address}`;
        seen.add(k);
        return previous.has(k);
      };
      const report = {
        leaked: raw.leaked.filter(keep("leaked")),
        missing: raw.missing.filter(keep("missing")),
        doubles: raw.doubles.filter((d) => {
          const k = `double|${d.address}|${d.owners.join(",")}`;
          seen.add(k);
          return previous.has(k);
        }),
        clean: false,
      };
      report.clean = report.leaked.length + report.missing.length + report.doubles.length === 0;
      previous = seen;
      lastReport = {
        leaked: report.leaked.length,
        missing: report.missing.length,
        doubles: report.doubles.length,
      };
      inconsistencies.set(report.leaked.length, { kind: "leaked" });
      inconsistencies.set(report.missing.length, { kind: "missing" });
      inconsistencies.set(report.doubles.length, { kind: "double" });
      if (report.clean) return [];
      ctx.log.warn("allocation check found problems", lastReport);
      const events = options.events?.();
      const touched = new Set<string>();
      for (const l of report.leaked) {
        recordEvent(events, {
          subject: subjectFor(l.owner),
          type: "Warning",
          reason: "LeakedAddress",
          message: `${l.address} is held for ${l.owner} but not shown in its status${
            options.repair ? ": released" : ""
          }`,
        });
        if (options.repair) {
          if (!services.has(l.owner)) allocator.release(l.owner);
          touched.add(l.owner);
        }
      }
      for (const d of report.doubles) {
        recordEvent(events, {
          subject: subjectFor(d.owners[0]!),
          type: "Warning",
          reason: "DoubleAllocation",
          message: `${d.address} is shown by ${d.owners.join(", ")}${
            options.repair ? ": the Services not holding it get another address" : ""
          }`,
        });
        if (options.repair) { for (const o of d.owners) touched.add(o); }
      }
      for (const m of report.missing) {
        recordEvent(events, {
          subject: subjectFor(m.owner),
          type: "Warning",
          reason: "UnknownAddress",
          message: `${m.owner} shows ${m.address}, which the allocator does not hold for it${
            options.repair ? ": status rewritten" : ""
          }`,
        });
        if (options.repair) touched.add(m.owner);
      }
      return [...touched];
    };

    const subjectFor = (key: string) => {
      const svc = services.get(key);
      const [namespace, name] = key.split("/") as [string, string];
      return {
        apiVersion: "v1",
        kind: "Service",
        name,
        namespace,
        ...(svc?.metadata.uid ? { uid: svc.metadata.uid } : {}),
      };
    };

    const flushUsage = () => {
      if (!usageDirty || !options.usage) return;
      usageDirty = false;
      const usage: ServiceUsage = {};
      for (const name of allocator.pools.keys()) {
        const u = allocator.usage(name);
        usage[name] = {
          ...(u.allocated[4] !== undefined ? { ipv4: u.allocated[4].toString() } : {}),
          ...(u.allocated[6] !== undefined ? { ipv6: u.allocated[6].toString() } : {}),
        };
      }
      options.usage(usage);
      allocated.set(allocator.assignments().length);
    };

    ctx.timers.every("check", options.checkMs ?? 60_000, { type: "check" });
    ctx.timers.every("usage", 250, { type: "usage_flush" });

    const objKey = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;

    return {
      async receive(msg) {
        switch (msg.type) {
          case "svc": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              synced.add("svc");
              if (ready) {
                // Level-triggered: anything missed is put right.
                const seen = new Set(ev.objects.map(serviceKey));
                for (const o of ev.objects) services.set(serviceKey(o), o);
                for (const k of [...services.keys()]) if (!seen.has(k)) services.delete(k);
                for (const k of new Set([...seen, ...children.keys()])) await reconcile(k);
              } else await maybeStart();
              return;
            }
            const key = serviceKey(ev.object);
            if (ev.type === "deleted") services.delete(key);
            else services.set(key, ev.object);
            if (ready) await reconcile(key);
            return;
          }
          case "ns": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              synced.add("ns");
              await maybeStart();
              return;
            }
            const name = ev.object.metadata.name!;
            const before = JSON.stringify(namespaces.get(name) ?? {});
            if (ev.type === "deleted") namespaces.delete(name);
            else namespaces.set(name, ev.object.metadata.labels ?? {});
            if (ready && before !== JSON.stringify(namespaces.get(name) ?? {})) {
              for (const [k, s] of services) if (s.metadata.namespace === name) await reconcile(k);
            }
            return;
          }
          case "pool": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              synced.add("pool");
              await maybeStart();
              return;
            }
            if (ev.type === "deleted") poolObjects.delete(ev.object.metadata.name);
            else poolObjects.set(ev.object.metadata.name, ev.object);
            if (ready && applyPools()) {
              for (const k of [...services.keys()].sort()) await reconcile(k);
              usageDirty = true;
            }
            return;
          }
          case "slice": {
            const ev = msg.ev;
            if (ev.type === "synced") {
              synced.add("slice");
              await maybeStart();
              return;
            }
            const o = ev.object;
            const svcName = o.metadata.labels?.["kubernetes.io/service-name"];
            if (!svcName) return;
            const key = `${o.metadata.namespace}/${svcName}`;
            let m = slices.get(key);
            if (ev.type === "deleted") m?.delete(objKey(o));
            else {
              if (!m) slices.set(key, m = new Map());
              m.set(
                objKey(o),
                (o.endpoints ?? []).filter((e) => e.conditions?.ready !== false && e.nodeName)
                  .map((e) => e.nodeName!),
              );
            }
            if (m && m.size === 0) slices.delete(key);
            const svc = services.get(key);
            if (ready && svc?.spec?.externalTrafficPolicy === "Local") await reconcile(key);
            return;
          }
          case "resend_ads":
            if (!ready) return;
            for (const ref of children.values()) ref.tell({ type: "resend_ads" });
            options.adsReady();
            return;
          case "check": {
            if (!ready) return;
            // Repair: the allocator's view wins; reconciling rewrites the Service's status.
            for (const key of check()) if (services.has(key)) await reconcile(key);
            return;
          }
          case "usage_flush":
            flushUsage();
            return;
          case "state": {
            const assignments: Record<string, string[]> = {};
            for (const a of allocator.assignments()) {
              assignments[a.key] = a.addresses.map((x) => x.address.toString());
            }
            msg.replyTo.reply({ ready, assignments });
            return;
          }
        }
      },
      stop() {
        options.onReady?.(false);
      },
      inspect: () => ({
        ready,
        synced: [...synced],
        services: services.size,
        handled: children.size,
        assignments: allocator.assignments().length,
        pools: [...allocator.pools.keys()],
        lastCheck: lastReport,
      }),
    };
  });
}
