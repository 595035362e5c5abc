/**
 * The node simulator: what the kubelet and the container runtime do for networking, for one
 * node. For each Pod bound to the node it creates a network namespace, calls the node's CNI
 * configuration exactly as a runtime does (ADD when the pod appears, DEL when it goes), starts the
 * pod's process (a tiny HTTP server, see `pod_server.ts`) and writes `status.podIP`, `podIPs`,
 * `hostIP`, phase Running and the Ready condition. A failed ADD is retried with backoff (as the
 * kubelet does) and reported in the pod's status.
 *
 * After a restart (of the actor or the whole simulator process) it adopts the pods it finds
 * already wired (their namespace exists and their status has an address): it restarts their
 * server without calling the CNI again; namespaces of pods that are gone are DELeted and removed.
 * @module
 */
import { actor, type ActorDef, type ReplyTo } from "../../runtime/mod.ts";
import type { InformerEvent, KubeClient, KubeObject } from "../kube/mod.ts";
import { Resources } from "../kube/mod.ts";
import { cniAdd, type CniAttachment, cniDel, CniError, type NetConfList } from "./cni_exec.ts";
import { run } from "./exec.ts";
import { type PodServer, startPodServer } from "./pod_server.ts";

/** A Pod as the simulator reads it. */
export interface SimPod extends KubeObject {
  spec?: { nodeName?: string; containers?: Array<{ name: string }> };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: Array<{ ip: string }>;
    hostIP?: string;
    conditions?: Array<{ type: string; status: string }>;
  };
}

/** Messages of the node simulator. */
export type NodeSimMsg =
  | { type: "pods"; event: InformerEvent<SimPod> }
  | { type: "retry"; uid: string }
  | { type: "list"; replyTo: ReplyTo<WiredPod[]> };

/** A pod the simulator has wired. */
export interface WiredPod {
  key: string;
  uid: string;
  netns: string;
  containerId: string;
  ips: string[];
}

/** Options of {@link nodeSimulator}. */
export interface NodeSimOptions {
  client: KubeClient;
  node: { name: string; ns: string; internalIP: string };
  /** Prefix of pod namespaces of this node (e.g. `tn-sim-3fa9c1-n1`). */
  podNsPrefix: string;
  /** The node's CNI configuration list, read before each call (undefined: network not ready). */
  loadConf: () => Promise<NetConfList | undefined>;
  /** Directories holding the plugin binaries. */
  cniPath: string[];
}

/** The namespace name and container id a pod gets (stable across simulator restarts). */
export function podIdentity(prefix: string, uid: string): { netns: string; containerId: string } {
  const hex = uid.replace(/[^0-9a-f]/gi, "").toLowerCase();
  return { netns: `${prefix}-${hex.slice(0, 10)}`, containerId: `sim${hex}` };
}

const RETRY_MAX_MS = 10_000;

