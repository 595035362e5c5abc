/**
 * Where the agent's actors live in its tree (root `agent`).
 *
 * @module
 */

/** Root of the agent role. */
export const AGENT_ROOT = "/agent";
/** The allocation store. */
export const STORE_PATH = "/agent/store";
/** The block source. */
export const BLOCKS_PATH = "/agent/blocks";
/** The route-table actor holding the host routes to pods (source {@linkcode POD_ROUTE_SOURCE}). */
export const ROUTES_PATH = "/agent/routes";
/** The route-table source name of the host routes to pods. */
export const POD_ROUTE_SOURCE = "pods";
/** The pod wiring actor. */
export const WIRING_PATH = "/agent/wiring";
/** The supervisor of the node IPAM actors. */
export const IPAM_PATH = "/agent/ipam";
/** The pool manager (under the IPAM supervisor). */
export const POOL_MANAGER_PATH = "/agent/ipam/pools";
/** The CNI server. */
export const CNI_SERVER_PATH = "/agent/cni";
/** The garbage collector. */
export const GC_PATH = "/agent/gc";

/** Child id of the node IPAM actor of a pool. */
export function poolChildId(pool: string): string {
  return `pool-${pool}`;
}

/** Path of the node IPAM actor of a pool. */
export function poolPath(pool: string): string {
  return `${IPAM_PATH}/${poolChildId(pool)}`;
}
