/**
 * The agent's HTTP API on its inspection server, read by `ctl ipam`:
 * `GET /api/ipam/blocks` (every block this node holds, with its usage) and
 * `GET /api/ipam/pods` (every allocation).
 *
 * @module
 */

import type { ActorSystem } from "../../runtime/mod.ts";
import type { BlockUsage, NodeIpamMsg } from "./node_ipam.ts";
import { BLOCKS_PATH, poolPath, STORE_PATH } from "./paths.ts";
import type { BlockSourceMsg, PoolInfo } from "./block_source.ts";
import type { AllocationRecord } from "./records.ts";
import type { StoreMsg } from "./store.ts";

function json(v: unknown, status = 200): Response {
  return new Response(JSON.stringify(v, null, 1) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Route handler for the agent's API. */
export function agentApi(system: ActorSystem) {
  return async (req: Request, url: URL): Promise<Response | undefined> => {
    if (!url.pathname.startsWith("/api/ipam/")) return undefined;
    if (req.method !== "GET") return json({ error: "method not allowed" }, 405);
    try {
      if (url.pathname === "/api/ipam/blocks") {
        const out: BlockUsage[] = [];
        const source = system.lookup<BlockSourceMsg>(BLOCKS_PATH);
        const pools = source
          ? (await source.ask<PoolInfo[]>((replyTo) => ({ type: "pools", replyTo }))).map((p) =>
            p.name
          )
          : [];
        for (const p of pools) {
          const ref = system.lookup<NodeIpamMsg>(poolPath(p));
          if (!ref) continue;
          out.push(...await ref.ask<BlockUsage[]>((replyTo) => ({ type: "usage", replyTo })));
        }
        return json({ blocks: out });
      }
      if (url.pathname === "/api/ipam/pods") {
        const store = system.lookup<StoreMsg>(STORE_PATH);
        if (!store) return json({ error: "the store is not running" }, 503);
        const all = await store.ask<AllocationRecord[]>((replyTo) => ({ type: "list", replyTo }));
        return json({ pods: all });
      }
      return json({ error: "not found" }, 404);
    } catch (e) {
      return json({ error: String(e) }, 503);
    }
  };
}
