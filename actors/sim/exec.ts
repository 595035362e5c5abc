/**
 * Running the system tools the simulated cluster is built from (`ip`, `nft`, `birdc`, `vtysh`,
 * `curl`, `ping`), optionally inside a network namespace (`ip netns exec`).
 * @module
 */

/** A command failed (non-zero exit or could not start). */
export class CommandError extends Error {
  /** Discriminator. */
  readonly code = "command_failed";
  /** Build one quoting the command and its stderr. */
  constructor(
    readonly argv: string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`Command ${JSON.stringify(argv.join(" "))} exited ${exitCode}: ${stderr.trim()}`);
    this.name = "CommandError";
  }
}

/** Output of a finished command. */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Run inside this named network namespace. */
  ns?: string;
  /** Bytes or text on stdin. */
  stdin?: string;
  /** Throw {@link CommandError} on a non-zero exit (default true). */
  check?: boolean;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the command after this many milliseconds (default 30 s). */
  timeoutMs?: number;
}

/** Runs a command to completion. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<CommandOutput> {
  const full = opts.ns ? ["ip", "netns", "exec", opts.ns, ...argv] : argv;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 30_000);
  try {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(full[0], {
        args: full.slice(1),
        stdin: opts.stdin !== undefined ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
        env: opts.env,
        signal: ac.signal,
      }).spawn();
    } catch (e) {
      throw new CommandError(full, -1, e instanceof Error ? e.message : String(e));
    }
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const out = await child.output();
    const res = {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
    if (opts.check !== false && res.code !== 0) {
      throw new CommandError(full, res.code, res.stderr || res.stdout);
    }
    return res;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `ip -batch -` with the given lines (one `ip` command each, without the leading `ip`). */
export async function ipBatch(lines: string[], ns?: string): Promise<void> {
  if (lines.length === 0) return;
  const argv = ns ? ["ip", "-n", ns, "-batch", "-"] : ["ip", "-batch", "-"];
  await run(argv, { stdin: lines.join("\n") + "\n" });
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(what, timeoutMs, last);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A condition did not hold in time. */
export class WaitTimeoutError extends Error {
  /** Discriminator. */
  readonly code = "wait_timeout";
  /** Build one naming the condition and the last error seen. */
  constructor(readonly what: string, readonly timeoutMs: number, readonly last: unknown) {
    super(
      `Timed out after ${timeoutMs} ms waiting for ${JSON.stringify(what)}` +
        (last instanceof Error ? `; last error: ${last.message}` : ""),
    );
    this.name = "WaitTimeoutError";
  }
}
