/**
 * Watches: the bounded event history a watch resumes from, and the open watchers each committed
 * event is delivered to (filtered by namespace, labels and fields; an object leaving a filtered
 * watch's selection is seen as DELETED, one entering it as ADDED). Owned by the store, which
 * orders every event by its global resourceVersion; synchronous, so watchers see writes in order.
 */

import { badRequest, expired } from "./errors.ts";
import { groupVersion, type ResourceType } from "./resource_types.ts";
import {
  type FieldSelector,
  type LabelSelector,
  matchFields,
  matchLabels,
  parseFieldSelector,
  parseLabelSelector,
} from "./selectors.ts";
import type { JsonObject, KubeObject } from "./types.ts";

/** Watch event type. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One watch event. */
export interface WatchEvent {
  type: WatchEventType;
  object: JsonObject;
}

/** Receiver of watch events (one per open watch). */
export interface WatchSink {
  send(ev: WatchEvent): void;
  /** End the watch (the stream closes). */
  close(): void;
}

/** Options of a watch. */
export interface WatchOptions {
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  sendInitialEvents?: boolean;
  allowWatchBookmarks?: boolean;
}

/** One committed change, as kept in the history. */
export interface HistoryEntry {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  storageKey: string;
  /** The object after the change (stored form). */
  object: KubeObject;
  /** For MODIFIED: the object before, so filtered watches can see it leave or enter. */
  old?: KubeObject;
}

interface Watcher {
  type: ResourceType;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldSelector;
  sink: WatchSink;
}

/** What the hub needs from the store. */
export interface WatchHubOptions {
  /** Events kept for resumption. */
  historyLimit: number;
  /** The store's current resourceVersion. */
  resourceVersion(): number;
  /** Current objects of a storage key (for watches that start with the current state). */
  objects(storageKey: string): Iterable<KubeObject>;
  /** A stored object as type `t` serves it. */
  present(t: ResourceType, o: KubeObject): KubeObject;
}

/** Event history and open watches. */
export class WatchHub {
  #history: HistoryEntry[] = [];
  #compactedRv = 0;
  /** Open watchers by storage key, so an event only visits the watchers of its kind. */
  #watchers = new Map<string, Set<Watcher>>();
  #count = 0;
  #opts: WatchHubOptions;

  /** A hub reading the store through `opts`. */
  constructor(opts: WatchHubOptions) {
    this.#opts = opts;
  }

  /** The oldest resourceVersion a watch may resume from. */
  get compactedResourceVersion(): number {
    return this.#compactedRv;
  }

  /** Number of open watches. */
  get count(): number {
    return this.#count;
  }

  /**
   * Open a watch: initial or replayed events are sent at once, live ones follow. Throws a 410
   * {@link ApiError} when `resourceVersion` is older than the kept history.
   */
  open(
    t: ResourceType,
    namespace: string | undefined,
    opts: WatchOptions,
    sink: WatchSink,
  ): { stop(): void } {
    const w: Watcher = {
      type: t,
      namespace: t.namespaced ? namespace : undefined,
      labels: parseLabelSelector(opts.labelSelector ?? ""),
      fields: parseFieldSelector(opts.fieldSelector ?? ""),
      sink,
    };
    const rvText = opts.resourceVersion ?? "";
    if (rvText !== "" && !/^\d+$/.test(rvText)) {
      throw badRequest(`invalid resource version "${rvText}"`);
    }
    const from = Number(rvText || "0");
    if (opts.sendInitialEvents || from === 0) {
      for (const o of this.#opts.objects(t.storageKey)) {
        if (this.#matches(w, o)) sink.send({ type: "ADDED", object: this.#opts.present(t, o) });
      }
      if (opts.sendInitialEvents && opts.allowWatchBookmarks) {
        sink.send({
          type: "BOOKMARK",
          object: {
            kind: t.kind,
            apiVersion: groupVersion(t),
            metadata: {
              resourceVersion: String(this.#opts.resourceVersion()),
              annotations: { "k8s.io/initial-events-end": "true" },
            },
          },
        });
      }
    } else {
      if (from < this.#compactedRv) throw expired(from, this.#compactedRv);
      for (const e of this.#history) {
        if (e.rv > from) this.#deliver(w, e, (t) => this.#opts.present(t, e.object));
      }
    }
    let set = this.#watchers.get(t.storageKey);
    if (!set) this.#watchers.set(t.storageKey, set = new Set());
    set.add(w);
    this.#count++;
    return { stop: () => this.#remove(w) };
  }

  #remove(w: Watcher): void {
    const set = this.#watchers.get(w.type.storageKey);
    if (!set?.delete(w)) return;
    this.#count--;
    if (set.size === 0) this.#watchers.delete(w.type.storageKey);
  }

  /** A bookmark event for a watch on `t` at the current resourceVersion. */
  bookmark(t: ResourceType): WatchEvent {
    return {
      type: "BOOKMARK",
      object: {
        kind: t.kind,
        apiVersion: groupVersion(t),
        metadata: { resourceVersion: String(this.#opts.resourceVersion()) },
      },
    };
  }

  /** Record a committed change and deliver it to the open watches. */
  record(e: HistoryEntry): void {
    this.#history.push(e);
    while (this.#history.length > this.#opts.historyLimit) {
      const dropped = this.#history.shift()!;
      this.#compactedRv = dropped.rv;
    }
    const set = this.#watchers.get(e.storageKey);
    if (!set) return;
    // Every watcher of the same served type gets the same presented object (read-only): one
    // clone per event and type, not one per watcher.
    const presented = new Map<ResourceType, KubeObject>();
    const present = (t: ResourceType): KubeObject => {
      let p = presented.get(t);
      if (!p) presented.set(t, p = this.#opts.present(t, e.object));
      return p;
    };
    for (const w of [...set]) this.#deliver(w, e, present);
  }

  /** End every open watch; returns how many there were. */
  closeAll(): number {
    const all = [...this.#watchers.values()].flatMap((set) => [...set]);
    this.#watchers.clear();
    this.#count = 0;
    for (const w of all) w.sink.close();
    return all.length;
  }

  /** Forget the history: resuming from anything older than now gets 410. */
  expire(): void {
    this.#history = [];
    this.#compactedRv = this.#opts.resourceVersion();
  }

  #matches(w: Watcher, o: KubeObject): boolean {
    if (w.namespace !== undefined && o.metadata.namespace !== w.namespace) return false;
    return matchLabels(w.labels, o.metadata.labels) &&
      matchFields(w.fields, w.type.convert ? this.#opts.present(w.type, o) : o);
  }

  #deliver(w: Watcher, e: HistoryEntry, present: (t: ResourceType) => KubeObject): void {
    if (w.type.storageKey !== e.storageKey) return;
    const now = this.#matches(w, e.object);
    if (e.type === "MODIFIED" && e.old) {
      const before = this.#matches(w, e.old);
      if (before && !now) {
        w.sink.send({ type: "DELETED", object: present(w.type) });
        return;
      }
      if (!before && now) {
        w.sink.send({ type: "ADDED", object: present(w.type) });
        return;
      }
    }
    if (now) w.sink.send({ type: e.type, object: present(w.type) });
  }
}
