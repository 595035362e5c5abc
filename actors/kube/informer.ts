/**
 * An informer as an actor: lists a resource, then watches it from the list's resourceVersion,
 * keeping a cache and delivering typed events to a consumer.
 *
 * - Start (and every restart) lists everything and delivers `added` for each object, then
 *   `synced` with the whole set: consumers are level-triggered and reconcile on `synced`.
 * - A watch that the server ends (timeout) is resumed from the last seen resourceVersion
 *   (bookmarks keep it fresh). A watch that fails is resumed after a growing delay; after
 *   `maxWatchFailures` consecutive failures the actor crashes and its supervisor restarts it
 *   with backoff, which relists.
 * - `410 Gone` (an ERROR event or the HTTP status) relists at once and delivers the difference
 *   (added, modified, deleted), then `synced`: nothing is lost across dropped history.
 * - Every `resyncMs` the whole cache is delivered again as `synced`.
 */
import type { ActorDef, ReplyTo } from "../../runtime/mod.ts";
import { actor } from "../../runtime/mod.ts";
import { KubeApiError, type KubeClient } from "./kube_client.ts";
import { type KubeObject, type KubeStatus, objectKey, type WatchEvent } from "./objects.ts";
import type { Resource } from "./resources.ts";

/** What an informer tells its consumer. */
export type InformerEvent<T extends KubeObject> =
  | { type: "added"; object: T }
  | { type: "modified"; object: T; old: T }
  | { type: "deleted"; object: T }
  | { type: "synced"; objects: T[] };

/** Messages of the informer actor. */
export type InformerMsg<T extends KubeObject> =
  | { type: "watch_event"; gen: number; event: WatchEvent<T> }
  | { type: "watch_ended"; gen: number; error?: unknown }
  | { type: "rewatch"; gen: number }
  | { type: "resync" }
  | { type: "list"; replyTo: ReplyTo<T[]> }
  | { type: "get"; key: string; replyTo: ReplyTo<T | undefined> };

/** Options of {@link informer}. */
export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  resource: Resource;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Consumer callback (usually `ref.tell(...)`). Called from the informer's own turn. */
  deliver: (event: InformerEvent<T>) => void;
  /** Default 300,000 ms. */
  resyncMs?: number;
  /** Server-side watch timeout; default 240 s. */
  watchTimeoutSeconds?: number;
  /** Default 5. */
  maxWatchFailures?: number;
}

function isGone(e: unknown): boolean {
  return e instanceof KubeApiError && e.isGone;
}

/** Defines an informer actor for one resource (and optional namespace/selectors). */
export function informer<T extends KubeObject>(
  name: string,
  options: InformerOptions<T>,
): ActorDef<InformerMsg<T>> {
  return actor<InformerMsg<T>>(name, async (ctx) => {
    const { client, resource } = options;
    const cache = new Map<string, T>();
    const maxFailures = options.maxWatchFailures ?? 5;
    let resourceVersion = "";
    let gen = 0;
    let abort: AbortController | undefined;
    let failures = 0;
    let relists = 0;
    let events = 0;
    const counter = ctx.metrics.counter(
      "tern_informer_events_total",
      "Watch events handled by informers.",
    );

    const filters = {
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
      ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}),
    };

    const relist = async () => {
      const { items, resourceVersion: rv } = await client.listAll<T>(resource, filters);
      const seen = new Set<string>();
      for (const obj of items) {
        const key = objectKey(obj);
        seen.add(key);
        const old = cache.get(key);
        cache.set(key, obj);
        if (!old) options.deliver({ type: "added", object: obj });
        else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) {
          options.deliver({ type: "modified", object: obj, old });
        }
      }
      for (const [key, old] of cache) {
        if (!seen.has(key)) {
          cache.delete(key);
          options.deliver({ type: "deleted", object: old });
        }
      }
      resourceVersion = rv;
      relists++;
      options.deliver({ type: "synced", objects: [...cache.values()] });
    };

    const startWatch = () => {
      abort?.abort();
      const myGen = ++gen;
      const controller = new AbortController();
      abort = controller;
      const self = ctx.self;
      (async () => {
        try {
          for await (
            const event of client.watch<T>(resource, {
              ...filters,
              resourceVersion,
              allowWatchBookmarks: true,
              timeoutSeconds: options.watchTimeoutSeconds ?? 240,
              signal: controller.signal,
            })
          ) {
            self.tell({ type: "watch_event", gen: myGen, event });
          }
          if (!controller.signal.aborted) self.tell({ type: "watch_ended", gen: myGen });
        } catch (error) {
          if (!controller.signal.aborted) self.tell({ type: "watch_ended", gen: myGen, error });
        }
      })();
    };

    const restartFromScratch = async () => {
      abort?.abort();
      await relist();
      failures = 0;
      startWatch();
    };

    await relist();
    startWatch();
    ctx.timers.every("resync", options.resyncMs ?? 300_000, { type: "resync" });

    return {
      async receive(msg) {
        switch (msg.type) {
          case "watch_event": {
            if (msg.gen !== gen) return;
            const { type, object } = msg.event;
            events++;
            counter.inc({ resource: resource.plural });
            if (type === "ERROR") {
              const status = object as unknown as KubeStatus;
              if (status.code === 410) {
                ctx.log.info("watch history expired, relisting", { resource: resource.plural });
                await restartFromScratch();
              } else {
                throw new KubeApiError(
                  status.code ?? 500,
                  status.reason ?? "WatchError",
                  status.message ?? "",
                  "WATCH",
                  resource.plural,
                );
              }
              return;
            }
            if (object.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
            if (type === "BOOKMARK") return;
            failures = 0;
            const key = objectKey(object);
            if (type === "DELETED") {
              const old = cache.get(key);
              cache.delete(key);
              options.deliver({ type: "deleted", object: old ?? object });
              return;
            }
            const old = cache.get(key);
            cache.set(key, object);
            if (old) options.deliver({ type: "modified", object, old });
            else options.deliver({ type: "added", object });
            return;
          }
          case "watch_ended": {
            if (msg.gen !== gen) return;
            if (msg.error === undefined) {
              startWatch(); // the server closed it (timeout): resume from the last version
              return;
            }
            if (isGone(msg.error)) {
              await restartFromScratch();
              return;
            }
            failures++;
            ctx.log.warn("watch failed", {
              resource: resource.plural,
              failures,
              error: String(msg.error),
            });
            if (failures > maxFailures) throw msg.error;
            ctx.timers.once("rewatch", Math.min(100 * 2 ** failures, 5_000), {
              type: "rewatch",
              gen,
            });
            return;
          }
          case "rewatch":
            if (msg.gen === gen) startWatch();
            return;
          case "resync":
            options.deliver({ type: "synced", objects: [...cache.values()] });
            return;
          case "list":
            msg.replyTo.reply([...cache.values()]);
            return;
          case "get":
            msg.replyTo.reply(cache.get(msg.key));
            return;
        }
      },
      stop() {
        abort?.abort();
      },
      inspect: () => ({
        resource: resource.plural,
        ...filters,
        objects: cache.size,
        resourceVersion,
        relists,
        events,
        watchFailures: failures,
      }),
    };
  });
}
