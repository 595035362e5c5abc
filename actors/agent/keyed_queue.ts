/**
 * Serialises work per key and nothing else: operations on one container id run one after the
 * other, operations on different ids run concurrently. There is no node-wide lock.
 *
 * @module
 */

/** A queue of async operations per key. */
export class KeyedQueue {
  #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier operation on `key` settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(() => {}, () => {});
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }

  /** Keys with operations queued or running. */
  get busy(): number {
    return this.#tails.size;
  }
}
