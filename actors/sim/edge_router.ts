/**
 * The simulated cluster's optional edge router: a third router, outside the leaf/spine fabric,
 * for the nodes a second ClusterBGP peers with through an inline peer (sart's "second ClusterBGP
 * with inline peers" scenario). Off by default (`sim up --edge`, `clusterUp({ edge: true })`).
 *
 * - Namespace `<prefix>-edge`, GoBGP (`gobgpd`, the one daemon the fabric does not use), AS 64700,
 *   router id and BGP address 192.0.2.10 on its loopback (the address and ASN of
 *   `manifests/samples/cluster_bgp_inline.yaml`).
 * - One point-to-point /31 link to every node, in 198.19.224.0/26: edge side
 *   198.19.224.(2i-2) (interface `n<i>`), node side 198.19.224.(2i-1) (interface `e0`, with a
 *   host route to 192.0.2.10 through it). Only the BGP session uses the link: the nodes' default
 *   route stays on the spines.
 * - A passive eBGP neighbor for every node (its address on the link, its ASN), timers as the
 *   spines' (keepalive 3 s, hold 9 s): a node's session comes up as soon as its speaker is
 *   configured with the edge as a peer, and goes down when that peer is removed.
 * - It accepts everything and exports nothing (`default-export-policy = reject-route`): it holds
 *   exactly what the nodes announce, with each node as a next hop, and never changes the nodes'
 *   routing. Unlike the spines it does not filter transit paths, so a test sees whether a node
 *   passes on what it learned (the agent's speaker runs with `exportLearned: false`: it must
 *   not).
 *
 * The plan and the configuration are pure; building, starting and the CLI reads are the I/O.
 * `teardown(prefix)` removes it with the rest of the run (its namespace carries the prefix and
 * `gobgpd` is a recorded process).
 * @module
 */
import type { KubeObject } from "../kube/mod.ts";
import { ipBatch, run, waitFor } from "./exec.ts";
import { type P2pLink, PlanError, type SimPlan } from "./plan.ts";
import { startProc, tailLog } from "./processes.ts";
import { SPINE_TIMERS, type SpineTimers } from "./spine_config.ts";

/** The edge router's ASN. */
export const EDGE_ASN = 64700;
/** The edge router's BGP address (and router id), on its loopback. */
export const EDGE_ADDRESS = "192.0.2.10";
/** GoBGP API port inside the edge namespace. */
export const EDGE_API_PORT = 50051;
/** Name of the edge router's process in the run (`procs/edge-gobgpd.*`). */
export const EDGE_PROC = "edge-gobgpd";

/**
 * A ClusterBGP whose inline peer is the edge router (sart's "second ClusterBGP with inline
 * peers"), for the nodes labelled `label: on`, the nodes keeping the ASN and router id the spine
 * ClusterBGPs give them. `peerConfig` adds to the inline peer (groups, passwordSecretRef, ...).
 */
export function edgeClusterBgp(
  name: string,
  label: string,
  peerConfig: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: "tern.dev/v1alpha1",
    kind: "ClusterBGP",
    metadata: { name },
    spec: {
      nodeSelector: { [label]: "on" },
      asnSelector: { from: "label" },
      routerIdSelector: { from: "internalAddress" },
      peers: [{
        name: "edge",
        peerConfig: {
          asn: EDGE_ASN,
          addr: EDGE_ADDRESS,
          holdTime: 9,
          keepaliveTime: 3,
          connectRetryTime: 2,
          ...peerConfig,
        },
        nodeBGPSelector: { [label]: "on" },
      }],
    },
  } as unknown as KubeObject;
}

/** A node's link to the edge router (IPv4 only: the edge's sessions carry IPv4 unicast). */
export type EdgeLink = Omit<P2pLink, "v6">;

/** The edge router of a plan. */
export interface EdgePlan {
  /** Namespace `<prefix>-edge`. */
  ns: string;
  asn: number;
  /** Loopback address: router id and the address nodes peer with. */
  address: string;
  apiPort: number;
  /** One link per node, in node order: side `a` the edge, side `b` the node (`e0`). */
  links: EdgeLink[];
}

