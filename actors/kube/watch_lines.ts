/** Splits a watch response body into events (one JSON object per line). */
import type { KubeObject, WatchEvent } from "./objects.ts";

/** A line of a watch stream that is not a watch event. */
export class WatchDecodeError extends Error {
  override readonly name = "WatchDecodeError";
  constructor(readonly line: string) {
    super(`Watch stream line is not an event: "${line.slice(0, 120)}"`);
  }
}

/** Decodes complete lines out of `buffer`; returns the events and the unfinished rest. */
export function decodeWatchChunk<T extends KubeObject>(
  buffer: string,
): { events: WatchEvent<T>[]; rest: string } {
  const events: WatchEvent<T>[] = [];
  let start = 0;
  for (;;) {
    const nl = buffer.indexOf("\n", start);
    if (nl < 0) break;
    const line = buffer.slice(start, nl).trim();
    start = nl + 1;
    if (!line) continue;
    let ev: WatchEvent<T>;
    try {
      ev = JSON.parse(line);
    } catch {
      throw new WatchDecodeError(line);
    }
    if (!ev || typeof ev !== "object" || typeof ev.type !== "string" || !ev.object) {
      throw new WatchDecodeError(line);
    }
    events.push(ev);
  }
  return { events, rest: buffer.slice(start) };
}

/** Yields the events of a watch body; cancels the body when the consumer stops early. */
export async function* parseWatchLines<T extends KubeObject>(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<WatchEvent<T>> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const { events, rest } = decodeWatchChunk<T>(buffer);
      buffer = rest;
      for (const ev of events) yield ev;
    }
    if (buffer.trim()) yield* decodeWatchChunk<T>(buffer + "\n").events;
  } finally {
    await reader.cancel().catch(() => {});
  }
}
