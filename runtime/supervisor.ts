/**
 * Supervisors with Erlang/OTP semantics.
 *
 * A supervisor is itself an actor: child exits, dynamic child requests and due restarts arrive
 * as messages and are handled one at a time, so every decision sees a settled tree.
 *
 * - Children start in order and stop in reverse order, each within its shutdown time.
 * - Restart type: `permanent` always restarts, `transient` only after an abnormal exit
 *   (error or killed), `temporary` never.
 * - Strategy: `one_for_one` restarts the child alone; `one_for_all` stops the others (in
 *   reverse order) and restarts all; `rest_for_one` does that for the children started after it.
 *   Temporary siblings stopped this way are removed, not restarted.
 * - Intensity: more than `maxRestarts` restarts within `withinMs` makes the supervisor stop all
 *   its children and fail with `RestartIntensityError`, which its own parent then handles.
 * - Backoff: the first restart of a child is immediate, each further consecutive one waits
 *   `initialMs * factor^(n-1)` (bounded by `maxMs`, spread by ± `jitter`); a child that ran for
 *   `resetAfterMs` starts again from no delay.
 */
import { Cell, type ParentLink } from "./cell.ts";
import {
  DuplicateChildError,
  InvalidChildIdError,
  RestartIntensityError,
  UnknownChildError,
} from "./errors.ts";
import type { SystemInternals } from "./system_internals.ts";
import type {
  Actor,
  ActorContext,
  ActorRef,
  BackoffOptions,
  ChildInfo,
  ChildSpec,
  ExitReason,
  Intensity,
  ReplyTo,
  SupervisorDef,
  SupervisorHandle,
} from "./types.ts";
import { describeError } from "./errors.ts";

/** Messages a supervisor handles. */
export type SupervisorMsg =
  // deno-lint-ignore no-explicit-any
  | { type: "child_exited"; cell: Cell<any>; incarnation: number; reason: ExitReason }
  | { type: "start_child"; spec: ChildSpec; replyTo: ReplyTo<ActorRef<unknown>> }
  | { type: "terminate_child"; id: string; replyTo: ReplyTo<void> }
  | { type: "which_children"; replyTo: ReplyTo<ChildInfo[]> }
  | { type: "restart_due"; token: number };

/** Default restart intensity. */
export const DEFAULT_INTENSITY: Intensity = { maxRestarts: 5, withinMs: 10_000 };

const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialMs: 10,
  maxMs: 5_000,
  factor: 2,
  jitter: 0.2,
  resetAfterMs: 30_000,
};

/** How long `startChild` and friends wait for the supervisor. */
const CONTROL_TIMEOUT_MS = 300_000;

const VALID_ID = /^[A-Za-z0-9._:@-]+$/;

interface Entry {
  spec: ChildSpec;
  // deno-lint-ignore no-explicit-any
  cell: Cell<any>;
  backoffLevel: number;
  lastStartAt: number;
  pendingToken: number;
}

/**
 * The delay before restart number `level` (0-based count of consecutive restarts).
 * Exposed for tests and documentation.
 */
export function backoffDelay(
  level: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const o = { ...DEFAULT_BACKOFF, ...options };
  if (level <= 0) return 0;
  const base = Math.min(o.maxMs, o.initialMs * o.factor ** (level - 1));
  const spread = base * o.jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(o.maxMs, base + spread));
}

function isAbnormal(reason: ExitReason): boolean {
  return reason.kind === "error" || reason.kind === "killed";
}

const links = new WeakMap<Cell<unknown>, ParentLink>();

/** The link children of a supervisor cell use to report to it. */
export function parentLinkOf(supervisorCell: Cell<unknown>): ParentLink {
  let link = links.get(supervisorCell);
  if (link) return link;
  const sup = supervisorCell as unknown as Cell<SupervisorMsg>;
  link = {
    handle: supervisorHandle(sup.ref),
    childExited: (cell, incarnation, reason) =>
      sup.enqueue({ type: "child_exited", cell, incarnation, reason }),
  };
  links.set(supervisorCell, link);
  return link;
}

/** A handle on the supervisor behind an ActorRef (for dynamic children from outside actors). */
export function supervisorHandle(ref: ActorRef<unknown>): SupervisorHandle {
  const ask = <R>(make: (r: ReplyTo<R>) => SupervisorMsg) =>
    (ref as ActorRef<SupervisorMsg>).ask<R>(make, { timeoutMs: CONTROL_TIMEOUT_MS });
  return {
    path: ref.path,
    startChild: <M>(spec: ChildSpec) =>
      ask<ActorRef<unknown>>((replyTo) => ({ type: "start_child", spec, replyTo })) as Promise<
        ActorRef<M>
      >,
    terminateChild: (id) => ask<void>((replyTo) => ({ type: "terminate_child", id, replyTo })),
    children: () => ask<ChildInfo[]>((replyTo) => ({ type: "which_children", replyTo })),
  };
}

