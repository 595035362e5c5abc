/**
 * The controller role: `deno run -P=controller roles/controller.ts --kubeconfig FILE`.
 *
 * Flags (besides `--inspect-address` and `--log-level`): `--kubeconfig`, `--namespace` (Lease
 * and Events, default tern-system), `--identity` (default hostname-pid), `--lease-duration`
 * (default 15s), `--lb-class` (default tern.dev/bgp), `--handle-classless[=false]` (default
 * true), `--repair` (fix leaked or double allocations found by the periodic check),
 * `--check-interval` (default 60s), `--resync` (informer resync, default 5m).
 */
import { runRole, takeCommonFlags } from "../runtime/mod.ts";
import { KubeClient, loadKubeEndpoint } from "../actors/kube/mod.ts";
import {
  Api,
  controllerRoot,
  LeaderState,
  parseControllerFlags,
} from "../actors/controller/mod.ts";

if (import.meta.main) {
  const { common, rest } = takeCommonFlags(Deno.args);
  const flags = parseControllerFlags(rest);
  const client = new KubeClient(loadKubeEndpoint(flags.kubeconfig), {
    userAgent: "tern-controller",
  });
  const api = new Api(client);
  const identity = flags.identity ?? `${Deno.hostname()}-${Deno.pid}`;
  const state = new LeaderState();
  await runRole({
    name: "controller",
    common,
    root: controllerRoot({
      api,
      identity,
      namespace: flags.namespace,
      leaseDurationMs: flags.leaseDurationMs,
      classPolicy: { lbClass: flags.lbClass, handleClassless: flags.handleClassless },
      repair: flags.repair,
      checkMs: flags.checkMs,
      resyncMs: flags.resyncMs,
      state,
    }),
    ready: () => state.ready,
    onStarted: ({ inspectUrl }) => {
      console.error(JSON.stringify({ msg: "tern controller started", identity, inspectUrl }));
    },
  });
}
