/**
 * Lists served from the store's cached key order: per-namespace runs (namespaces that prefix one
 * another), pagination with continue tokens, label selectors, and the order kept up to date as
 * objects come and go; checked against a plain model with fast-check.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Store } from "../actors/kubeapi/mod.ts";

const namespaces = ["a", "ab", "b"];

Deno.test("kubeapi list index: namespace runs, pages and selectors agree with a model", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          del: fc.boolean(),
          ns: fc.constantFrom(...namespaces),
          name: fc.constantFrom("x", "y", "z", "x-1", "a", "ab"),
          tier: fc.constantFrom("1", "2"),
        }),
        { maxLength: 60 },
      ),
      fc.integer({ min: 1, max: 5 }),
      (ops, limit) => {
        const store = new Store();
        store.bootstrap();
        const nsType = store.registry.get("", "v1", "namespaces")!;
        for (const n of namespaces) store.create(nsType, undefined, { metadata: { name: n } }, {});
        const cm = store.registry.get("", "v1", "configmaps")!;
        const model = new Map<string, string>(); // "ns/name" → tier
        const check = () => {
          for (const ns of [...namespaces, undefined]) {
            for (const sel of ["", "tier=1"]) {
              const want = [...model].filter(([k, tier]) =>
                (ns === undefined || k.startsWith(`${ns}/`)) && (sel === "" || tier === "1")
              ).map(([k]) => k).sort();
              const got: string[] = [];
              let cont: string | undefined;
              for (let page = 0; page < 100; page++) {
                const r = store.list(cm, ns, { labelSelector: sel, limit, continue: cont });
                got.push(...r.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
                cont = r.continue;
                if (!cont) break;
              }
              assert.deepEqual(got, want, `ns=${ns} sel=${sel} limit=${limit}`);
            }
          }
        };
        for (const op of ops) {
          const key = `${op.ns}/${op.name}`;
          if (op.del) {
            if (model.delete(key)) store.delete(cm, op.ns, op.name, {});
          } else if (!model.has(key)) {
            store.create(cm, op.ns, {
              metadata: { name: op.name, labels: { tier: op.tier } },
            }, {});
            model.set(key, op.tier);
          }
          check();
        }
      },
    ),
    { numRuns: 40 },
  );
});
