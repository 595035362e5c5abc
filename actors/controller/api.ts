/**
 * The controller's view of the API server: a {@link KubeClient} behind a concurrency limit, with
 * bounded retries of transient failures (connection lost, 429, 5xx). Conflicts, NotFound and
 * AlreadyExists are returned to the caller, which knows what they mean.
 */
import { KubeApiError, type KubeClient, type KubeObject, type Resource } from "../kube/mod.ts";

/** Options of {@link Api}. */
export interface ApiOptions {
  /** Requests in flight at once (default 32). */
  concurrency?: number;
  /** Attempts of a transient failure before giving up (default 6). */
  attempts?: number;
  /** First retry delay in ms, doubled each time, at most 1 s (default 50). */
  retryBaseMs?: number;
}

/**
 * Priority of a request when the limit is reached: status writes that users wait for first,
 * then derived objects, then Events.
 */
export type Priority = 0 | 1 | 2;

/** A rate-bounded, retrying facade over the REST client. */
export class Api {
  readonly client: KubeClient;
  #max: number;
  #inFlight = 0;
  #waiting: (() => void)[][] = [[], [], []];
  #attempts: number;
  #baseMs: number;
  /** Requests sent (including retries). */
  requests = 0;
  /** Transient failures retried. */
  retries = 0;

  constructor(client: KubeClient, options: ApiOptions = {}) {
    this.client = client;
    this.#max = options.concurrency ?? 32;
    this.#attempts = options.attempts ?? 6;
    this.#baseMs = options.retryBaseMs ?? 50;
  }

  async #slot(priority: Priority): Promise<void> {
    if (this.#inFlight < this.#max) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((r) => this.#waiting[priority]!.push(r));
  }

  #release(): void {
    const next = this.#waiting[0]!.shift() ?? this.#waiting[1]!.shift() ??
      this.#waiting[2]!.shift();
    if (next) next();
    else this.#inFlight--;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#waiting.reduce((n, q) => n + q.length, 0);
  }

  /** Runs `op` within the concurrency limit, retrying transient failures. */
  async run<T>(op: (client: KubeClient) => Promise<T>, priority: Priority = 0): Promise<T> {
    for (let attempt = 1;; attempt++) {
      await this.#slot(priority);
      try {
        this.requests++;
        return await op(this.client);
      } catch (e) {
        if (!(e instanceof KubeApiError) || !e.retryable || attempt >= this.#attempts) throw e;
        this.retries++;
      } finally {
        this.#release();
      }
      const delay = Math.min(1000, this.#baseMs * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Creates an object. */
  create<T extends KubeObject>(r: Resource, obj: T, priority: Priority = 0): Promise<T> {
    return this.run((c) => c.create<T>(r, obj), priority);
  }

  /** JSON merge patch of an object or its status. */
  patch<T extends KubeObject>(
    r: Resource,
    name: string,
    patch: unknown,
    options: { namespace?: string; status?: boolean; priority?: Priority } = {},
  ): Promise<T> {
    const { priority, ...rest } = options;
    return this.run((c) => c.mergePatch<T>(r, name, patch, rest), priority ?? 0);
  }

  /** Replaces an object (optimistic concurrency through its resourceVersion). */
  replace<T extends KubeObject>(r: Resource, obj: T): Promise<T> {
    return this.run((c) => c.replace<T>(r, obj));
  }

  /** Deletes an object; false when it was already gone. */
  delete(r: Resource, name: string, namespace?: string, priority: Priority = 0): Promise<boolean> {
    return this.run((c) => c.delete(r, name, namespace ? { namespace } : {}), priority);
  }

  /** Reads an object, or undefined. */
  tryGet<T extends KubeObject>(r: Resource, name: string, namespace?: string) {
    return this.run((c) => c.tryGet<T>(r, name, namespace));
  }
}

/** True for a 404. */
export function isNotFound(e: unknown): boolean {
  return e instanceof KubeApiError && e.isNotFound;
}

/** True for a 409 AlreadyExists. */
export function isAlreadyExists(e: unknown): boolean {
  return e instanceof KubeApiError && e.isAlreadyExists;
}

/** True for a 409 Conflict. */
export function isConflict(e: unknown): boolean {
  return e instanceof KubeApiError && e.isConflict;
}
