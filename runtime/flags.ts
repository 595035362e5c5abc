/** Small, strict command-line flag helpers shared by the roles. */

/** A flag with a value that cannot be used. */
export class InvalidFlagError extends Error {
  override readonly name = "InvalidFlagError";
  constructor(readonly flag: string, readonly value: string, readonly why: string) {
    super(`Invalid ${flag} "${value}": ${why}`);
  }
}

/** Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (host defaults to 127.0.0.1). */
export function parseHostPort(flag: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new InvalidFlagError(flag, value, "expected HOST:PORT");
  const port = Number(m[3]);
  if (port > 65535) throw new InvalidFlagError(flag, value, "port must be at most 65535");
  const host = m[1] ?? (m[2] || "127.0.0.1");
  return { host, port };
}
