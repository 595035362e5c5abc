/**
 * tern's controller: leader election, informers feeding domain actors (address pools and
 * blocks, LoadBalancer Services, ClusterBGP → NodeBGP/BGPPeer, advertisements), Events and
 * status conditions for every user-caused failure, and restart-safe allocation.
 *
 * @module
 */
export { Api, type ApiOptions } from "./api.ts";
export { controllerRoot, type ControllerRootOptions, LeaderState } from "./leadership.ts";
export { controllers, type ControllersOptions, Readiness } from "./controllers.ts";
export { type ControllerFlags, parseControllerFlags, parseDuration } from "./flags.ts";
export { SERVICE_CONDITION } from "./service_actor.ts";
export { LABEL_MANAGED_BY, MANAGED_BY } from "./advertisement_plan.ts";
