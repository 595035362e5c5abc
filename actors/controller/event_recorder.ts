/**
 * The event recorder: turns what the controller wants to tell users into core/v1 Events, as
 * client-go's recorder does. A repeated event (same object, type, reason and message) bumps the
 * count of the existing Event instead of creating another. Events of cluster-scoped objects go
 * to the controller's namespace. Writes never block the senders: they run concurrently within
 * the {@link Api}'s limit, and an Event that cannot be written is logged and dropped.
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import { type KubeObject, Resources } from "../kube/mod.ts";
import type { Api } from "./api.ts";

/** The object an event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** One event to record. */
export interface EventRecord {
  subject: EventSubject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** Messages of the recorder. */
export type RecorderMsg =
  | { type: "record"; event: EventRecord }
  | { type: "written"; key: string; name: string; namespace: string; count: number };

/** The subject of an event about a Kubernetes object. */
export function subjectOf(kind: string, apiVersion: string, obj: KubeObject): EventSubject {
  const s: EventSubject = { apiVersion, kind, name: obj.metadata.name ?? "" };
  if (obj.metadata.namespace) s.namespace = obj.metadata.namespace;
  if (obj.metadata.uid) s.uid = obj.metadata.uid;
  return s;
}

/** Something that records events (the recorder's ref, or a test double). */
export interface EventSink {
  tell(msg: RecorderMsg): void;
}

/** Records an event through a sink. */
export function recordEvent(sink: EventSink | undefined, event: EventRecord): void {
  sink?.tell({ type: "record", event });
}

/** Options of {@link eventRecorder}. */
export interface RecorderOptions {
  api: Api;
  /** Namespace for events of cluster-scoped objects. */
  namespace: string;
  /** `source.component` (default `tern-controller`). */
  component?: string;
  /** Distinct events remembered for counting (default 10,000). */
  cacheSize?: number;
}

function micro(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Defines the recorder actor. */
export function eventRecorder(options: RecorderOptions): ActorDef<RecorderMsg> {
  return actor<RecorderMsg>("event-recorder", (ctx) => {
    const { api } = options;
    const component = options.component ?? "tern-controller";
    const cacheSize = options.cacheSize ?? 10_000;
    const seen = new Map<string, { name: string; namespace: string; count: number }>();
    const pending = new Set<string>();
    const inflight = new Set<Promise<void>>();
    let written = 0, failed = 0;
    const counter = ctx.metrics.counter("tern_controller_events_total", "Events recorded.");

    const write = async (key: string, e: EventRecord) => {
      const namespace = e.subject.namespace ?? options.namespace;
      const now = micro(ctx.clock.now());
      const prior = seen.get(key);
      try {
        if (prior) {
          const count = prior.count + 1;
          await api.patch(Resources.events, prior.name, { count, lastTimestamp: now }, {
            namespace: prior.namespace,
            priority: 2,
          });
          ctx.self.tell({ type: "written", key, name: prior.name, namespace, count });
        } else {
          const rand = [...crypto.getRandomValues(new Uint8Array(6))]
            .map((b) => b.toString(16).padStart(2, "0")).join("");
          const name = `${e.subject.name}.${rand}`.slice(-253).replace(/^[.-]+/, "");
          const involvedObject: Record<string, string> = {
            apiVersion: e.subject.apiVersion,
            kind: e.subject.kind,
            name: e.subject.name,
          };
          if (e.subject.namespace) involvedObject.namespace = e.subject.namespace;
          if (e.subject.uid) involvedObject.uid = e.subject.uid;
          await api.create(Resources.events, {
            apiVersion: "v1",
            kind: "Event",
            metadata: { name, namespace },
            involvedObject,
            reason: e.reason,
            message: e.message.slice(0, 1024),
            type: e.type,
            source: { component },
            reportingComponent: component,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          } as KubeObject, 2);
          ctx.self.tell({ type: "written", key, name, namespace, count: 1 });
        }
        written++;
        counter.inc({ type: e.type, reason: e.reason });
      } catch (err) {
        failed++;
        if (prior) seen.delete(key);
        ctx.log.warn("could not record an event", {
          reason: e.reason,
          object: `${e.subject.kind}/${e.subject.namespace ?? ""}/${e.subject.name}`,
          error: String(err),
        });
      } finally {
        pending.delete(key);
      }
    };

    return {
      receive(msg) {
        if (msg.type === "written") {
          seen.delete(msg.key);
          seen.set(msg.key, { name: msg.name, namespace: msg.namespace, count: msg.count });
          while (seen.size > cacheSize) seen.delete(seen.keys().next().value!);
          return;
        }
        const e = msg.event;
        const s = e.subject;
        const key = [s.kind, s.namespace ?? "", s.name, s.uid ?? "", e.type, e.reason, e.message]
          .join("\u0000");
        if (pending.has(key)) return; // the same event is being written: counted once
        pending.add(key);
        const p = write(key, e);
        inflight.add(p);
        p.finally(() => inflight.delete(p));
      },
      async stop() {
        await Promise.allSettled([...inflight]);
      },
      inspect: () => ({ written, failed, pending: pending.size, remembered: seen.size }),
    };
  });
}
