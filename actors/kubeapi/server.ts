/**
 * `startKubeApiServer`: the embedded Kubernetes API server, in-process, in milliseconds.
 *
 * For demos and tests, not production: everything lives in memory (optionally saved to a state
 * file), there is one admin token, and ServiceAccount tokens are opaque random strings.
 */

import { type FaultCommand, FaultInjector, type FaultState } from "./faults.ts";
import { createHandler } from "./handlers.ts";
import { kubeconfigYaml, writeKubeconfig } from "./kubeconfig.ts";
import { loadSnapshot, saveSnapshot } from "./persistence.ts";
import { Store } from "./store.ts";
import { selfSignedCert } from "./tls.ts";

/** Options of {@link startKubeApiServer}. */
export interface KubeApiServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Serve HTTPS with a generated self-signed certificate (default false: plain HTTP). */
  tls?: boolean;
  /** Where to write the kubeconfig (default: a temporary file removed on close). */
  kubeconfigPath?: string;
  /** Load state from this file at start and save to it on changes and on close. */
  stateFile?: string;
  /** The admin bearer token (default: random). */
  adminToken?: string;
  /** Treat requests without a token as admin (default: true for plain HTTP, false for HTTPS). */
  anonymousIsAdmin?: boolean;
  /** Watch history kept for resumption (events, default 1000). */
  historyLimit?: number;
  /** BOOKMARK period on watches that allow bookmarks (default 10 s). */
  bookmarkIntervalMs?: number;
  /** IPv4 CIDR for Service cluster IPs (default 198.19.192.0/20). */
  serviceCIDR?: string;
  /** Events queued for a watch client that stopped reading before it is cut off (default 10,000). */
  watchQueueLimit?: number;
  /** Delay between a change and the state-file save (default 1 s). */
  saveDelayMs?: number;
  /** Hostname written into the kubeconfig (default: the listen address, or 127.0.0.1). */
  advertiseHost?: string;
}

/** A running server. */
export interface KubeApiServer {
  /** Base URL (`http://127.0.0.1:PORT` or `https://…`). */
  readonly url: string;
  /** Kubeconfig file for kubectl and client libraries (admin token). */
  readonly kubeconfigPath: string;
  /** The admin bearer token. */
  readonly adminToken: string;
  /** The CA certificate (PEM) clients trust when TLS is on. */
  readonly caPem: string | undefined;
  /** The store (for in-process inspection). */
  readonly store: Store;
  /** Kubeconfig YAML for this server with another token (e.g. a ServiceAccount's). */
  kubeconfigFor(token: string, namespace?: string): string;
  /** The token of a ServiceAccount (created with it). */
  serviceAccountToken(namespace: string, name: string): string | undefined;
  /** Inject a fault (same commands as `POST /tern/faults`). */
  fault(cmd: FaultCommand): FaultState;
  /** Current fault counters and pending faults. */
  faultState(): FaultState;
  /** Save state to the state file now (no-op without one). */
  save(): Promise<void>;
  /** Close watches, stop listening, save state, remove a temporary kubeconfig. */
  close(): Promise<void>;
}

function randomHex(n: number): string {
  return [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Start an API server. */
export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const tls = opts.tls ?? false;
  const adminToken = opts.adminToken ?? randomHex(24);
  const store = new Store({ historyLimit: opts.historyLimit, serviceCIDR: opts.serviceCIDR });
  if (opts.stateFile) {
    const snap = await loadSnapshot(opts.stateFile);
    if (snap) store.restore(snap);
  }
  store.bootstrap();
  const faults = new FaultInjector(store);
  const advertise = opts.advertiseHost ??
    (hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname);
  const cert = tls ? await selfSignedCert([hostname, advertise]) : undefined;
  let url = "";
  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  let saving: Promise<void> = Promise.resolve();
  const save = async () => {
    if (!opts.stateFile) return;
    const path = opts.stateFile;
    saving = saving.then(() => saveSnapshot(path, store.snapshot()));
    await saving;
  };
  if (opts.stateFile) {
    store.onChange(() => {
      if (saveTimer !== undefined) return;
      saveTimer = setTimeout(() => {
        saveTimer = undefined;
        save().catch(() => {});
      }, opts.saveDelayMs ?? 1000);
    });
  }
  const handler = createHandler({
    store,
    faults,
    adminToken,
    // kubectl sends no bearer token over plain HTTP, so a plain-HTTP server must let it in.
    anonymousIsAdmin: opts.anonymousIsAdmin ?? !tls,
    serverAddress: () => url.replace(/^https?:\/\//, ""),
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 10_000,
    watchQueueLimit: opts.watchQueueLimit ?? 10_000,
    adminHook: async (req, path) => {
      if (path === "/tern/state" && req.method === "POST") {
        await save();
        return new Response(JSON.stringify({ saved: opts.stateFile ?? null }), {
          headers: { "content-type": "application/json" },
        });
      }
      return undefined;
    },
  });
  const server = Deno.serve({
    hostname,
    port: opts.port ?? 0,
    ...(cert ? { cert: cert.cert, key: cert.key } : {}),
    onListen: () => {},
  }, handler);
  const port = server.addr.port;
  const host = advertise.includes(":") ? `[${advertise}]` : advertise;
  url = `${tls ? "https" : "http"}://${host}:${port}`;
  const tempKubeconfig = opts.kubeconfigPath === undefined;
  const kubeconfigPath = opts.kubeconfigPath ??
    await Deno.makeTempFile({ prefix: "tern-kubeconfig-", suffix: ".yaml" });
  const kubeconfigFor = (token: string, namespace?: string) =>
    kubeconfigYaml({ server: url, token, caPem: cert?.ca, namespace });
  await writeKubeconfig(kubeconfigPath, kubeconfigFor(adminToken));
  let closed = false;
  return {
    url,
    kubeconfigPath,
    adminToken,
    caPem: cert?.ca,
    store,
    kubeconfigFor,
    serviceAccountToken: (ns, name) => store.serviceAccountToken(ns, name),
    fault: (cmd) => faults.apply(cmd),
    faultState: () => faults.state(),
    save,
    async close() {
      if (closed) return;
      closed = true;
      if (saveTimer !== undefined) clearTimeout(saveTimer);
      saveTimer = undefined;
      store.closeAllWatches();
      await server.shutdown();
      await save();
      if (tempKubeconfig) await Deno.remove(kubeconfigPath).catch(() => {});
    },
  };
}
