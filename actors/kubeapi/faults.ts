/**
 * Fault injection for tests: answer the next N requests with 500 or 429 (with Retry-After),
 * add latency to every request, close every open watch, expire the watch history now.
 * The last two act on the store; this class holds the per-request faults.
 */

import { type ApiError, badRequest, internalError, tooManyRequests } from "./errors.ts";
import type { Store } from "./store.ts";
import { isObject } from "./types.ts";

/** A fault to inject, as the `/tern/faults` endpoint and the in-process API take it. */
export type FaultCommand =
  | { action: "closeWatches" }
  | { action: "expireHistory" }
  | { action: "failNext"; count: number; code: 500 | 429; retryAfterSeconds?: number }
  | { action: "latency"; ms: number }
  | { action: "clear" };

/** Current fault state (for `GET /tern/faults`). */
export interface FaultState {
  pendingFailures: number;
  latencyMs: number;
  injectedFailures: number;
  closedWatches: number;
  historyExpirations: number;
}

/** Holds and applies injected faults. */
export class FaultInjector {
  #pending: Array<{ code: 500 | 429; retryAfterSeconds: number }> = [];
  #latencyMs = 0;
  #injected = 0;
  #closed = 0;
  #expirations = 0;
  #store: Store;

  /** Faults acting on `store`. */
  constructor(store: Store) {
    this.#store = store;
  }

  /** Run one command; returns the new state. Bad commands are 400 errors. */
  apply(cmd: unknown): FaultState {
    if (!isObject(cmd) || typeof cmd.action !== "string") {
      throw badRequest('fault command needs an "action"');
    }
    switch (cmd.action) {
      case "closeWatches":
        this.#closed += this.#store.closeAllWatches();
        break;
      case "expireHistory":
        this.#store.expireHistory();
        this.#expirations++;
        break;
      case "failNext": {
        const count = Number(cmd.count ?? 1);
        const code = Number(cmd.code ?? 500);
        if (!Number.isInteger(count) || count < 0 || count > 10_000) {
          throw badRequest(`invalid count ${JSON.stringify(cmd.count)}`);
        }
        if (code !== 500 && code !== 429) {
          throw badRequest(`invalid code ${JSON.stringify(cmd.code)}: use 500 or 429`);
        }
        const retryAfterSeconds = Number(cmd.retryAfterSeconds ?? 1);
        for (let i = 0; i < count; i++) this.#pending.push({ code, retryAfterSeconds });
        break;
      }
      case "latency": {
        const ms = Number(cmd.ms);
        if (!Number.isFinite(ms) || ms < 0 || ms > 60_000) {
          throw badRequest(`invalid latency ${JSON.stringify(cmd.ms)}`);
        }
        this.#latencyMs = ms;
        break;
      }
      case "clear":
        this.#pending = [];
        this.#latencyMs = 0;
        break;
      default:
        throw badRequest(`unknown fault action ${JSON.stringify(cmd.action)}`);
    }
    return this.state();
  }

  /** Latency to add to each request. */
  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** The error to answer the current request with, if a failure is pending. */
  take(): ApiError | undefined {
    const f = this.#pending.shift();
    if (!f) return undefined;
    this.#injected++;
    return f.code === 429 ? tooManyRequests(f.retryAfterSeconds) : internalError("injected fault");
  }

  /** Current state. */
  state(): FaultState {
    return {
      pendingFailures: this.#pending.length,
      latencyMs: this.#latencyMs,
      injectedFailures: this.#injected,
      closedWatches: this.#closed,
      historyExpirations: this.#expirations,
    };
  }
}
