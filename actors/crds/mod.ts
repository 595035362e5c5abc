/**
 * tern's custom resources: the names (group, labels, annotations, finalizers), the TypeScript
 * types of every spec and status, the CRD definitions they and the YAML in `crds/` come from,
 * and checks of objects against them (OpenAPI validation, defaulting, CEL rules).
 *
 * @module
 */

export * from "./names.ts";
export type { ObjectMeta, Resource } from "./common.ts";
export * from "./address_pool.ts";
export * from "./address_block.ts";
export * from "./block_request.ts";
export * from "./bgp_peer_template.ts";
export * from "./cluster_bgp.ts";
export * from "./node_bgp.ts";
export * from "./bgp_peer.ts";
export * from "./bgp_advertisement.ts";
export { type CrdDefinition, crdName, type PrinterColumn, toCrd } from "./crd.ts";
export { ALL_CRDS } from "./registry.ts";
export {
  applyDefaults,
  celShapeProblem,
  type SchemaProblem,
  structuralProblems,
  validateValue,
} from "./validate.ts";
export { compileRule, evaluateRules } from "./cel.ts";
