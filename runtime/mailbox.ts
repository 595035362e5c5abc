/**
 * A bounded FIFO mailbox on a ring buffer that grows on demand up to its capacity, with an
 * explicit policy for what happens when it is full.
 */

/** What a full mailbox does with one more message. */
export type OverflowPolicy = "drop_newest" | "drop_oldest" | "fail_sender";

/** Mailbox settings chosen when an actor is spawned. */
export interface MailboxOptions {
  /** Most messages held at once (default 10,000). */
  capacity?: number;
  /** What to do when full (default `drop_newest`). */
  overflow?: OverflowPolicy;
}

/**
 * Outcome of {@link Mailbox.push}: accepted; the new message dropped; the oldest dropped to make
 * room (the new one accepted); or refused, so the sender must be told.
 */
export type PushResult = "accepted" | "dropped_newest" | "dropped_oldest" | "refused";

const INITIAL_SLOTS = 16;

/** The default capacity of a mailbox. */
export const DEFAULT_MAILBOX_CAPACITY = 10_000;

/** A bounded queue of messages. */
export class Mailbox<M> {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  #buf: (M | undefined)[];
  #head = 0;
  #size = 0;
  /** Messages dropped or refused because the mailbox was full. */
  dropped = 0;
  /** The message the last `drop_oldest` push evicted (read it right after the push). */
  evicted: M | undefined;

  constructor(options: MailboxOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    this.overflow = options.overflow ?? "drop_newest";
    if (!(this.capacity >= 1)) {
      throw new RangeError(`Mailbox capacity must be at least 1, got ${this.capacity}`);
    }
    this.#buf = new Array(Math.min(INITIAL_SLOTS, this.capacity));
  }

  /** Messages waiting. */
  get size(): number {
    return this.#size;
  }

  /** Adds a message at the tail, applying the overflow policy when full. */
  push(msg: M): PushResult {
    if (this.#size >= this.capacity) {
      this.dropped++;
      switch (this.overflow) {
        case "drop_newest":
          return "dropped_newest";
        case "fail_sender":
          return "refused";
        case "drop_oldest":
          this.evicted = this.shift();
          this.#append(msg);
          return "dropped_oldest";
      }
    }
    this.#append(msg);
    return "accepted";
  }

  /** Removes and returns the head; call only when {@link size} is above zero. */
  shift(): M {
    const buf = this.#buf;
    const msg = buf[this.#head] as M;
    buf[this.#head] = undefined;
    this.#head = this.#head + 1 === buf.length ? 0 : this.#head + 1;
    this.#size--;
    return msg;
  }

  /** Removes and returns every waiting message, oldest first. */
  drain(): M[] {
    const out: M[] = [];
    while (this.#size > 0) out.push(this.shift());
    return out;
  }

  #append(msg: M): void {
    if (this.#size === this.#buf.length) this.#grow();
    const buf = this.#buf;
    let tail = this.#head + this.#size;
    if (tail >= buf.length) tail -= buf.length;
    buf[tail] = msg;
    this.#size++;
  }

  #grow(): void {
    const old = this.#buf;
    const next: (M | undefined)[] = new Array(Math.min(old.length * 2, this.capacity));
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) % old.length];
    this.#buf = next;
    this.#head = 0;
  }
}
