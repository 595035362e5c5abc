/**
 * The node agent (one per node): per-node IPAM, the CNI server the plugin talks to, pod
 * wiring, the garbage collector and the conflist; with the Kubernetes API, the node's BGP speaker
 * configured from its NodeBGP, BGPPeer and BGPAdvertisement objects, and the routes learned from
 * peers in the kernel. `--mode cni|lb|dual` (default dual) chooses the parts, as sart's modes:
 * `lb` runs only `bgp` (Service advertisements), `cni` everything for pod networking (and only
 * pod advertisements). See docs/cni.md and docs/e2e.md.
 *
 * ```
 * /agent                 rest_for_one
 * ├── store              allocation records, atomic group-committed writes
 * ├── blocks             block source: static (--static-block) or Kubernetes (--kubeconfig)
 * ├── routes             route table of the host routes to pods (protocol 212, source "pods")
 * ├── wiring             veth pairs, addresses, routes (netlink)
 * ├── ipam               one_for_one
 * │   ├── pools          pool manager: starts a pool's actor when it is first needed
 * │   └── pool-<name>    node IPAM of one pool
 * ├── cni                CNI socket server
 * ├── gc                 garbage collector
 * ├── conflist           writes the conflist once the socket listens
 * └── bgp                actors/agent_bgp/ (with the API): routes, installer, wiring,
 *                        informers, bgp (rib, peers, speaker)
 * ```
 */
import {
  type ActorDef,
  type ActorSystem,
  type ChildSpec,
  runRole,
  supervisor,
  takeCommonFlags,
} from "../runtime/mod.ts";
import { agentBgpPaths, agentBgpTree } from "../actors/agent_bgp/wiring.ts";
import { agentApi } from "../actors/agent/api.ts";
import { AttachmentService, type ServiceFactory } from "../actors/agent/attachments.ts";
import { staticBlockSource } from "../actors/agent/block_source.ts";
import { cniServer } from "../actors/agent/cni_server.ts";
import { parseAgentFlags } from "../actors/agent/config.ts";
import { conflistWriter } from "../actors/agent/conflist.ts";
import { garbageCollector } from "../actors/agent/gc.ts";
import { KeyedQueue } from "../actors/agent/keyed_queue.ts";
import { kubeBlockSource } from "../actors/agent/kube_block_source.ts";
import { kubeMetadata } from "../actors/agent/kube_metadata.ts";
import {
  BLOCKS_PATH,
  CNI_SERVER_PATH,
  POOL_MANAGER_PATH,
  ROUTES_PATH,
  STORE_PATH,
  WIRING_PATH,
} from "../actors/agent/paths.ts";
import { NO_METADATA, type PodMetadataSource } from "../actors/agent/pool_choice.ts";
import { poolManager } from "../actors/agent/pool_manager.ts";
import { allocationStore } from "../actors/agent/store.ts";
import { POD_ROUTE_PROTOCOL, podWiring } from "../actors/agent/wiring.ts";
import { routeTable } from "../actors/netlink/route_table.ts";
import { KubeClient, loadKubeEndpoint } from "../actors/kube/mod.ts";

const { common, rest } = takeCommonFlags(Deno.args);
let config;
let client: KubeClient | undefined;
try {
  config = parseAgentFlags(rest, Deno.hostname().toLowerCase());
  if (config.source === "kube") {
    client = new KubeClient(loadKubeEndpoint(config.kubeconfig), { userAgent: "tern-agent" });
  }
} catch (e) {
  console.error((e as Error).message);
  Deno.exit(2);
}
const cfg = config;
const queue = new KeyedQueue();
const metadata: PodMetadataSource = client ? kubeMetadata(client) : NO_METADATA;
// deno-lint-ignore no-explicit-any
const blocks: ActorDef<any> = client
  ? kubeBlockSource({ client, node: cfg.node })
  : staticBlockSource(cfg.pools);
const service: ServiceFactory = (lookup, log) =>
  new AttachmentService({
    lookup,
    storePath: STORE_PATH,
    wiringPath: WIRING_PATH,
    blocksPath: BLOCKS_PATH,
    poolsPath: POOL_MANAGER_PATH,
    queue,
    metadata,
    mtu: cfg.mtu,
    log,
  });

const podNetworking = cfg.mode !== "lb";
const bgp = client !== undefined && cfg.bgp;
const bgpPaths = agentBgpPaths("/agent/bgp");
let started: ActorSystem | undefined;
const children: ChildSpec[] = [];
if (podNetworking) {
  children.push(
    { id: "store", def: allocationStore(cfg.stateDir, cfg.node) },
    { id: "blocks", def: blocks },
    {
      id: "routes",
      def: routeTable({ protocol: POD_ROUTE_PROTOCOL, retainStaleMs: cfg.routeRetainMs }),
    },
    {
      id: "wiring",
      def: podWiring({ routesPath: ROUTES_PATH, storePath: STORE_PATH }),
      mailbox: { capacity: 4096, overflow: "fail_sender" },
    },
    {
      id: "ipam",
      def: supervisor("ipam", {
        strategy: "one_for_one",
        children: [{
          id: "pools",
          def: poolManager({
            storePath: STORE_PATH,
            sourcePath: BLOCKS_PATH,
            blockGraceMs: cfg.blockGraceMs,
          }),
        }],
      }),
    },
    { id: "cni", def: cniServer({ socket: cfg.socket, service }) },
    {
      id: "gc",
      def: garbageCollector({
        intervalMs: cfg.gcIntervalMs,
        graceMs: cfg.gcGraceMs,
        service,
        storePath: STORE_PATH,
        wiringPath: WIRING_PATH,
        metadata,
      }),
    },
    { id: "conflist", def: conflistWriter(cfg) },
  );
}
if (bgp) {
  children.push({
    id: "bgp",
    def: agentBgpTree({
      client: client!,
      node: cfg.node,
      root: bgpPaths.base,
      routeProtocol: cfg.bgpRouteProtocol,
      ...(cfg.mode === "dual" ? {} : { adTypes: [cfg.mode === "lb" ? "service" : "pod"] }),
    }, () => started),
  });
}

await runRole({
  name: "agent",
  common,
  required: [
    ...(podNetworking
      ? [STORE_PATH, BLOCKS_PATH, ROUTES_PATH, WIRING_PATH, POOL_MANAGER_PATH, CNI_SERVER_PATH]
      : []),
    ...(bgp ? [bgpPaths.wiring, bgpPaths.installer] : []),
  ],
  root: supervisor("agent", {
    strategy: "rest_for_one",
    intensity: { maxRestarts: 5, withinMs: 30_000 },
    children,
  }),
  routes: (system) => {
    started = system;
    return agentApi(system);
  },
  onStarted: ({ system, inspectUrl }) => {
    started = system;
    console.log(
      JSON.stringify({
        level: "info",
        msg: "agent ready",
        mode: cfg.mode,
        bgp,
        inspect: inspectUrl,
      }),
    );
  },
});