/** Defines a node simulator actor. */
export function nodeSimulator(opts: NodeSimOptions): ActorDef<NodeSimMsg> {
  return actor<NodeSimMsg>(`node-sim`, (ctx) => {
    const { client, node } = opts;
    const desired = new Map<string, SimPod>(); // uid → pod
    const wired = new Map<string, WiredPod & { server: PodServer }>();
    const failures = new Map<string, number>();
    let synced = false;
    const adds = ctx.metrics.counter(
      "tern_sim_cni_calls_total",
      "CNI calls made by the simulator.",
    );

    const attachment = (
      pod: SimPod,
      id: { netns: string; containerId: string },
    ): CniAttachment => ({
      containerId: id.containerId,
      netns: `/run/netns/${id.netns}`,
      ifname: "eth0",
      podNamespace: pod.metadata.namespace ?? "default",
      podName: pod.metadata.name!,
      podUid: pod.metadata.uid!,
    });

    const server = (pod: SimPod, netns: string) =>
      startPodServer(netns, {
        namespace: pod.metadata.namespace ?? "default",
        name: pod.metadata.name!,
        node: node.name,
      });

    const writeStatus = async (pod: SimPod, ips: string[]) => {
      const now = new Date().toISOString();
      const cond = (type: string) => ({ type, status: "True", lastTransitionTime: now });
      await client.mergePatch(Resources.pods, pod.metadata.name!, {
        status: {
          phase: "Running",
          podIP: ips[0],
          podIPs: ips.map((ip) => ({ ip })),
          hostIP: node.internalIP,
          hostIPs: [{ ip: node.internalIP }],
          startTime: now,
          conditions: [
            cond("PodScheduled"),
            cond("Initialized"),
            cond("PodReadyToStartContainers"),
            cond("ContainersReady"),
            cond("Ready"),
          ],
        },
      }, { namespace: pod.metadata.namespace, status: true });
    };

    const writeFailure = async (pod: SimPod, message: string) => {
      await client.mergePatch(Resources.pods, pod.metadata.name!, {
        status: {
          phase: "Pending",
          conditions: [{
            type: "PodReadyToStartContainers",
            status: "False",
            reason: "FailedCreatePodSandBox",
            message: message.slice(0, 1000),
            lastTransitionTime: new Date().toISOString(),
          }],
        },
      }, { namespace: pod.metadata.namespace, status: true }).catch(() => {});
    };

    const nsExists = async (name: string) => {
      try {
        await Deno.lstat(`/run/netns/${name}`);
        return true;
      } catch {
        return false;
      }
    };

    const wire = async (pod: SimPod) => {
      const uid = pod.metadata.uid!;
      const id = podIdentity(opts.podNsPrefix, uid);
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      // Adopt a pod wired by an earlier incarnation.
      if (pod.status?.podIP && await nsExists(id.netns)) {
        const ips = (pod.status.podIPs ?? [{ ip: pod.status.podIP }]).map((p) => p.ip);
        wired.set(uid, { key, uid, ...id, ips, server: server(pod, id.netns) });
        return;
      }
      if (!(await nsExists(id.netns))) {
        await run(["ip", "netns", "add", id.netns]);
        await run(["ip", "-n", id.netns, "link", "set", "lo", "up"]);
      }
      try {
        adds.inc({ command: "ADD", node: node.name });
        const conf = await opts.loadConf();
        if (!conf) {
          throw new CniError("ADD", "", undefined, "network plugin not ready (no conflist)");
        }
        const result = await cniAdd(conf, attachment(pod, id), opts.cniPath, node.ns);
        // IPv4 first: `status.podIP` is the first of `podIPs`, and the fabric is IPv4.
        const ips = result.ips.map((i) => i.address.split("/")[0])
          .sort((a, b) => Number(a.includes(":")) - Number(b.includes(":")));
        wired.set(uid, { key, uid, ...id, ips, server: server(pod, id.netns) });
        failures.delete(uid);
        await writeStatus(pod, ips);
        ctx.log.info("pod wired", { pod: key, ips });
      } catch (e) {
        const n = (failures.get(uid) ?? 0) + 1;
        failures.set(uid, n);
        const delay = Math.min(RETRY_MAX_MS, 500 * 2 ** (n - 1));
        ctx.log.warn("pod sandbox failed, retrying", { pod: key, attempt: n, error: String(e) });
        // A half-done ADD is cleaned up as a runtime does: DEL, then try again later.
        const conf = await opts.loadConf();
        if (conf) await cniDel(conf, attachment(pod, id), opts.cniPath, node.ns).catch(() => {});
        await writeFailure(pod, e instanceof Error ? e.message : String(e));
        ctx.timers.once(`retry-${uid}`, delay, { type: "retry", uid });
      }
    };

    const unwire = async (uid: string, pod?: SimPod) => {
      const w = wired.get(uid);
      failures.delete(uid);
      ctx.timers.cancel(`retry-${uid}`);
      const id = w ?? podIdentity(opts.podNsPrefix, uid);
      w?.server.close();
      wired.delete(uid);
      const a: CniAttachment = {
        containerId: id.containerId,
        netns: `/run/netns/${id.netns}`,
        ifname: "eth0",
        podNamespace: pod?.metadata.namespace ?? w?.key.split("/")[0] ?? "",
        podName: pod?.metadata.name ?? w?.key.split("/")[1] ?? "",
        podUid: uid,
      };
      adds.inc({ command: "DEL", node: node.name });
      const conf = await opts.loadConf();
      if (conf) {
        await cniDel(conf, a, opts.cniPath, node.ns).catch((e) =>
          ctx.log.warn("CNI DEL failed", { uid, error: String(e) })
        );
      }
      await run(["ip", "netns", "del", id.netns], { check: false });
    };

    const reconcile = async (uid: string) => {
      const pod = desired.get(uid);
      const running = pod && !pod.metadata.deletionTimestamp;
      if (running && !wired.has(uid)) await wire(pod);
      else if (!running && (wired.has(uid) || failures.has(uid))) await unwire(uid, pod);
    };

    /** Namespaces of this node's pods that no desired pod owns (left by a crash). */
    const sweepOrphans = async () => {
      const owned = new Set([...desired.keys()].map((u) => podIdentity(opts.podNsPrefix, u).netns));
      try {
        for await (const e of Deno.readDir("/run/netns")) {
          if (e.name.startsWith(`${opts.podNsPrefix}-`) && !owned.has(e.name)) {
            const hex = e.name.slice(opts.podNsPrefix.length + 1);
            const conf = await opts.loadConf();
            if (conf) {
              await cniDel(
                conf,
                {
                  containerId: `sim${hex}`,
                  netns: `/run/netns/${e.name}`,
                  ifname: "eth0",
                  podNamespace: "",
                  podName: "",
                  podUid: "",
                },
                opts.cniPath,
                node.ns,
              ).catch(() => {});
            }
            await run(["ip", "netns", "del", e.name], { check: false });
          }
        }
      } catch { /* no /run/netns */ }
    };

    return {
      async receive(msg) {
        switch (msg.type) {
          case "pods": {
            const ev = msg.event;
            if (ev.type === "synced") {
              const seen = new Set<string>();
              for (const p of ev.objects) {
                if (p.spec?.nodeName !== node.name) continue;
                seen.add(p.metadata.uid!);
                desired.set(p.metadata.uid!, p);
              }
              for (const uid of [...desired.keys()]) if (!seen.has(uid)) desired.delete(uid);
              if (!synced) {
                synced = true;
                await sweepOrphans();
              }
              for (const uid of new Set([...desired.keys(), ...wired.keys()])) {
                await reconcile(uid);
              }
              return;
            }
            const p = ev.object;
            const uid = p.metadata.uid!;
            if (ev.type === "deleted" || p.spec?.nodeName !== node.name) desired.delete(uid);
            else desired.set(uid, p);
            if (synced) await reconcile(uid);
            return;
          }
          case "retry":
            if (!wired.has(msg.uid)) await reconcile(msg.uid);
            return;
          case "list":
            msg.replyTo.reply([...wired.values()].map(({ server: _s, ...w }) => w));
            return;
        }
      },
      stop() {
        for (const w of wired.values()) w.server.close();
      },
      inspect: () => ({
        node: node.name,
        pods: wired.size,
        failing: failures.size,
        wired: [...wired.values()].slice(0, 50).map((w) => `${w.key} ${w.ips.join(",")}`),
      }),
    };
  });
}
