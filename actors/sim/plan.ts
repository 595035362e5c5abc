/**
 * The simulated cluster's plan: names, addresses and ASNs of every namespace, link and router,
 * computed from a few options. Pure: no I/O. The topology builder executes a plan; `down` and the
 * tests' cleanup remove what a plan names.
 *
 * Address plan (test ranges only):
 * - 192.0.2.1/32 and 192.0.2.2/32: spine0 (FRR, AS 65001) and spine1 (BIRD, AS 65002), on the
 *   spines' loopbacks (the addresses of `manifests/samples/peer_templates.yaml`).
 * - 192.0.2.64/26: node↔spine0 point-to-point /31 links; 192.0.2.128/26: node↔spine1 links.
 * - 192.0.2.192/29: client↔spine links (client side .193 and .195).
 * - IPv6 (fd00::/8 only): fd00:2::1/128 and fd00:2::2/128 on the spines' loopbacks (the
 *   addresses of the IPv6 BGPPeerTemplates); node i's link to spine s is fd00:2:<s+1>:<i>::/64
 *   (spine ::1, node ::2), the client's fd00:2:<s+1>:ff::/64. Pods (fd00:10::/112) and
 *   LoadBalancer addresses (fd00:203::/120) come from the dual-stack pools.
 * - 198.19.M.0/24 (M in 240..254, one per concurrent run): the management bridge; .1 is the
 *   API server, .10+i node i's InternalIP (and router id).
 * - Pods (198.18.0.0/16, 198.19.0.0/29) and LoadBalancer addresses (203.0.113.0/24,
 *   198.51.100.0/24) are handed out by tern (or by the stand-ins), never by the plan.
 * @module
 */

/** Typed error for an impossible plan. */
export class PlanError extends Error {
  /** Discriminator. */
  readonly code = "bad_plan";
  /** Build one quoting the offending value. */
  constructor(what: string, value: unknown, why: string) {
    super(`Simulated cluster ${what} ${JSON.stringify(value)}: ${why}`);
    this.name = "PlanError";
  }
}

/** What a plan is built from. */
export interface PlanOptions {
  /** Run-unique prefix of every namespace and link, e.g. `tn-sim-3fa9` (3 to 10 chars after `tn-`). */
  prefix: string;
  /** Number of nodes (1 to 30; default 3). */
  nodes?: number;
  /** Third octet of the management /24 in 198.19.0.0/16 (240 to 254; default 254). */
  mgmtOctet?: number;
  /** API server port on the management bridge (default 6443). */
  apiPort?: number;
}

/** One point-to-point link between two namespaces. */
export interface P2pLink {
  /** Namespace and interface name on side A (the spine). */
  a: { ns: string; ifname: string; address: string };
  /** Namespace and interface name on side B (the node or the client). */
  b: { ns: string; ifname: string; address: string };
  /** Prefix length of both addresses (31). */
  prefixLength: number;
  /** IPv6 addresses of both sides (fd00::/8) and their prefix length (64). */
  v6: { a: string; b: string; prefixLength: number };
}

/** A spine router. */
export interface SpinePlan {
  /** `spine0` or `spine1`. */
  id: string;
  /** `frr` or `bird`. */
  kind: "frr" | "bird";
  ns: string;
  asn: number;
  /** Loopback address (router id and BGP address). */
  address: string;
  /** IPv6 loopback address (the BGP address of the IPv6 sessions). */
  address6: string;
}

/** A node. */
export interface NodePlan {
  /** Kubernetes node name (`node-1` …). */
  name: string;
  /** 1-based index. */
  index: number;
  ns: string;
  asn: number;
  /** InternalIP on the management bridge; also the router id. */
  internalIP: string;
  /** Management interface name inside the node namespace. */
  mgmtIf: string;
  /** Uplinks, one per spine, in spine order. */
  uplinks: P2pLink[];
}

/** A whole plan. */
export interface SimPlan {
  prefix: string;
  spines: SpinePlan[];
  nodes: NodePlan[];
  client: { ns: string; uplinks: P2pLink[] };
  mgmt: {
    /** Bridge in the root namespace. */
    bridge: string;
    /** Bridge address (API server listens here). */
    address: string;
    prefixLength: number;
    apiPort: number;
  };
}

