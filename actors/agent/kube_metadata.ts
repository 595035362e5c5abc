/**
 * Pod and namespace metadata from the Kubernetes API: the annotations that choose a pod's pool,
 * and whether a Pod still exists (for the garbage collector). A Pod the API does not know is
 * reported as such; an API that cannot be reached is "cannot tell", never "gone".
 *
 * @module
 */

import { KubeApiError, type KubeClient, type KubeObject, Resources } from "../kube/mod.ts";
import type { Annotations } from "../ipam/mod.ts";
import type { PodMetadataSource } from "./pool_choice.ts";

/** Metadata read from the API through `client`. */
export function kubeMetadata(client: KubeClient): PodMetadataSource {
  return {
    async podAnnotations(namespace, name) {
      const p = await client.tryGet<KubeObject>(Resources.pods, name, namespace);
      return p ? (p.metadata.annotations ?? {}) as Annotations : undefined;
    },
    async namespaceAnnotations(namespace) {
      const n = await client.tryGet<KubeObject>(Resources.namespaces, namespace);
      return n ? (n.metadata.annotations ?? {}) as Annotations : undefined;
    },
    async podExists(namespace, name, uid) {
      try {
        const p = await client.tryGet<KubeObject>(Resources.pods, name, namespace);
        if (!p) return false;
        // A Pod recreated under the same name is another pod.
        return uid === undefined || p.metadata.uid === undefined || p.metadata.uid === uid;
      } catch (e) {
        if (e instanceof KubeApiError) return undefined;
        throw e;
      }
    },
  };
}
