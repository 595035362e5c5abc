/**
 * TEST STAND-INS for tern's own node roles, used by the simulated cluster only while the tern
 * agent role (`roles/agent.ts`) is not available, so the harness itself (fabric, spines, node
 * simulator, Service data path, client) can be exercised end to end. NOT part of tern.
 *
 * - CNI: the reference plugins `ptp` + `host-local` (Debian `containernetworking-plugins`), one
 *   /24 per node in 198.18.200.0/21 (outside the blocks tern's default pool hands out first).
 * - BGP: a GoBGP daemon per node peering with both spines, announcing the node's pod /24 and the
 *   LoadBalancer addresses the node should attract (every node for `Cluster`, the nodes with a
 *   ready endpoint for `Local`), as the tern agent does.
 * @module
 */
import { actor, type ActorDef } from "../../runtime/mod.ts";
import type { InformerEvent, KubeObject } from "../kube/mod.ts";
import type { NetConfList } from "./cni_exec.ts";
import type { SimEndpointSlice, SimService } from "./endpoints.ts";
import { SERVICE_NAME_LABEL } from "./endpoints.ts";
import { run } from "./exec.ts";
import type { NodePlan, SimPlan } from "./plan.ts";
import { ingressAddresses } from "./service_path.ts";

/** The stand-in pod subnet of a node. */
export function standinPodSubnet(node: NodePlan): string {
  return `198.18.${200 + node.index}.0/24`;
}

/** The stand-in CNI configuration of a node (`ptp` + `host-local`). */
export function standinConflist(node: NodePlan): NetConfList {
  return {
    cniVersion: "1.0.0",
    name: "tern-sim-standin",
    plugins: [{
      type: "ptp",
      mtu: 1500,
      ipMasq: false,
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: standinPodSubnet(node) }]],
        routes: [{ dst: "0.0.0.0/0" }],
        dataDir: `/run/tern-sim-ipam/${node.ns}`,
      },
    }],
  };
}

/** GoBGP API port inside each node namespace. */
export const GOBGP_API_PORT = 50051;

/** GoBGP configuration (TOML) of a node's stand-in speaker. */
export function gobgpConfig(plan: SimPlan, node: NodePlan): string {
  const lines = [
    "[global.config]",
    `  as = ${node.asn}`,
    `  router-id = "${node.internalIP}"`,
    "  port = -1",
  ];
  // One session per spine and address family, as the tern agent has (the IPv6 one carries no
  // prefix here: the stand-in CNI gives pods IPv4 addresses only).
  plan.spines.forEach((s, i) => {
    for (
      const [peer, local, family] of [
        [s.address, node.uplinks[i].b.address, "ipv4-unicast"],
        [s.address6, node.uplinks[i].v6.b, "ipv6-unicast"],
      ]
    ) {
      lines.push(
        "[[neighbors]]",
        "  [neighbors.config]",
        `    neighbor-address = "${peer}"`,
        `    peer-as = ${s.asn}`,
        "  [neighbors.timers.config]",
        "    connect-retry = 2",
        "    hold-time = 9",
        "    keepalive-interval = 3",
        "  [neighbors.transport.config]",
        `    local-address = "${local}"`,
        "  [[neighbors.afi-safis]]",
        "    [neighbors.afi-safis.config]",
        `      afi-safi-name = "${family}"`,
      );
    }
  });
  return lines.join("\n") + "\n";
}

/**
 * The prefixes a node announces: its pod prefixes and the LoadBalancer addresses it should
 * attract (every node for `Cluster`, the nodes with a ready endpoint for `Local`). Pure.
 */
export function nodeAnnouncements(
  node: NodePlan,
  podPrefixes: string[],
  services: SimService[],
  slices: SimEndpointSlice[],
): string[] {
  const out = new Set<string>(podPrefixes);
  for (const svc of services) {
    if (svc.spec?.type !== "LoadBalancer") continue;
    // The stand-in speakers (GoBGP) peer over IPv4 only.
    const ips = ingressAddresses(svc).filter((ip) => !ip.includes(":"));
    if (svc.spec.externalTrafficPolicy === "Local") {
      const has = slices.some((s) =>
        s.metadata.namespace === svc.metadata.namespace &&
        s.metadata.labels?.[SERVICE_NAME_LABEL] === svc.metadata.name &&
        s.endpoints.some((e) => e.conditions.ready && e.nodeName === node.name)
      );
      if (!has) continue;
    }
    for (const ip of ips) out.add(`${ip}/32`);
  }
  return [...out].sort();
}

