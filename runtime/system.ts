/**
 * The actor system: one tree under one root, a registry of paths, dead letters, the shared ask
 * timeout wheel, logs, metrics and the clock.
 */
import { clearImmediate, setImmediate } from "node:timers";
import { AskTimeouts } from "./ask.ts";
import { Cell } from "./cell.ts";
import { type Clock, RealClock } from "./clock.ts";
import { ActorStoppedError, describeError } from "./errors.ts";
import { Logger, type LogLevel, logLevelFromEnv, type LogSink, stderrSink } from "./log.ts";
import { escapeLabel, MetricsRegistry } from "./metrics.ts";
import { flattenSnapshot, snapshotCell, type SystemSnapshot } from "./snapshot.ts";
import { startSupervisorActor, type SupervisorMsg } from "./supervisor.ts";
import type { SystemInternals } from "./system_internals.ts";
import type { ActorContext, ActorDef, ActorRef, ExitReason, SupervisorDef } from "./types.ts";

/** Options of an {@link ActorSystem}. */
export interface ActorSystemOptions {
  /** The root's path segment: the root runs at `/<name>`. */
  name: string;
  clock?: Clock;
  /** Default: `TERN_LOG_LEVEL`, else `info`. */
  logLevel?: LogLevel;
  logSink?: LogSink;
  /** Random source for backoff jitter. */
  random?: () => number;
}

/**
 * An actor system.
 *
 * @example
 * ```ts
 * const system = new ActorSystem({ name: "agent" });
 * await system.start(supervisor("agent", { strategy: "one_for_one", children: [] }));
 * console.log(system.snapshot());
 * await system.shutdown();
 * ```
 */
export class ActorSystem {
  readonly name: string;
  readonly clock: Clock;
  readonly metrics = new MetricsRegistry();
  readonly log: Logger;
  /** Messages sent to stopped actors. */
  deadLetters = 0;
  /** The root's exit, once it has ended. */
  exitReason: ExitReason | null = null;

  #level: LogLevel;
  // deno-lint-ignore no-explicit-any
  #cells = new Map<string, Cell<any>>();
  // deno-lint-ignore no-explicit-any
  #root: Cell<any> | null = null;
  #yields = new Set<ReturnType<typeof setImmediate>>();
  #asks: AskTimeouts;
  #random: () => number;
  #terminated: Promise<ExitReason>;
  #resolveTerminated!: (r: ExitReason) => void;
  #internals: SystemInternals;

