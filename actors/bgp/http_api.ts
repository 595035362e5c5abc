/**
 * The BGP control API served on the inspection server:
 * `GET /api/bgp/neighbors`, `GET /api/bgp/rib?family=ipv4|ipv6`, `POST /api/bgp/paths` (originate,
 * JSON body like a `prefixes` entry of the configuration, `peers` naming configured peers to send
 * it only to them; posting it again with other `peers` moves it) and `DELETE /api/bgp/paths`
 * (`{"prefix": "..."}` body or `?prefix=`).
 * @module
 */
import type { ActorSystem } from "../../runtime/mod.ts";
import { ConfigError, parseOriginated } from "./config.ts";
import type { PeerStatus } from "./peer_actor.ts";
import { canonicalPrefix } from "./prefix.ts";
import type { RibEntryView } from "./rib_actor.ts";
import type { SpeakerMsg } from "./speaker_actor.ts";

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 1) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

function problem(status: number, code: string, message: string, field?: string): Response {
  return json({ error: { code, message, ...(field ? { field } : {}) } }, status);
}

/** Builds the route handler for the inspection server. */
export function bgpApiRoutes(system: ActorSystem, speakerPath: string) {
  return async (req: Request, url: URL): Promise<Response | undefined> => {
    if (!url.pathname.startsWith("/api/bgp/")) return undefined;
    const speaker = system.lookup<SpeakerMsg>(speakerPath);
    if (!speaker) return problem(503, "not_running", "The BGP speaker is not running");
    try {
      switch (url.pathname) {
        case "/api/bgp/neighbors": {
          if (req.method !== "GET") return problem(405, "method_not_allowed", "Use GET");
          const n = await speaker.ask<PeerStatus[]>((replyTo) => ({ type: "neighbors", replyTo }));
          return json({ neighbors: n });
        }
        case "/api/bgp/rib": {
          if (req.method !== "GET") return problem(405, "method_not_allowed", "Use GET");
          const family = url.searchParams.get("family") ?? undefined;
          if (family !== undefined && family !== "ipv4" && family !== "ipv6") {
            return problem(400, "bad_family", `Family "${family}" is not ipv4 or ipv6`, "family");
          }
          const routes = await speaker.ask<RibEntryView[]>(
            (replyTo) => ({ type: "rib", family, replyTo }),
            { timeoutMs: 60_000 },
          );
          return json({ family: family ?? "all", routes });
        }
        case "/api/bgp/paths": {
          if (req.method === "POST") {
            let body: unknown;
            try {
              body = await req.json();
            } catch {
              return problem(400, "bad_json", "The body is not JSON");
            }
            const prefix = parseOriginated(body, "body");
            await speaker.ask<void>((replyTo) => ({
              type: "announce",
              prefix,
              field: "body.peers",
              replyTo,
            }));
            return json({ announced: prefix }, 201);
          }
          if (req.method === "DELETE") {
            let text = url.searchParams.get("prefix");
            if (text === null) {
              try {
                const b = await req.json() as { prefix?: unknown };
                text = typeof b.prefix === "string" ? b.prefix : null;
              } catch { /* fall through */ }
            }
            if (text === null) return problem(400, "missing_prefix", "Give a prefix", "prefix");
            let prefix: string;
            try {
              prefix = canonicalPrefix(text);
            } catch (e) {
              return problem(400, "bad_prefix", (e as Error).message, "prefix");
            }
            const had = await speaker.ask<boolean>((replyTo) => ({
              type: "withdraw",
              prefix,
              replyTo,
            }));
            return had ? json({ withdrawn: prefix }) : problem(
              404,
              "not_originated",
              `Prefix "${prefix}" is not originated here`,
              "prefix",
            );
          }
          return problem(405, "method_not_allowed", "Use POST or DELETE");
        }
        default:
          return problem(404, "not_found", `No API at "${url.pathname}"`);
      }
    } catch (e) {
      if (e instanceof ConfigError) return problem(400, e.code, e.message, e.field);
      return problem(500, "internal", (e as Error).message);
    }
  };
}
