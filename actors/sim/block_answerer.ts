/**
 * TEST STAND-IN for the tern controller's answer to BlockRequests, used only while
 * `roles/controller.ts` is not on main: for each unanswered BlockRequest it cuts the lowest free
 * block of the pool's block size (IPv4 `blockSize`, IPv6 `blockSizeV6`) from the pod pool's
 * CIDRs, creates the AddressBlock (labelled with node and pool) and writes the answer into the
 * request's status, or a `Failed` condition (UnknownPool, PoolExhausted). A repeated request
 * gets the same block back.
 * @module
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import { LABEL_NODE, LABEL_POOL } from "../crds/names.ts";
import { type InformerEvent, type KubeClient, type KubeObject, Resources } from "../kube/mod.ts";

/** An address as a bigint and its width. */
function parseIp(ip: string): { v: bigint; bits: 32 | 128 } {
  if (ip.includes(":")) {
    const [head, tail = ""] = ip.split("::");
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = ip.includes("::")
      ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
      : h;
    return {
      v: groups.reduce((a, g) => (a << 16n) + BigInt(parseInt(g || "0", 16)), 0n),
      bits: 128,
    };
  }
  return { v: ip.split(".").reduce((a, o) => (a << 8n) + BigInt(Number(o)), 0n), bits: 32 };
}

function formatIp(v: bigint, bits: 32 | 128): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join(".");
  const groups: string[] = [];
  for (let i = 7n; i >= 0n; i--) groups.push(((v >> (i * 16n)) & 0xffffn).toString(16));
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:{3,}/, "::");
}

/** The lowest block of `size` in `cidrs` (of one family) not in `used`. Pure. */
export function nextBlock(cidrs: string[], size: number, used: Set<string>): string | undefined {
  for (const c of cidrs) {
    const [addr, lenText] = c.split("/");
    const { v, bits } = parseIp(addr);
    const len = Number(lenText);
    if (size < len || size > bits) continue;
    const step = 1n << BigInt(bits - size);
    const end = v + (1n << BigInt(bits - len));
    for (let b = v; b < end; b += step) {
      const cidr = `${formatIp(b, bits)}/${size}`;
      if (!used.has(cidr)) return cidr;
    }
  }
  return undefined;
}

interface Pool extends KubeObject {
  spec: { type: string; cidrs?: string[]; blockSize?: number; blockSizeV6?: number };
}
interface Block extends KubeObject {
  spec: { cidr: string; pool: string; node?: string; type: string; request?: string };
}
interface Request extends KubeObject {
  spec: { pool: string; node: string; family?: string };
  status?: { addressBlock?: string; cidr?: string };
}

/** Messages of the answerer. */
export type AnswererMsg = { type: "requests"; event: InformerEvent<Request> };

/** Defines the BlockRequest answerer. */
export function blockAnswerer(client: KubeClient): ActorDef<AnswererMsg> {
  return actor<AnswererMsg>("block-answerer", (ctx) => {
    let answered = 0;
    let refused = 0;
    const answer = async (r: Request) => {
      if (r.status?.addressBlock || r.metadata.deletionTimestamp) return;
      const fail = async (reason: string, message: string) => {
        refused++;
        await client.mergePatch(Resources.blockRequests, r.metadata.name!, {
          status: {
            conditions: [{
              type: "Failed",
              status: "True",
              reason,
              message,
              lastTransitionTime: new Date().toISOString(),
            }],
          },
        }, { status: true }).catch(() => {});
      };
      const pool = await client.tryGet<Pool>(Resources.addressPools, r.spec.pool);
      if (!pool || pool.spec.type !== "pod") {
        return await fail("UnknownPool", `no pod pool ${JSON.stringify(r.spec.pool)}`);
      }
      const v6 = r.spec.family === "ipv6";
      const cidrs = (pool.spec.cidrs ?? []).filter((c) => c.includes(":") === v6);
      const size = v6 ? pool.spec.blockSizeV6 ?? 122 : pool.spec.blockSize ?? 26;
      const blocks = (await client.listAll<Block>(Resources.addressBlocks, {
        labelSelector: `${LABEL_POOL}=${r.spec.pool}`,
      })).items;
      const mine = blocks.find((b) => b.spec.request === r.metadata.name);
      let block = mine;
      if (!block) {
        const cidr = nextBlock(cidrs, size, new Set(blocks.map((b) => b.spec.cidr)));
        if (!cidr) return await fail("PoolExhausted", `pool ${r.spec.pool} has no free block`);
        block = await client.create<Block>(Resources.addressBlocks, {
          apiVersion: "tern.dev/v1alpha1",
          kind: "AddressBlock",
          metadata: {
            name: `${r.spec.pool}-${cidr.replace(/[.:/]/g, "-")}`.slice(0, 253),
            labels: { [LABEL_NODE]: r.spec.node, [LABEL_POOL]: r.spec.pool },
          },
          spec: {
            cidr,
            pool: r.spec.pool,
            node: r.spec.node,
            type: "pod",
            request: r.metadata.name,
          },
        });
      }
      await client.mergePatch(Resources.blockRequests, r.metadata.name!, {
        status: { addressBlock: block.metadata.name, cidr: block.spec.cidr },
      }, { status: true });
      answered++;
      ctx.log.info("block request answered", { request: r.metadata.name, block: block.spec.cidr });
    };
    return {
      async receive(msg) {
        const ev = msg.event;
        const list = ev.type === "synced" ? ev.objects : ev.type === "deleted" ? [] : [ev.object];
        for (const r of list) {
          try {
            await answer(r);
          } catch (e) {
            ctx.log.warn("block request not answered", {
              request: r.metadata.name,
              error: String(e),
            });
          }
        }
      },
      inspect: () => ({ answered, refused }),
    };
  });
}
