/**
 * The API server as an actor, so the `apiserver` role runs it under a supervisor with the
 * inspection server: the actor owns the running server (started in its start function, closed in
 * `stop`), shows its URL, resourceVersion, object and watch counts in the inspection tree, and
 * exports them as `tern_kubeapi_*` gauges.
 */

import { actor, type ReplyTo } from "../../runtime/mod.ts";
import type { FaultCommand, FaultState } from "./faults.ts";
import { type KubeApiServer, type KubeApiServerOptions, startKubeApiServer } from "./server.ts";

/** Messages of the API server actor. */
export type KubeApiMsg =
  | { type: "stats" }
  | { type: "info"; replyTo: ReplyTo<{ url: string; kubeconfigPath: string }> }
  | { type: "fault"; cmd: FaultCommand; replyTo: ReplyTo<FaultState> };

/** The actor definition. `statsEveryMs` sets how often the gauges are refreshed. */
export function kubeApiServerActor(opts: KubeApiServerOptions, statsEveryMs = 1000) {
  return actor<KubeApiMsg>("kubeapi-server", async (ctx) => {
    const server: KubeApiServer = await startKubeApiServer(opts);
    const rv = ctx.metrics.gauge(
      "tern_kubeapi_resource_version",
      "Latest resourceVersion of the embedded API server",
    );
    const watches = ctx.metrics.gauge(
      "tern_kubeapi_watches",
      "Open watches on the embedded API server",
    );
    const objects = ctx.metrics.gauge(
      "tern_kubeapi_objects",
      "Objects stored in the embedded API server",
    );
    const refresh = () => {
      rv.set(server.store.resourceVersion);
      watches.set(server.store.watchCount);
      objects.set(server.store.objectCount);
    };
    refresh();
    ctx.timers.every("stats", statsEveryMs, { type: "stats" });
    ctx.log.info("apiserver listening", { url: server.url, kubeconfig: server.kubeconfigPath });
    return {
      receive(msg) {
        switch (msg.type) {
          case "stats":
            refresh();
            break;
          case "info":
            msg.replyTo.reply({ url: server.url, kubeconfigPath: server.kubeconfigPath });
            break;
          case "fault":
            msg.replyTo.reply(server.fault(msg.cmd));
            break;
        }
      },
      async stop() {
        await server.close();
      },
      inspect() {
        return {
          url: server.url,
          kubeconfig: server.kubeconfigPath,
          resourceVersion: server.store.resourceVersion,
          watches: server.store.watchCount,
          faults: server.faultState(),
        };
      },
    };
  });
}