/** The edge router's part of a plan (pure). Throws {@link PlanError} past 32 nodes. */
export function edgePlan(plan: SimPlan): EdgePlan {
  const ns = `${plan.prefix}-edge`;
  if (plan.nodes.length > 32) {
    throw new PlanError(
      "edge router links",
      plan.nodes.length,
      "at most 32 nodes fit 198.19.224.0/26",
    );
  }
  const links = plan.nodes.map((n): EdgeLink => ({
    a: { ns, ifname: `n${n.index}`, address: `198.19.224.${2 * (n.index - 1)}` },
    b: { ns: n.ns, ifname: "e0", address: `198.19.224.${2 * (n.index - 1) + 1}` },
    prefixLength: 31,
  }));
  return { ns, asn: EDGE_ASN, address: EDGE_ADDRESS, apiPort: EDGE_API_PORT, links };
}

/** The node's address on its link to the edge router (the address the edge peers with). */
export function nodeAddressTowardsEdge(edge: EdgePlan, nodeIndex: number): string {
  const link = edge.links[nodeIndex - 1];
  if (!link) throw new PlanError("node index", nodeIndex, "has no link to the edge router");
  return link.b.address;
}

/** GoBGP configuration (TOML) of the edge router (pure). */
export function edgeGobgpConfig(
  plan: SimPlan,
  edge: EdgePlan,
  timers: SpineTimers = SPINE_TIMERS,
): string {
  const lines = [
    "[global.config]",
    `  as = ${edge.asn}`,
    `  router-id = "${edge.address}"`,
    // A sink: hold what the nodes announce, send them nothing (nodes must not learn a third
    // path to each other through it).
    "[global.apply-policy.config]",
    '  default-export-policy = "reject-route"',
  ];
  for (const node of plan.nodes) {
    lines.push(
      "[[neighbors]]",
      "  [neighbors.config]",
      `    neighbor-address = "${nodeAddressTowardsEdge(edge, node.index)}"`,
      `    peer-as = ${node.asn}`,
      `    description = "${node.name}"`,
      "  [neighbors.timers.config]",
      `    connect-retry = ${timers.connectRetry}`,
      `    hold-time = ${timers.hold}`,
      `    keepalive-interval = ${timers.keepalive}`,
      "  [neighbors.transport.config]",
      `    local-address = "${edge.address}"`,
      "    passive-mode = true",
    );
  }
  return lines.join("\n") + "\n";
}

/** Paths of the edge router's files inside a run directory. */
export function edgeFiles(runDir: string) {
  const dir = `${runDir}/edge`;
  return { dir, conf: `${dir}/gobgpd.toml` };
}

/**
 * Creates the edge namespace, its loopback address and its link to every node (with the node's
 * host route to the edge's address). The nodes' namespaces must exist ({@link buildNetwork}
 * first); on failure the caller's teardown removes what was made.
 */
export async function buildEdgeNetwork(edge: EdgePlan): Promise<void> {
  await run(["ip", "netns", "add", edge.ns]);
  await run([
    "sysctl",
    "-q",
    "-w",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
  ], { ns: edge.ns });
  await ipBatch(["link set lo up", `addr add ${edge.address}/32 dev lo`], edge.ns);
  await ipBatch(
    edge.links.map((l) =>
      `link add ${l.a.ifname} netns ${l.a.ns} type veth peer name ${l.b.ifname} netns ${l.b.ns}`
    ),
  );
  await ipBatch(
    edge.links.flatMap((l) => [
      `addr add ${l.a.address}/${l.prefixLength} dev ${l.a.ifname}`,
      `link set ${l.a.ifname} up`,
    ]),
    edge.ns,
  );
  for (const l of edge.links) {
    await ipBatch([
      `addr add ${l.b.address}/${l.prefixLength} dev ${l.b.ifname}`,
      `link set ${l.b.ifname} up`,
      `route add ${edge.address}/32 via ${l.a.address} dev ${l.b.ifname}`,
    ], l.b.ns);
  }
}

