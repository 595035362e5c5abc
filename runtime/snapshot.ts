/**
 * The inspection view of a running tree: what `/debug/supervision` serves and the HTML page
 * draws.
 */
import type { Cell } from "./cell.ts";
import type { ActorState, RestartType } from "./types.ts";

/** One actor in a snapshot. */
export interface ActorSnapshot {
  path: string;
  id: string;
  /** Behaviour name. */
  behaviour: string;
  kind: "worker" | "supervisor";
  state: ActorState;
  restartType: RestartType;
  mailbox: { depth: number; capacity: number | null; overflow: string; dropped: number };
  processed: number;
  restarts: number;
  failures: number;
  lastFailure: { error: string; at: string } | null;
  startedAt: string | null;
  /** Supervisors only. */
  strategy?: string;
  /** Extra state the actor chose to show. */
  info?: unknown;
  children: ActorSnapshot[];
}

/** A whole system. */
export interface SystemSnapshot {
  system: string;
  at: string;
  deadLetters: number;
  root: ActorSnapshot | null;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Snapshot of a cell and everything below it. */
// deno-lint-ignore no-explicit-any
export function snapshotCell(cell: Cell<any>): ActorSnapshot {
  const view = cell.supervisorView;
  const snap: ActorSnapshot = {
    path: cell.path,
    id: cell.id,
    behaviour: cell.name,
    kind: cell.def.kind,
    state: cell.state,
    restartType: cell.restartType,
    mailbox: {
      depth: cell.mailbox.size,
      capacity: Number.isFinite(cell.mailbox.capacity) ? cell.mailbox.capacity : null,
      overflow: cell.mailbox.overflow,
      dropped: cell.mailbox.dropped,
    },
    processed: cell.processed,
    restarts: cell.restarts,
    failures: cell.failures,
    lastFailure: cell.lastFailure
      ? { error: cell.lastFailure.error, at: iso(cell.lastFailure.at)! }
      : null,
    startedAt: iso(cell.startedAt),
    children: view ? view.children().map(snapshotCell) : [],
  };
  if (view) snap.strategy = view.strategy;
  const info = cell.inspectActor();
  if (info !== undefined) snap.info = info;
  return snap;
}

/** Every actor of a snapshot, depth first. */
export function flattenSnapshot(root: ActorSnapshot | null): ActorSnapshot[] {
  const out: ActorSnapshot[] = [];
  const walk = (s: ActorSnapshot) => {
    out.push(s);
    s.children.forEach(walk);
  };
  if (root) walk(root);
  return out;
}
