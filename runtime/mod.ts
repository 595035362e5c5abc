/**
 * tern's actor runtime: typed actors, bounded mailboxes, Erlang/OTP supervision, monitors,
 * per-actor timers, structured logs, metrics and live inspection.
 *
 * @module
 */
export { actor, supervisor } from "./types.ts";
export type {
  Actor,
  ActorContext,
  ActorDef,
  ActorRef,
  ActorState,
  AskOptions,
  BackoffOptions,
  ChildInfo,
  ChildSpec,
  ExitReason,
  Intensity,
  ReplyTo,
  RestartType,
  Shutdown,
  Strategy,
  SupervisorDef,
  SupervisorHandle,
  SupervisorOptions,
  Terminated,
  Timers,
} from "./types.ts";
export { ActorSystem, type ActorSystemOptions } from "./system.ts";
export { backoffDelay, DEFAULT_INTENSITY, supervisorHandle } from "./supervisor.ts";
export type { SupervisorMsg } from "./supervisor.ts";
export { type Clock, ManualClock, RealClock, type TimerHandle } from "./clock.ts";
export {
  ActorCrashedError,
  ActorStoppedError,
  AskTimeoutError,
  describeError,
  DuplicateChildError,
  InvalidChildIdError,
  MailboxFullError,
  RestartIntensityError,
  UnknownChildError,
} from "./errors.ts";
export { isLogLevel, type LogFields, Logger, type LogLevel, type LogSink } from "./log.ts";
export type { MailboxOptions, OverflowPolicy } from "./mailbox.ts";
export { Counter, Gauge, Histogram, type Labels, MetricsRegistry } from "./metrics.ts";
export type { ActorSnapshot, SystemSnapshot } from "./snapshot.ts";
export { flattenSnapshot } from "./snapshot.ts";
export {
  type InspectionServer,
  type InspectionServerOptions,
  startInspectionServer,
} from "./inspection_server.ts";
export { type CommonFlags, type RoleOptions, runRole, takeCommonFlags } from "./role_main.ts";
export { InvalidFlagError, parseHostPort } from "./flags.ts";
