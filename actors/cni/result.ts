/**
 * CNI results, pure: tern's version-neutral description of what ADD produced, and its rendering
 * in the shape of the version the runtime asked for (0.4.0: `ips[].version`; 1.0.0: without it;
 * 1.1.0: interface `mtu` too), plus the VERSION answer.
 *
 * @module
 */

import { type CniVersion, LATEST_VERSION, SUPPORTED_VERSIONS } from "./spec.ts";

/** An interface of the result. */
export interface ResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  /** The namespace path for the pod's interface; absent for the host end. */
  sandbox?: string;
}

/** An address of the result. */
export interface ResultIp {
  /** Address with prefix length, e.g. `198.18.0.5/32`. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

/** A route of the result. */
export interface ResultRoute {
  dst: string;
  gw?: string;
}

/** DNS settings of the result. */
export interface ResultDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** What an ADD produced, in no particular version's shape. */
export interface PodNetwork {
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  dns: ResultDns;
}

/** Renders a result in `version`'s shape (a plain JSON-able object). */
export function formatResult(version: CniVersion, r: PodNetwork): Record<string, unknown> {
  const interfaces = r.interfaces.map((i) => {
    const o: Record<string, unknown> = { name: i.name };
    if (i.mac !== undefined) o.mac = i.mac;
    if (i.mtu !== undefined && version === "1.1.0") o.mtu = i.mtu;
    if (i.sandbox !== undefined) o.sandbox = i.sandbox;
    return o;
  });
  const ips = r.ips.map((ip) => {
    const o: Record<string, unknown> = {};
    if (version === "0.4.0") o.version = ip.address.includes(":") ? "6" : "4";
    o.address = ip.address;
    if (ip.gateway !== undefined) o.gateway = ip.gateway;
    if (ip.interface !== undefined) o.interface = ip.interface;
    return o;
  });
  const routes = r.routes.map((rt) => (rt.gw === undefined ? { dst: rt.dst } : { ...rt }));
  const dns: Record<string, unknown> = {};
  for (const k of ["nameservers", "domain", "search", "options"] as const) {
    if (r.dns[k] !== undefined) dns[k] = r.dns[k];
  }
  return { cniVersion: version, interfaces, ips, routes, dns };
}

/** The answer to VERSION. */
export function versionResult(requested?: unknown): Record<string, unknown> {
  const v = typeof requested === "string" &&
      (SUPPORTED_VERSIONS as readonly string[]).includes(requested)
    ? requested
    : LATEST_VERSION;
  return { cniVersion: v, supportedVersions: [...SUPPORTED_VERSIONS] };
}
