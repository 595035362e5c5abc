/**
 * The public types of the actor runtime: actor definitions, references, contexts, supervision
 * specifications and exit reasons.
 */
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { MailboxOptions } from "./mailbox.ts";
import type { MetricsRegistry } from "./metrics.ts";

/**
 * Why an incarnation of an actor ended: it stopped itself (`normal`), its supervisor or the
 * system stopped it (`shutdown`), it did not stop within its shutdown timeout or was brutally
 * killed (`killed`), it threw (`error`), or it was not running when watched (`noproc`).
 */
export type ExitReason =
  | { readonly kind: "normal" }
  | { readonly kind: "shutdown" }
  | { readonly kind: "killed" }
  | { readonly kind: "noproc" }
  | { readonly kind: "error"; readonly error: unknown };

/** Delivered to watchers (through their mapping function) when an actor's incarnation ends. */
export interface Terminated {
  readonly type: "terminated";
  /** Path of the actor that ended. */
  readonly path: string;
  readonly reason: ExitReason;
  /** True when its supervisor will start it again (same path, same ref). */
  readonly restarting: boolean;
}

/** The typed reply channel an `ask` puts into its message. Only the first answer counts. */
export interface ReplyTo<R> {
  reply(value: R): void;
  fail(error: Error): void;
  /** True once answered, failed or timed out. */
  readonly settled: boolean;
}

/** Options of {@link ActorRef.ask}. */
export interface AskOptions {
  /** Milliseconds before the promise rejects with `AskTimeoutError` (default 5,000). */
  timeoutMs?: number;
}

/**
 * A handle on the actor at a path. It stays valid across restarts, and if another actor is later
 * started at the same path, the handle reaches that one.
 */
export interface ActorRef<M> {
  readonly path: string;
  /** Fire and forget. Messages to a stopped actor become dead letters; tell never throws,
   * except `MailboxFullError` when the target's overflow policy is `fail_sender`. */
  tell(msg: M): void;
  /** Sends the message built around a fresh reply channel and waits for the reply. */
  ask<R>(make: (replyTo: ReplyTo<R>) => M, options?: AskOptions): Promise<R>;
}

/** What a running incarnation of an actor does. */
export interface Actor<M> {
  /**
   * Handles one message. If it returns a promise, the actor takes its next message only after
   * the promise settles (one message at a time per actor); other actors keep running. A throw or
   * a rejected promise crashes the incarnation.
   */
  receive(msg: M): void | Promise<void>;
  /** Called once when the incarnation ends, for any reason, to release resources. */
  stop?(reason: ExitReason): void | Promise<void>;
  /** Extra, JSON-safe state to show in the inspection tree. */
  inspect?(): unknown;
}

/** A worker's definition: a behaviour name and the function that starts an incarnation. */
export interface ActorDef<M> {
  readonly kind: "worker";
  /** The behaviour name shown in inspection (`bgp-peer`, `address-pool`, …). */
  readonly name: string;
  start(ctx: ActorContext<M>): Actor<M> | Promise<Actor<M>>;
}

/** Which siblings restart when a child must be restarted. */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

/**
 * When a child is restarted: always (`permanent`), only after an abnormal exit (`transient`),
 * or never (`temporary`).
 */
export type RestartType = "permanent" | "transient" | "temporary";

/** Restart intensity: more than `maxRestarts` restarts within `withinMs` makes the supervisor fail. */
export interface Intensity {
  maxRestarts: number;
  withinMs: number;
}

/** Delay before a restart: exponential, jittered, bounded, forgotten after a quiet period. */
export interface BackoffOptions {
  /** Delay of the second consecutive restart (the first one is immediate). Default 10 ms. */
  initialMs?: number;
  /** Upper bound of the delay. Default 5,000 ms. */
  maxMs?: number;
  /** Growth factor per consecutive restart. Default 2. */
  factor?: number;
  /** Relative jitter: the delay is spread uniformly by ± this fraction. Default 0.2. */
  jitter?: number;
  /** A child that ran this long without failing starts again from no delay. Default 30,000 ms. */
  resetAfterMs?: number;
}

/** How long a child gets to stop: milliseconds, no time at all, or as long as it takes. */
export type Shutdown = number | "brutal_kill" | "infinity";

/** A supervisor's definition. */
export interface SupervisorDef {
  readonly kind: "supervisor";
  readonly name: string;
  readonly options: SupervisorOptions;
}

/** Options of a supervisor. */
export interface SupervisorOptions {
  strategy: Strategy;
  /** Default: at most 5 restarts within 10 s. */
  intensity?: Intensity;
  backoff?: BackoffOptions;
  /** Started in order, stopped in reverse order. More can be added with `startChild`. */
  children?: ChildSpec[];
}

/** One child of a supervisor. */
export interface ChildSpec {
  /** Path segment, unique among siblings. */
  id: string;
  // deno-lint-ignore no-explicit-any
  def: ActorDef<any> | SupervisorDef;
  /** Default `permanent`. */
  restart?: RestartType;
  /** Default 5,000 ms for workers and `infinity` for supervisors. */
  shutdown?: Shutdown;
  mailbox?: MailboxOptions;
}

/** Per-incarnation timers that deliver messages to the actor itself. */
export interface Timers<M> {
  /** Delivers `msg` once after `ms`; replaces a timer with the same key. */
  once(key: string, ms: number, msg: M): void;
  /** Delivers `msg` every `ms`; replaces a timer with the same key. */
  every(key: string, ms: number, msg: M): void;
  cancel(key: string): void;
  has(key: string): boolean;
}

/** A child as seen by its supervisor. */
export interface ChildInfo {
  id: string;
  path: string;
  state: ActorState;
  restartType: RestartType;
}

/** What an actor can do with its supervisor: add and remove dynamic siblings. */
export interface SupervisorHandle {
  readonly path: string;
  /** Starts a child under this supervisor; the promise settles once it has started. */
  // deno-lint-ignore no-explicit-any
  startChild<M = any>(spec: ChildSpec): Promise<ActorRef<M>>;
  /** Stops a child (with its shutdown timeout) and forgets it. */
  terminateChild(id: string): Promise<void>;
  /** The children now, in start order. */
  children(): Promise<ChildInfo[]>;
}

/** Lifecycle states shown in inspection. */
export type ActorState = "starting" | "running" | "stopping" | "restarting" | "stopped";

/** What an incarnation sees of the world. */
export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly path: string;
  readonly log: Logger;
  readonly timers: Timers<M>;
  readonly metrics: MetricsRegistry;
  readonly clock: Clock;
  /** Restarts of this actor so far (0 in its first incarnation). */
  readonly restarts: number;
  /** The supervisor this actor runs under, or null for a root. */
  readonly parent: SupervisorHandle | null;
  /** Monitors another actor: `toMsg` turns each of its terminations into a message to self. */
  watch<T>(ref: ActorRef<T>, toMsg: (t: Terminated) => M): void;
  /** The actor at a path, if one is registered there. */
  // deno-lint-ignore no-explicit-any
  lookup<T = any>(path: string): ActorRef<T> | undefined;
  /** Ends this incarnation normally after the current message. */
  stop(): void;
}

/** Defines a worker actor. */
export function actor<M>(
  name: string,
  start: (ctx: ActorContext<M>) => Actor<M> | Promise<Actor<M>>,
): ActorDef<M> {
  return { kind: "worker", name, start };
}

/** Defines a supervisor. */
export function supervisor(name: string, options: SupervisorOptions): SupervisorDef {
  return { kind: "supervisor", name, options };
}
