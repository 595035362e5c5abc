/**
 * Structured logs: one JSON object per line with `time`, `level`, `path` (the actor's path),
 * `msg` and any extra fields. The level comes from the `--log-level` flag of a role or the
 * `TERN_LOG_LEVEL` environment variable.
 */

/** Log levels, least to most severe; `silent` logs nothing. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Extra structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** Where finished log lines go. */
export type LogSink = (line: string) => void;

/** True when `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return value in SEVERITY;
}

/** The level named by `TERN_LOG_LEVEL`, or `fallback`. */
export function logLevelFromEnv(fallback: LogLevel = "info"): LogLevel {
  let value: string | undefined;
  try {
    value = Deno.env.get("TERN_LOG_LEVEL");
  } catch {
    value = undefined; // no env permission: keep the fallback
  }
  return value && isLogLevel(value) ? value : fallback;
}

const encoder = new TextEncoder();

/** Writes each line to standard error. */
export const stderrSink: LogSink = (line) => {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
};

/** A logger bound to one actor path. */
export class Logger {
  constructor(
    readonly path: string,
    private readonly level: () => LogLevel,
    private readonly sink: LogSink,
  ) {}

  /** A logger for another path sharing this one's level and sink. */
  child(path: string): Logger {
    return new Logger(path, this.level, this.sink);
  }

  /** True when lines of `level` would be written. */
  enabled(level: LogLevel): boolean {
    return SEVERITY[level] >= SEVERITY[this.level()];
  }

  debug(msg: string, fields?: LogFields): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write("error", msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      path: this.path,
      msg,
    };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        record[k] = v instanceof Error ? `${v.name}: ${v.message}` : v;
      }
    }
    this.sink(JSON.stringify(record, jsonSafe));
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