/** Messages of the stand-in announcer. */
export type AnnouncerMsg =
  | { type: "services"; event: InformerEvent<SimService> }
  | { type: "slices"; event: InformerEvent<SimEndpointSlice> }
  | { type: "flush" }
  | { type: "resync" };

/** How the announcer reaches a node's speaker. */
export interface SpeakerDriver {
  /** Announces a prefix; resolves false on failure. */
  add(node: NodePlan, prefix: string): Promise<boolean>;
  /** Withdraws a prefix; resolves false on failure. */
  del(node: NodePlan, prefix: string): Promise<boolean>;
  /** Identifies the speaker's incarnation (e.g. its pid): a change means it starts empty. */
  generation(node: NodePlan): Promise<string | undefined>;
}

/** Drives the stand-in GoBGP daemons through their CLI. */
export const gobgpDriver = (generation: SpeakerDriver["generation"]): SpeakerDriver => ({
  generation,
  add: async (node, prefix) => (await gobgpCli(node, "global", "rib", "add", "-a", "ipv4", prefix)),
  del: async (node, prefix) => (await gobgpCli(node, "global", "rib", "del", "-a", "ipv4", prefix)),
});

async function gobgpCli(node: NodePlan, ...args: string[]): Promise<boolean> {
  const r = await run(["gobgp", "-u", "127.0.0.1", "-p", String(GOBGP_API_PORT), ...args], {
    ns: node.ns,
    check: false,
  });
  return r.code === 0;
}

/**
 * Defines the announcer (agent-side BGP wiring of the simulated cluster): keeps every node's
 * speaker announcing exactly {@link nodeAnnouncements}. It re-announces everything every
 * `resyncMs` (a restarted speaker starts empty, as sart's agent notices and re-announces).
 */
export function announcer(
  plan: SimPlan,
  podPrefixes: (node: NodePlan) => string[],
  driver: SpeakerDriver,
  resyncMs = 2_000,
): ActorDef<AnnouncerMsg> {
  return actor<AnnouncerMsg>("announcer", (ctx) => {
    const services = new Map<string, SimService>();
    const slices = new Map<string, SimEndpointSlice>();
    const announced = new Map<string, Set<string>>();
    const generations = new Map<string, string | undefined>();
    const synced = new Set<string>();
    const track = <T extends KubeObject>(m: Map<string, T>, ev: InformerEvent<T>) => {
      const k = (o: T) => `${o.metadata.namespace}/${o.metadata.name}`;
      if (ev.type === "synced") {
        m.clear();
        for (const o of ev.objects) m.set(k(o), o);
      } else if (ev.type === "deleted") m.delete(k(ev.object));
      else m.set(k(ev.object), ev.object);
    };
    ctx.timers.every("resync", resyncMs, { type: "resync" });
    return {
      async receive(msg) {
        if (msg.type === "services") track(services, msg.event);
        else if (msg.type === "slices") track(slices, msg.event);
        if (msg.type === "resync") {
          // A restarted speaker starts empty: announce everything to it again.
          let changed = false;
          for (const node of plan.nodes) {
            const g = await driver.generation(node);
            if (g !== generations.get(node.name)) {
              generations.set(node.name, g);
              announced.delete(node.name);
              changed = true;
            }
          }
          if (!changed) return;
          msg = { type: "flush" };
        }
        if (msg.type !== "flush") {
          if (msg.event.type === "synced") synced.add(msg.type);
          ctx.timers.once("flush", 50, { type: "flush" });
          return;
        }
        if (synced.size < 2) return;
        for (const node of plan.nodes) {
          const want = new Set(
            nodeAnnouncements(node, podPrefixes(node), [...services.values()], [
              ...slices.values(),
            ]),
          );
          const have = announced.get(node.name) ?? new Set<string>();
          let ok = true;
          for (const p of want) {
            if (!have.has(p)) {
              if (await driver.add(node, p)) have.add(p);
              else ok = false;
            }
          }
          for (const p of [...have]) {
            if (!want.has(p)) {
              if (await driver.del(node, p)) have.delete(p);
              else ok = false;
            }
          }
          announced.set(node.name, have);
          if (!ok) ctx.timers.once("flush", 1_000, { type: "flush" });
        }
      },
      inspect: () => ({
        announced: Object.fromEntries([...announced].map(([n, s]) => [n, [...s]])),
      }),
    };
  });
}
