/**
 * The node agent (one per node): per-node IPAM, the CNI server the plugin talks to, pod
 * wiring, the garbage collector and the conflist. See docs/cni.md.
 *
 * ```
 * /agent                 rest_for_one
 * ├── store              allocation records, atomic group-committed writes
 * ├── blocks             block source (static: --static-block POOL=CIDR)
 * ├── wiring             veth pairs, addresses, routes (netlink)
 * ├── ipam               one_for_one
 * │   └── pool-<name>    node IPAM of one pool
 * ├── cni                CNI socket server
 * ├── gc                 garbage collector
 * └── conflist           writes the conflist once the socket listens
 * ```
 */
import { runRole, supervisor, takeCommonFlags } from "../runtime/mod.ts";
import { agentApi } from "../actors/agent/api.ts";
import { AttachmentService, type ServiceFactory } from "../actors/agent/attachments.ts";
import { staticBlockSource } from "../actors/agent/block_source.ts";
import { cniServer } from "../actors/agent/cni_server.ts";
import { parseAgentFlags } from "../actors/agent/config.ts";
import { conflistWriter } from "../actors/agent/conflist.ts";
import { garbageCollector } from "../actors/agent/gc.ts";
import { KeyedQueue } from "../actors/agent/keyed_queue.ts";
import { nodeIpam } from "../actors/agent/node_ipam.ts";
import {
  BLOCKS_PATH,
  CNI_SERVER_PATH,
  poolChildId,
  STORE_PATH,
  WIRING_PATH,
} from "../actors/agent/paths.ts";
import { NO_METADATA } from "../actors/agent/pool_choice.ts";
import { allocationStore } from "../actors/agent/store.ts";
import { podWiring } from "../actors/agent/wiring.ts";

const { common, rest } = takeCommonFlags(Deno.args);
let config;
try {
  config = parseAgentFlags(rest, Deno.hostname().toLowerCase());
} catch (e) {
  console.error((e as Error).message);
  Deno.exit(2);
}
const cfg = config;
const queue = new KeyedQueue();
const service: ServiceFactory = (lookup, log) =>
  new AttachmentService({
    lookup,
    storePath: STORE_PATH,
    wiringPath: WIRING_PATH,
    blocksPath: BLOCKS_PATH,
    queue,
    metadata: NO_METADATA,
    mtu: cfg.mtu,
    log,
  });

await runRole({
  name: "agent",
  common,
  required: [STORE_PATH, WIRING_PATH, CNI_SERVER_PATH],
  root: supervisor("agent", {
    strategy: "rest_for_one",
    intensity: { maxRestarts: 5, withinMs: 30_000 },
    children: [
      { id: "store", def: allocationStore(cfg.stateDir, cfg.node) },
      { id: "blocks", def: staticBlockSource(cfg.pools) },
      { id: "wiring", def: podWiring(), mailbox: { capacity: 4096, overflow: "fail_sender" } },
      {
        id: "ipam",
        def: supervisor("ipam", {
          strategy: "one_for_one",
          children: cfg.pools.map((p) => ({
            id: poolChildId(p.name),
            def: nodeIpam({
              pool: p.name,
              storePath: STORE_PATH,
              sourcePath: BLOCKS_PATH,
              blockGraceMs: cfg.blockGraceMs,
            }),
            mailbox: { capacity: 4096, overflow: "fail_sender" as const },
          })),
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
          metadata: NO_METADATA,
        }),
      },
      { id: "conflist", def: conflistWriter(cfg) },
    ],
  }),
  routes: (system) => agentApi(system, cfg.pools.map((p) => p.name)),
  onStarted: ({ inspectUrl }) => {
    console.log(JSON.stringify({ level: "info", msg: "agent ready", inspect: inspectUrl }));
  },
});
