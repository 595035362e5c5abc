/**
 * Garbage collection driven by the store's indexes (only objects whose owners, dependents,
 * finalizers or namespace contents changed are looked at again): random owner forests with held
 * finalizers, deleted with random propagation policies, must settle exactly as the rules say once
 * the finalizers are released, and a terminating namespace must go once its content has gone.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Store } from "../actors/kubeapi/mod.ts";
import type { KubeObject } from "../actors/kubeapi/types.ts";

const HOLD = "example.com/hold";

Deno.test("kubeapi gc index: owner forests and namespaces settle once finalizers are released", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          owner: fc.option(fc.nat(), { nil: undefined }),
          held: fc.boolean(),
          del: fc.option(
            fc.constantFrom("Background", "Foreground", "Orphan") as fc.Arbitrary<
              "Background" | "Foreground" | "Orphan"
            >,
            { nil: undefined },
          ),
        }),
        { minLength: 1, maxLength: 25 },
      ),
      (specs) => {
        const store = new Store();
        store.bootstrap();
        const nsType = store.registry.get("", "v1", "namespaces")!;
        const cm = store.registry.get("", "v1", "configmaps")!;
        store.create(nsType, undefined, { metadata: { name: "t" } }, {});
        const uids: string[] = [];
        specs.forEach((s, i) => {
          const owner = s.owner !== undefined && i > 0 ? s.owner % i : undefined;
          const o = store.create(cm, "t", {
            metadata: {
              name: `o-${i}`,
              ...(s.held ? { finalizers: [HOLD] } : {}),
              ...(owner !== undefined
                ? {
                  ownerReferences: [{
                    apiVersion: "v1",
                    kind: "ConfigMap",
                    name: `o-${owner}`,
                    uid: uids[owner],
                  }],
                }
                : {}),
            },
          }, {}).object;
          uids.push(o.metadata.uid!);
        });
        const explicitlyDeleted = new Set<string>();
        specs.forEach((s, i) => {
          if (!s.del) return;
          try {
            store.delete(cm, "t", `o-${i}`, { propagationPolicy: s.del });
            explicitlyDeleted.add(`o-${i}`);
          } catch { /* already gone through its owner */ }
        });
        const live = () => store.list(cm, "t").items;
        // Release every hold, reading each object afresh (releasing one can change another).
        const release = () => {
          for (const name of live().map((o) => o.metadata.name!)) {
            let o: KubeObject;
            try {
              o = store.get(cm, "t", name);
            } catch {
              continue; // went with an earlier release
            }
            if (!(o.metadata.finalizers ?? []).includes(HOLD)) continue;
            store.patch(cm, "t", name, "json", [{
              op: "replace",
              path: "/metadata/finalizers",
              value: (o.metadata.finalizers ?? []).filter((f) => f !== HOLD),
            }]);
          }
        };
        release();
        const left = live();
        const byUid = new Set(left.map((o) => o.metadata.uid));
        for (const o of left) {
          assert.equal(o.metadata.deletionTimestamp, undefined, `${o.metadata.name} settled`);
          assert.ok(!explicitlyDeleted.has(o.metadata.name!), `${o.metadata.name} deleted`);
          for (const r of o.metadata.ownerReferences ?? []) {
            assert.ok(byUid.has(r.uid), `${o.metadata.name} has no dangling owner`);
          }
        }
        // Orphaned dependents of an Orphan-deleted owner stay, without the reference.
        specs.forEach((s, i) => {
          if (s.del !== "Orphan" || !explicitlyDeleted.has(`o-${i}`)) return;
          for (const o of left) {
            assert.ok(!(o.metadata.ownerReferences ?? []).some((r) => r.uid === uids[i]));
          }
        });

        // Hold everything that is left, then terminate the namespace: it stays Terminating
        // until the holds are released, then goes with its content.
        for (const o of left as KubeObject[]) {
          store.patch(cm, "t", o.metadata.name!, "merge", { metadata: { finalizers: [HOLD] } });
        }
        store.delete(nsType, undefined, "t", {});
        if (left.length > 0) {
          assert.equal(
            (store.get(nsType, undefined, "t").status as { phase?: string }).phase,
            "Terminating",
          );
        }
        release();
        assert.equal(live().length, 0);
        assert.throws(() => store.get(nsType, undefined, "t"), /not found/);
      },
    ),
    { numRuns: 150 },
  );
});
