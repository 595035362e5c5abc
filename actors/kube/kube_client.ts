/**
 * A lean Kubernetes REST client on Deno's fetch: typed CRUD, patches, the status subresource and
 * watch streams, for any {@link Resource}. Errors are {@link KubeApiError}s built from the
 * server's `Status` object.
 */
import type { KubeEndpoint } from "./kube_config.ts";
import type { KubeList, KubeObject, KubeStatus, WatchEvent } from "./objects.ts";
import { collectionPath, objectPath, type Resource } from "./resources.ts";
import { parseWatchLines } from "./watch_lines.ts";

/** A failed API call, with the server's `Status` when it sent one. */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(`${method} ${path}: ${status} ${reason}: ${message}`);
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
  get isConflict(): boolean {
    return this.status === 409 && this.reason !== "AlreadyExists";
  }
  get isAlreadyExists(): boolean {
    return this.status === 409 && this.reason === "AlreadyExists";
  }
  get isGone(): boolean {
    return this.status === 410;
  }
  /** Worth trying again later (throttled, unavailable, server error, connection lost). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** List options. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

/** Watch options. */
export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

type Query = Record<string, string | number | boolean | undefined>;

/** Talks to one API server. Close it when done (it may own a TLS client). */
export class KubeClient {
  readonly endpoint: KubeEndpoint;
  #http: Deno.HttpClient | undefined;
  #token: { value: string; readAt: number } | undefined;
  readonly userAgent: string;

