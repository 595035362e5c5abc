/** ClusterIP and NodePort allocation for Services, from the Services that exist. Pure. */

import { ApiError } from "./errors.ts";
import type { Allocators } from "./kind_hooks.ts";
import { isObject, type KubeObject } from "./types.ts";

/** Allocators over the current Services, handing out ClusterIPs from the IPv4 `cidr`. */
export function serviceAllocators(services: () => Iterable<KubeObject>, cidr: string): Allocators {
  const [base, bits] = cidr.split("/");
  const first = base.split(".").reduce((a, p) => a * 256 + Number(p), 0);
  const size = 2 ** (32 - Number(bits));
  const usedIPs = (): Set<string> => {
    const s = new Set<string>();
    for (const o of services()) {
      const ip = isObject(o.spec) ? o.spec.clusterIP : undefined;
      if (typeof ip === "string") s.add(ip);
    }
    return s;
  };
  return {
    allocateClusterIP: () => {
      const used = usedIPs();
      for (let i = 10; i < size - 1; i++) {
        const n = first + i;
        const ip = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
        if (!used.has(ip)) return ip;
      }
      throw new ApiError(500, "InternalError", `Internal error occurred: range ${cidr} is full`);
    },
    clusterIPInUse: (ip) => usedIPs().has(ip),
    allocateNodePort: () => {
      const used = new Set<number>();
      for (const o of services()) {
        const ports = isObject(o.spec) && Array.isArray(o.spec.ports) ? o.spec.ports : [];
        for (const p of ports) {
          if (isObject(p) && typeof p.nodePort === "number") used.add(p.nodePort);
        }
      }
      for (let p = 30000; p <= 32767; p++) if (!used.has(p)) return p;
      throw new ApiError(500, "InternalError", "Internal error occurred: node port range is full");
    },
  };
}
