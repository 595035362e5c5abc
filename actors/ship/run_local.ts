/**
 * `just run-local`'s configuration, pure: the kind cluster (default CNI disabled, the samples'
 * pod subnet, node labels for ASN and BGP group) and one FRR configuration per spine (a
 * neighbor per node with that node's ASN). The Justfile hands the node and spine lists in; the
 * same lists drive `docker network connect` and `docker run`, so every address is written once.
 *
 * Topology: the kind nodes and the spines share a docker network (`tern-fabric`, 192.0.2.0/24).
 * Each node gets a fixed fabric address (second interface); spines sit at the addresses the
 * samples' BGPPeerTemplates name. Each node has its own ASN (eBGP to both spines).
 *
 * @module
 */

import { stringify } from "yaml";

/** A kind node and its place on the fabric. */
export interface NodePlan {
  /** kind's node (container) name: `<cluster>-control-plane`, `<cluster>-worker`, … */
  name: string;
  /** Fixed address on the fabric network. */
  address: string;
  asn: number;
}

/** A spine router (an FRR container). */
export interface SpinePlan {
  name: string;
  address: string;
  asn: number;
}

/** Everything run-local sets up. */
export interface RunLocalPlan {
  cluster: string;
  /** The cluster's pod subnet (IPv4 CIDR; the default pod pool of the samples). */
  podSubnet: string;
  /** The fabric network's subnet (nodes and spines must be inside it). */
  fabricSubnet: string;
  nodes: NodePlan[];
  spines: SpinePlan[];
}

/** A plan the generator cannot use (a bad list entry, a clash), with the offending value. */
export class RunLocalPlanError extends Error {
  override readonly name = "RunLocalPlanError";
  /** Discriminator. */
  readonly code = "invalid_run_local_plan";
  /** Build one quoting the value. */
  constructor(readonly what: string, readonly value: string, why: string) {
    super(`Invalid ${what} ${JSON.stringify(value)}: ${why}`);
  }
}

/** Label carrying a node's ASN (read by ClusterBGP `asnSelector: {from: label}`). */
export const LABEL_ASN = "tern.dev/asn";
/** Label the samples' ClusterBGPs select nodes with. */
export const BGP_GROUP_LABEL = { key: "bgp", value: "a" } as const;

function parseIPv4(s: string): number | undefined {
  const p = s.split(".");
  if (p.length !== 4) return undefined;
  let n = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255 || String(Number(x)) !== x) return undefined;
    n = n * 256 + Number(x);
  }
  return n;
}

function parseCidr(what: string, s: string): { base: number; bits: number } {
  const m = s.match(/^([\d.]+)\/(\d{1,2})$/);
  const base = m ? parseIPv4(m[1]!) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  if (base === undefined || !(bits >= 0 && bits <= 32)) {
    throw new RunLocalPlanError(what, s, "expected an IPv4 CIDR such as 192.0.2.0/24");
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((base & ~mask) >>> 0 !== 0) throw new RunLocalPlanError(what, s, "host bits are set");
  return { base, bits };
}

function inside(cidr: { base: number; bits: number }, ip: number): boolean {
  const mask = cidr.bits === 0 ? 0 : (0xffffffff << (32 - cidr.bits)) >>> 0;
  return ((ip & mask) >>> 0) === cidr.base;
}

function parseAsn(what: string, entry: string, s: string): number {
  if (!/^\d{1,10}$/.test(s) || Number(s) < 1 || Number(s) > 4294967294) {
    throw new RunLocalPlanError(what, entry, `ASN "${s}" must be 1 to 4294967294`);
  }
  return Number(s);
}

/** Parses `name:address:asn` entries separated by spaces (the Justfile's lists). */
export function parseEntries(what: string, list: string): Array<NodePlan> {
  const out: NodePlan[] = [];
  for (const entry of list.trim().split(/\s+/).filter((x) => x !== "")) {
    const parts = entry.split(":");
    if (parts.length !== 3) throw new RunLocalPlanError(what, entry, "expected NAME:ADDRESS:ASN");
    const [name, address, asn] = parts as [string, string, string];
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      throw new RunLocalPlanError(what, entry, "the name must be a DNS label");
    }
    if (parseIPv4(address) === undefined) {
      throw new RunLocalPlanError(what, entry, `"${address}" is not an IPv4 address`);
    }
    out.push({ name, address, asn: parseAsn(what, entry, asn) });
  }
  if (out.length === 0) throw new RunLocalPlanError(what, list, "the list is empty");
  return out;
}

