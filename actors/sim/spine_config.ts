/**
 * Configuration of the two spine routers of the simulated cluster, generated from a plan. Pure.
 *
 * - spine0 runs FRR (`zebra` + `bgpd`; zebra installs the BGP routes, ECMP, into the spine's
 *   kernel so it forwards to the nodes).
 * - spine1 runs BIRD 2 (the `kernel` protocol exports the BGP routes, merged into ECMP routes).
 *
 * Each spine has two eBGP sessions per node, one per address family (as MetalLB and Calico peer:
 * one BGPPeer per family): IPv4 unicast from its IPv4 loopback to the node's IPv4 end of their
 * point-to-point link, IPv6 unicast from its IPv6 loopback to the node's IPv6 end. Timers are short
 * (keepalive 3 s, hold 9 s, connect retry 2 s) so failures are seen quickly in tests.
 * @module
 */
import type { NodePlan, SimPlan, SpinePlan } from "./plan.ts";

/** BGP timers the spines offer. */
export interface SpineTimers {
  keepalive: number;
  hold: number;
  connectRetry: number;
}

/** Default timers (short, for the tests). */
export const SPINE_TIMERS: SpineTimers = { keepalive: 3, hold: 9, connectRetry: 2 };

/** The node's address on its link to `spine` (the address the spine peers with). */
export function nodeAddressTowards(node: NodePlan, spineIndex: number): string {
  return node.uplinks[spineIndex].b.address;
}

/** The node's IPv6 address on its link to `spine` (the address the spine's IPv6 session uses). */
export function nodeAddress6Towards(node: NodePlan, spineIndex: number): string {
  return node.uplinks[spineIndex].v6.b;
}

/** FRR `bgpd` configuration. */
export function frrConfig(
  plan: SimPlan,
  spine: SpinePlan,
  logFile: string,
  timers = SPINE_TIMERS,
): string {
  const si = plan.spines.indexOf(spine);
  const lines = [
    "frr defaults datacenter",
    // Accept from a node only what it originates (AS path = its own ASN): nodes are not transit.
    "bgp as-path access-list node-originated seq 5 permit ^[0-9]+$",
    `hostname ${spine.id}`,
    `log file ${logFile} informational`,
    "!",
    `router bgp ${spine.asn}`,
    ` bgp router-id ${spine.address}`,
    " no bgp ebgp-requires-policy",
    " no bgp network import-check",
    " bgp bestpath as-path multipath-relax",
    ` timers bgp ${timers.keepalive} ${timers.hold}`,
  ];
  for (const node of plan.nodes) {
    for (
      const [peer, source] of [
        [nodeAddressTowards(node, si), spine.address],
        [nodeAddress6Towards(node, si), spine.address6],
      ]
    ) {
      lines.push(
        ` neighbor ${peer} remote-as ${node.asn}`,
        ` neighbor ${peer} description ${node.name}`,
        ` neighbor ${peer} update-source ${source}`,
        ` neighbor ${peer} timers ${timers.keepalive} ${timers.hold}`,
        ` neighbor ${peer} timers connect ${timers.connectRetry}`,
        ` neighbor ${peer} filter-list node-originated in`,
      );
    }
  }
  // One family per session: IPv4 unicast on the IPv4 sessions, IPv6 unicast on the IPv6 ones.
  lines.push(" !", " address-family ipv4 unicast", "  maximum-paths 16");
  for (const node of plan.nodes) {
    lines.push(`  neighbor ${nodeAddressTowards(node, si)} activate`);
    lines.push(`  no neighbor ${nodeAddress6Towards(node, si)} activate`);
  }
  lines.push(" exit-address-family", " !", " address-family ipv6 unicast", "  maximum-paths 16");
  for (const node of plan.nodes) {
    lines.push(`  neighbor ${nodeAddress6Towards(node, si)} activate`);
  }
  lines.push(" exit-address-family", "exit", "!", "");
  return lines.join("\n");
}

/** BIRD 2 configuration. */
export function birdConfig(
  plan: SimPlan,
  spine: SpinePlan,
  logFile: string,
  timers = SPINE_TIMERS,
): string {
  const si = plan.spines.indexOf(spine);
  const lines = [
    `router id ${spine.address};`,
    `log "${logFile}" all;`,
    "protocol device { scan time 2; }",
    "protocol kernel {",
    "  ipv4 { import none; export where source = RTS_BGP; };",
    "  merge paths on;",
    "  scan time 5;",
    "}",
    "protocol kernel kernel6 {",
    "  ipv6 { import none; export where source = RTS_BGP; };",
    "  merge paths on;",
    "  scan time 5;",
    "}",
  ];
  for (
    const [name, local, family] of [["tern_node", spine.address, "ipv4"], [
      "tern_node6",
      spine.address6,
      "ipv6",
    ]]
  ) {
    lines.push(
      `template bgp ${name} {`,
      `  local ${local} as ${spine.asn};`,
      `  hold time ${timers.hold};`,
      `  keepalive time ${timers.keepalive};`,
      `  connect retry time ${timers.connectRetry};`,
      "  error wait time 1, 10;",
      // Accept from a node only what it originates (AS path = its own ASN): nodes are not transit.
      `  ${family} { import where bgp_path.len = 1; export where source = RTS_BGP; next hop self; };`,
      "}",
    );
  }
  for (const node of plan.nodes) {
    lines.push(
      `protocol bgp ${birdProtocolName(node)} from tern_node {`,
      `  description "${node.name}";`,
      `  neighbor ${nodeAddressTowards(node, si)} as ${node.asn};`,
      "}",
      `protocol bgp ${birdProtocolName6(node)} from tern_node6 {`,
      `  description "${node.name}";`,
      `  neighbor ${nodeAddress6Towards(node, si)} as ${node.asn};`,
      "}",
    );
  }
  lines.push("");
  return lines.join("\n");
}

/** Name of a node's BGP protocol in BIRD (`node_1` …). */
export function birdProtocolName(node: NodePlan): string {
  return `node_${node.index}`;
}

/** Name of a node's IPv6 BGP protocol in BIRD (`node6_1` …). */
export function birdProtocolName6(node: NodePlan): string {
  return `node6_${node.index}`;
}

/** FRR `zebra` configuration. */
export function zebraConfig(spine: SpinePlan, logFile: string): string {
  return [`hostname ${spine.id}`, `log file ${logFile} informational`, "!", ""].join("\n");
}
