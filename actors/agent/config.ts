/**
 * The agent's configuration from its command-line flags, pure: node name, state directory, CNI
 * socket, conflist location, static pools and blocks, MTU and the garbage collector's timing.
 *
 * @module
 */

import { Cidr } from "../ipam/mod.ts";

/** A pool and the blocks it may use on this node (static block source). */
export interface StaticPool {
  name: string;
  /** The pool pods get when nothing else names one. */
  auto: boolean;
  /** Blocks, in the order they are handed out. */
  blocks: Cidr[];
}

/** Everything the agent role needs to start. */
export interface AgentConfig {
  node: string;
  stateDir: string;
  socket: string;
  conflistDir: string;
  conflistName: string;
  /** The CNI network name (in the conflist). */
  network: string;
  /** `cniVersion` of the conflist (the chained plugins must speak it). */
  cniVersion: string;
  /** Plugins chained after tern in the conflist (`portmap`, `bandwidth`, `tuning`). */
  chain: string[];
  mtu: number;
  pools: StaticPool[];
  gcIntervalMs: number;
  /** How long a pod must look gone before the collector frees its addresses. */
  gcGraceMs: number;
  /** How long a block must stay empty before it is returned. */
  blockGraceMs: number;
  /**
   * How long after start the route table keeps pod routes that nobody has stated yet (left by the
   * previous run), so a restart never blackholes a running pod.
   */
  routeRetainMs: number;
  /**
   * Where pools, blocks and pod annotations come from: `static` (the `--static-block` flags) or
   * `kube` (the API, through `kubeconfig` or the in-cluster ServiceAccount when it is empty).
   */
  source: "static" | "kube";
  kubeconfig?: string;
  /**
   * What the agent does, as sart's modes: `cni` (pod networking only: IPAM, CNI server, conflist,
   * and BGP for the pod blocks), `lb` (load balancer only: BGP for Service addresses, no CNI
   * server, no conflist, no pod IPAM) or `dual` (both, the default). BGP runs only with the API.
   */
  mode: AgentMode;
  /**
   * Run the BGP wiring (default: whenever the API is used); `--no-bgp` leaves BGP to another
   * process.
   */
  bgp: boolean;
  /** Route protocol number of the routes learned from BGP peers (default 186, `bgp`). */
  bgpRouteProtocol: number;
}

/** The agent's mode (`--mode`). */
export type AgentMode = "cni" | "lb" | "dual";

/** A flag the agent cannot use. */
export class AgentConfigError extends Error {
  override readonly name = "AgentConfigError";
  /** Discriminator. */
  readonly code = "invalid_agent_flag";
  constructor(readonly flag: string, readonly value: string, why: string) {
    super(`Invalid ${flag} ${JSON.stringify(value)}: ${why}`);
  }
}

const CHAINABLE = new Set(["portmap", "bandwidth", "tuning", "firewall", "sbr"]);
const POOL_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function int(flag: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new AgentConfigError(flag, v, "expected a whole number");
  const n = Number(v);
  if (n < min || n > max) throw new AgentConfigError(flag, v, `must be ${min} to ${max}`);
  return n;
}

function absPath(flag: string, v: string): string {
  if (!v.startsWith("/") || v.includes("\0")) {
    throw new AgentConfigError(flag, v, "expected an absolute path");
  }
  return v.replace(/\/+$/, "") || "/";
}

/**
 * Parses the agent's flags (after the common ones are taken off):
 * `--node`, `--state-dir`, `--socket`, `--conflist-dir`, `--conflist-name`, `--network`,
 * `--cni-version`, `--chain a,b`, `--mtu`, `--static-block POOL=CIDR` (repeatable; a pool may
 * hold IPv4 and IPv6 blocks), `--auto-pool NAME` (default: the first pool), `--gc-interval-ms`,
 * `--gc-grace-ms`, `--block-grace-ms`, `--route-retain-ms`, `--kubeconfig PATH` or `--in-cluster` (pools, blocks and
 * annotations from the Kubernetes API instead of static blocks; enables the BGP wiring),
 * `--mode cni|lb|dual` (default dual), `--no-bgp` (no BGP wiring even with the API),
 * `--bgp-route-protocol N` (default 186).
 */
