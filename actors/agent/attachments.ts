/**
 * The agent's handling of CNI requests: ADD, DEL, CHECK, STATUS and GC, each as a sequence of
 * asks to the actors that own the state (node IPAM per pool, the allocation store, the pod
 * wiring). Operations on one container id are serialised by a {@linkcode KeyedQueue}; different
 * containers proceed concurrently.
 *
 * Order of an ADD: pick the pool, allocate (one address per family of the pool), persist the
 * record (fsync), wire the pod, answer. A failure undoes what was done, in reverse, so nothing
 * half-made stays. Order of a DEL: unwire, release, forget (persisted). A DEL for something
 * unknown, a namespace that is gone or a pod object that is gone is a success.
 *
 * @module
 */

import type { ActorRef } from "../../runtime/mod.ts";
import { CNI_ERROR, CniError } from "../cni/errors.ts";
import type { AgentRequest, AgentResponse, AttachmentSpec } from "../cni/protocol.ts";
import { errorResponse, PROTOCOL_VERSION, versionMismatch } from "../cni/protocol.ts";
import type { PodNetwork } from "../cni/result.ts";
import { IpamError } from "../ipam/mod.ts";
import { KubeApiError } from "../kube/mod.ts";
import { BlockSourceError, type BlockSourceMsg, type PoolInfo } from "./block_source.ts";
import type { KeyedQueue } from "./keyed_queue.ts";
import type { NodeIpamMsg } from "./node_ipam.ts";
import type { PoolManagerMsg } from "./pool_manager.ts";
import { poolPath } from "./paths.ts";
import { choosePool, type PodMetadataSource } from "./pool_choice.ts";
import { type AllocationRecord, attachmentKey, type RecordAddress } from "./records.ts";
import type { StoreMsg } from "./store.ts";
import {
  GATEWAY4,
  GATEWAY6,
  hostIfnameFor,
  PodNamespaceError,
  type WireResult,
  type WiringMsg,
} from "./wiring.ts";

/** What the service needs. */
export interface AttachmentDeps {
  // deno-lint-ignore no-explicit-any
  lookup: (path: string) => ActorRef<any> | undefined;
  storePath: string;
  wiringPath: string;
  blocksPath: string;
  /** The pool manager (starts a pool's actor on first use). */
  poolsPath: string;
  queue: KeyedQueue;
  metadata: PodMetadataSource;
  /** Default MTU of pod interfaces. */
  mtu: number;
  log: {
    info(m: string, f?: Record<string, unknown>): void;
    warn(m: string, f?: Record<string, unknown>): void;
  };
}

const ASK = { timeoutMs: 30_000 };

/** Builds the service for an actor (its lookup and its log). */
export type ServiceFactory = (
  // deno-lint-ignore no-explicit-any
  lookup: (path: string) => ActorRef<any> | undefined,
  log: AttachmentDeps["log"],
) => AttachmentService;

/** Why an attachment was released. */
export type ReleaseReason = "del" | "gc" | "cni_gc" | "add_failed";

/** The request handling of the agent. */
export class AttachmentService {
  #d: AttachmentDeps;
  constructor(deps: AttachmentDeps) {
    this.#d = deps;
  }