  constructor(options: ActorSystemOptions) {
    this.name = options.name;
    this.clock = options.clock ?? new RealClock();
    this.#level = options.logLevel ?? logLevelFromEnv();
    this.log = new Logger(`/${options.name}`, () => this.#level, options.logSink ?? stderrSink);
    this.#asks = new AskTimeouts(this.clock);
    this.#random = options.random ?? Math.random;
    this.#terminated = new Promise((resolve) => (this.#resolveTerminated = resolve));
    this.#internals = this.#makeInternals();
    this.metrics.addCollector((out) => this.#collectActorMetrics(out));
  }

  /** Changes the log level at run time. */
  setLogLevel(level: LogLevel): void {
    this.#level = level;
  }

  /** Starts the root (a supervisor or a single worker) at `/<name>`. */
  async start<M = SupervisorMsg>(def: ActorDef<M> | SupervisorDef): Promise<ActorRef<M>> {
    if (this.#root) throw new Error(`System "${this.name}" already has a root`);
    const cell = new Cell<M>(this.#internals, null, this.name, `/${this.name}`, def, {
      restart: "temporary",
      shutdown: "infinity",
    });
    this.#root = cell;
    this.#cells.set(cell.path, cell);
    await cell.start();
    return cell.ref;
  }

  /** The actor at `path`, if one is registered. */
  // deno-lint-ignore no-explicit-any
  lookup<M = any>(path: string): ActorRef<M> | undefined {
    return this.#cells.get(path)?.ref as ActorRef<M> | undefined;
  }

  /** True when an actor runs at `path`. */
  isRunning(path: string): boolean {
    return this.#cells.get(path)?.state === "running";
  }

  /** The whole tree as it is now. */
  snapshot(): SystemSnapshot {
    return {
      system: this.name,
      at: new Date(this.clock.now()).toISOString(),
      deadLetters: this.deadLetters,
      root: this.#root && this.#root.state !== "stopped" ? snapshotCell(this.#root) : null,
    };
  }

  /** Pending asks (for tests). */
  get pendingAsks(): number {
    return this.#asks.size;
  }

  /** Resolves with the root's exit reason once the tree has ended. */
  whenTerminated(): Promise<ExitReason> {
    return this.#terminated;
  }

  /**
   * Stops the tree: children in reverse start order, each within its shutdown time. Pending
   * asks fail, and no timer of the runtime is left behind.
   */
  async shutdown(): Promise<void> {
    const root = this.#root;
    if (root && root.state !== "stopped") {
      await root.stop("infinity");
      root.finalize(root.lastExit ?? { kind: "shutdown" });
      this.#ended(root.lastExit ?? { kind: "shutdown" });
    }
    this.#cleanup();
  }

  #ended(reason: ExitReason): void {
    if (this.exitReason) return;
    this.exitReason = reason;
    this.#resolveTerminated(reason);
  }

  #cleanup(): void {
    for (const h of this.#yields) clearImmediate(h);
    this.#yields.clear();
    this.#asks.failAll(new ActorStoppedError(`/${this.name}`));
  }

  #makeInternals(): SystemInternals {
    // deno-lint-ignore no-this-alias
    const system = this;
    const deadLetterCounter = this.metrics.counter(
      "tern_dead_letters_total",
      "Messages sent to actors that had stopped.",
    );
    return {
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      asks: this.#asks,
      random: () => this.#random(),
      yieldThen: (fn) => {
        // setImmediate, not setTimeout(0): nested zero timeouts are clamped to milliseconds.
        const h = setImmediate(() => {
          this.#yields.delete(h);
          fn();
        });
        this.#yields.add(h);
      },
      deadLetter: (path, msg) => {
        system.deadLetters++;
        deadLetterCounter.inc();
        const n = system.deadLetters;
        if (n <= 10 || n % 1000 === 0) {
          system.log.warn("dead letter", {
            to: path,
            message: (msg as { type?: unknown })?.type ?? typeof msg,
            total: n,
          });
        }
      },
      mailboxDrop: (path) => {
        this.log.debug("mailbox full, message dropped", { to: path });
      },
      actorFailed: () => {},
      cellAt: (path) => this.#cells.get(path),
      register: (cell) => {
        this.#cells.set(cell.path, cell);
      },
      unregister: (cell) => {
        if (this.#cells.get(cell.path) === cell) this.#cells.delete(cell.path);
      },
      rootExited: (cell, reason) => {
        cell.finalize(reason);
        if (reason.kind === "error") {
          this.log.error("root gave up; the system stops", { error: describeError(reason.error) });
        }
        this.#ended(reason);
        this.#cleanup();
      },
      startSupervisorActor: (cell, def, ctx) =>
        startSupervisorActor(
          this.#internals,
          cell,
          def,
          ctx as ActorContext<SupervisorMsg>,
        ),
    };
  }

  #collectActorMetrics(out: string[]): void {
    const actors = flattenSnapshot(this.snapshot().root);
    const families: [string, string, string, (a: (typeof actors)[number]) => number][] = [
      [
        "tern_actor_messages_processed_total",
        "counter",
        "Messages handled by the actor.",
        (a) => a.processed,
      ],
      ["tern_actor_restarts_total", "counter", "Restarts of the actor.", (a) => a.restarts],
      ["tern_actor_failures_total", "counter", "Crashes of the actor.", (a) => a.failures],
      [
        "tern_actor_mailbox_dropped_total",
        "counter",
        "Messages dropped or refused by a full mailbox.",
        (a) => a.mailbox.dropped,
      ],
      ["tern_actor_mailbox_depth", "gauge", "Messages waiting.", (a) => a.mailbox.depth],
      [
        "tern_actor_mailbox_capacity",
        "gauge",
        "Mailbox capacity (+Inf when unbounded).",
        (a) => a.mailbox.capacity ?? Infinity,
      ],
      [
        "tern_actor_up",
        "gauge",
        "1 when the actor is running.",
        (a) => a.state === "running" ? 1 : 0,
      ],
    ];
    for (const [name, type, help, value] of families) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const a of actors) {
        const v = value(a);
        const text = v === Infinity ? "+Inf" : String(v);
        out.push(
          `${name}{path="${escapeLabel(a.path)}",behaviour="${escapeLabel(a.behaviour)}"} ${text}`,
        );
      }
    }
  }
}