export function parseAgentFlags(args: string[], hostname: string): AgentConfig {
  const c: AgentConfig = {
    node: hostname,
    stateDir: "/var/lib/tern",
    socket: "/run/tern/cni.sock",
    conflistDir: "/etc/cni/net.d",
    conflistName: "10-tern.conflist",
    network: "tern",
    cniVersion: "1.0.0",
    chain: ["portmap", "bandwidth"],
    mtu: 1500,
    pools: [],
    gcIntervalMs: 30_000,
    gcGraceMs: 60_000,
    blockGraceMs: 300_000,
    routeRetainMs: 10_000,
    source: "static",
    mode: "dual",
    bgp: true,
    bgpRouteProtocol: 186,
  };
  let auto: string | undefined;
  const pools = new Map<string, StaticPool>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [
      a,
      undefined,
    ];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new AgentConfigError(flag, "", "a value is required");
      return v;
    };
    switch (flag) {
      case "--node": {
        const v = value();
        if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(v)) {
          throw new AgentConfigError(flag, v, "expected a Kubernetes node name");
        }
        c.node = v;
        break;
      }
      case "--state-dir":
        c.stateDir = absPath(flag, value());
        break;
      case "--socket":
        c.socket = absPath(flag, value());
        break;
      case "--conflist-dir":
        c.conflistDir = absPath(flag, value());
        break;
      case "--conflist-name": {
        const v = value();
        if (!/^[A-Za-z0-9_.\-]+\.conflist$/.test(v)) {
          throw new AgentConfigError(flag, v, "expected a file name ending in .conflist");
        }
        c.conflistName = v;
        break;
      }
      case "--network": {
        const v = value();
        if (!/^[A-Za-z0-9][A-Za-z0-9_.\-]*$/.test(v)) {
          throw new AgentConfigError(flag, v, "expected letters, digits, _ . -");
        }
        c.network = v;
        break;
      }
      case "--cni-version": {
        const v = value();
        if (!["0.4.0", "1.0.0", "1.1.0"].includes(v)) {
          throw new AgentConfigError(flag, v, "expected 0.4.0, 1.0.0 or 1.1.0");
        }
        c.cniVersion = v;
        break;
      }
      case "--chain": {
        const v = value();
        const list = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
        for (const p of list) {
          if (!CHAINABLE.has(p)) {
            throw new AgentConfigError(flag, v, `${JSON.stringify(p)} is not a chainable plugin`);
          }
        }
        c.chain = list;
        break;
      }
      case "--mtu":
        c.mtu = int(flag, value(), 68, 65535);
        break;
      case "--static-block": {
        const v = value();
        const at = v.indexOf("=");
        if (at <= 0) throw new AgentConfigError(flag, v, "expected POOL=CIDR");
        const name = v.slice(0, at);
        if (!POOL_NAME.test(name)) throw new AgentConfigError(flag, v, "bad pool name");
        const cidr = Cidr.tryParse(v.slice(at + 1));
        if (!cidr) throw new AgentConfigError(flag, v, "bad CIDR (host bits set?)");
        const p = pools.get(name) ?? { name, auto: false, blocks: [] };
        for (const other of pools.values()) {
          for (const b of other.blocks) {
            if (b.overlaps(cidr)) {
              throw new AgentConfigError(flag, v, `overlaps ${b.toString()} of pool ${other.name}`);
            }
          }
        }
        p.blocks.push(cidr);
        pools.set(name, p);
        break;
      }
      case "--kubeconfig":
        c.kubeconfig = absPath(flag, value());
        c.source = "kube";
        break;
      case "--in-cluster":
        c.source = "kube";
        break;
      case "--mode": {
        const v = value();
        if (v !== "cni" && v !== "lb" && v !== "dual") {
          throw new AgentConfigError(flag, v, "expected cni, lb or dual");
        }
        c.mode = v;
        break;
      }
      case "--no-bgp":
        if (inline !== undefined) throw new AgentConfigError(flag, inline, "takes no value");
        c.bgp = false;
        break;
      case "--bgp-route-protocol":
        c.bgpRouteProtocol = int(flag, value(), 1, 254);
        break;
      case "--auto-pool":
        auto = value();
        break;
      case "--gc-interval-ms":
        c.gcIntervalMs = int(flag, value(), 10, 86_400_000);
        break;
      case "--gc-grace-ms":
        c.gcGraceMs = int(flag, value(), 0, 86_400_000);
        break;
      case "--block-grace-ms":
        c.blockGraceMs = int(flag, value(), 0, 86_400_000);
        break;
      case "--route-retain-ms":
        c.routeRetainMs = int(flag, value(), 0, 3_600_000);
        break;
      default:
        throw new AgentConfigError(flag, inline ?? "", "unknown flag");
    }
  }
  c.pools = [...pools.values()];
  if (c.mode === "lb" && (c.source !== "kube" || !c.bgp)) {
    throw new AgentConfigError(
      "--mode",
      "lb",
      "the load balancer mode needs the Kubernetes API (--kubeconfig or --in-cluster) and BGP",
    );
  }
  if (c.source === "kube" && c.pools.length > 0) {
    throw new AgentConfigError(
      "--static-block",
      c.pools[0]!.blocks[0]!.toString(),
      "static blocks and the Kubernetes API cannot be used together",
    );
  }
  if (c.pools.length > 0) {
    const name = auto ?? c.pools[0]!.name;
    const p = pools.get(name);
    if (!p) throw new AgentConfigError("--auto-pool", name, "no --static-block names this pool");
    p.auto = true;
  } else if (auto !== undefined) {
    throw new AgentConfigError("--auto-pool", auto, "no --static-block names this pool");
  }
  return c;
}
