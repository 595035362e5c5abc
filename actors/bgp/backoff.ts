/**
 * Idle hold backoff against flapping peers (the DampPeerOscillations of RFC 4271 8.1.1, in the
 * manner of BIRD's start delay): each session failure doubles the wait before the next automatic
 * start, up to a ceiling, with jitter; a session that stayed up (or quiet) for `quietMs` is
 * forgiven and starts from the initial delay again. Pure: time and randomness come in.
 * @module
 */

/** Backoff parameters (milliseconds). */
export interface IdleBackoffOptions {
  /** Wait after the first failure. Default 1,000. */
  readonly initialMs?: number;
  /** Ceiling. Default 60,000. */
  readonly maxMs?: number;
  /** Quiet period after which the backoff is forgotten. Default 120,000. */
  readonly quietMs?: number;
  /** Relative jitter (± fraction). Default 0.25. */
  readonly jitter?: number;
}

/** The backoff state of one peer. */
export class IdleBackoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #quiet: number;
  readonly #jitter: number;
  #current: number;
  #lastFailure = -Infinity;
  #failures = 0;

  /** Creates a backoff with the given parameters. */
  constructor(opts: IdleBackoffOptions = {}) {
    this.#initial = opts.initialMs ?? 1_000;
    this.#max = opts.maxMs ?? 60_000;
    this.#quiet = opts.quietMs ?? 120_000;
    this.#jitter = opts.jitter ?? 0.25;
    this.#current = this.#initial;
  }

  /** Consecutive failures counted (after forgetting). */
  get failures(): number {
    return this.#failures;
  }

  /** The un-jittered delay the next failure would get. */
  get current(): number {
    return this.#current;
  }

  /** Records a failure at `now`; returns the jittered wait before the next start. */
  failure(now: number, random: () => number): number {
    if (now - this.#lastFailure >= this.#quiet) {
      this.#current = this.#initial;
      this.#failures = 0;
    }
    this.#lastFailure = now;
    this.#failures++;
    const base = this.#current;
    this.#current = Math.min(this.#current * 2, this.#max);
    const spread = base * this.#jitter * (2 * random() - 1);
    return Math.max(0, Math.round(base + spread));
  }

  /** A session that reached Established and stayed up resets nothing by itself: the quiet
   * period is measured from the last failure. `reset` forgets everything (manual restart). */
  reset(): void {
    this.#current = this.#initial;
    this.#failures = 0;
    this.#lastFailure = -Infinity;
  }
}