  constructor(endpoint: KubeEndpoint, options: { userAgent?: string } = {}) {
    this.endpoint = endpoint;
    this.userAgent = options.userAgent ?? "tern";
    if (endpoint.caCert || endpoint.clientCert) {
      const opts: Deno.CreateHttpClientOptions = {};
      if (endpoint.caCert) opts.caCerts = [endpoint.caCert];
      if (endpoint.clientCert && endpoint.clientKey) {
        (opts as { cert?: string; key?: string }).cert = endpoint.clientCert;
        (opts as { cert?: string; key?: string }).key = endpoint.clientKey;
      }
      this.#http = Deno.createHttpClient(opts);
    }
  }

  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }

  #bearer(): string | undefined {
    if (this.endpoint.tokenFile) {
      const now = Date.now();
      if (!this.#token || now - this.#token.readAt > 60_000) {
        this.#token = { value: Deno.readTextFileSync(this.endpoint.tokenFile).trim(), readAt: now };
      }
      return this.#token.value;
    }
    return this.endpoint.token;
  }

  /** One HTTP request; throws {@link KubeApiError} on a non-2xx answer. */
  async request(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const url = new URL(this.endpoint.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": this.userAgent,
    };
    const token = this.#bearer();
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["content-type"] = options.contentType ?? "application/json";
      body = JSON.stringify(options.body);
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(this.#http ? { client: this.#http } : {}),
      } as RequestInit);
    } catch (e) {
      if ((e as Error).name === "AbortError") throw e;
      throw new KubeApiError(0, "ConnectionFailed", (e as Error).message, method, url.pathname);
    }
    if (res.ok) return res;
    let status: Partial<KubeStatus> = {};
    const text = await res.text();
    try {
      status = JSON.parse(text);
    } catch {
      status = { message: text.slice(0, 200) };
    }
    const retryAfter = Number(res.headers.get("retry-after") ?? NaN);
    throw new KubeApiError(
      res.status,
      status.reason ?? res.statusText,
      status.message ?? "",
      method,
      url.pathname,
      Number.isFinite(retryAfter) ? retryAfter : undefined,
    );
  }

  async #json<T>(method: string, path: string, options: Parameters<KubeClient["request"]>[2]) {
    const res = await this.request(method, path, options);
    return (await res.json()) as T;
  }

  get<T extends KubeObject>(r: Resource, name: string, namespace?: string): Promise<T> {
    return this.#json<T>("GET", objectPath(r, name, namespace), {});
  }

  /** The object, or undefined when it does not exist. */
  async tryGet<T extends KubeObject>(
    r: Resource,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(r, name, namespace);
    } catch (e) {
      if (e instanceof KubeApiError && e.isNotFound) return undefined;
      throw e;
    }
  }

  list<T extends KubeObject>(r: Resource, options: ListOptions = {}): Promise<KubeList<T>> {
    return this.#json<KubeList<T>>("GET", collectionPath(r, options.namespace), {
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
      },
    });
  }

  /** Every object, following `continue` tokens; returns the items and the list's version. */
  async listAll<T extends KubeObject>(
    r: Resource,
    options: Omit<ListOptions, "continue"> = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.list<T>(r, {
        ...options,
        limit: options.limit ?? 500,
        ...(cont ? { continue: cont } : {}),
      });
      items.push(...page.items);
      rv = page.metadata.resourceVersion ?? rv;
      cont = page.metadata.continue || undefined;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  create<T extends KubeObject>(r: Resource, obj: T, namespace?: string): Promise<T> {
    return this.#json<T>("POST", collectionPath(r, namespace ?? obj.metadata.namespace), {
      body: obj,
    });
  }

  replace<T extends KubeObject>(r: Resource, obj: T): Promise<T> {
    return this.#json<T>("PUT", objectPath(r, obj.metadata.name!, obj.metadata.namespace), {
      body: obj,
    });
  }

  replaceStatus<T extends KubeObject>(r: Resource, obj: T): Promise<T> {
    return this.#json<T>(
      "PUT",
      objectPath(r, obj.metadata.name!, obj.metadata.namespace) + "/status",
      { body: obj },
    );
  }

  /** JSON merge patch (RFC 7386), of the object or of its status. */
  mergePatch<T extends KubeObject>(
    r: Resource,
    name: string,
    patch: unknown,
    options: { namespace?: string; status?: boolean } = {},
  ): Promise<T> {
    return this.#patch<T>(r, name, options, patch, "application/merge-patch+json");
  }

  /** JSON patch (RFC 6902). */
  jsonPatch<T extends KubeObject>(
    r: Resource,
    name: string,
    ops: unknown[],
    options: { namespace?: string; status?: boolean } = {},
  ): Promise<T> {
    return this.#patch<T>(r, name, options, ops, "application/json-patch+json");
  }

  #patch<T>(
    r: Resource,
    name: string,
    options: { namespace?: string; status?: boolean },
    body: unknown,
    contentType: string,
  ): Promise<T> {
    return this.#json<T>(
      "PATCH",
      objectPath(r, name, options.namespace) + (options.status ? "/status" : ""),
      { body, contentType },
    );
  }

  /** Deletes; a missing object is not an error (returns false). */
  async delete(
    r: Resource,
    name: string,
    options: { namespace?: string; propagationPolicy?: "Background" | "Foreground" | "Orphan" } =
      {},
  ): Promise<boolean> {
    try {
      const res = await this.request("DELETE", objectPath(r, name, options.namespace), {
        ...(options.propagationPolicy
          ? {
            body: {
              kind: "DeleteOptions",
              apiVersion: "v1",
              propagationPolicy: options.propagationPolicy,
            },
          }
          : {}),
      });
      await res.body?.cancel();
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.isNotFound) return false;
      throw e;
    }
  }

  /** A watch stream; ends when the server closes it, the signal aborts, or on error. */
  async *watch<T extends KubeObject>(
    r: Resource,
    options: WatchOptions = {},
  ): AsyncGenerator<WatchEvent<T>> {
    const res = await this.request("GET", collectionPath(r, options.namespace), {
      query: {
        watch: true,
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: options.allowWatchBookmarks,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        timeoutSeconds: options.timeoutSeconds,
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!res.body) return;
    yield* parseWatchLines<T>(res.body);
  }
}
