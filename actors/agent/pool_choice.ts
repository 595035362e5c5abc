/**
 * Which pool a pod's addresses come from, pure: a pool named explicitly in the network
 * configuration, then the pod's `tern.dev/addresspool` annotation, then its namespace's, then
 * the auto pool.
 *
 * @module
 */

import { type Annotations, parsePodPool } from "../ipam/mod.ts";

/** Where the chosen pool came from. */
export type PoolOrigin = "config" | "pod" | "namespace" | "auto";

/** Inputs of {@linkcode choosePool}. */
export interface PoolChoiceInput {
  explicit?: string;
  podAnnotations?: Annotations;
  namespaceAnnotations?: Annotations;
  autoPool?: string;
}

/**
 * Picks the pool; undefined when nothing names one and there is no auto pool. Throws
 * {@linkcode BadAnnotationError} for a malformed annotation.
 */
export function choosePool(i: PoolChoiceInput): { pool: string; origin: PoolOrigin } | undefined {
  if (i.explicit) return { pool: i.explicit, origin: "config" };
  const p = i.podAnnotations ? parsePodPool(i.podAnnotations) : undefined;
  if (p) return { pool: p, origin: "pod" };
  const n = i.namespaceAnnotations ? parsePodPool(i.namespaceAnnotations) : undefined;
  if (n) return { pool: n, origin: "namespace" };
  if (i.autoPool) return { pool: i.autoPool, origin: "auto" };
  return undefined;
}

/** Where pod and namespace annotations come from (the Kubernetes API, or nowhere). */
export interface PodMetadataSource {
  /** The pod's annotations; undefined when the pod is not known. */
  podAnnotations(namespace: string, name: string): Promise<Annotations | undefined>;
  /** The namespace's annotations; undefined when not known. */
  namespaceAnnotations(namespace: string): Promise<Annotations | undefined>;
  /** Whether the pod still exists (undefined: cannot tell). */
  podExists(namespace: string, name: string, uid?: string): Promise<boolean | undefined>;
}

/** Metadata for standalone use: nothing is known, so pods get the explicit or the auto pool. */
export const NO_METADATA: PodMetadataSource = {
  podAnnotations: () => Promise.resolve(undefined),
  namespaceAnnotations: () => Promise.resolve(undefined),
  podExists: () => Promise.resolve(undefined),
};
