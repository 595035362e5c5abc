/**
 * The allocation store actor: the agent's memory of every attachment, persisted to
 * `<stateDir>/allocations.json` with atomic writes. Writes are group-committed: changes that
 * arrive while a write is in flight go out together in the next one, and each change is
 * acknowledged only once it is on disk (fsync + rename), so a burst of 100 ADDs costs a handful
 * of writes, not 100. The file is read once when the actor starts (and again after a restart),
 * so the agent rebuilds from it after a crash or an upgrade.
 *
 * @module
 */

import { actor, type ReplyTo } from "../../runtime/mod.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import {
  type AllocationRecord,
  attachmentKey,
  decodeState,
  encodeState,
  StateFileError,
} from "./records.ts";

/** Messages of the store. */
export type StoreMsg =
  | { type: "put"; record: AllocationRecord; replyTo: ReplyTo<void> }
  | { type: "remove"; key: string; replyTo: ReplyTo<boolean> }
  | { type: "get"; key: string; replyTo: ReplyTo<AllocationRecord | undefined> }
  | { type: "list"; replyTo: ReplyTo<AllocationRecord[]> }
  | { type: "written"; waiters: Waiter[]; error?: Error };

/** Someone waiting for a change to reach the disk. */
export interface Waiter {
  ok(): void;
  err(e: Error): void;
}

/** Path of the state file in a state directory. */
export function stateFile(stateDir: string): string {
  return `${stateDir}/allocations.json`;
}

/** Reads the state file; an absent file is an empty state. Throws {@linkcode StateFileError}. */
export function loadState(stateDir: string, node: string): AllocationRecord[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(stateFile(stateDir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const s = decodeState(text);
  if (s.node !== node) {
    throw new StateFileError(`the file belongs to node ${JSON.stringify(s.node)}`, node);
  }
  return s.records;
}

/** The store actor for `stateDir` on `node`. */
export function allocationStore(stateDir: string, node: string) {
  return actor<StoreMsg>("allocation-store", (ctx) => {
    Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const records = new Map<string, AllocationRecord>();
    for (const r of loadState(stateDir, node)) {
      records.set(attachmentKey(r.containerId, r.ifname), r);
    }
    ctx.log.info("allocations loaded", { count: records.size });
    const writes = ctx.metrics.counter("tern_agent_state_writes_total", "State file writes");
    let pending: Waiter[] = [];
    let dirty = false;
    let writing = false;
    let writesDone = 0;

    const flush = () => {
      const waiters = pending;
      pending = [];
      dirty = false;
      writing = true;
      const text = encodeState(node, records.values());
      writeFileAtomic(stateFile(stateDir), text, 0o600).then(
        () => ctx.self.tell({ type: "written", waiters }),
        (error) => ctx.self.tell({ type: "written", waiters, error }),
      );
    };
    const changed = (w: Waiter) => {
      pending.push(w);
      dirty = true;
      if (!writing) flush();
    };

    return {
      receive(msg) {
        switch (msg.type) {
          case "put":
            records.set(attachmentKey(msg.record.containerId, msg.record.ifname), msg.record);
            changed({ ok: () => msg.replyTo.reply(), err: (e) => msg.replyTo.fail(e) });
            break;
          case "remove": {
            const had = records.delete(msg.key);
            if (!had) {
              msg.replyTo.reply(false);
              break;
            }
            const r = msg.replyTo;
            changed({ ok: () => r.reply(true), err: (e) => r.fail(e) });
            break;
          }
          case "get":
            msg.replyTo.reply(records.get(msg.key));
            break;
          case "list":
            msg.replyTo.reply([...records.values()]);
            break;
          case "written":
            writing = false;
            writesDone++;
            writes.inc();
            for (const w of msg.waiters) {
              if (msg.error) w.err(msg.error);
              else w.ok();
            }
            if (msg.error) ctx.log.error("state write failed", { error: String(msg.error) });
            if (dirty) flush();
            break;
        }
      },
      inspect: () => ({
        allocations: records.size,
        writes: writesDone,
        writing,
        // The first 50, for the live page; `GET /api/ipam/pods` has them all.
        pods: [...records.values()].slice(0, 50).map((r) =>
          `${r.pod ? `${r.pod.namespace}/${r.pod.name}` : r.containerId.slice(0, 12)} ${r.ifname} ${
            r.addresses.map((a) => a.address).join(",")
          }`
        ),
      }),
    };
  });
}
