/**
 * Reply channels for `ask`, and one shared timeout wheel per system so that an ask costs no timer
 * of its own: pending asks sit in buckets of {@link ASK_BUCKET_MS}, and one clock timer is armed
 * for the earliest bucket.
 */
import type { Clock, TimerHandle } from "./clock.ts";
import { AskTimeoutError } from "./errors.ts";
import type { ReplyTo } from "./types.ts";

/** Granularity of ask deadlines. */
export const ASK_BUCKET_MS = 10;

/** What the wheel keeps of a pending ask. */
export interface PendingAsk {
  bucket: number;
  expire(): void;
  fail(error: Error): void;
}

/** The reply channel of one ask. */
export class ReplyChannel<R> implements ReplyTo<R>, PendingAsk {
  settled = false;
  bucket = 0;
  constructor(
    private readonly resolveFn: (value: R) => void,
    private readonly rejectFn: (error: Error) => void,
    private readonly wheel: AskTimeouts,
    readonly path: string,
    readonly timeoutMs: number,
  ) {}

  reply(value: R): void {
    if (this.settled) return;
    this.settled = true;
    this.wheel.remove(this);
    this.resolveFn(value);
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.wheel.remove(this);
    this.rejectFn(error);
  }

  /** Called by the wheel when the deadline passes. */
  expire(): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(new AskTimeoutError(this.path, this.timeoutMs));
  }
}

/** The reply channel inside a message, if the message carries one in `replyTo`. */
export function replyChannelOf(msg: unknown): ReplyChannel<unknown> | undefined {
  if (msg !== null && typeof msg === "object") {
    const r = (msg as { replyTo?: unknown }).replyTo;
    if (r instanceof ReplyChannel) return r;
  }
  return undefined;
}

/** Deadlines of pending asks, bucketed. */
export class AskTimeouts {
  #buckets = new Map<number, Set<PendingAsk>>();
  #armedBucket = Infinity;
  #timer: TimerHandle | undefined;

  constructor(private readonly clock: Clock) {}

  /** Pending asks. */
  get size(): number {
    let n = 0;
    for (const s of this.#buckets.values()) n += s.size;
    return n;
  }

  add(ch: PendingAsk, timeoutMs: number): void {
    const bucket = Math.ceil((this.clock.now() + timeoutMs) / ASK_BUCKET_MS);
    ch.bucket = bucket;
    let set = this.#buckets.get(bucket);
    if (!set) {
      set = new Set();
      this.#buckets.set(bucket, set);
      if (bucket < this.#armedBucket) this.#arm(bucket);
    }
    set.add(ch);
  }

  remove(ch: PendingAsk): void {
    const set = this.#buckets.get(ch.bucket);
    if (!set) return;
    set.delete(ch);
    // The timer stays armed even when no ask is left: re-arming per ask would cost a timer each.
    // It finds nothing when it fires, or is cleared by failAll at shutdown.
    if (set.size === 0) this.#buckets.delete(ch.bucket);
  }

  /** Fails every pending ask with `error` and stops the timer. */
  failAll(error: Error): void {
    const all = [...this.#buckets.values()].flatMap((s) => [...s]);
    this.#buckets.clear();
    this.#disarm();
    for (const ch of all) ch.fail(error);
  }

  #arm(bucket: number): void {
    this.#disarm();
    this.#armedBucket = bucket;
    this.#timer = this.clock.setTimer(bucket * ASK_BUCKET_MS - this.clock.now(), () => {
      this.#timer = undefined;
      this.#armedBucket = Infinity;
      this.#fire();
    });
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armedBucket = Infinity;
  }

  #fire(): void {
    const nowBucket = Math.floor(this.clock.now() / ASK_BUCKET_MS);
    let next = Infinity;
    for (const [bucket, set] of this.#buckets) {
      if (bucket <= nowBucket) {
        this.#buckets.delete(bucket);
        for (const ch of set) ch.expire();
      } else if (bucket < next) {
        next = bucket;
      }
    }
    if (next !== Infinity) this.#arm(next);
  }
}