/** Builds the running actor of a supervisor cell: starts its children in order. */
export async function startSupervisorActor(
  system: SystemInternals,
  cell: Cell<unknown>,
  def: SupervisorDef,
  ctx: ActorContext<SupervisorMsg>,
): Promise<Actor<SupervisorMsg>> {
  const options = def.options;
  const intensity = options.intensity ?? DEFAULT_INTENSITY;
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  const link = parentLinkOf(cell);
  let entries: Entry[] = [];
  let restartTimes: number[] = [];
  let nextToken = 1;

  cell.supervisorView = { strategy: options.strategy, children: () => entries.map((e) => e.cell) };

  const addChild = (spec: ChildSpec): Entry => {
    if (!VALID_ID.test(spec.id)) throw new InvalidChildIdError(spec.id);
    const path = `${cell.path}/${spec.id}`;
    const existing = system.cellAt(path);
    if (existing && existing.state !== "stopped") throw new DuplicateChildError(path);
    const child = new Cell(system, link, spec.id, path, spec.def, spec);
    system.register(child);
    const entry: Entry = {
      spec,
      cell: child,
      backoffLevel: 0,
      lastStartAt: system.clock.now(),
      pendingToken: 0,
    };
    entries.push(entry);
    return entry;
  };

  const remove = (entry: Entry, reason: ExitReason) => {
    entries = entries.filter((e) => e !== entry);
    entry.cell.finalize(reason);
  };

  const startEntry = async (entry: Entry) => {
    entry.lastStartAt = system.clock.now();
    await entry.cell.start();
  };

  const startGroup = async (token: number) => {
    for (const e of entries) {
      if (e.pendingToken !== token || e.cell.state !== "restarting") continue;
      e.pendingToken = 0;
      e.cell.restarts++;
      await startEntry(e);
    }
  };

  const nextDelay = (entry: Entry, now: number): number => {
    if (now - entry.lastStartAt >= backoff.resetAfterMs) entry.backoffLevel = 0;
    return backoffDelay(entry.backoffLevel++, backoff, () => system.random());
  };

  // deno-lint-ignore no-explicit-any
  const onChildExited = async (child: Cell<any>, incarnation: number, reason: ExitReason) => {
    const entry = entries.find((e) => e.cell === child);
    if (!entry || child.incarnation !== incarnation || child.state !== "restarting") return;
    const type = child.restartType;
    if (type === "temporary" || (type === "transient" && !isAbnormal(reason))) {
      ctx.log.info("child exited, not restarted", { child: entry.spec.id, reason: reason.kind });
      remove(entry, reason);
      return;
    }
    const now = system.clock.now();
    restartTimes.push(now);
    restartTimes = restartTimes.filter((t) => now - t < intensity.withinMs);
    if (restartTimes.length > intensity.maxRestarts) {
      throw new RestartIntensityError(
        cell.path,
        intensity.maxRestarts,
        intensity.withinMs,
        entry.spec.id,
        reason.kind === "error" ? describeError(reason.error) : reason.kind,
      );
    }
    const index = entries.indexOf(entry);
    const group = options.strategy === "one_for_one"
      ? [entry]
      : options.strategy === "one_for_all"
      ? [...entries]
      : entries.slice(index);
    for (const e of [...group].reverse()) {
      if (e !== entry) await e.cell.stop(e.cell.shutdown);
    }
    const restarting: Entry[] = [];
    for (const e of group) {
      if (e !== entry && e.cell.restartType === "temporary") {
        remove(e, e.cell.lastExit ?? { kind: "shutdown" });
      } else {
        restarting.push(e);
      }
    }
    const delay = nextDelay(entry, now);
    const token = nextToken++;
    for (const e of restarting) {
      e.pendingToken = token;
      e.cell.notifyWatchers(e.cell.lastExit ?? { kind: "shutdown" }, true);
    }
    ctx.log.info("restarting", {
      child: entry.spec.id,
      reason: reason.kind,
      strategy: options.strategy,
      group: restarting.map((e) => e.spec.id),
      delayMs: Math.round(delay),
    });
    if (delay <= 0) await startGroup(token);
    else ctx.timers.once(`restart-${token}`, delay, { type: "restart_due", token });
  };

  for (const spec of options.children ?? []) {
    const entry = addChild(spec);
    await startEntry(entry);
  }

  return {
    async receive(msg) {
      switch (msg.type) {
        case "child_exited":
          await onChildExited(msg.cell, msg.incarnation, msg.reason);
          return;
        case "restart_due":
          await startGroup(msg.token);
          return;
        case "start_child": {
          let entry: Entry;
          try {
            entry = addChild(msg.spec);
          } catch (e) {
            msg.replyTo.fail(e as Error);
            return;
          }
          await startEntry(entry);
          msg.replyTo.reply(entry.cell.ref as ActorRef<unknown>);
          return;
        }
        case "terminate_child": {
          const entry = entries.find((e) => e.spec.id === msg.id);
          if (!entry) {
            msg.replyTo.fail(new UnknownChildError(cell.path, msg.id));
            return;
          }
          await entry.cell.stop(entry.cell.shutdown);
          remove(entry, entry.cell.lastExit ?? { kind: "shutdown" });
          msg.replyTo.reply();
          return;
        }
        case "which_children":
          msg.replyTo.reply(entries.map((e) => ({
            id: e.spec.id,
            path: e.cell.path,
            state: e.cell.state,
            restartType: e.cell.restartType,
          })));
          return;
      }
    },
    async stop() {
      const all = entries;
      entries = [];
      cell.supervisorView = { strategy: options.strategy, children: () => [] };
      for (const e of [...all].reverse()) {
        await e.cell.stop(e.cell.shutdown);
        e.cell.finalize(e.cell.lastExit ?? { kind: "shutdown" });
      }
    },
    inspect() {
      return {
        intensity,
        recentRestarts: restartTimes.length,
      };
    },
  };
}
