/**
 * Every tern CRD, in the order they are documented and applied.
 *
 * @module
 */

import { addressBlockCrd } from "./address_block.ts";
import { addressPoolCrd } from "./address_pool.ts";
import { bgpAdvertisementCrd } from "./bgp_advertisement.ts";
import { bgpPeerCrd } from "./bgp_peer.ts";
import { bgpPeerTemplateCrd } from "./bgp_peer_template.ts";
import { blockRequestCrd } from "./block_request.ts";
import { clusterBGPCrd } from "./cluster_bgp.ts";
import type { CrdDefinition } from "./crd.ts";
import { nodeBGPCrd } from "./node_bgp.ts";

/** All CRD definitions. */
export const ALL_CRDS: readonly CrdDefinition[] = [
  addressPoolCrd,
  addressBlockCrd,
  blockRequestCrd,
  bgpPeerTemplateCrd,
  clusterBGPCrd,
  nodeBGPCrd,
  bgpPeerCrd,
  bgpAdvertisementCrd,
] as CrdDefinition[];
