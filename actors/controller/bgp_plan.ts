/**
 * ClusterBGP → NodeBGPs and BGPPeers, pure. For each node a ClusterBGP selects: the ASN (fixed
 * or from the `tern.dev/asn` label), the router id (the node's InternalIP, the
 * `tern.dev/router-id` label, or fixed), and a BGPPeer per peer entry whose NodeBGP selector
 * matches, with settings from a BGPPeerTemplate or inline, named
 * `<template-or-clusterbgp>-<node>-<asn>-<addr>`.
 */
import type { BGPPeerSpec } from "../crds/bgp_peer.ts";
import type { BGPPeerTemplate } from "../crds/bgp_peer_template.ts";
import type { ClusterBGP } from "../crds/cluster_bgp.ts";
import { LABEL_ASN, LABEL_ROUTER_ID } from "../crds/names.ts";
import { IpAddress } from "../ipam/mod.ts";
import type { KubeObject } from "../kube/mod.ts";

/** A Node as far as BGP goes. */
export interface NodeInfo {
  name: string;
  uid?: string;
  labels: Record<string, string>;
  internalIPs: string[];
}

/** The NodeInfo of a Node object. */
export function nodeInfoOf(node: KubeObject): NodeInfo {
  const addrs = (node.status?.addresses ?? []) as { type: string; address: string }[];
  const info: NodeInfo = {
    name: node.metadata.name!,
    labels: node.metadata.labels ?? {},
    internalIPs: addrs.filter((a) => a.type === "InternalIP").map((a) => a.address),
  };
  if (node.metadata.uid) info.uid = node.metadata.uid;
  return info;
}

/** A planned BGPPeer. */
export interface PeerPlan {
  name: string;
  node: string;
  clusterBGP: string;
  spec: BGPPeerSpec;
}

/** A planned NodeBGP (one ClusterBGP's view). */
export interface NodePlan {
  node: string;
  asn: number;
  routerId: string;
  speaker?: ClusterBGP["spec"]["speaker"];
  peers: PeerPlan[];
}

/** One thing wrong with a ClusterBGP for a node or a peer. */
export interface PlanProblem {
  reason: string;
  message: string;
}

/** One ClusterBGP's plan. */
export interface ClusterPlan {
  clusterBGP: string;
  /** Nodes the selector matches. */
  desiredNodes: number;
  nodes: NodePlan[];
  problems: PlanProblem[];
}

/** Peer setting defaults (as the CRD schema applies them), so comparisons are stable. */
export const PEER_DEFAULTS = {
  port: 179,
  holdTime: 90,
  keepaliveTime: 30,
  connectRetryTime: 30,
  maxPrefixes: 0,
} as const;

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** The BGPPeer name: `<head>-<node>-<asn>-<addr>` with `:` turned into `-`. */
export function peerName(head: string, node: string, asn: number, addr: string): string {
  const name = `${head}-${node}-${asn}-${addr.replace(/:/g, "-")}`.toLowerCase();
  return name.length <= 253 ? name : name.slice(0, 253).replace(/[-.]+$/, "");
}

const ASN_MAX = 4294967295;

/** Plans one ClusterBGP over the nodes and templates. */
export function planClusterBGP(
  cbgp: ClusterBGP,
  nodes: Iterable<NodeInfo>,
  templates: ReadonlyMap<string, BGPPeerTemplate>,
): ClusterPlan {
  const name = cbgp.metadata.name;
  const spec = cbgp.spec;
  const out: ClusterPlan = { clusterBGP: name, desiredNodes: 0, nodes: [], problems: [] };
  const sorted = [...nodes].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const node of sorted) {
    if (!matches(spec.nodeSelector, node.labels)) continue;
    out.desiredNodes++;
    let asn: number | undefined;
    if (spec.asnSelector.from === "asn") asn = spec.asnSelector.asn;
    else {
      const text = node.labels[LABEL_ASN];
      const n = text !== undefined && /^\d{1,10}$/.test(text) ? Number(text) : NaN;
      if (text === undefined) {
        out.problems.push({
          reason: "MissingAsnLabel",
          message: `node ${node.name} has no ${LABEL_ASN} label`,
        });
        continue;
      }
      if (!(n >= 1 && n <= ASN_MAX)) {
        out.problems.push({
          reason: "InvalidAsnLabel",
          message: `node ${node.name}: ${LABEL_ASN}=${JSON.stringify(text)} is not an ASN`,
        });
        continue;
      }
      asn = n;
    }
    if (asn === undefined) continue;
    let routerId: string | undefined;
    const sel = spec.routerIdSelector;
    if (sel.from === "routerId") routerId = sel.routerId;
    else if (sel.from === "label") {
      const text = node.labels[LABEL_ROUTER_ID];
      if (text === undefined || IpAddress.tryParse(text)?.family !== 4) {
        out.problems.push({
          reason: text === undefined ? "MissingRouterIdLabel" : "InvalidRouterIdLabel",
          message: text === undefined
            ? `node ${node.name} has no ${LABEL_ROUTER_ID} label`
            : `node ${node.name}: ${LABEL_ROUTER_ID}=${
              JSON.stringify(text)
            } is not an IPv4 address`,
        });
        continue;
      }
      routerId = text;
    } else {
      routerId = node.internalIPs.find((a) => IpAddress.tryParse(a)?.family === 4);
      if (!routerId) {
        out.problems.push({
          reason: "NoInternalAddress",
          message: `node ${node.name} has no IPv4 InternalIP for its router id`,
        });
        continue;
      }
    }
    if (!routerId) continue;
    const plan: NodePlan = { node: node.name, asn, routerId, peers: [] };
    if (spec.speaker) plan.speaker = spec.speaker;
    for (const entry of spec.peers ?? []) {
      if (!matches(entry.nodeBGPSelector, node.labels)) continue;
      let settings: Record<string, unknown>;
      let head: string;
      let template: string | undefined;
      if (entry.peerTemplateRef) {
        const t = templates.get(entry.peerTemplateRef);
        if (!t) {
          out.problems.push({
            reason: "UnknownTemplate",
            message: `peer ${entry.name}: BGPPeerTemplate ${
              JSON.stringify(entry.peerTemplateRef)
            } does not exist`,
          });
          continue;
        }
        settings = { ...t.spec };
        head = entry.peerTemplateRef;
        template = entry.peerTemplateRef;
      } else if (entry.peerConfig) {
        settings = { ...entry.peerConfig };
        head = name;
      } else continue;
      const peerSpec = {
        ...PEER_DEFAULTS,
        ...settings,
        node: node.name,
        clusterBGP: name,
        ...(template ? { peerTemplate: template } : {}),
      } as BGPPeerSpec;
      if (peerSpec.groups && peerSpec.groups.length === 0) delete peerSpec.groups;
      plan.peers.push({
        name: peerName(head, node.name, peerSpec.asn, peerSpec.addr),
        node: node.name,
        clusterBGP: name,
        spec: peerSpec,
      });
    }
    out.nodes.push(plan);
  }
  return out;
}

