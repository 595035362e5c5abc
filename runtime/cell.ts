/**
 * The cell: everything the runtime keeps about one actor at one path, across its incarnations.
 *
 * Message processing: `tell` appends to the bounded mailbox and, if the actor is idle, schedules
 * a drain as a microtask. A drain handles up to {@link DRAIN_BATCH} messages in a tight loop,
 * then yields to the event loop (a macrotask) so timers and I/O are never starved. When
 * `receive` returns a promise, the cell waits for it before taking the next message: one message
 * at a time per actor, while every other actor keeps running.
 *
 * Lifecycle: `start` runs the definition's start function (a new incarnation with a fresh
 * closure, fresh timers and fresh watches). An incarnation ends by crashing (receive or start
 * throws), by `ctx.stop()`, or by its supervisor's `stop`. The end runs the actor's `stop` hook,
 * cancels its timers, and then either answers the supervisor's stop request or reports the exit
 * to the supervisor, which decides between restart and removal. Until that decision messages
 * keep queueing; after removal (`finalize`) they become dead letters.
 */
import { ReplyChannel, replyChannelOf } from "./ask.ts";
import type { TimerHandle } from "./clock.ts";
import { ActorCrashedError, ActorStoppedError, describeError, MailboxFullError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { Mailbox } from "./mailbox.ts";
import type {
  Actor,
  ActorContext,
  ActorDef,
  ActorRef,
  ActorState,
  AskOptions,
  ChildSpec,
  ExitReason,
  ReplyTo,
  RestartType,
  Shutdown,
  SupervisorDef,
  SupervisorHandle,
  Terminated,
  Timers,
} from "./types.ts";
import type { SystemInternals } from "./system_internals.ts";

/** Messages handled in one drain before yielding to the event loop. */
export const DRAIN_BATCH = 1024;

/** Default ask timeout. */
export const DEFAULT_ASK_TIMEOUT_MS = 5_000;

/** Default shutdown time of a worker. */
export const DEFAULT_WORKER_SHUTDOWN_MS = 5_000;

/** The last failure of an actor. */
export interface FailureRecord {
  error: string;
  at: number;
}

interface Watcher {
  // deno-lint-ignore no-explicit-any
  cell: Cell<any>;
  incarnation: number;
  toMsg: (t: Terminated) => unknown;
}

/** Something that hosts children and hears of their exits: a supervisor. */
export interface ParentLink {
  // deno-lint-ignore no-explicit-any
  childExited(cell: Cell<any>, incarnation: number, reason: ExitReason): void;
  readonly handle: SupervisorHandle;
}

/** Hooks a supervisor's actor gives its cell, for inspection. */
export interface SupervisorView {
  readonly strategy: string;
  // deno-lint-ignore no-explicit-any
  children(): Cell<any>[];
}

const NOOP_TIMERS_KEY = "";

/** One actor at one path. */
export class Cell<M> {
  readonly ref: RefImpl<M>;
  readonly mailbox: Mailbox<M>;
  readonly log: Logger;
  readonly restartType: RestartType;
  readonly shutdown: Shutdown;
  state: ActorState = "restarting";
  incarnation = 0;
  processed = 0;
  restarts = 0;
  failures = 0;
  lastFailure: FailureRecord | null = null;
  startedAt: number | null = null;
  /** Set by a supervisor's actor so inspection can show its strategy and children. */
  supervisorView: SupervisorView | null = null;
  /** Reason of the most recent exit, until the cell starts again. */
  lastExit: ExitReason | null = null;

  #actor: Actor<M> | null = null;
  #scheduled = false;
  #busy = false;
  #draining = false;
  #selfStop = false;
  #stopRequested = false;
  #stopWaiters: (() => void)[] = [];
  #timers = new Map<string, TimerHandle>();
  #watchers = new Set<Watcher>();
  #current: M | undefined;

  constructor(
    readonly system: SystemInternals,
    readonly parent: ParentLink | null,
    readonly id: string,
    readonly path: string,
    // deno-lint-ignore no-explicit-any
    readonly def: ActorDef<M> | SupervisorDef | ActorDef<any>,
    spec: Pick<ChildSpec, "restart" | "shutdown" | "mailbox">,
  ) {
    this.ref = new RefImpl(this);
    this.log = system.log.child(path);
    this.restartType = spec.restart ?? "permanent";
    this.shutdown = spec.shutdown ??
      (def.kind === "supervisor" ? "infinity" : DEFAULT_WORKER_SHUTDOWN_MS);
    this.mailbox = new Mailbox<M>(
      def.kind === "supervisor"
        ? { capacity: Number.POSITIVE_INFINITY, overflow: "drop_newest" }
        : spec.mailbox,
    );
  }

  /** Behaviour name. */
  get name(): string {
    return this.def.name;
  }

  /** The running incarnation's extra inspection state, if it offers one. */
  inspectActor(): unknown {
    const a = this.#actor;
    if (!a?.inspect) return undefined;
    try {
      return a.inspect();
    } catch (e) {
      return { inspectError: describeError(e) };
    }
  }

  // ---- messages --------------------------------------------------------------------------

  /** Accepts a message; `ask` is the reply channel when the message comes from an ask. */
  enqueue(msg: M, ask?: ReplyChannel<unknown>): void {
    if (this.state === "stopped") {
      this.system.deadLetter(this.path, msg);
      ask?.fail(new ActorStoppedError(this.path));
      return;
    }
    const result = this.mailbox.push(msg);
    if (result !== "accepted") {
      this.system.mailboxDrop(this.path);
      if (result === "refused") {
        const err = new MailboxFullError(this.path, this.mailbox.capacity);
        if (ask) ask.fail(err);
        else throw err;
        return;
      }
      if (result === "dropped_newest") {
        replyChannelOf(msg)?.fail(new MailboxFullError(this.path, this.mailbox.capacity));
        return;
      }
      const evicted = this.mailbox.evicted;
      this.mailbox.evicted = undefined;
      replyChannelOf(evicted)?.fail(new MailboxFullError(this.path, this.mailbox.capacity));
    }
    if (!this.#scheduled && !this.#busy && this.state === "running") {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#busy || this.state !== "running") return;
    this.#scheduled = true;
    queueMicrotask(this.#drain);
  }

  #drain = (): void => {
    this.#scheduled = false;
    if (this.state !== "running" || this.#busy) return;
    this.#draining = true;
    try {
      this.#drainBatch();
    } finally {
      this.#draining = false;
    }
  };

  #drainBatch(): void {
    const actor = this.#actor!;
    const mailbox = this.mailbox;
    let n = 0;
    while (mailbox.size > 0) {
      if (n === DRAIN_BATCH) {
        this.#scheduled = true;
        this.system.yieldThen(this.#drain);
        return;
      }
      const msg = mailbox.shift();
      n++;
      this.processed++;
      let result: void | Promise<void>;
      try {
        result = actor.receive(msg);
      } catch (e) {
        this.#crash(e, msg);
        return;
      }
      if (result !== undefined && typeof (result as Promise<void>).then === "function") {
        this.#busy = true;
        this.#current = msg;
        const inc = this.incarnation;
        (result as Promise<void>).then(
          () => this.#afterAsync(inc),
          (e) => {
            if (inc !== this.incarnation || !this.#busy) return;
            this.#busy = false;
            this.#crash(e, msg);
          },
        );
        return;
      }
      if (this.state !== "running") return;
      if (this.#selfStop || this.#stopRequested) {
        this.#beginExit(this.#selfStop ? { kind: "normal" } : { kind: "shutdown" });
        return;
      }
    }
  }

  #afterAsync(inc: number): void {
    if (inc !== this.incarnation || !this.#busy) return;
    this.#busy = false;
    this.#current = undefined;
    if (this.state !== "running") return;
    if (this.#selfStop || this.#stopRequested) {
      this.#beginExit(this.#selfStop ? { kind: "normal" } : { kind: "shutdown" });
      return;
    }
    if (this.mailbox.size > 0) this.#schedule();
  }

  #crash(error: unknown, msg?: M): void {
    if (msg !== undefined) {
      replyChannelOf(msg)?.fail(new ActorCrashedError(this.path, error));
    }
    this.#beginExit({ kind: "error", error });
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** Starts a new incarnation. Resolves once it runs or has failed to start. */
  async start(): Promise<void> {
    const inc = ++this.incarnation;
    this.state = "starting";
    this.lastExit = null;
    this.#selfStop = false;
    this.#stopRequested = false;
    this.#busy = false;
    this.#scheduled = false;
    const ctx = new Context<M>(this, inc);
    let actor: Actor<M>;
    try {
      const made = this.def.kind === "supervisor"
        ? this.system.startSupervisorActor(this as Cell<unknown>, this.def, ctx as Context<unknown>)
        : (this.def as ActorDef<M>).start(ctx);
      actor = (made instanceof Promise ? await made : made) as Actor<M>;
    } catch (e) {
      if (inc !== this.incarnation || this.state !== "starting") return;
      this.#crash(e);
      return;
    }
    if (inc !== this.incarnation || this.state !== "starting") {
      // Killed while starting: this incarnation never ran; let it release what it holds.
      try {
        await actor.stop?.({ kind: "killed" });
      } catch { /* it is gone either way */ }
      return;
    }
    this.#actor = actor;
    this.state = "running";
    this.startedAt = this.system.clock.now();
    if (this.#selfStop || this.#stopRequested) {
      this.#beginExit(this.#selfStop ? { kind: "normal" } : { kind: "shutdown" });
      return;
    }
    if (this.mailbox.size > 0) this.#schedule();
  }

  /** Ends the incarnation after the current message, from inside (ctx.stop). */
  requestSelfStop(inc: number): void {
    if (inc !== this.incarnation) return;
    this.#selfStop = true;
    if (this.state === "running" && !this.#busy && !this.#draining) {
      // Called outside a drain (for example from a promise continuation): exit now.
      this.#beginExit({ kind: "normal" });
    }
  }

  #beginExit(reason: ExitReason): void {
    if (this.state !== "running" && this.state !== "starting") return;
    const inc = this.incarnation;
    this.state = "stopping";
    this.#cancelTimers();
    const actor = this.#actor;
    this.#actor = null;
    this.#current = undefined;
    if (reason.kind === "error") {
      this.failures++;
      this.lastFailure = { error: describeError(reason.error), at: this.system.clock.now() };
      this.system.actorFailed(this.path);
      this.log.error("actor crashed", {
        behaviour: this.name,
        error: describeError(reason.error),
        stack: reason.error instanceof Error ? reason.error.stack : undefined,
      });
    }
    let hook: void | Promise<void> = undefined;
    try {
      hook = actor?.stop?.(reason);
    } catch (e) {
      this.log.warn("stop hook failed", { error: describeError(e) });
    }
    if (hook instanceof Promise) {
      hook.then(
        () => this.#finishExit(inc, reason),
        (e) => {
          this.log.warn("stop hook failed", { error: describeError(e) });
          this.#finishExit(inc, reason);
        },
      );
    } else {
      this.#finishExit(inc, reason);
    }
  }

  #finishExit(inc: number, reason: ExitReason): void {
    if (inc !== this.incarnation || this.state !== "stopping") return; // killed meanwhile
    this.state = "restarting";
    this.#busy = false;
    this.lastExit = reason;
    if (this.#stopWaiters.length > 0) {
      this.#resolveStopWaiters();
      return;
    }
    if (this.parent) this.parent.childExited(this, inc, reason);
    else this.system.rootExited(this, reason);
  }

  #resolveStopWaiters(): void {
    const waiters = this.#stopWaiters;
    this.#stopWaiters = [];
    for (const w of waiters) w();
  }

  /** Forced end of the incarnation: no stop hook, the in-flight message is abandoned. */
  #kill(): void {
    if (this.state === "restarting" || this.state === "stopped") return;
    this.incarnation++; // anything still running for the old incarnation is now ignored
    this.#cancelTimers();
    this.#actor = null;
    this.#busy = false;
    this.#current = undefined;
    this.state = "restarting";
    this.lastExit = { kind: "killed" };
    this.log.warn("actor killed", { behaviour: this.name });
    this.#resolveStopWaiters();
  }

  /**
   * Stops the running incarnation (called by the supervisor or the system). Resolves when it
   * has ended; kills it if it takes longer than `shutdown`. The cell is left for the caller to
   * restart or finalize.
   */
  stop(shutdown: Shutdown = this.shutdown): Promise<void> {
    if (this.state === "restarting" || this.state === "stopped") return Promise.resolve();
    if (shutdown === "brutal_kill") {
      this.#kill();
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve) => this.#stopWaiters.push(resolve));
    this.#stopRequested = true;
    if (this.state === "running" && !this.#busy) this.#beginExit({ kind: "shutdown" });
    if ((this.state as ActorState) !== "restarting" && typeof shutdown === "number") {
      const inc = this.incarnation;
      const timer = this.system.clock.setTimer(shutdown, () => {
        if (inc === this.incarnation && this.state !== "restarting") this.#kill();
      });
      return done.then(() => this.system.clock.clearTimer(timer));
    }
    return done;
  }

  /** Removes the cell for good: queued messages become dead letters and watchers are told. */
  finalize(reason: ExitReason): void {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.system.unregister(this);
    for (const msg of this.mailbox.drain()) {
      this.system.deadLetter(this.path, msg);
      replyChannelOf(msg)?.fail(new ActorStoppedError(this.path));
    }
    this.notifyWatchers(reason, false);
    this.#watchers.clear();
  }

  // ---- timers and watches -----------------------------------------------------------------

  setTimer(inc: number, key: string, ms: number, msg: M, periodic: boolean): void {
    if (inc !== this.incarnation) return;
    this.cancelTimer(key);
    const fire = () => {
      if (inc !== this.incarnation) return;
      if (periodic) this.#timers.set(key, this.system.clock.setTimer(ms, fire));
      else this.#timers.delete(key);
      this.enqueue(msg);
    };
    this.#timers.set(key, this.system.clock.setTimer(ms, fire));
  }

  cancelTimer(key: string): void {
    const h = this.#timers.get(key);
    if (h !== undefined) {
      this.system.clock.clearTimer(h);
      this.#timers.delete(key);
    }
  }

  hasTimer(key: string): boolean {
    return key !== NOOP_TIMERS_KEY && this.#timers.has(key);
  }

  /** Number of live timers (for tests and inspection). */
  get timerCount(): number {
    return this.#timers.size;
  }

  #cancelTimers(): void {
    for (const h of this.#timers.values()) this.system.clock.clearTimer(h);
    this.#timers.clear();
  }

  // deno-lint-ignore no-explicit-any
  addWatcher(watcher: Cell<any>, incarnation: number, toMsg: (t: Terminated) => unknown): void {
    this.#watchers.add({ cell: watcher, incarnation, toMsg });
  }

  /** Tells every live watcher that the incarnation ended. */
  notifyWatchers(reason: ExitReason, restarting: boolean): void {
    if (this.#watchers.size === 0) return;
    const t: Terminated = { type: "terminated", path: this.path, reason, restarting };
    for (const w of this.#watchers) {
      if (w.cell.incarnation !== w.incarnation || w.cell.state === "stopped") {
        this.#watchers.delete(w);
        continue;
      }
      let msg: unknown;
      try {
        msg = w.toMsg(t);
      } catch (e) {
        w.cell.log.warn("watch mapping failed", { error: describeError(e) });
        continue;
      }
      w.cell.enqueue(msg);
    }
  }
}

/** The ActorRef of a cell; re-resolves its path if the cell was removed and replaced. */
export class RefImpl<M> implements ActorRef<M> {
  readonly path: string;
  constructor(private cell: Cell<M>) {
    this.path = cell.path;
  }

  #live(): Cell<M> {
    let c = this.cell;
    if (c.state === "stopped") {
      const replacement = c.system.cellAt(this.path) as Cell<M> | undefined;
      if (replacement) this.cell = c = replacement;
    }
    return c;
  }

  tell(msg: M): void {
    this.#live().enqueue(msg);
  }

  ask<R>(make: (replyTo: ReplyTo<R>) => M, options?: AskOptions): Promise<R> {
    const cell = this.#live();
    const timeoutMs = options?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    const wheel = cell.system.asks;
    return new Promise<R>((resolve, reject) => {
      const ch = new ReplyChannel<R>(resolve, reject, wheel, this.path, timeoutMs);
      wheel.add(ch, timeoutMs);
      let msg: M;
      try {
        msg = make(ch);
      } catch (e) {
        ch.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      cell.enqueue(msg, ch as ReplyChannel<unknown>);
    });
  }
}

class Context<M> implements ActorContext<M> {
  readonly timers: Timers<M>;
  constructor(private readonly cell: Cell<M>, private readonly inc: number) {
    this.timers = {
      once: (key, ms, msg) => cell.setTimer(inc, key, ms, msg, false),
      every: (key, ms, msg) => cell.setTimer(inc, key, ms, msg, true),
      cancel: (key) => {
        if (inc === cell.incarnation) cell.cancelTimer(key);
      },
      has: (key) => inc === cell.incarnation && cell.hasTimer(key),
    };
  }
  get self(): ActorRef<M> {
    return this.cell.ref;
  }
  get path(): string {
    return this.cell.path;
  }
  get log() {
    return this.cell.log;
  }
  get metrics() {
    return this.cell.system.metrics;
  }
  get clock() {
    return this.cell.system.clock;
  }
  get restarts(): number {
    return this.cell.restarts;
  }
  get parent(): SupervisorHandle | null {
    return this.cell.parent?.handle ?? null;
  }
  watch<T>(ref: ActorRef<T>, toMsg: (t: Terminated) => M): void {
    const target = this.cell.system.cellAt(ref.path);
    if (!target || target.state === "stopped") {
      this.cell.enqueue(
        toMsg({
          type: "terminated",
          path: ref.path,
          reason: { kind: "noproc" },
          restarting: false,
        }),
      );
      return;
    }
    target.addWatcher(this.cell, this.inc, toMsg as (t: Terminated) => unknown);
  }
  // deno-lint-ignore no-explicit-any
  lookup<T = any>(path: string): ActorRef<T> | undefined {
    return this.cell.system.cellAt(path)?.ref as ActorRef<T> | undefined;
  }
  stop(): void {
    this.cell.requestSelfStop(this.inc);
  }
}
