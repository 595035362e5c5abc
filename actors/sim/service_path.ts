/**
 * TEST STAND-IN for kube-proxy: the minimal Service data path of the simulated cluster. NOT part
 * of tern and not for production. On each node, LoadBalancer addresses are DNATed (nftables) to
 * the Service's ready endpoints: every endpoint for `externalTrafficPolicy: Cluster` (the traffic
 * is masqueraded, as kube-proxy does), only the node's own endpoints for `Local` (dropped when
 * the node has none). Pure: computes the ruleset text; the simulator applies it with `nft -f`.
 * @module
 */
import type { SimEndpointSlice, SimService } from "./endpoints.ts";
import { SERVICE_NAME_LABEL } from "./endpoints.ts";

/** nftables table of the stand-in (one per node namespace). */
export const TABLE = "tern_sim_lb";
const MASQ_MARK = "0x4000";

/** The LoadBalancer IPv4 addresses of a Service's status. */
export function ingressAddresses(svc: SimService): string[] {
  return (svc.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip)
    .filter((ip): ip is string => !!ip && !ip.includes(":"));
}

/** The nft rules of one node (without the table wrapper), sorted for stable output. */
export function nodeRules(
  nodeName: string,
  services: SimService[],
  slices: SimEndpointSlice[],
): string[] {
  const byService = new Map<string, SimEndpointSlice[]>();
  for (const s of slices) {
    const k = `${s.metadata.namespace}/${s.metadata.labels?.[SERVICE_NAME_LABEL]}`;
    byService.set(k, [...(byService.get(k) ?? []), s]);
  }
  const rules: string[] = [];
  for (const svc of services) {
    if (svc.spec?.type !== "LoadBalancer") continue;
    const ips = ingressAddresses(svc);
    if (ips.length === 0) continue;
    const local = svc.spec.externalTrafficPolicy === "Local";
    const svcSlices = byService.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? [];
    for (const sp of svc.spec.ports ?? []) {
      const proto = (sp.protocol ?? "TCP").toLowerCase();
      if (proto !== "tcp" && proto !== "udp") continue;
      const targets: Array<{ ip: string; port: number }> = [];
      for (const slice of svcSlices) {
        const port = slice.ports.find((p) => p.name === (sp.name ?? ""))?.port;
        if (port === undefined) continue;
        for (const ep of slice.endpoints) {
          if (!ep.conditions.ready) continue;
          if (local && ep.nodeName !== nodeName) continue;
          for (const a of ep.addresses) targets.push({ ip: a, port });
        }
      }
      targets.sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
      for (const ip of ips) {
        const match = `ip daddr ${ip} ${proto} dport ${sp.port}`;
        const mark = local ? "" : `meta mark set ${MASQ_MARK} `;
        if (targets.length === 0) {
          rules.push(`${match} drop`);
        } else if (targets.length === 1) {
          rules.push(`${match} ${mark}dnat ip to ${targets[0].ip}:${targets[0].port}`);
        } else {
          const map = targets.map((t, i) => `${i} : ${t.ip} . ${t.port}`).join(", ");
          rules.push(
            `${match} ${mark}dnat ip to numgen random mod ${targets.length} map { ${map} }`,
          );
        }
      }
    }
  }
  return rules.sort();
}

/** The whole ruleset file for one node (replaces the table atomically). */
export function nodeRuleset(rules: string[]): string {
  return [
    `table ip ${TABLE}`,
    `delete table ip ${TABLE}`,
    `table ip ${TABLE} {`,
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    ...rules.map((r) => `    ${r}`),
    "  }",
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    meta mark ${MASQ_MARK} masquerade`,
    "  }",
    "}",
    "",
  ].join("\n");
}