  #ref<M>(path: string): ActorRef<M> {
    const r = this.#d.lookup(path);
    if (!r) throw new CniError(CNI_ERROR.TRY_AGAIN_LATER, "The agent is starting", path);
    return r as ActorRef<M>;
  }
  get #store() {
    return this.#ref<StoreMsg>(this.#d.storePath);
  }
  get #wiring() {
    return this.#ref<WiringMsg>(this.#d.wiringPath);
  }
  get #blocks() {
    return this.#ref<BlockSourceMsg>(this.#d.blocksPath);
  }

  /** Answers one request (never throws). */
  async handle(req: AgentRequest): Promise<AgentResponse> {
    const mismatch = versionMismatch(req);
    if (mismatch) return errorResponse(mismatch);
    try {
      switch (req.op) {
        case "add":
          return await this.#d.queue.run(
            req.attachment.containerId,
            () => this.#add(req.attachment),
          );
        case "del":
          return await this.#d.queue.run(req.attachment.containerId, async () => {
            await this.#release(req.attachment.containerId, req.attachment.ifname, "del");
            return { v: PROTOCOL_VERSION, ok: true as const };
          });
        case "check":
          return await this.#d.queue.run(
            req.attachment.containerId,
            () => this.#check(req.attachment),
          );
        case "status":
          return await this.#status();
        case "gc":
          return await this.#gc(req.network, req.valid);
      }
    } catch (e) {
      return errorResponse(toCniError(e));
    }
  }

  async #pools(): Promise<PoolInfo[]> {
    return await this.#blocks.ask<PoolInfo[]>((replyTo) => ({ type: "pools", replyTo }), ASK);
  }

  async #choose(a: AttachmentSpec): Promise<string> {
    const pools = await this.#pools();
    if (pools.length === 0) {
      throw new CniError(
        CNI_ERROR.TRY_AGAIN_LATER,
        "No address pool known yet",
        "the node has no pool (the API may not be readable yet)",
      );
    }
    const auto = pools.find((p) => p.auto)?.name;
    const m = this.#d.metadata;
    let choice;
    try {
      choice = choosePool(
        {
          ...(a.pool ? { explicit: a.pool } : {}),
          ...(a.pod
            ? {
              podAnnotations: await m.podAnnotations(a.pod.namespace, a.pod.name),
              namespaceAnnotations: await m.namespaceAnnotations(a.pod.namespace),
            }
            : {}),
          ...(auto ? { autoPool: auto } : {}),
        } as Parameters<typeof choosePool>[0],
      );
    } catch (e) {
      if (e instanceof IpamError) {
        throw new CniError(CNI_ERROR.INVALID_CONFIG, "Bad pool annotation", e.message);
      }
      throw e;
    }
    if (!choice) {
      throw new CniError(
        CNI_ERROR.TRY_AGAIN_LATER,
        "No address pool",
        "nothing names a pool and there is no auto pool (yet)",
      );
    }
    if (!pools.some((p) => p.name === choice.pool)) {
      throw new CniError(
        CNI_ERROR.INVALID_CONFIG,
        "Unknown address pool",
        `pool ${
          JSON.stringify(choice.pool)
        } (from the ${choice.origin}) does not exist on this node`,
      );
    }
    return choice.pool;
  }

  async #add(a: AttachmentSpec): Promise<AgentResponse> {
    const netns = a.netns;
    if (!netns) throw new CniError(CNI_ERROR.INVALID_ENV, "CNI_NETNS is not set");
    try {
      Deno.statSync(netns);
    } catch {
      throw new CniError(
        CNI_ERROR.UNKNOWN_CONTAINER,
        "The container's network namespace does not exist",
        `CNI_NETNS ${JSON.stringify(netns)}`,
      );
    }
    const key = attachmentKey(a.containerId, a.ifname);
    const mtu = a.mtu ?? this.#d.mtu;
    const existing = await this.#store.ask<AllocationRecord | undefined>(
      (replyTo) => ({ type: "get", key, replyTo }),
      ASK,
    );
    if (existing && existing.netns === netns) {
      // A repeated ADD: answer with what is there if it is intact.
      const problems = await this.#wiring.ask<string[]>((replyTo) => ({
        type: "check",
        spec: this.#spec(existing, mtu),
        hostIfname: existing.hostIfname,
        replyTo,
      }), ASK);
      if (problems.length === 0) return this.#answer(existing, {}, mtu);
    }
    if (existing) await this.#release(a.containerId, a.ifname, "add_failed");
    const pool = await this.#choose(a);
    if (!this.#d.lookup(poolPath(pool))) {
      await this.#ref<PoolManagerMsg>(this.#d.poolsPath).ask<void>(
        (replyTo) => ({ type: "ensure", pool, replyTo }),
        ASK,
      );
    }
    const ipam = this.#ref<NodeIpamMsg>(poolPath(pool));
    const addresses = await ipam.ask<RecordAddress[]>(
      (replyTo) => ({ type: "allocate", owner: key, replyTo }),
      ASK,
    );
    const record: AllocationRecord = {
      containerId: a.containerId,
      ifname: a.ifname,
      network: a.network,
      netns,
      pool,
      addresses,
      hostIfname: hostIfnameFor(a.containerId, a.ifname),
      created: new Date().toISOString(),
    };
    if (a.pod) record.pod = a.pod;
    try {
      await this.#store.ask<void>((replyTo) => ({ type: "put", record, replyTo }), ASK);
    } catch (e) {
      ipam.tell({ type: "release", owner: key });
      throw new CniError(CNI_ERROR.IO_FAILURE, "Cannot persist the allocation", String(e));
    }
    let wired: WireResult;
    try {
      wired = await this.#wiring.ask<WireResult>(
        (replyTo) => ({ type: "wire", spec: this.#spec(record, mtu), replyTo }),
        ASK,
      );
    } catch (e) {
      await this.#release(a.containerId, a.ifname, "add_failed").catch(() => {});
      throw e;
    }
    this.#d.log.info("pod added", {
      container: a.containerId,
      ifname: a.ifname,
      pool,
      addresses: addresses.map((x) => x.address),
    });
    return this.#answer(record, wired, mtu);
  }

  #spec(r: AllocationRecord, mtu: number) {
    return {
      containerId: r.containerId,
      ifname: r.ifname,
      netns: r.netns ?? "",
      addresses: r.addresses.map((x) => x.address),
      mtu,
    };
  }

  #answer(r: AllocationRecord, w: Partial<WireResult>, mtu: number): AgentResponse {
    const result: PodNetwork = {
      interfaces: [
        { name: r.hostIfname, ...(w.hostMac ? { mac: w.hostMac } : {}) },
        {
          name: r.ifname,
          ...(w.podMac ? { mac: w.podMac } : {}),
          mtu,
          sandbox: r.netns!,
        },
      ],
      ips: r.addresses.map((x) => {
        const v6 = x.address.includes(":");
        return {
          address: `${x.address}/${v6 ? 128 : 32}`,
          gateway: v6 ? GATEWAY6 : GATEWAY4,
          interface: 1,
        };
      }),
      routes: [],
      dns: {},
    };
    if (r.addresses.some((x) => !x.address.includes(":"))) {
      result.routes.push({ dst: "0.0.0.0/0", gw: GATEWAY4 });
    }
    if (r.addresses.some((x) => x.address.includes(":"))) {
      result.routes.push({ dst: "::/0", gw: GATEWAY6 });
    }
    return { v: PROTOCOL_VERSION, ok: true, result };
  }

  /**
   * Undoes an attachment: unwire, release the addresses, forget the record. Idempotent; also
   * removes a host veth left by a crash when there is no record. Must run inside the
   * container's queue (see {@linkcode releaseQueued}).
   */
  async #release(containerId: string, ifname: string, reason: ReleaseReason): Promise<string[]> {
    const key = attachmentKey(containerId, ifname);
    const r = await this.#store.ask<AllocationRecord | undefined>(
      (replyTo) => ({ type: "get", key, replyTo }),
      ASK,
    );
    const hostIfname = r?.hostIfname ?? hostIfnameFor(containerId, ifname);
    await this.#wiring.ask<boolean>((replyTo) => ({ type: "unwire", hostIfname, replyTo }), ASK);
    if (!r) return [];
    // The pool's actor must hold the address while the record goes, or a pool actor starting
    // right now could rebuild from a store that still lists it: have it started first.
    if (!this.#d.lookup(poolPath(r.pool))) {
      await this.#ref<PoolManagerMsg>(this.#d.poolsPath).ask<void>(
        (replyTo) => ({ type: "ensure", pool: r.pool, known: true, replyTo }),
        ASK,
      ).catch(() => {});
    }
    const ipam = this.#d.lookup(poolPath(r.pool)) as ActorRef<NodeIpamMsg> | undefined;
    const freed = ipam
      ? await ipam.ask<string[]>((replyTo) => ({ type: "release", owner: key, replyTo }), ASK)
      : [];
    await this.#store.ask<boolean>((replyTo) => ({ type: "remove", key, replyTo }), ASK);
    this.#d.log.info("pod released", { container: containerId, ifname, reason, freed });
    return r.addresses.map((a) => a.address);
  }

  /** Releases an attachment in its container's turn (for the garbage collector). */
  releaseQueued(containerId: string, ifname: string, reason: ReleaseReason): Promise<string[]> {
    return this.#d.queue.run(containerId, () => this.#release(containerId, ifname, reason));
  }

  async #check(a: AttachmentSpec): Promise<AgentResponse> {
    const key = attachmentKey(a.containerId, a.ifname);
    const r = await this.#store.ask<AllocationRecord | undefined>(
      (replyTo) => ({ type: "get", key, replyTo }),
      ASK,
    );
    if (!r) {
      throw new CniError(
        CNI_ERROR.UNKNOWN_CONTAINER,
        "No allocation for this container",
        `container ${JSON.stringify(a.containerId)} interface ${JSON.stringify(a.ifname)}`,
      );
    }
    const problems: string[] = [];
    if (a.netns && r.netns !== a.netns) {
      problems.push(`allocated for netns ${r.netns}, checked with ${a.netns}`);
    }
    problems.push(
      ...await this.#wiring.ask<string[]>((replyTo) => ({
        type: "check",
        spec: this.#spec(r, a.mtu ?? this.#d.mtu),
        hostIfname: r.hostIfname,
        replyTo,
      }), ASK),
    );
    if (problems.length) {
      throw new CniError(
        CNI_ERROR.CHECK_FAILED,
        "The pod's network is not as allocated",
        problems.join("; "),
      );
    }
    return { v: PROTOCOL_VERSION, ok: true };
  }

  async #status(): Promise<AgentResponse> {
    const pools = await this.#pools();
    if (pools.length === 0) {
      throw new CniError(CNI_ERROR.NOT_AVAILABLE, "No address pool on this node");
    }
    return { v: PROTOCOL_VERSION, ok: true };
  }

  async #gc(
    network: string,
    valid: { containerId: string; ifname: string }[],
  ): Promise<AgentResponse> {
    const keep = new Set(valid.map((v) => attachmentKey(v.containerId, v.ifname)));
    const all = await this.#store.ask<AllocationRecord[]>(
      (replyTo) => ({ type: "list", replyTo }),
      ASK,
    );
    const stale = all.filter((r) =>
      r.network === network && !keep.has(attachmentKey(r.containerId, r.ifname))
    );
    await Promise.all(stale.map((r) => this.releaseQueued(r.containerId, r.ifname, "cni_gc")));
    if (stale.length) {
      this.#d.log.info("CNI GC released stale attachments", {
        network,
        released: stale.map((r) => attachmentKey(r.containerId, r.ifname)),
      });
    }
    return { v: PROTOCOL_VERSION, ok: true };
  }
}

