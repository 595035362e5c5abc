/**
 * The shape of `ctl` command groups: each group (`bgp`, later `ipam`, …) maps sub-command
 * names to functions taking parsed arguments and an I/O context, returning an exit code.
 * @module
 */

/** Parsed command line: positional arguments and `--flag value` / `--flag` options. */
export interface ParsedArgs {
  /** Positional arguments after the sub-command. */
  readonly positional: readonly string[];
  /** Options; repeated options keep every value. */
  readonly options: ReadonlyMap<string, readonly string[]>;
}

/** What a command may use. */
export interface CommandContext {
  /** Base URL of the role's API (e.g. `http://127.0.0.1:7179`). */
  readonly api: string;
  /** Print JSON instead of tables. */
  readonly json: boolean;
  /** Standard output. */
  readonly out: (line: string) => void;
  /** Standard error. */
  readonly err: (line: string) => void;
  /** HTTP client (fetch by default; tests may inject). */
  readonly fetch: typeof fetch;
}

/** One sub-command. */
export interface Command {
  /** One-line usage, e.g. `announce PREFIX [--med N]`. */
  readonly usage: string;
  /** What it does. */
  readonly summary: string;
  /** Runs the command; returns the exit code. */
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>;
}

/** A command group. */
export interface CommandGroup {
  /** Group description. */
  readonly summary: string;
  /** Sub-commands by name. */
  readonly commands: Readonly<Record<string, Command>>;
  /**
   * A group with its own argument parsing gets the raw arguments after the group name
   * (`commands` then only serve the help text).
   */
  readonly runRaw?: (argv: readonly string[], ctx: CommandContext) => Promise<number>;
}

/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set(["json", "help"]);

/** Splits argv into positional arguments and options. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      let value: string;
      if (eq > 0) value = a.slice(eq + 1);
      else if (BOOLEAN_FLAGS.has(name) || i + 1 >= argv.length) value = "true";
      else value = argv[++i];
      options.set(name, [...(options.get(name) ?? []), value]);
    } else positional.push(a);
  }
  return { positional, options };
}

/** Renders rows as an aligned text table. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** Error raised for bad command-line usage (exit code 2). */
export class UsageError extends Error {
  /** Discriminator. */
  readonly code = "usage";
  /** Creates an error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
