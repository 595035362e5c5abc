/**
 * Property: for any sequence of writes, a cache fed by a watch (from the start, or resumed from
 * any resourceVersion in the kept history after a list at that version) ends equal to a fresh
 * list, label-filtered watches included; and resourceVersions only grow.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ApiError } from "../actors/kubeapi/errors.ts";
import { Store, type WatchEvent } from "../actors/kubeapi/store.ts";
import type { KubeObject } from "../actors/kubeapi/types.ts";

type Op =
  | { k: "create"; name: number; color: string }
  | { k: "relabel"; name: number; color: string }
  | { k: "data"; name: number; v: number }
  | { k: "delete"; name: number }
  | { k: "finalize"; name: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant("create" as const),
    name: fc.nat(7),
    color: fc.constantFrom("red", "blue"),
  }),
  fc.record({
    k: fc.constant("relabel" as const),
    name: fc.nat(7),
    color: fc.constantFrom("red", "blue"),
  }),
  fc.record({ k: fc.constant("data" as const), name: fc.nat(7), v: fc.nat(3) }),
  fc.record({ k: fc.constant("delete" as const), name: fc.nat(7) }),
  fc.record({ k: fc.constant("finalize" as const), name: fc.nat(7) }),
);

function apply(store: Store, o: Op): void {
  const cm = store.registry.get("", "v1", "configmaps")!;
  const name = `c${o.name}`;
  try {
    switch (o.k) {
      case "create":
        store.create(cm, "default", {
          metadata: {
            name,
            labels: { color: o.color },
            finalizers: o.name % 3 === 0 ? ["tern.example.com/hold"] : [],
          },
        });
        break;
      case "relabel":
        store.patch(cm, "default", name, "merge", { metadata: { labels: { color: o.color } } });
        break;
      case "data":
        store.patch(cm, "default", name, "merge", { data: { v: String(o.v) } });
        break;
      case "delete":
        store.delete(cm, "default", name);
        break;
      case "finalize":
        store.patch(cm, "default", name, "json", [{
          op: "replace",
          path: "/metadata/finalizers",
          value: [],
        }]);
        break;
    }
  } catch (e) {
    if (!(e instanceof ApiError)) throw e; // NotFound, AlreadyExists, a failed patch: all fine
  }
}

function feed(cache: Map<string, string>) {
  return {
    send(e: WatchEvent) {
      const o = e.object as KubeObject;
      if (e.type === "DELETED") cache.delete(o.metadata.name!);
      else if (e.type === "ADDED" || e.type === "MODIFIED") {
        cache.set(o.metadata.name!, o.metadata.resourceVersion!);
      }
    },
    close() {},
  };
}

Deno.test("kubeapi watch property: watch-fed caches converge to the list", () => {
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 60 }),
      fc.array(op, { maxLength: 60 }),
      fc.constantFrom("", "color=red"),
      (before, after, selector) => {
        const store = new Store({ historyLimit: 500 });
        store.bootstrap();
        const cm = store.registry.get("", "v1", "configmaps")!;
        for (const o of before) apply(store, o);
        const fromStart = new Map<string, string>();
        const w1 = store.watch(
          cm,
          "default",
          { resourceVersion: "0", labelSelector: selector },
          feed(fromStart),
        );
        const listed = store.list(cm, "default", { labelSelector: selector });
        const resumed = new Map(
          listed.items.map((i) => [i.metadata.name!, i.metadata.resourceVersion!]),
        );
        let last = store.resourceVersion;
        for (const o of after) {
          apply(store, o);
          assert.ok(store.resourceVersion >= last, "resourceVersion never goes back");
          last = store.resourceVersion;
        }
        // a watch resumed from the list's version, opened only now, replays the history
        const w2 = store.watch(cm, "default", {
          resourceVersion: listed.resourceVersion,
          labelSelector: selector,
        }, feed(resumed));
        const truth = new Map(
          store.list(cm, "default", { labelSelector: selector }).items.map((
            i,
          ) => [i.metadata.name!, i.metadata.resourceVersion!]),
        );
        assert.deepEqual(fromStart, truth, "live watch cache");
        assert.deepEqual(resumed, truth, "resumed watch cache");
        w1.stop();
        w2.stop();
      },
    ),
    { numRuns: 150 },
  );
});
