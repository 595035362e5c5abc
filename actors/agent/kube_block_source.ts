/**
 * The Kubernetes block source: answers the block source protocol with the cluster's pod
 * AddressPools and AddressBlocks. To get a block it creates a BlockRequest (`pool`, `node`,
 * `family`) and waits for the controller's answer in its status (the AddressBlock's name and
 * prefix, or a `Failed` condition), then deletes the request. Returning a block deletes the
 * AddressBlock. Pools are read at start and every `refreshMs`.
 *
 * Waiting for the controller never holds up the actor: each acquisition runs on its own and
 * replies when the answer comes.
 *
 * @module
 */

import { actor } from "../../runtime/mod.ts";
import { LABEL_NODE, LABEL_POOL } from "../crds/names.ts";
import { Cidr, type IpFamily } from "../ipam/mod.ts";
import { KubeApiError, type KubeClient, type KubeObject, Resources } from "../kube/mod.ts";
import { BlockSourceError, type BlockSourceMsg, type PoolInfo } from "./block_source.ts";

/** Messages of the Kubernetes block source (the protocol plus its own refresh). */
export type KubeBlockSourceMsg = BlockSourceMsg | { type: "refresh" };

/** Options of {@linkcode kubeBlockSource}. */
export interface KubeBlockSourceOptions {
  client: KubeClient;
  node: string;
  /** How often to re-read the pools (default 10 s). */
  refreshMs?: number;
  /** How long to wait for the controller's answer (default 20 s, under the callers' 30 s). */
  answerTimeoutMs?: number;
  /** Poll period while waiting (default 200 ms). */
  pollMs?: number;
}

function families(cidrs: unknown): IpFamily[] {
  const out = new Set<IpFamily>();
  for (const c of Array.isArray(cidrs) ? cidrs : []) {
    const p = typeof c === "string" ? Cidr.tryParse(c) : undefined;
    if (p) out.add(p.family);
  }
  return [...out].sort() as IpFamily[];
}

/** Reads the pod pools. */
export async function readPodPools(client: KubeClient): Promise<PoolInfo[]> {
  const { items } = await client.listAll<KubeObject>(Resources.addressPools);
  const pools = items.filter((p) => p.spec?.type === "pod" && !p.metadata.deletionTimestamp);
  let autoSeen = false;
  return pools.map((p) => {
    const auto = p.spec?.autoAssign === true && !autoSeen;
    if (auto) autoSeen = true;
    return { name: p.metadata.name!, auto, families: families(p.spec?.cidrs) };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

/** The Kubernetes block source actor for `node`. */
export function kubeBlockSource(o: KubeBlockSourceOptions) {
  return actor<KubeBlockSourceMsg>("kube-block-source", async (ctx) => {
    const { client, node } = o;
    // An API that cannot be reached at start is not fatal: pods already running can still be
    // released, new ones are told to try again later until the pools can be read.
    let pools: PoolInfo[] = [];
    try {
      pools = await readPodPools(client);
    } catch (e) {
      ctx.log.warn("cannot read the address pools yet", { error: String(e) });
      ctx.timers.once("retry", 1_000, { type: "refresh" });
    }
    let requests = 0;
    let answered = 0;
    let failed = 0;
    let inFlight = 0;
    ctx.timers.every("refresh", o.refreshMs ?? 10_000, { type: "refresh" });

    const acquire = async (pool: string, family: IpFamily): Promise<string> => {
      const name = `${pool}-${node}-ipv${family}-${crypto.randomUUID().slice(0, 8)}`;
      await client.create(Resources.blockRequests, {
        apiVersion: "tern.dev/v1alpha1",
        kind: "BlockRequest",
        metadata: { name, labels: { [LABEL_NODE]: node, [LABEL_POOL]: pool } },
        spec: { pool, node, family: family === 4 ? "ipv4" : "ipv6" },
      } as KubeObject);
      requests++;
      const deadline = ctx.clock.now() + (o.answerTimeoutMs ?? 20_000);
      try {
        for (;;) {
          const r = await client.tryGet<KubeObject>(Resources.blockRequests, name);
          const st = r?.status ?? {};
          if (typeof st.cidr === "string" && st.addressBlock) return st.cidr as string;
          const failedCond = (st.conditions ?? []).find((c: { type: string; status: string }) =>
            c.type === "Failed" && c.status === "True"
          );
          if (failedCond) {
            throw new BlockSourceError(
              failedCond.reason === "UnknownPool" ? "unknown_pool" : "pool_exhausted",
              pool,
              `The controller refused block request ${name} (${failedCond.reason}: ${
                failedCond.message ?? ""
              })`,
            );
          }
          if (ctx.clock.now() > deadline) {
            throw new BlockSourceError(
              "no_answer",
              pool,
              `No answer from the controller to block request ${name}`,
            );
          }
          await new Promise((res) => setTimeout(res, o.pollMs ?? 200));
        }
      } finally {
        await client.delete(Resources.blockRequests, name).catch(() => {});
      }
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "refresh":
            try {
              pools = await readPodPools(client);
            } catch (e) {
              ctx.log.warn("cannot read the address pools", { error: String(e) });
              if (pools.length === 0) ctx.timers.once("retry", 1_000, { type: "refresh" });
            }
            break;
          case "pools":
            msg.replyTo.reply(pools);
            break;
          case "acquire": {
            if (!pools.some((p) => p.name === msg.pool)) {
              msg.replyTo.fail(new BlockSourceError("unknown_pool", msg.pool, "No such pod pool"));
              break;
            }
            inFlight++;
            acquire(msg.pool, msg.family).then(
              (cidr) => {
                answered++;
                ctx.log.info("block acquired", { pool: msg.pool, block: cidr });
                msg.replyTo.reply(cidr);
              },
              (e) => {
                failed++;
                msg.replyTo.fail(e as Error);
              },
            ).finally(() => inFlight--);
            break;
          }
          case "owned": {
            try {
              const { items } = await client.listAll<KubeObject>(Resources.addressBlocks, {
                labelSelector: `${LABEL_NODE}=${node},${LABEL_POOL}=${msg.pool}`,
              });
              msg.replyTo.reply(
                items.filter((b) => b.spec?.node === node && b.spec?.pool === msg.pool)
                  .map((b) => b.spec.cidr as string),
              );
            } catch (e) {
              msg.replyTo.fail(e as Error);
            }
            break;
          }
          case "claim":
            msg.replyTo.reply();
            break;
          case "release": {
            try {
              const { items } = await client.listAll<KubeObject>(Resources.addressBlocks, {
                labelSelector: `${LABEL_NODE}=${node}`,
              });
              const b = items.find((x) => x.spec?.cidr === msg.block && x.spec?.node === node);
              if (b) await client.delete(Resources.addressBlocks, b.metadata.name!);
              ctx.log.info("block returned", { pool: msg.pool, block: msg.block });
            } catch (e) {
              if (!(e instanceof KubeApiError)) throw e;
              ctx.log.warn("cannot return a block", { block: msg.block, error: String(e) });
            }
            break;
          }
        }
      },
      inspect: () => ({
        node,
        pools: pools.map((p) => `${p.name}${p.auto ? " (auto)" : ""} ${p.families.join("+")}`),
        requests,
        answered,
        failed,
        inFlight,
      }),
    };
  });
}
