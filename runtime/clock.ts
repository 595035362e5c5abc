/**
 * Time as the runtime sees it. Actors, timers, ask timeouts and restart backoff all read time
 * through a {@link Clock}, so tests can drive time by hand with {@link ManualClock} instead of
 * sleeping.
 */

/** An opaque handle on a scheduled callback. */
export type TimerHandle = unknown;

/** A source of time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch (or since the clock's own origin, for a manual clock). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Cancels a timer; cancelling a fired or unknown timer does nothing. */
  clearTimer(handle: TimerHandle): void;
}

/** The wall clock, backed by `Date.now` and `setTimeout`. */
export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    return setTimeout(fn, Math.max(0, ms)) as unknown;
  }
  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as number);
  }
}

interface ManualTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. Timers fire synchronously inside {@link advance}, in
 * deadline order (ties in the order they were set).
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * clock.setTimer(100, () => console.log("fired"));
 * clock.advance(100); // prints "fired"
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #seq = 0;
  #timers = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), seq: this.#seq++, fn });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Deadline of the earliest pending timer, if any. */
  nextDeadline(): number | undefined {
    let min: number | undefined;
    for (const t of this.#timers.values()) if (min === undefined || t.at < min) min = t.at;
    return min;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.#timers.values()) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) {
          next = t;
        }
      }
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
  }
}