/** kind's container name of node `i` (0: the control plane, then workers). */
export function kindNodeName(cluster: string, i: number): string {
  if (i === 0) return `${cluster}-control-plane`;
  return i === 1 ? `${cluster}-worker` : `${cluster}-worker${i}`;
}

/** Checks a plan: names as kind gives them, distinct addresses inside the fabric, spines set. */
export function validatePlan(plan: RunLocalPlan): RunLocalPlan {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(plan.cluster)) {
    throw new RunLocalPlanError("cluster name", plan.cluster, "must be a DNS label");
  }
  parseCidr("pod subnet", plan.podSubnet);
  const fabric = parseCidr("fabric subnet", plan.fabricSubnet);
  const seen = new Map<string, string>();
  plan.nodes.forEach((n, i) => {
    const want = kindNodeName(plan.cluster, i);
    if (n.name !== want) {
      throw new RunLocalPlanError("node", n.name, `kind names node ${i} "${want}"`);
    }
  });
  if (plan.spines.length === 0) throw new RunLocalPlanError("spines", "", "at least one spine");
  for (const x of [...plan.nodes, ...plan.spines]) {
    const ip = parseIPv4(x.address)!;
    if (!inside(fabric, ip)) {
      throw new RunLocalPlanError("address", x.address, `outside the fabric ${plan.fabricSubnet}`);
    }
    const other = seen.get(x.address);
    if (other) throw new RunLocalPlanError("address", x.address, `used by ${other} too`);
    seen.set(x.address, x.name);
  }
  return plan;
}

/** The kind cluster configuration (YAML). */
export function renderKindConfig(plan: RunLocalPlan): string {
  validatePlan(plan);
  const config = {
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    name: plan.cluster,
    networking: {
      // tern is the CNI: kind must not install kindnet.
      disableDefaultCNI: true,
      ipFamily: "ipv4",
      podSubnet: plan.podSubnet,
    },
    nodes: plan.nodes.map((n, i) => ({
      role: i === 0 ? "control-plane" : "worker",
      labels: { [LABEL_ASN]: String(n.asn), [BGP_GROUP_LABEL.key]: BGP_GROUP_LABEL.value },
    })),
  };
  return "# Generated by actors/ship/run_local_main.ts for `just run-local`. Do not edit.\n" +
    stringify(config, { lineWidth: 0 });
}

/** One spine's FRR configuration: eBGP to every node, ECMP across them. */
export function renderFrrConfig(plan: RunLocalPlan, spine: SpinePlan): string {
  validatePlan(plan);
  const lines = [
    "! Generated by actors/ship/run_local_main.ts for `just run-local`. Do not edit.",
    "frr defaults datacenter",
    `hostname ${spine.name}`,
    "log stdout informational",
    "!",
    `router bgp ${spine.asn}`,
    ` bgp router-id ${spine.address}`,
    " no bgp ebgp-requires-policy",
    " bgp bestpath as-path multipath-relax",
  ];
  for (const n of plan.nodes) {
    lines.push(` neighbor ${n.address} remote-as ${n.asn}`);
    lines.push(` neighbor ${n.address} description ${n.name}`);
  }
  lines.push(" address-family ipv4 unicast");
  for (const n of plan.nodes) lines.push(`  neighbor ${n.address} activate`);
  lines.push("  maximum-paths 16", " exit-address-family", "!", "");
  return lines.join("\n");
}

/** FRR's `daemons` file: bgpd only (zebra and staticd always run). */
export function renderFrrDaemons(): string {
  return [
    "# Generated by actors/ship/run_local_main.ts for `just run-local`. Do not edit.",
    "bgpd=yes",
    "ospfd=no",
    "ospf6d=no",
    "ripd=no",
    "ripngd=no",
    "isisd=no",
    "pimd=no",
    "ldpd=no",
    "nhrpd=no",
    "eigrpd=no",
    "babeld=no",
    "sharpd=no",
    "pbrd=no",
    "bfdd=no",
    "fabricd=no",
    "vrrpd=no",
    "vtysh_enable=yes",
    'zebra_options="  -A 127.0.0.1 -s 90000000"',
    'bgpd_options="   -A 127.0.0.1"',
    "",
  ].join("\n");
}

/** Every file run-local needs, relative to its output directory. */
export function renderRunLocal(plan: RunLocalPlan): Map<string, string> {
  const files = new Map<string, string>();
  files.set("kind.yaml", renderKindConfig(plan));
  for (const s of plan.spines) {
    files.set(`frr/${s.name}/frr.conf`, renderFrrConfig(plan, s));
    files.set(`frr/${s.name}/daemons`, renderFrrDaemons());
    files.set(`frr/${s.name}/vtysh.conf`, "service integrated-vtysh-config\n");
  }
  return files;
}
