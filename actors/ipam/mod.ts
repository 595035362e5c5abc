/**
 * tern's address management, pure: address math, pools, block and address allocators, the
 * LoadBalancer allocator, annotation parsing and the consistency check. No I/O, no timers: the
 * controller's and agent's actors own instances and do the Kubernetes I/O around them.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./address.ts";
export * from "./cidr.ts";
export * from "./range.ts";
export * from "./interval_set.ts";
export * from "./bitmap.ts";
export * from "./label_selector.ts";
export * from "./pool.ts";
export * from "./block_allocator.ts";
export * from "./address_allocator.ts";
export * from "./service_allocator.ts";
export * from "./annotations.ts";
export * from "./consistency.ts";
export * from "./service_request.ts";
export * from "./lb_decision.ts";
export * from "./pool_status.ts";
