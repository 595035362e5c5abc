/**
 * Atomic file replacement: write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the directory. A reader (or the agent after a crash) sees the old file or
 * the new one, never a mix.
 *
 * @module
 */

let counter = 0;

/** Replaces `path` with `data` atomically and durably; `mode` applies to the new file. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  const tmp = `${path}.tmp-${Deno.pid}-${++counter}`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode });
  try {
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } catch (e) {
    f.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  f.close();
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  const d = await Deno.open(dir, { read: true });
  try {
    await d.sync();
  } finally {
    d.close();
  }
}
