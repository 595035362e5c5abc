/**
 * tern's embedded Kubernetes API server: an in-memory API server that behaves like the real one
 * wherever `kubectl` and `@kubernetes/client-node` can tell. For demos and tests, not production.
 *
 * ```ts
 * import { startKubeApiServer } from "./actors/kubeapi/mod.ts";
 * const api = await startKubeApiServer({ port: 0 });
 * // kubectl --kubeconfig ${api.kubeconfigPath} get ns
 * await api.close();
 * ```
 */

export { type KubeApiServer, type KubeApiServerOptions, startKubeApiServer } from "./server.ts";
export { type FaultCommand, type FaultState } from "./faults.ts";
export { ApiError, type StatusObject } from "./errors.ts";
export { Store } from "./store.ts";
export type { KubeObject } from "./types.ts";
