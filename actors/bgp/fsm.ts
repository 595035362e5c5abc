/**
 * The BGP finite state machine of RFC 4271 section 8, for one TCP connection, as pure code:
 * events in, actions out. No I/O and no timers: the peer actor performs the actions (connect,
 * send, close, start/stop timers) and feeds back events. Optional session attributes
 * implemented: PassiveTcpEstablishment, DampPeerOscillations (idle hold backoff, see
 * {@link IdleBackoff}) and collision detection (section 6.8, with {@link collisionKeeps}).
 * @module
 */
import { IdleBackoff, type IdleBackoffOptions } from "./backoff.ts";
import { CeaseSubcode, ErrorCode, FsmSubcode } from "./constants.ts";
import type { NotificationSpec } from "./errors.ts";
import type { Negotiated } from "./open_message.ts";

/** FSM states. */
export type State = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

/** Timers the FSM asks for. */
export type TimerName = "connectRetry" | "hold" | "keepalive" | "idleHold";

/** Events (RFC 4271 8.1, grouped). */
export type FsmEvent =
  | { readonly type: "ManualStart" }
  | { readonly type: "ManualStop"; readonly notification?: NotificationSpec }
  | { readonly type: "AutomaticStart" }
  | { readonly type: "ConnectRetryTimerExpires" }
  | { readonly type: "HoldTimerExpires" }
  | { readonly type: "KeepaliveTimerExpires" }
  | { readonly type: "IdleHoldTimerExpires" }
  | { readonly type: "TcpConnectionConfirmed" }
  | { readonly type: "TcpConnectionFails" }
  /** A valid OPEN, already checked against configuration, with the negotiated parameters. */
  | { readonly type: "BGPOpen"; readonly negotiated: Negotiated }
  /** A header, OPEN or UPDATE error found while decoding: the NOTIFICATION to send. */
  | { readonly type: "MessageError"; readonly notification: NotificationSpec }
  | { readonly type: "NotifMsg"; readonly notification: NotificationSpec }
  | { readonly type: "KeepAliveMsg" }
  /** UPDATE or ROUTE-REFRESH received (anything that counts as traffic in Established). */
  | { readonly type: "UpdateMsg" }
  /** Collision detection chose to drop this connection. */
  | { readonly type: "OpenCollisionDump" }
  /** A local condition (maximum prefixes, de-configuration) ends the session. */
  | { readonly type: "LocalError"; readonly notification: NotificationSpec };

/** Actions for the actor to carry out, in order. */
export type FsmAction =
  | { readonly type: "connect" }
  | { readonly type: "close" }
  | { readonly type: "sendOpen" }
  | { readonly type: "sendKeepalive" }
  | { readonly type: "sendNotification"; readonly notification: NotificationSpec }
  | { readonly type: "startTimer"; readonly timer: TimerName; readonly ms: number }
  | { readonly type: "stopTimer"; readonly timer: TimerName }
  | { readonly type: "stateChange"; readonly from: State; readonly to: State }
  | { readonly type: "established"; readonly negotiated: Negotiated }
  | { readonly type: "sessionDown"; readonly reason: string };

/** FSM settings. */
export interface FsmOptions {
  /** Never initiate TCP; wait for the peer. */
  readonly passive: boolean;
  /** ConnectRetryTime in ms (RFC default 120 s; tern default 5 s). */
  readonly connectRetryMs?: number;
  /** Hold time used in OpenSent before an OPEN arrives (RFC: "large value", 4 min). */
  readonly openSentHoldMs?: number;
  /** Restart automatically after errors (through the idle hold timer). Default true. */
  readonly automaticRestart?: boolean;
  /** Idle hold backoff. */
  readonly backoff?: IdleBackoffOptions;
}

const HOLD_EXPIRED: NotificationSpec = {
  code: ErrorCode.HOLD_TIMER_EXPIRED,
  subcode: 0,
  data: new Uint8Array(0),
};

function fsmError(state: State): NotificationSpec {
  const subcode = state === "OpenSent"
    ? FsmSubcode.UNEXPECTED_IN_OPENSENT
    : state === "OpenConfirm"
    ? FsmSubcode.UNEXPECTED_IN_OPENCONFIRM
    : state === "Established"
    ? FsmSubcode.UNEXPECTED_IN_ESTABLISHED
    : FsmSubcode.UNSPECIFIED;
  return { code: ErrorCode.FSM, subcode, data: new Uint8Array(0) };
}

/** The state machine of one BGP connection. */
export class SessionFsm {
  #state: State = "Idle";
  #negotiated: Negotiated | null = null;
  #connectRetryCounter = 0;
  #stopped = true;
  readonly #opts: FsmOptions;
  readonly #backoff: IdleBackoff;
  readonly #random: () => number;

