/**
 * `ctl`'s command groups and dispatcher. A new group (such as `ipam`) registers itself by
 * adding an entry to {@linkcode COMMAND_GROUPS}.
 * @module
 */
import { bgpCommands } from "./bgp_commands.ts";
import { runIpamCommand } from "./ipam_commands.ts";
import { type CommandContext, type CommandGroup, parseArgs, UsageError } from "./command.ts";

export {
  type Command,
  type CommandContext,
  type CommandGroup,
  parseArgs,
  table,
  UsageError,
} from "./command.ts";

const rawOnly = (usage: string, summary: string) => ({
  usage,
  summary,
  run: () => Promise.resolve(2),
});

/** `ctl ipam ...`: the node agent's IPAM view (its own parser, in `ipam_commands.ts`). */
const ipamGroup: CommandGroup = {
  summary: "node agent IPAM: address blocks and allocations",
  commands: {
    blocks: rawOnly("blocks [--agent URL] [-o table|json]", "address blocks and their usage"),
    pods: rawOnly("pods [--agent URL] [-o table|json]", "allocations per container"),
  },
  async runRaw(argv, ctx) {
    const r = await runIpamCommand([...argv], { fetch: ctx.fetch });
    if (r.stdout) ctx.out(r.stdout.replace(/\n$/, ""));
    if (r.stderr) ctx.err(r.stderr.replace(/\n$/, ""));
    return r.exitCode;
  },
};

/** Every command group by name. */
export const COMMAND_GROUPS: Record<string, CommandGroup> = {
  bgp: bgpCommands,
  ipam: ipamGroup,
};

/** Default API of the speaker role. */
export const DEFAULT_API = "http://127.0.0.1:7179";

function help(groups: Record<string, CommandGroup>): string {
  const lines = ["usage: ctl GROUP COMMAND [ARGS] [--json] [--api URL]", ""];
  for (const [g, group] of Object.entries(groups)) {
    lines.push(`${g}: ${group.summary}`);
    for (const c of Object.values(group.commands)) lines.push(`  ctl ${g} ${c.usage}`);
  }
  return lines.join("\n");
}

/**
 * Runs `ctl` with `argv`; returns the exit code (0 ok, 1 failure, 2 usage).
 * `--api URL` (or `TERN_API`) selects the role's API.
 */
export async function runCtl(
  argv: readonly string[],
  io: Partial<Pick<CommandContext, "out" | "err" | "fetch">> & {
    env?: (k: string) => string | undefined;
  } = {},
  groups: Record<string, CommandGroup> = COMMAND_GROUPS,
): Promise<number> {
  const out = io.out ?? ((l: string) => console.log(l));
  const err = io.err ?? ((l: string) => console.error(l));
  const args = parseArgs(argv);
  const [groupName, commandName, ...rest] = args.positional;
  if (!groupName || args.options.has("help")) {
    (groupName ? out : err)(help(groups));
    return groupName ? 0 : 2;
  }
  const group = groups[groupName];
  if (!group) {
    err(`error: unknown command group "${groupName}" (known: ${Object.keys(groups).join(", ")})`);
    return 2;
  }
  if (group.runRaw) {
    const i = argv.indexOf(groupName);
    return await group.runRaw(argv.slice(i + 1), {
      api: DEFAULT_API,
      json: false,
      out,
      err,
      fetch: io.fetch ?? fetch,
    });
  }
  const command = commandName ? group.commands[commandName] : undefined;
  if (!command) {
    err(`error: unknown command "${`${groupName} ${commandName ?? ""}`.trim()}"`);
    err(help({ [groupName]: group }));
    return 2;
  }
  const ctx: CommandContext = {
    api: (args.options.get("api")?.[0] ?? io.env?.("TERN_API") ?? DEFAULT_API).replace(/\/$/, ""),
    json: args.options.has("json"),
    out,
    err,
    fetch: io.fetch ?? fetch,
  };
  try {
    return await command.run({ positional: rest, options: args.options }, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`error: ${e.message}`);
      err(`usage: ctl ${groupName} ${command.usage}`);
      return 2;
    }
    err(`error: ${(e as Error).message}`);
    return 1;
  }
}
