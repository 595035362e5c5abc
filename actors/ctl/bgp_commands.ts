/**
 * `ctl bgp neighbors|rib|announce|withdraw`: talks to the speaker's control API and prints
 * human tables or, with `--json`, the API's JSON.
 * @module
 */
import {
  type Command,
  type CommandContext,
  type CommandGroup,
  table,
  UsageError,
} from "./command.ts";

async function call(
  ctx: CommandContext,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  let res: Response;
  try {
    res = await ctx.fetch(ctx.api + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`Cannot reach the API at "${ctx.api}": ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: { message: text.trim() } };
  }
  return { status: res.status, json };
}

function failed(ctx: CommandContext, r: { status: number; json: unknown }): number {
  const e = (r.json as { error?: { message?: string } })?.error;
  ctx.err(`error: ${e?.message ?? `HTTP ${r.status}`}`);
  return 1;
}

function duration(s: number): string {
  if (!s) return "-";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m
    ? `${m}m${String(sec).padStart(2, "0")}s`
    : `${sec}s`;
}

interface Neighbor {
  address: string;
  asn: number;
  type: string;
  state: string;
  uptimeSeconds: number;
  prefixesReceived: number;
  prefixesSent: number;
  lastError?: string;
}

const neighbors: Command = {
  usage: "neighbors [--json]",
  summary: "BGP sessions: state, uptime, prefixes received and sent",
  async run(_args, ctx) {
    const r = await call(ctx, "GET", "/api/bgp/neighbors");
    if (r.status !== 200) return failed(ctx, r);
    if (ctx.json) {
      ctx.out(JSON.stringify(r.json, null, 2));
      return 0;
    }
    const list = (r.json as { neighbors: Neighbor[] }).neighbors;
    ctx.out(table(
      ["NEIGHBOR", "AS", "TYPE", "STATE", "UP", "RECEIVED", "SENT", "LAST ERROR"],
      list.map((n) => [
        n.address,
        String(n.asn),
        n.type,
        n.state,
        duration(n.uptimeSeconds),
        String(n.prefixesReceived),
        String(n.prefixesSent),
        n.lastError ?? "",
      ]),
    ));
    return 0;
  },
};

interface PathView {
  peer: string;
  nextHop: string;
  asPath: string;
  origin: string;
  localPref?: number;
  med?: number;
  communities?: string[];
  largeCommunities?: string[];
  best: boolean;
  multipath: boolean;
  stale: boolean;
}

const rib: Command = {
  usage: "rib [--family ipv4|ipv6] [--json]",
  summary: "Loc-RIB: every path, best first (* best, = multipath, s stale)",
  async run(args, ctx) {
    const family = args.options.get("family")?.[0];
    if (family !== undefined && family !== "ipv4" && family !== "ipv6") {
      throw new UsageError(`--family "${family}" is not ipv4 or ipv6`);
    }
    const r = await call(ctx, "GET", `/api/bgp/rib${family ? `?family=${family}` : ""}`);
    if (r.status !== 200) return failed(ctx, r);
    if (ctx.json) {
      ctx.out(JSON.stringify(r.json, null, 2));
      return 0;
    }
    const routes = (r.json as {
      routes: { prefix: string; paths: PathView[]; targets?: string[] }[];
    }).routes;
    const rows: string[][] = [];
    for (const e of routes) {
      e.paths.forEach((p, i) => {
        const flags = (p.best ? "*" : " ") + (p.multipath && !p.best ? "=" : " ") +
          (p.stale ? "s" : " ");
        rows.push([
          flags,
          i === 0 ? e.prefix : "",
          p.nextHop || "(local)",
          p.asPath || "-",
          p.origin,
          p.localPref === undefined ? "" : String(p.localPref),
          p.med === undefined ? "" : String(p.med),
          // An originated prefix aimed at some peers only shows them: `local -> 192.0.2.1`.
          p.peer === "local" && e.targets ? `local -> ${e.targets.join(",")}` : p.peer,
          [...(p.communities ?? []), ...(p.largeCommunities ?? [])].join(" "),
        ]);
      });
    }
    ctx.out(
      table(
        ["", "PREFIX", "NEXT HOP", "AS PATH", "ORIGIN", "LOCPRF", "MED", "FROM", "COMMUNITIES"],
        rows,
      ),
    );
    ctx.out(`${routes.length} prefixes`);
    return 0;
  },
};

const announce: Command = {
  usage:
    "announce PREFIX [--origin igp|egp|incomplete] [--med N] [--local-pref N] [--community A:B]... [--large-community A:B:C]... [--peer ADDRESS]...",
  summary: "Originate a prefix (to every peer, or only to the --peer addresses)",
  async run(args, ctx) {
    const prefix = args.positional[0];
    if (!prefix) throw new UsageError("announce needs a PREFIX");
    const num = (name: string) => {
      const v = args.options.get(name)?.[0];
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) throw new UsageError(`--${name} "${v}" is not a number`);
      return Number(v);
    };
    const body: Record<string, unknown> = { prefix };
    const origin = args.options.get("origin")?.[0];
    if (origin) body.origin = origin;
    if (num("med") !== undefined) body.med = num("med");
    if (num("local-pref") !== undefined) body.localPref = num("local-pref");
    const c = args.options.get("community");
    if (c) body.communities = [...c];
    const lc = args.options.get("large-community");
    if (lc) body.largeCommunities = [...lc];
    const peers = args.options.get("peer");
    if (peers) body.peers = [...peers];
    const r = await call(ctx, "POST", "/api/bgp/paths", body);
    if (r.status !== 201) return failed(ctx, r);
    ctx.out(ctx.json ? JSON.stringify(r.json, null, 2) : `announced ${prefix}`);
    return 0;
  },
};

const withdraw: Command = {
  usage: "withdraw PREFIX",
  summary: "Stop originating a prefix",
  async run(args, ctx) {
    const prefix = args.positional[0];
    if (!prefix) throw new UsageError("withdraw needs a PREFIX");
    const r = await call(ctx, "DELETE", `/api/bgp/paths?prefix=${encodeURIComponent(prefix)}`);
    if (r.status !== 200) return failed(ctx, r);
    ctx.out(ctx.json ? JSON.stringify(r.json, null, 2) : `withdrawn ${prefix}`);
    return 0;
  },
};

/** The `bgp` command group. */
export const bgpCommands: CommandGroup = {
  summary: "BGP speaker: sessions, routes, originated prefixes",
  commands: { neighbors, rib, announce, withdraw },
};