/** Writes the edge router's configuration and starts `gobgpd`; returns once it answers. */
export async function startEdgeRouter(
  plan: SimPlan,
  edge: EdgePlan,
  runDir: string,
): Promise<void> {
  const f = edgeFiles(runDir);
  await Deno.mkdir(f.dir, { recursive: true });
  await Deno.writeTextFile(f.conf, edgeGobgpConfig(plan, edge));
  await startProc(runDir, {
    name: EDGE_PROC,
    ns: edge.ns,
    argv: [
      "gobgpd",
      "-f",
      f.conf,
      "--api-hosts",
      `127.0.0.1:${edge.apiPort}`,
      "--log-plain",
      "--pprof-disable",
    ],
  });
  await waitFor("the edge router (gobgpd) answering", async () => {
    const r = await gobgp(edge, ["global"], false);
    return r.code === 0 ? true : undefined;
  }, 20_000).catch(async (e) => {
    throw new Error(`${e.message}\n${await tailLog(runDir, EDGE_PROC)}`);
  });
}

/** Runs a `gobgp` CLI command against the edge router. */
export function gobgp(edge: EdgePlan, args: string[], check = true) {
  return run(["gobgp", "-u", "127.0.0.1", "-p", String(edge.apiPort), ...args], {
    ns: edge.ns,
    check,
    timeoutMs: 10_000,
  });
}

/** GoBGP's numeric session states (its API's `PeerState.SessionState`). */
const SESSION_STATES = ["Unknown", "Idle", "Connect", "Active", "OpenSent", "OpenConfirm"];

/** A GoBGP session state as RFC 4271 names it (`Established`, `Active`, …). */
export function sessionStateName(state: number | string | undefined): string {
  if (state === undefined) return "Unknown";
  if (typeof state === "string") {
    const s = state.replace(/^SESSION_STATE_/, "").toLowerCase();
    const all = [...SESSION_STATES, "Established"];
    return all.find((x) => x.toLowerCase() === s) ?? state;
  }
  return state === 6 ? "Established" : SESSION_STATES[state] ?? `Unknown(${state})`;
}

/** The edge router's session with every node, by node name (`gobgp neighbor -j`). */
export async function edgeSessions(
  plan: SimPlan,
  edge: EdgePlan,
): Promise<Record<string, string>> {
  const r = await gobgp(edge, ["neighbor", "-j"]);
  const peers = JSON.parse(r.stdout || "[]") as Array<
    { state?: { neighbor_address?: string; session_state?: number | string } }
  >;
  const byAddr = new Map(
    peers.map((p) => [p.state?.neighbor_address ?? "", sessionStateName(p.state?.session_state)]),
  );
  const out: Record<string, string> = {};
  for (const n of plan.nodes) {
    out[n.name] = byAddr.get(nodeAddressTowardsEdge(edge, n.index)) ?? "absent";
  }
  return out;
}

/**
 * The edge router's RIB (`gobgp global rib -j`): prefix → the nodes it holds a path through
 * (next hops mapped to node names, sorted; an unknown next hop is kept as the address).
 */
export async function edgeRib(plan: SimPlan, edge: EdgePlan): Promise<Map<string, string[]>> {
  const r = await gobgp(edge, ["global", "rib", "-a", "ipv4", "-j"]);
  const rib = JSON.parse(r.stdout.trim() || "{}") as Record<
    string,
    Array<{ attrs?: Array<{ type: number; nexthop?: string }>; "neighbor-ip"?: string }>
  >;
  const byAddr = new Map(
    plan.nodes.map((n) => [nodeAddressTowardsEdge(edge, n.index), n.name] as const),
  );
  const out = new Map<string, string[]>();
  for (const [prefix, paths] of Object.entries(rib)) {
    const hops = paths.map((p) => {
      const nh = p.attrs?.find((a) => a.type === 3)?.nexthop ?? p["neighbor-ip"] ?? "?";
      return byAddr.get(nh) ?? nh;
    });
    out.set(prefix, [...new Set(hops)].sort());
  }
  return out;
}