/** The merged desired state of every ClusterBGP. */
export interface MergedPlan {
  nodes: Map<string, NodePlan & { clusterBGPs: string[] }>;
  peers: Map<string, PeerPlan>;
  /** Problems per ClusterBGP found only when merging (conflicts between them). */
  conflicts: Map<string, PlanProblem[]>;
}

/**
 * Merges the plans of every ClusterBGP, oldest first: a node selected by two ClusterBGPs keeps
 * the ASN and router id of the oldest (the other gets a conflict); peers are united, and a
 * second peer with the same (node, ASN, address) is dropped with a conflict.
 */
export function mergePlans(plans: readonly ClusterPlan[]): MergedPlan {
  const merged: MergedPlan = { nodes: new Map(), peers: new Map(), conflicts: new Map() };
  const conflict = (cbgp: string, p: PlanProblem) => {
    let l = merged.conflicts.get(cbgp);
    if (!l) merged.conflicts.set(cbgp, l = []);
    l.push(p);
  };
  const byTriple = new Map<string, string>();
  for (const plan of plans) {
    for (const n of plan.nodes) {
      let cur = merged.nodes.get(n.node);
      if (!cur) {
        cur = { ...n, peers: [], clusterBGPs: [] };
        merged.nodes.set(n.node, cur);
      } else if (cur.asn !== n.asn || cur.routerId !== n.routerId) {
        conflict(plan.clusterBGP, {
          reason: "NodeConflict",
          message: `node ${n.node} already has ASN ${cur.asn} and router id ${cur.routerId} from ` +
            `ClusterBGP ${cur.clusterBGPs[0]}`,
        });
        continue;
      }
      cur.clusterBGPs.push(plan.clusterBGP);
      for (const p of n.peers) {
        const triple = `${p.node}|${p.spec.asn}|${p.spec.addr}`;
        const other = byTriple.get(triple);
        if (other) {
          conflict(plan.clusterBGP, {
            reason: "DuplicatePeer",
            message: `peer ${p.spec.addr} AS ${p.spec.asn} of node ${p.node} is already ${other}`,
          });
          continue;
        }
        byTriple.set(triple, p.name);
        merged.peers.set(p.name, p);
        cur.peers.push(p);
      }
    }
  }
  return merged;
}

/** The annotation the controller puts on a BGPPeer that duplicates another one. */
export { ANNOTATION_DUPLICATE_OF } from "../crds/names.ts";

/** A BGPPeer as far as duplicate detection goes. */
export interface PeerRef {
  name: string;
  node: string;
  asn: number;
  addr: string;
  creationTimestamp?: string;
  deleting?: boolean;
}

/**
 * BGPPeers that duplicate another (same node, ASN and address), by name → the name of the one
 * kept. The kept one is the peer the controller plans (`planned`), else the oldest (creation
 * time, then name). Peers being deleted neither keep nor duplicate. sart refuses such a peer
 * with its admission webhook; tern has none, so the controller leaves the kept one alone and
 * reports the others.
 */
export function duplicatePeers(
  peers: Iterable<PeerRef>,
  planned: ReadonlySet<string>,
): Map<string, string> {
  const groups = new Map<string, PeerRef[]>();
  for (const p of peers) {
    if (p.deleting) continue;
    const key = `${p.node}|${p.asn}|${p.addr.toLowerCase()}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = []);
    g.push(p);
  }
  const out = new Map<string, string>();
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    g.sort((a, b) => {
      const pa = planned.has(a.name) ? 0 : 1, pb = planned.has(b.name) ? 0 : 1;
      if (pa !== pb) return pa - pb;
      const ta = a.creationTimestamp ?? "", tb = b.creationTimestamp ?? "";
      if (ta !== tb) return ta < tb ? -1 : 1;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    for (const p of g.slice(1)) out.set(p.name, g[0].name);
  }
  return out;
}