const PREFIX_RE = /^tn-[a-z0-9]{1,5}-[a-z0-9]{2,6}$/;

/** Interface names are at most 15 bytes; the plan keeps them short and unique per run. */
function shortId(prefix: string): string {
  return prefix.replace(/^tn-/, "").replace(/-/g, "").slice(-6);
}

/** IPv6 addresses of the link between spine `si` and the node (or client) `group`. */
function link6(si: number, group: string): P2pLink["v6"] {
  const net = `fd00:2:${si + 1}:${group}`;
  return { a: `${net}::1`, b: `${net}::2`, prefixLength: 64 };
}

/** Builds a plan; throws {@link PlanError} on bad options. */
export function makePlan(options: PlanOptions): SimPlan {
  const { prefix } = options;
  if (!PREFIX_RE.test(prefix)) {
    throw new PlanError("prefix", prefix, "must look like tn-<area>-<random> (e.g. tn-sim-3fa9)");
  }
  const n = options.nodes ?? 3;
  if (!Number.isInteger(n) || n < 1 || n > 30) {
    throw new PlanError("node count", n, "must be an integer from 1 to 30");
  }
  const m = options.mgmtOctet ?? 254;
  if (!Number.isInteger(m) || m < 240 || m > 254) {
    throw new PlanError("management octet", m, "must be an integer from 240 to 254");
  }
  const apiPort = options.apiPort ?? 6443;
  if (!Number.isInteger(apiPort) || apiPort < 1 || apiPort > 65535) {
    throw new PlanError("API port", apiPort, "must be a TCP port");
  }
  const id = shortId(prefix);
  const spines: SpinePlan[] = [
    {
      id: "spine0",
      kind: "frr",
      ns: `${prefix}-spine0`,
      asn: 65001,
      address: "192.0.2.1",
      address6: "fd00:2::1",
    },
    {
      id: "spine1",
      kind: "bird",
      ns: `${prefix}-spine1`,
      asn: 65002,
      address: "192.0.2.2",
      address6: "fd00:2::2",
    },
  ];
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= n; i++) {
    const ns = `${prefix}-node${i}`;
    const uplinks = spines.map((s, si): P2pLink => {
      const base = 64 + si * 64 + (i - 1) * 2;
      return {
        a: { ns: s.ns, ifname: `n${i}`, address: `192.0.2.${base}` },
        b: { ns, ifname: `s${si}`, address: `192.0.2.${base + 1}` },
        prefixLength: 31,
        v6: link6(si, i.toString(16)),
      };
    });
    nodes.push({
      name: `node-${i}`,
      index: i,
      ns,
      asn: 65100 + i,
      internalIP: `198.19.${m}.${10 + i}`,
      mgmtIf: "mgmt",
      uplinks,
    });
  }
  const clientNs = `${prefix}-client`;
  const clientUplinks = spines.map((s, si): P2pLink => ({
    a: { ns: s.ns, ifname: "client", address: `192.0.2.${192 + si * 2}` },
    b: { ns: clientNs, ifname: `s${si}`, address: `192.0.2.${193 + si * 2}` },
    prefixLength: 31,
    v6: link6(si, "ff"),
  }));
  return {
    prefix,
    spines,
    nodes,
    client: { ns: clientNs, uplinks: clientUplinks },
    mgmt: { bridge: `tn${id}br`, address: `198.19.${m}.1`, prefixLength: 24, apiPort },
  };
}

/** Every namespace a plan creates (for teardown). */
export function planNamespaces(plan: SimPlan): string[] {
  return [...plan.spines.map((s) => s.ns), ...plan.nodes.map((n) => n.ns), plan.client.ns];
}

/** The management veth's root-namespace end for a node (at most 15 bytes). */
export function mgmtHostIf(plan: SimPlan, node: NodePlan): string {
  return `${plan.mgmt.bridge.slice(0, -2)}m${node.index}`;
}

/** A fresh run prefix: `tn-<area>-<6 hex>`. */
export function randomPrefix(area = "sim"): string {
  const hex = [...crypto.getRandomValues(new Uint8Array(3))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return `tn-${area}-${hex}`;
}
