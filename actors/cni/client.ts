/**
 * The plugin's side of the socket: one request, one answer, over a Unix stream socket, with a
 * deadline. Failing to connect, or a connection closed before a full answer, is
 * {@linkcode AgentUnreachableError}.
 *
 * @module
 */

import { AgentUnreachableError } from "./plugin.ts";
import {
  type AgentRequest,
  type AgentResponse,
  decodeResponse,
  encodeMessage,
  LineReader,
  ProtocolError,
} from "./protocol.ts";

/** Sends `request` to the agent at `socket` and returns its answer. */
export async function callAgent(
  socket: string,
  request: AgentRequest,
  timeoutMs = 60_000,
): Promise<AgentResponse> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (e) {
    throw new AgentUnreachableError(socket, (e as Error).message);
  }
  // The deadline is an `AbortSignal.timeout`, not `setTimeout`: Deno's global `setTimeout` is
  // node's, and its first call costs the plugin 7–15 ms of start-up; this costs under 1 ms.
  const deadline = AbortSignal.timeout(timeoutMs);
  const onDeadline = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  deadline.addEventListener("abort", onDeadline, { once: true });
  try {
    const bytes = encodeMessage(request);
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    const reader = new LineReader();
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) throw new AgentUnreachableError(socket, "the agent closed the connection");
      const lines = reader.push(buf.subarray(0, n));
      if (lines.length > 0) return decodeResponse(lines[0]!);
    }
  } catch (e) {
    if (e instanceof AgentUnreachableError || e instanceof ProtocolError) throw e;
    throw new AgentUnreachableError(socket, (e as Error).message);
  } finally {
    deadline.removeEventListener("abort", onDeadline);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}
