/**
 * The node simulator runner's actor tree (run by `sim runner` as its own process): shared
 * informers for Pods, Services and EndpointSlices; the scheduler; the Service actor
 * (EndpointSlices and the kube-proxy stand-in); one node simulator per node; and, in stand-in
 * the advertiser (tern mode without a controller: the BGPAdvertisements the controller would
 * write; stand-in mode: the GoBGP announcer).
 *
 * ```
 * /sim
 *   scheduler, services, advertiser, node-1 … node-N   (consumers, started first)
 *   informers/{pods, services, slices}                          (rest_for_one: restarted after
 *                                                                any consumer, so it relists)
 * ```
 * @module
 */
import { type ActorSystem, supervisor, type SupervisorDef } from "../../runtime/mod.ts";
import {
  informer,
  type InformerEvent,
  type KubeClient,
  type KubeObject,
  Resources,
} from "../kube/mod.ts";
import { type NetConfList, parseConfList } from "./cni_exec.ts";
import type { ClusterState } from "./cluster.ts";
import type { SimEndpointSlice, SimService } from "./endpoints.ts";
import { nodeSimulator, type SimPod } from "./node_sim.ts";
import { scheduler } from "./scheduler.ts";
import { serviceSimulator } from "./service_sim.ts";
import { procPid } from "./processes.ts";
import { announcer, gobgpDriver, standinConflist, standinPodSubnet } from "./standin.ts";
import { blockAnswerer } from "./block_answerer.ts";
import { advertiser } from "./advertiser.ts";

/** Reads the first `*.conflist` (by name) in a directory. */
export async function readConflist(dir: string): Promise<NetConfList | undefined> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && (e.name.endsWith(".conflist") || e.name.endsWith(".conf"))) {
        names.push(e.name);
      }
    }
  } catch {
    return undefined;
  }
  names.sort();
  if (names.length === 0) return undefined;
  const text = await Deno.readTextFile(`${dir}/${names[0]}`);
  const raw = JSON.parse(text);
  // A single `.conf` is a one-plugin list.
  if (!Array.isArray(raw.plugins)) {
    return parseConfList(JSON.stringify({
      cniVersion: raw.cniVersion,
      name: raw.name,
      plugins: [raw],
    }));
  }
  return parseConfList(text);
}

/** The runner's root supervisor. `system` is used to route informer events to consumers. */
export function runnerTree(
  state: ClusterState,
  client: KubeClient,
  system: () => ActorSystem,
): SupervisorDef {
  const tell = (path: string, msg: unknown) => system().lookup<unknown>(path)?.tell(msg as never);
  const nodes = state.plan.nodes;
  const podConsumers = ["/sim/scheduler", "/sim/services", ...nodes.map((n) => `/sim/${n.name}`)];
  const standin = state.mode === "standin";
  return supervisor("sim", {
    strategy: "rest_for_one",
    intensity: { maxRestarts: 20, withinMs: 60_000 },
    children: [
      { id: "scheduler", def: scheduler(client, nodes.map((n) => n.name)) },
      { id: "services", def: serviceSimulator(client, nodes) },
      ...(!standin && state.controller ? [] : [{
        id: "advertiser",
        def: standin
          ? announcer(
            state.plan,
            (n) => [standinPodSubnet(n)],
            gobgpDriver(async (n) => String(await procPid(state.runDir, `gobgpd-${n.name}`))),
          )
          : advertiser(state.plan, client),
      }]),
      ...(!standin && !state.controller
        ? [{ id: "block-answerer", def: blockAnswerer(client) }]
        : []),
      ...nodes.map((n) => ({
        id: n.name,
        def: nodeSimulator({
          client,
          node: { name: n.name, ns: n.ns, internalIP: n.internalIP },
          podNsPrefix: `${state.prefix}-p${n.index}`,
          loadConf: standin
            ? () => Promise.resolve(standinConflist(n))
            : () => readConflist(state.cni[n.name].confDir),
          cniPath: state.cni[n.name].cniPath,
        }),
      })),
      {
        id: "informers",
        def: supervisor("informers", {
          strategy: "one_for_one",
          children: [
            {
              id: "pods",
              def: informer<SimPod>("pods", {
                client,
                resource: Resources.pods,
                deliver: (event: InformerEvent<SimPod>) => {
                  for (const p of podConsumers) tell(p, { type: "pods", event });
                },
              }),
            },
            {
              id: "services",
              def: informer<SimService>("services", {
                client,
                resource: Resources.services,
                deliver: (event: InformerEvent<SimService>) => {
                  tell("/sim/services", { type: "services", event });
                  tell("/sim/advertiser", { type: "services", event });
                },
              }),
            },
            ...(!standin && !state.controller
              ? [
                {
                  id: "blockrequests",
                  def: informer<KubeObject>("blockrequests", {
                    client,
                    resource: Resources.blockRequests,
                    deliver: (event: InformerEvent<KubeObject>) =>
                      tell("/sim/block-answerer", { type: "requests", event }),
                  }),
                },
                {
                  id: "addressblocks",
                  def: informer<KubeObject>("addressblocks", {
                    client,
                    resource: Resources.addressBlocks,
                    deliver: (event: InformerEvent<KubeObject>) =>
                      tell("/sim/advertiser", { type: "blocks", event }),
                  }),
                },
              ]
              : []),
            {
              id: "slices",
              def: informer<SimEndpointSlice>("slices", {
                client,
                resource: Resources.endpointSlices,
                deliver: (event: InformerEvent<SimEndpointSlice>) => {
                  tell("/sim/services", { type: "slices", event });
                  tell("/sim/advertiser", { type: "slices", event });
                },
              }),
            },
          ],
        }),
      },
    ],
  });
}