/** Maps any failure to the CNI error the plugin will print. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof PodNamespaceError) {
    return e.code === "netns_missing"
      ? new CniError(
        CNI_ERROR.UNKNOWN_CONTAINER,
        "The container's network namespace does not exist",
        e.message,
      )
      : new CniError(CNI_ERROR.INVALID_ENV, "CNI_NETNS is not a network namespace", e.message);
  }
  if (e instanceof BlockSourceError) {
    if (e.code === "pool_exhausted") {
      return new CniError(CNI_ERROR.POOL_EXHAUSTED, "The address pool is exhausted", e.message);
    }
    if (e.code === "no_answer") {
      return new CniError(CNI_ERROR.TRY_AGAIN_LATER, "No address block yet", e.message);
    }
    return new CniError(CNI_ERROR.INVALID_CONFIG, "Unknown address pool", e.message);
  }
  if (e instanceof IpamError) {
    return new CniError(CNI_ERROR.POOL_EXHAUSTED, "Address allocation failed", e.message);
  }
  if (e instanceof KubeApiError) {
    return new CniError(
      CNI_ERROR.TRY_AGAIN_LATER,
      "The Kubernetes API is not available",
      e.message,
    );
  }
  const name = (e as Error)?.name ?? "";
  if (name === "AskTimeoutError" || name === "ActorStoppedError" || name === "MailboxFullError") {
    return new CniError(CNI_ERROR.TRY_AGAIN_LATER, "The agent is busy or restarting", String(e));
  }
  if (name === "NetlinkError" || name === "NetlinkSystemError" || name === "NetlinkInputError") {
    return new CniError(CNI_ERROR.WIRING_FAILED, "Wiring the pod's network failed", String(e));
  }
  return new CniError(CNI_ERROR.INTERNAL, "Internal error of the tern agent", String(e));
}
