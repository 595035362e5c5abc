/**
 * One actor per AddressPool. For pod pools it owns the pool's block allocator: it answers
 * BlockRequests with AddressBlocks (labelled with node and pool, owned by the pool; a repeated
 * request gets the same block), frees the blocks of deleted nodes, and takes existing blocks
 * back before it cuts any after a restart. For every pool it reports capacity, allocation,
 * blocks and conditions in status, records an Event for every user-caused failure, and keeps a
 * finalizer so the pool is not deleted while blocks or addresses of it are in use.
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import type { AddressBlock } from "../crds/address_block.ts";
import type { AddressPool } from "../crds/address_pool.ts";
import type { BlockRequest } from "../crds/block_request.ts";
import { API_VERSION, CONDITION, FINALIZER_POOL, LABEL_NODE, LABEL_POOL } from "../crds/names.ts";
import {
  BlockAllocator,
  checkConsistency,
  type IpamError,
  type IpFamily,
  type Pool,
} from "../ipam/mod.ts";
import { type KubeObject, Resources } from "../kube/mod.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "./advertisement_plan.ts";
import { type Api, isAlreadyExists, isNotFound } from "./api.ts";
import { type Condition, conditionTime, sameConditions, setCondition } from "./conditions.ts";
import { type EventSink, recordEvent, subjectOf } from "./event_recorder.ts";

/** Messages of a pool actor. */
export type PoolMsg =
  | {
    type: "config";
    obj: AddressPool;
    pool?: Pool;
    error?: IpamError;
    /** The pool's blocks in the cluster (used to rebuild the allocator). */
    blocks: AddressBlock[];
  }
  | { type: "request"; req: BlockRequest }
  | { type: "request_gone"; name: string }
  | { type: "block"; block: AddressBlock; deleted: boolean }
  | { type: "node_gone"; node: string }
  | { type: "usage"; allocated: { ipv4?: string; ipv6?: string } }
  | { type: "status" }
  | { type: "retry" }
  /** Compare the allocator with the pool's blocks in the cluster. */
  | { type: "check"; blocks: AddressBlock[]; settleMs: number }
  | { type: "served"; name: string }
  | {
    type: "serve_failed";
    name: string;
    error: string;
    /** A block created for the request that could not be written: to release. */
    block?: string;
    existing?: AddressBlock | undefined;
  };

/** Writing a block failed; the allocation must be undone. */
class BlockWriteError extends Error {
  override readonly name = "BlockWriteError";
  constructor(readonly block: string, why: string, readonly existing?: AddressBlock) {
    super(`AddressBlock ${JSON.stringify(block)} could not be written: ${why}`);
  }
}

/** Dependencies of a pool actor. */
export interface PoolDeps {
  api: Api;
  events?: () => EventSink | undefined;
  /** Fix double allocations found among existing blocks (delete the younger block). */
  repair?: boolean;
}

const famName = (f: IpFamily) => (f === 4 ? "ipv4" : "ipv6");

