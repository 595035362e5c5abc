/**
 * TEST STAND-IN for kube-proxy: the minimal Service data path of the simulated cluster. NOT part
 * of tern and not for production. On each node, LoadBalancer addresses are DNATed (nftables) to
 * the Service's ready endpoints: every endpoint for `externalTrafficPolicy: Cluster` (the traffic
 * is masqueraded, as kube-proxy does), only the node's own endpoints for `Local` (dropped when
 * the node has none). IPv4 addresses go to the IPv4 EndpointSlice's endpoints (table `ip`), IPv6
 * addresses to the IPv6 slice's (table `ip6`). Pure: computes the ruleset text; the simulator
 * applies it with `nft -f`.
 * @module
 */
import type { SimEndpointSlice, SimService } from "./endpoints.ts";
import { SERVICE_NAME_LABEL } from "./endpoints.ts";

/** nftables table of the stand-in (one per node namespace). */
export const TABLE = "tern_sim_lb";
const MASQ_MARK = "0x4000";

/** The LoadBalancer addresses (IPv4 and IPv6) of a Service's status. */
export function ingressAddresses(svc: SimService): string[] {
  return (svc.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip)
    .filter((ip): ip is string => !!ip);
}

/**
 * The nft rules of one node (without the table wrapper), sorted for stable output: rules for
 * IPv4 addresses start with `ip `, for IPv6 ones with `ip6 ` (see {@link nodeRuleset}).
 */
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
      const targets: Array<{ ip: string; port: number; family: string }> = [];
      for (const slice of svcSlices) {
        const port = slice.ports.find((p) => p.name === (sp.name ?? ""))?.port;
        if (port === undefined) continue;
        for (const ep of slice.endpoints) {
          if (!ep.conditions.ready) continue;
          if (local && ep.nodeName !== nodeName) continue;
          for (const a of ep.addresses) targets.push({ ip: a, port, family: slice.addressType });
        }
      }
      targets.sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
      for (const ip of ips) {
        const v6 = ip.includes(":");
        const fam = v6 ? "ip6" : "ip";
        const mine = targets.filter((t) => (t.family === "IPv6") === v6);
        const match = `${fam} daddr ${ip} ${proto} dport ${sp.port}`;
        const mark = local ? "" : `meta mark set ${MASQ_MARK} `;
        const addr = (t: { ip: string; port: number }) =>
          v6 ? `[${t.ip}]:${t.port}` : `${t.ip}:${t.port}`;
        if (mine.length === 0) {
          rules.push(`${match} drop`);
        } else if (mine.length === 1) {
          rules.push(`${match} ${mark}dnat ${fam} to ${addr(mine[0])}`);
        } else {
          const map = mine.map((t, i) => `${i} : ${t.ip} . ${t.port}`).join(", ");
          rules.push(
            `${match} ${mark}dnat ${fam} to numgen random mod ${mine.length} map { ${map} }`,
          );
        }
      }
    }
  }
  return rules.sort();
}

/**
 * The whole ruleset file for one node (replaces both tables, `ip` and `ip6`, atomically): the
 * rules of {@link nodeRules}, each in the table of its family.
 */
export function nodeRuleset(rules: string[]): string {
  const table = (fam: "ip" | "ip6") => [
    `table ${fam} ${TABLE}`,
    `delete table ${fam} ${TABLE}`,
    `table ${fam} ${TABLE} {`,
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    ...rules.filter((r) => r.startsWith(`${fam} `)).map((r) => `    ${r}`),
    "  }",
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    meta mark ${MASQ_MARK} masquerade`,
    "  }",
    "}",
  ];
  return [...table("ip"), ...table("ip6"), ""].join("\n");
}
