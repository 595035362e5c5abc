/** tern's Kubernetes client layer: config, REST client, informers and leader election. */
export * from "./objects.ts";
export * from "./resources.ts";
export {
  KubeconfigError,
  type KubeEndpoint,
  loadKubeEndpoint,
  parseKubeconfig,
} from "./kube_config.ts";
export { KubeApiError, KubeClient, type ListOptions, type WatchOptions } from "./kube_client.ts";
export {
  informer,
  type InformerEvent,
  type InformerMsg,
  type InformerOptions,
} from "./informer.ts";
export {
  decideLease,
  type ElectorMsg,
  type ElectorOptions,
  leaderElector,
  type Lease,
  type LeaseDecision,
  type LeaseObservation,
  microTime,
} from "./leader_election.ts";
export { decodeWatchChunk, parseWatchLines, WatchDecodeError } from "./watch_lines.ts";