/** Defines the actor of one AddressPool. */
export function poolActor(name: string, deps: PoolDeps): ActorDef<PoolMsg> {
  return actor<PoolMsg>("address-pool", (ctx) => {
    const { api } = deps;
    let obj: AddressPool | undefined;
    let pool: Pool | undefined;
    let error: IpamError | undefined;
    let blocks: BlockAllocator | undefined;
    let poolKey = "";
    const used = new Map<string, number>(); // block name -> used addresses
    let serviceAllocated: { ipv4?: string; ipv6?: string } = {};
    let exhausted: string | undefined;
    let reportedError = "";
    const waiting = new Map<string, BlockRequest>(); // requests to (re)try
    const cutAt = new Map<string, number>(); // block name -> when this incarnation cut it
    let previousFindings = new Set<string>();
    const findings = ctx.metrics.gauge(
      "tern_controller_block_inconsistencies",
      "Leaked, unknown and double pod blocks found by the last check, per pool.",
    );
    let cut = 0;

    const events = () => deps.events?.();
    const subject = () =>
      obj ? subjectOf("AddressPool", API_VERSION, obj) : {
        apiVersion: API_VERSION,
        kind: "AddressPool",
        name,
      };

    const markStatus = () => {
      if (!ctx.timers.has("status")) ctx.timers.once("status", 100, { type: "status" });
    };

    const rebuild = (existing: AddressBlock[]) => {
      if (!pool || pool.type !== "pod") {
        blocks = undefined;
        return;
      }
      blocks = new BlockAllocator(pool);
      const sorted = [...existing].sort((a, b) => {
        const ta = a.metadata.creationTimestamp ?? "", tb = b.metadata.creationTimestamp ?? "";
        return ta < tb ? -1 : ta > tb ? 1 : a.metadata.name < b.metadata.name ? -1 : 1;
      });
      const report = blocks.restore(sorted.map((b) => ({
        name: b.metadata.name,
        cidr: b.spec.cidr,
        node: b.spec.node ?? "",
        ...(b.spec.request ? { request: b.spec.request } : {}),
      })));
      for (const b of existing) used.set(b.metadata.name, b.status?.used ?? 0);
      for (const c of report.conflicts) {
        recordEvent(events(), {
          subject: subject(),
          type: "Warning",
          reason: c.reason,
          message: `${c.message}${deps.repair ? ": the block is deleted" : ""}`,
        });
        if (deps.repair) void api.delete(Resources.addressBlocks, c.value).catch(() => {});
      }
      ctx.log.info("blocks rebuilt", {
        pool: name,
        restored: report.restored.length,
        conflicts: report.conflicts.length,
      });
    };

    const ensureFinalizer = async () => {
      if (!obj || obj.metadata.deletionTimestamp) return;
      const fins = obj.metadata.finalizers ?? [];
      if (fins.includes(FINALIZER_POOL)) return;
      obj = await api.patch<AddressPool>(Resources.addressPools, name, {
        metadata: { finalizers: [...fins, FINALIZER_POOL] },
      });
    };

    const inUse = (): string | undefined => {
      if (blocks && blocks.list().length > 0) return `${blocks.list().length} block(s)`;
      const n = BigInt(serviceAllocated.ipv4 ?? "0") + BigInt(serviceAllocated.ipv6 ?? "0");
      if (pool?.type !== "pod" && n > 0n) return `${n} address(es)`;
      return undefined;
    };

    const handleDeletion = async () => {
      if (!obj?.metadata.deletionTimestamp) return;
      const fins = obj.metadata.finalizers ?? [];
      if (!fins.includes(FINALIZER_POOL)) return;
      const busy = inUse();
      if (busy) {
        recordEvent(events(), {
          subject: subject(),
          type: "Warning",
          reason: "PoolInUse",
          message: `Deletion waits: ${busy} of pool ${name} are in use`,
        });
        return;
      }
      try {
        await api.patch(Resources.addressPools, name, {
          metadata: { finalizers: fins.filter((f) => f !== FINALIZER_POOL) },
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };

    const capacityOf = () => {
      const out: { ipv4?: string; ipv6?: string } = {};
      for (const f of pool?.families ?? []) out[famName(f)] = pool!.capacity(f).toString();
      return out;
    };

    const allocatedOf = () => {
      if (pool?.type === "pod") {
        let n = 0n;
        const byFam: { ipv4?: bigint; ipv6?: bigint } = {};
        for (const b of blocks?.list() ?? []) {
          n = BigInt(used.get(b.name) ?? 0);
          const k = famName(b.family);
          byFam[k] = (byFam[k] ?? 0n) + n;
        }
        const out: { ipv4?: string; ipv6?: string } = {};
        for (const f of pool.families) out[famName(f)] = (byFam[famName(f)] ?? 0n).toString();
        return out;
      }
      const out: { ipv4?: string; ipv6?: string } = {};
      for (const f of pool?.families ?? []) {
        out[famName(f)] = serviceAllocated[famName(f)] ?? "0";
      }
      return out;
    };

    const writeStatus = async () => {
      if (!obj) return;
      const now = conditionTime(ctx.clock.now());
      let conds: Condition[] = obj.status?.conditions as Condition[] ?? [];
      const gen = obj.metadata.generation;
      const c = (type: string, status: "True" | "False", reason: string, message: string) => {
        conds = setCondition(conds, {
          type,
          status,
          reason,
          message,
          ...(gen !== undefined ? { observedGeneration: gen } : {}),
        }, now);
      };
      const conflict = error &&
        (error.code === "overlapping_pools" || error.code === "duplicate_auto_pool");
      if (error) {
        c(CONDITION.Ready, "False", error.reason, error.message);
        c(
          CONDITION.Conflict,
          conflict ? "True" : "False",
          conflict ? error.reason : "NoConflict",
          conflict ? error.message : "",
        );
      } else if (obj.metadata.deletionTimestamp && inUse()) {
        c(CONDITION.Ready, "False", "Deleting", `waiting until ${inUse()} are released`);
      } else {
        c(CONDITION.Ready, "True", "Accepted", "The pool is in use");
        c(CONDITION.Conflict, "False", "NoConflict", "");
      }
      let full = exhausted;
      if (!full && pool?.type === "service") {
        const cap = capacityOf(), alloc = allocatedOf();
        const famFull = pool.families.filter((f) =>
          BigInt(alloc[famName(f)] ?? "0") >= BigInt(cap[famName(f)] ?? "0")
        );
        if (famFull.length > 0) {
          full = `every ${famFull.map((f) => `IPv${f}`).join(" and ")} address is assigned`;
        }
      }
      if (!full && blocks && pool) {
        const famFull = pool.families.filter((f) =>
          blocks!.allocatedCount(f) >= blocks!.capacity(f)
        );
        if (famFull.length > 0) {
          full = `every ${famFull.map((f) => `IPv${f}`).join(" and ")} block is given out`;
        }
      }
      c(
        CONDITION.Exhausted,
        full ? "True" : "False",
        full ? "PoolExhausted" : "Available",
        full ?? "",
      );
      const status: Record<string, unknown> = {
        ...(gen !== undefined ? { observedGeneration: gen } : {}),
        capacity: capacityOf(),
        allocated: allocatedOf(),
        conditions: conds,
      };
      if (pool?.type === "pod" && blocks) {
        status.blocks = blocks.list().length;
        const bc: { ipv4?: string; ipv6?: string } = {};
        for (const f of pool.families) bc[famName(f)] = blocks.capacity(f).toString();
        status.blockCapacity = bc;
      }
      const cur = obj.status ?? {};
      const same = sameConditions(cur.conditions as Condition[], conds) &&
        JSON.stringify(cur.capacity ?? {}) === JSON.stringify(status.capacity) &&
        JSON.stringify(cur.allocated ?? {}) === JSON.stringify(status.allocated) &&
        (cur.blocks ?? undefined) === status.blocks &&
        cur.observedGeneration === status.observedGeneration;
      if (same) return;
      try {
        obj = await api.patch<AddressPool>(Resources.addressPools, name, { status }, {
          status: true,
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };

    const requestStatus = async (
      req: BlockRequest,
      status: Record<string, unknown>,
    ) => {
      try {
        await api.patch(Resources.blockRequests, req.metadata.name, { status }, { status: true });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };

    const failRequest = async (req: BlockRequest, reason: string, message: string) => {
      const now = conditionTime(ctx.clock.now());
      const conds = setCondition(req.status?.conditions as Condition[], {
        type: "Failed",
        status: "True",
        reason,
        message,
      }, now);
      const prior = (req.status?.conditions ?? []).find((c) => c.type === "Failed");
      if (prior?.reason === reason && prior.message === message) return;
      recordEvent(events(), {
        subject: subjectOf("BlockRequest", API_VERSION, req),
        type: "Warning",
        reason,
        message,
      });
      await requestStatus(req, { conditions: conds });
    };

    /**
     * Decides a request in this turn (allocation is in memory) and returns the I/O to do, which
     * runs concurrently with other requests; its outcome comes back as a message.
     */
    const serve = (req: BlockRequest): (() => Promise<void>) | undefined => {
      if (req.metadata.deletionTimestamp) return undefined;
      const family: IpFamily = req.spec.family === "ipv6" ? 6 : 4;
      const done = (req.status?.conditions ?? []).some((c) =>
        c.type === "Complete" && c.status === "True"
      );
      if (!pool || !blocks) {
        const reason = error?.reason ?? "NotPodPool";
        const message = error
          ? `pool ${name} is not usable: ${error.message}`
          : `pool ${name} is a ${pool?.type ?? "unknown"} pool, not a pod pool`;
        return () => failRequest(req, reason, message);
      }
      if (obj?.metadata.deletionTimestamp) {
        return () => failRequest(req, "PoolDeleting", `pool ${name} is being deleted`);
      }
      let got;
      try {
        got = blocks.allocate({ node: req.spec.node, family, request: req.metadata.name });
      } catch (e) {
        const err = e as IpamError;
        if (err.code === "pool_exhausted") {
          exhausted = err.message;
          markStatus();
        }
        return () => failRequest(req, err.reason, err.message);
      }
      const b = got.block;
      const created = got.created;
      if (created) {
        cut++;
        cutAt.set(b.name, ctx.clock.now());
        markStatus();
      }
      if (!created && done && req.status?.addressBlock === b.name) return undefined;
      const body: AddressBlock = {
        apiVersion: API_VERSION,
        kind: "AddressBlock",
        metadata: {
          name: b.name,
          labels: {
            [LABEL_POOL]: name,
            [LABEL_NODE]: b.node,
            [LABEL_MANAGED_BY]: MANAGED_BY,
          },
          ownerReferences: [{
            apiVersion: API_VERSION,
            kind: "AddressPool",
            name,
            uid: obj?.metadata.uid ?? "",
            controller: true,
            blockOwnerDeletion: false,
          }],
        },
        spec: {
          cidr: b.cidr.toString(),
          pool: name,
          node: b.node,
          type: "pod",
          request: req.metadata.name,
        },
      };
      const cidr = b.cidr.toString();
      return async () => {
        if (created) {
          try {
            await api.create(Resources.addressBlocks, body as unknown as KubeObject);
          } catch (e) {
            if (!isAlreadyExists(e)) throw new BlockWriteError(b.name, String(e));
            const existing = await api.tryGet<AddressBlock>(Resources.addressBlocks, b.name);
            if (!existing || existing.spec.node !== b.node) {
              throw new BlockWriteError(
                b.name,
                "the name is taken by another node's block",
                existing,
              );
            }
          }
        }
        const now = conditionTime(ctx.clock.now());
        let conds = (req.status?.conditions ?? []).filter((c) =>
          c.type !== "Failed"
        ) as Condition[];
        conds = setCondition(conds, {
          type: "Complete",
          status: "True",
          reason: "BlockAllocated",
          message: `Block ${b.name} (${cidr}) given to node ${b.node}`,
        }, now);
        await requestStatus(req, { addressBlock: b.name, cidr, conditions: conds });
        if (created) {
          recordEvent(events(), {
            subject: subject(),
            type: "Normal",
            reason: "BlockAllocated",
            message: `Block ${cidr} given to node ${b.node}`,
          });
        }
      };
    };

    const inflight = new Set<string>();
    const jobs = new Set<Promise<void>>();
    const serveWaiting = () => {
      for (const [key, req] of [...waiting]) {
        if (inflight.has(key)) continue;
        const job = serve(req);
        if (!job) {
          waiting.delete(key);
          continue;
        }
        inflight.add(key);
        const p = job().then(
          () => ctx.self.tell({ type: "served", name: key }),
          (e) =>
            ctx.self.tell({
              type: "serve_failed",
              name: key,
              error: String(e),
              ...(e instanceof BlockWriteError ? { block: e.block, existing: e.existing } : {}),
            }),
        );
        jobs.add(p);
        p.finally(() => jobs.delete(p));
      }
    };

    const releaseNode = async (node: string) => {
      if (!blocks) return;
      const freed = blocks.releaseNode(node);
      for (const b of freed) {
        used.delete(b.name);
        await api.delete(Resources.addressBlocks, b.name);
        recordEvent(events(), {
          subject: subject(),
          type: "Normal",
          reason: "BlockReleased",
          message: `Block ${b.cidr.toString()} of deleted node ${node} released`,
        });
      }
      if (freed.length > 0) {
        exhausted = undefined;
        markStatus();
        await handleDeletion();
      }
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "config": {
            obj = msg.obj;
            const key = JSON.stringify(msg.pool?.input ?? null) + (msg.error?.message ?? "");
            if (key !== poolKey) {
              poolKey = key;
              pool = msg.pool;
              error = msg.error;
              exhausted = undefined;
              rebuild(msg.blocks);
              const summary = error ? `${error.reason}|${error.message}` : "";
              if (error && summary !== reportedError) {
                recordEvent(events(), {
                  subject: subject(),
                  type: "Warning",
                  reason: error.reason,
                  message: error.message,
                });
              }
              reportedError = summary;
            }
            await ensureFinalizer();
            await handleDeletion();
            markStatus();
            serveWaiting();
            return;
          }
          case "request":
            waiting.set(msg.req.metadata.name, msg.req);
            serveWaiting();
            return;
          case "served":
            inflight.delete(msg.name);
            waiting.delete(msg.name);
            return;
          case "serve_failed": {
            inflight.delete(msg.name);
            if (msg.block && blocks?.get(msg.block)) {
              blocks.release(msg.block);
              if (msg.existing) {
                blocks.restore([{
                  name: msg.existing.metadata.name,
                  cidr: msg.existing.spec.cidr,
                  node: msg.existing.spec.node ?? "",
                }]);
              }
            }
            ctx.log.warn("block request failed, retrying", { request: msg.name, error: msg.error });
            ctx.timers.once("retry", 500, { type: "retry" });
            return;
          }
          case "request_gone":
            waiting.delete(msg.name);
            blocks?.forgetRequest(msg.name);
            return;
          case "block": {
            const b = msg.block;
            if (msg.deleted) {
              used.delete(b.metadata.name);
              if (blocks?.get(b.metadata.name)) {
                blocks.release(b.metadata.name);
                exhausted = undefined;
                await handleDeletion();
              }
            } else {
              used.set(b.metadata.name, b.status?.used ?? 0);
              if (blocks && !blocks.get(b.metadata.name) && b.spec.pool === name) {
                blocks.restore([{
                  name: b.metadata.name,
                  cidr: b.spec.cidr,
                  node: b.spec.node ?? "",
                }]);
              }
            }
            markStatus();
            return;
          }
          case "check": {
            if (!blocks) return;
            const now = ctx.clock.now();
            const held = new Map<string, string[]>();
            const nameOf = new Map<string, string>();
            for (const b of blocks.list()) {
              if (now - (cutAt.get(b.name) ?? 0) < msg.settleMs) continue; // write may be in flight
              held.set(b.name, [b.cidr.toString()]);
            }
            const observed = new Map<string, string[]>();
            const live = msg.blocks.filter((b) =>
              b.spec.pool === name && !b.metadata.deletionTimestamp
            );
            for (const b of live) {
              observed.set(b.metadata.name, [b.spec.cidr]);
              nameOf.set(b.metadata.name, b.spec.cidr);
            }
            // Only compare blocks the check may judge: settled ones on our side.
            for (const k of [...observed.keys()]) {
              if (!held.has(k) && blocks.get(k)) observed.delete(k);
            }
            const raw = checkConsistency(held, observed);
            // A finding counts only if the previous check saw it too.
            const seen = new Set<string>();
            const keep = (kind: string) => (f: { owner: string; address: string }) => {
              const k = `${kind}|${f.owner}|${f.address}`;
              seen.add(k);
              return previousFindings.has(k);
            };
            const report = {
              leaked: raw.leaked.filter(keep("leaked")),
              missing: raw.missing.filter(keep("missing")),
              doubles: raw.doubles,
              clean: false,
            };
            report.clean = report.leaked.length + report.missing.length === 0;
            previousFindings = seen;
            findings.set(report.leaked.length, { pool: name, kind: "leaked" });
            findings.set(report.missing.length, { pool: name, kind: "unknown" });
            findings.set(report.doubles.length, { pool: name, kind: "double" });
            if (report.clean) return;
            for (const l of report.leaked) {
              recordEvent(events(), {
                subject: subject(),
                type: "Warning",
                reason: "LeakedBlock",
                message: `block ${l.owner} (${l.address}) is held but has no AddressBlock${
                  deps.repair ? ": released" : ""
                }`,
              });
              if (deps.repair) blocks.release(l.owner);
            }
            // Blocks the cluster shows that the allocator lacks are always taken back: handing
            // them out again would give them twice.
            const restored = blocks.restore(
              report.missing.map((m) => {
                const b = live.find((x) => x.metadata.name === m.owner)!;
                return { name: m.owner, cidr: m.address, node: b.spec.node ?? "" };
              }),
            );
            for (const m of report.missing) {
              recordEvent(events(), {
                subject: subject(),
                type: "Warning",
                reason: "UnknownBlock",
                message:
                  `AddressBlock ${m.owner} (${m.address}) was not held by the allocator: taken back`,
              });
            }
            for (const c of restored.conflicts) {
              recordEvent(events(), {
                subject: subject(),
                type: "Warning",
                reason: "DoubleAllocation",
                message: `${c.message}${deps.repair ? ": the block is deleted" : ""}`,
              });
              if (deps.repair) void api.delete(Resources.addressBlocks, c.value).catch(() => {});
            }
            markStatus();
            return;
          }
          case "node_gone":
            await releaseNode(msg.node);
            return;
          case "usage":
            if (JSON.stringify(msg.allocated) === JSON.stringify(serviceAllocated)) return;
            serviceAllocated = msg.allocated;
            markStatus();
            await handleDeletion();
            return;
          case "status":
            try {
              await writeStatus();
            } catch (e) {
              ctx.log.warn("pool status write failed", { pool: name, error: String(e) });
              ctx.timers.once("status", 1000, { type: "status" });
            }
            return;
          case "retry":
            serveWaiting();
            return;
        }
      },
      async stop() {
        await Promise.allSettled([...jobs]);
      },
      inspect: () => ({
        inflight: inflight.size,
        pool: name,
        type: pool?.type,
        error: error?.message,
        blocks: blocks?.list().length,
        cut,
        waiting: waiting.size,
        serviceAllocated,
      }),
    };
  });
}
