/**
 * `ctl ipam blocks` and `ctl ipam pods`: the node agent's address blocks (with their usage) and
 * its allocations, read from the agent's API (`GET /api/ipam/blocks`, `GET /api/ipam/pods` on
 * its inspection address), printed as a table or as JSON.
 *
 * Hook into `roles/ctl.ts`: `if (args[0] === "ipam") { const r = await runIpamCommand(args.slice(1)); … }`
 * and print `r.stdout` / `r.stderr`, exiting with `r.exitCode`.
 *
 * @module
 */

import type { CommandContext } from "./command.ts";

/** One block as the agent reports it. */
export interface BlockRow {
  pool: string;
  block: string;
  family: number;
  capacity: number;
  used: number;
  emptySince?: number;
}

/** One allocation as the agent reports it. */
export interface PodRow {
  containerId: string;
  ifname: string;
  netns?: string;
  pod?: { namespace: string; name: string };
  pool: string;
  addresses: { address: string; block: string }[];
  hostIfname: string;
  created: string;
}

/** Outcome of a command. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Options of {@linkcode runIpamCommand}. */
export interface IpamCommandOptions {
  /** Default agent address when `--agent` is not given (default `http://127.0.0.1:9641`). */
  agentUrl?: string;
  fetch?: typeof fetch;
}

const USAGE = `usage: ctl ipam blocks|pods [--agent URL] [-o table|json]
  blocks   the node's address blocks and how full they are
  pods     the node's allocations (container, interface, pod, addresses, host interface)
`;

/** Renders rows as an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** The blocks table. */
export function formatBlocks(blocks: BlockRow[]): string {
  return table(
    ["POOL", "BLOCK", "FAMILY", "USED", "CAPACITY", "FREE"],
    blocks.map((b) => [
      b.pool,
      b.block,
      `IPv${b.family}`,
      String(b.used),
      String(b.capacity),
      String(b.capacity - b.used),
    ]),
  );
}

/** The pods table. */
export function formatPods(pods: PodRow[]): string {
  return table(
    ["POD", "CONTAINER", "IFNAME", "POOL", "ADDRESSES", "HOST-IF"],
    [...pods].sort((a, b) => a.created.localeCompare(b.created)).map((p) => [
      p.pod ? `${p.pod.namespace}/${p.pod.name}` : "-",
      p.containerId.slice(0, 12),
      p.ifname,
      p.pool,
      p.addresses.map((a) => a.address).join(","),
      p.hostIfname,
    ]),
  );
}

/** Runs `ctl ipam …` with the arguments after `ipam`. */
export async function runIpamCommand(
  args: string[],
  o: IpamCommandOptions = {},
): Promise<CommandResult> {
  let agent = o.agentUrl ?? "http://127.0.0.1:9641";
  let output = "table";
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--agent") agent = args[++i] ?? "";
    else if (a.startsWith("--agent=")) agent = a.slice(8);
    else if (a === "-o" || a === "--output") output = args[++i] ?? "";
    else if (a.startsWith("--output=")) output = a.slice(9);
    else rest.push(a);
  }
  const what = rest[0];
  if ((what !== "blocks" && what !== "pods") || rest.length > 1) {
    return { stdout: "", stderr: USAGE, exitCode: 2 };
  }
  if (output !== "table" && output !== "json") {
    return {
      stdout: "",
      stderr: `unknown output ${JSON.stringify(output)}\n${USAGE}`,
      exitCode: 2,
    };
  }
  let url: URL;
  try {
    url = new URL(`/api/ipam/${what}`, agent);
  } catch {
    return { stdout: "", stderr: `bad --agent URL ${JSON.stringify(agent)}\n`, exitCode: 2 };
  }
  const f = o.fetch ?? fetch;
  let body: { blocks?: BlockRow[]; pods?: PodRow[]; error?: string };
  try {
    const res = await f(url);
    body = await res.json();
    if (!res.ok) {
      return { stdout: "", stderr: `agent: ${body.error ?? res.status}\n`, exitCode: 1 };
    }
  } catch (e) {
    return {
      stdout: "",
      stderr: `cannot reach the agent at ${url}: ${(e as Error).message}\n`,
      exitCode: 1,
    };
  }
  if (output === "json") {
    return { stdout: JSON.stringify(body[what] ?? [], null, 2) + "\n", stderr: "", exitCode: 0 };
  }
  return {
    stdout: what === "blocks" ? formatBlocks(body.blocks ?? []) : formatPods(body.pods ?? []),
    stderr: "",
    exitCode: 0,
  };
}

/** What a command of the `ctl` dispatcher gets: the dispatcher's own context. */
export type IpamCommandContext = CommandContext;

async function runFor(
  what: "blocks" | "pods",
  args: { readonly positional: readonly string[] },
  ctx: IpamCommandContext,
): Promise<number> {
  if (args.positional.length > 0) {
    ctx.err(`error: unexpected ${JSON.stringify(args.positional[0])}`);
    ctx.err(`usage: ctl ipam ${what} [--json] [--api URL]`);
    return 2;
  }
  const r = await runIpamCommand(
    [what, "--agent", ctx.api, "-o", ctx.json ? "json" : "table"],
    { fetch: ctx.fetch },
  );
  if (r.stdout) ctx.out(r.stdout.replace(/\n$/, ""));
  if (r.stderr) ctx.err(r.stderr.replace(/\n$/, ""));
  return r.exitCode;
}

/**
 * The `ipam` command group for `ctl`'s dispatcher (it has the shape of a `CommandGroup`):
 * register it as `COMMAND_GROUPS.ipam = ipamCommands`; `--api` is then the agent's inspection
 * address.
 */
export const ipamCommands = {
  summary: "the node agent's address blocks and allocations (its inspection API)",
  commands: {
    blocks: {
      usage: "blocks [--json] [--api URL]",
      summary: "the node's address blocks and how full they are",
      run: (args: { readonly positional: readonly string[] }, ctx: IpamCommandContext) =>
        runFor("blocks", args, ctx),
    },
    pods: {
      usage: "pods [--json] [--api URL]",
      summary: "the node's allocations: pod, container, interface, pool, addresses",
      run: (args: { readonly positional: readonly string[] }, ctx: IpamCommandContext) =>
        runFor("pods", args, ctx),
    },
  },
} as const;
