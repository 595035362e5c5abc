/**
 * What cells and supervisors need from their system. Kept as an interface so the pieces of the
 * runtime depend on a contract, not on each other's classes.
 */
import type { AskTimeouts } from "./ask.ts";
import type { Cell } from "./cell.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { MetricsRegistry } from "./metrics.ts";
import type { Actor, ExitReason, SupervisorDef } from "./types.ts";
import type { SupervisorMsg } from "./supervisor.ts";

/** The system as seen from inside the runtime. */
export interface SystemInternals {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly asks: AskTimeouts;
  /** Uniform random number in [0, 1) (injectable for deterministic backoff jitter). */
  random(): number;
  /** Runs `fn` in a later macrotask (after pending I/O and timers). */
  yieldThen(fn: () => void): void;
  deadLetter(path: string, msg: unknown): void;
  mailboxDrop(path: string): void;
  actorFailed(path: string): void;
  // deno-lint-ignore no-explicit-any
  cellAt(path: string): Cell<any> | undefined;
  // deno-lint-ignore no-explicit-any
  register(cell: Cell<any>): void;
  // deno-lint-ignore no-explicit-any
  unregister(cell: Cell<any>): void;
  // deno-lint-ignore no-explicit-any
  rootExited(cell: Cell<any>, reason: ExitReason): void;
  startSupervisorActor(
    cell: Cell<unknown>,
    def: SupervisorDef,
    ctx: unknown,
  ): Actor<SupervisorMsg> | Promise<Actor<SupervisorMsg>>;
}