  /** Creates an FSM in Idle; `random` feeds the backoff jitter. */
  constructor(opts: FsmOptions, random: () => number = Math.random) {
    this.#opts = opts;
    this.#backoff = new IdleBackoff(opts.backoff);
    this.#random = random;
  }

  /** Current state. */
  get state(): State {
    return this.#state;
  }

  /** Negotiated parameters while OpenConfirm or Established. */
  get negotiated(): Negotiated | null {
    return this.#negotiated;
  }

  /** Failures counted by RFC 4271's ConnectRetryCounter. */
  get connectRetryCounter(): number {
    return this.#connectRetryCounter;
  }

  /** The idle hold backoff (for inspection). */
  get backoff(): IdleBackoff {
    return this.#backoff;
  }

  get #connectRetryMs(): number {
    return this.#opts.connectRetryMs ?? 5_000;
  }

  /** Feeds one event at time `now` (ms); returns the actions to perform. */
  handle(event: FsmEvent, now: number): FsmAction[] {
    const out: FsmAction[] = [];
    const to = (next: State) => {
      if (next !== this.#state) {
        out.push({ type: "stateChange", from: this.#state, to: next });
        this.#state = next;
      }
    };
    // Leaving a connection behind: close it, stop timers, go Idle, maybe schedule a restart.
    const drop = (reason: string, notification: NotificationSpec | null, error: boolean) => {
      const wasEstablished = this.#state === "Established";
      if (notification) out.push({ type: "sendNotification", notification });
      out.push({ type: "close" });
      for (const t of ["connectRetry", "hold", "keepalive"] as const) {
        out.push({ type: "stopTimer", timer: t });
      }
      if (wasEstablished) out.push({ type: "sessionDown", reason });
      this.#negotiated = null;
      to("Idle");
      if (error) {
        this.#connectRetryCounter++;
        if (!this.#stopped && (this.#opts.automaticRestart ?? true)) {
          out.push({
            type: "startTimer",
            timer: "idleHold",
            ms: this.#backoff.failure(now, this.#random),
          });
        }
      }
    };
    const start = () => {
      this.#stopped = false;
      out.push({ type: "stopTimer", timer: "idleHold" });
      if (this.#opts.passive) {
        to("Active");
      } else {
        out.push({ type: "startTimer", timer: "connectRetry", ms: this.#connectRetryMs });
        out.push({ type: "connect" });
        to("Connect");
      }
    };
    const startHold = (ms: number) => {
      if (ms > 0) out.push({ type: "startTimer", timer: "hold", ms });
      else out.push({ type: "stopTimer", timer: "hold" });
    };
    const connected = () => {
      out.push({ type: "stopTimer", timer: "connectRetry" });
      out.push({ type: "sendOpen" });
      startHold(this.#opts.openSentHoldMs ?? 240_000);
      to("OpenSent");
    };

    const s = this.#state;
    if (event.type === "ManualStop") {
      this.#stopped = true;
      this.#connectRetryCounter = 0;
      this.#backoff.reset();
      out.push({ type: "stopTimer", timer: "idleHold" });
      if (s === "Idle") return out;
      const n = event.notification ??
        { code: ErrorCode.CEASE, subcode: CeaseSubcode.ADMIN_SHUTDOWN, data: new Uint8Array(0) };
      const sendsNotification = s === "OpenSent" || s === "OpenConfirm" || s === "Established";
      drop("stopped", sendsNotification ? n : null, false);
      return out;
    }

    /** Events handled alike once the OPENs are exchanged (OpenConfirm and Established). */
    const afterOpen = (ev: FsmEvent) => {
      switch (ev.type) {
        case "KeepaliveTimerExpires":
          out.push({ type: "sendKeepalive" });
          out.push({
            type: "startTimer",
            timer: "keepalive",
            ms: this.#negotiated!.keepaliveTime * 1000,
          });
          return;
        case "HoldTimerExpires":
          drop("hold timer expired", HOLD_EXPIRED, true);
          return;
        case "TcpConnectionFails":
          drop("connection lost", null, true);
          return;
        case "NotifMsg":
          drop(`notification ${ev.notification.code}/${ev.notification.subcode}`, null, true);
          return;
        case "MessageError":
        case "LocalError":
          drop(
            `error: ${ev.notification.code}/${ev.notification.subcode}`,
            ev.notification,
            true,
          );
          return;
        case "OpenCollisionDump":
          drop("collision", cease(CeaseSubcode.CONNECTION_COLLISION), true);
          return;
        default:
          drop(`unexpected ${ev.type} in ${s}`, fsmError(s), true);
      }
    };
    switch (s) {
      case "Idle":
        switch (event.type) {
          case "ManualStart":
            this.#connectRetryCounter = 0;
            start();
            break;
          case "AutomaticStart":
          case "IdleHoldTimerExpires":
            if (event.type === "AutomaticStart" || !this.#stopped) start();
            break;
          case "TcpConnectionConfirmed":
            // A connection while Idle is refused (the actor closes it).
            out.push({ type: "close" });
            break;
          default:
            break; // ignored in Idle
        }
        break;

      case "Connect":
        switch (event.type) {
          case "ManualStart":
          case "AutomaticStart":
            break;
          case "ConnectRetryTimerExpires":
            out.push({ type: "close" });
            out.push({ type: "startTimer", timer: "connectRetry", ms: this.#connectRetryMs });
            out.push({ type: "connect" });
            break;
          case "TcpConnectionConfirmed":
            connected();
            break;
          case "TcpConnectionFails":
            out.push({ type: "startTimer", timer: "connectRetry", ms: this.#connectRetryMs });
            to("Active");
            break;
          default:
            drop(`${event.type} in Connect`, null, true);
        }
        break;

      case "Active":
        switch (event.type) {
          case "ManualStart":
          case "AutomaticStart":
            break;
          case "ConnectRetryTimerExpires":
            if (this.#opts.passive) break;
            out.push({ type: "startTimer", timer: "connectRetry", ms: this.#connectRetryMs });
            out.push({ type: "connect" });
            to("Connect");
            break;
          case "TcpConnectionConfirmed":
            connected();
            break;
          case "TcpConnectionFails":
            if (this.#opts.passive) break; // keep listening
            out.push({ type: "startTimer", timer: "connectRetry", ms: this.#connectRetryMs });
            break;
          default:
            drop(`${event.type} in Active`, null, true);
        }
        break;

      case "OpenSent":
        switch (event.type) {
          case "ManualStart":
          case "AutomaticStart":
            break;
          case "BGPOpen": {
            const n = event.negotiated;
            this.#negotiated = n;
            out.push({ type: "stopTimer", timer: "connectRetry" });
            out.push({ type: "sendKeepalive" });
            startHold(n.holdTime * 1000);
            if (n.keepaliveTime > 0) {
              out.push({ type: "startTimer", timer: "keepalive", ms: n.keepaliveTime * 1000 });
            }
            to("OpenConfirm");
            break;
          }
          case "HoldTimerExpires":
            drop("hold timer expired", HOLD_EXPIRED, true);
            break;
          case "TcpConnectionFails":
            // RFC 4271: close, restart ConnectRetry, continue to listen in Active.
            out.push({ type: "close" });
            out.push({ type: "stopTimer", timer: "hold" });
            if (!this.#opts.passive) {
              out.push({ type: "startTimer", timer: "connectRetry", ms: this.#connectRetryMs });
            }
            to("Active");
            break;
          case "MessageError":
          case "LocalError":
            drop(
              `error: ${event.notification.code}/${event.notification.subcode}`,
              event.notification,
              true,
            );
            break;
          case "NotifMsg":
            drop(
              `notification ${event.notification.code}/${event.notification.subcode}`,
              null,
              true,
            );
            break;
          case "OpenCollisionDump":
            drop("collision", cease(CeaseSubcode.CONNECTION_COLLISION), true);
            break;
          default:
            drop(`unexpected ${event.type} in OpenSent`, fsmError(s), true);
        }
        break;

      case "OpenConfirm":
        switch (event.type) {
          case "ManualStart":
          case "AutomaticStart":
            break;
          case "KeepAliveMsg":
            startHold((this.#negotiated?.holdTime ?? 0) * 1000);
            to("Established");
            out.push({ type: "established", negotiated: this.#negotiated! });
            break;
          default:
            afterOpen(event);
        }
        break;

      case "Established":
        switch (event.type) {
          case "ManualStart":
          case "AutomaticStart":
            break;
          case "KeepAliveMsg":
          case "UpdateMsg":
            if ((this.#negotiated?.holdTime ?? 0) > 0) {
              out.push({
                type: "startTimer",
                timer: "hold",
                ms: this.#negotiated!.holdTime * 1000,
              });
            }
            break;
          default:
            afterOpen(event);
        }
        break;
    }
    return out;
  }
}

function cease(subcode: number): NotificationSpec {
  return { code: ErrorCode.CEASE, subcode, data: new Uint8Array(0) };
}

function idNumber(id: string): number {
  const p = id.split(".").map(Number);
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

/**
 * Connection collision resolution (RFC 4271 6.8): which connection survives when both sides
 * opened one. The connection initiated by the speaker with the higher BGP Identifier is kept.
 */
export function collisionKeeps(localBgpId: string, remoteBgpId: string): "outgoing" | "incoming" {
  return idNumber(localBgpId) > idNumber(remoteBgpId) ? "outgoing" : "incoming";
}
