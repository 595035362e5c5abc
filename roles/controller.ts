/**
 * The controller role: `deno run -P=controller roles/controller.ts --kubeconfig FILE`.
 *
 * Flags (besides `--inspect-address` and `--log-level`): `--kubeconfig`, `--namespace` (Lease
 * and Events, default tern-system), `--identity` (default hostname-pid), `--lease-duration`
 * (default 15s), `--lb-class` (default tern.dev/bgp), `--handle-classless[=false]` (default
 * true), `--repair` (fix leaked or double allocations found by the periodic check),
 * `--check-interval` (default 60s), `--resync` (informer resync, default 5m).
 */
import { InvalidFlagError, runRole, takeCommonFlags } from "../runtime/mod.ts";
import { KubeClient, KubeconfigError, loadKubeEndpoint } from "../actors/kube/mod.ts";
import {
  Api,
  controllerRoot,
  LeaderState,
  parseControllerFlags,
} from "../actors/controller/mod.ts";

/** Parses the command line and finds the API server; a bad flag or kubeconfig exits 2. */
function setup() {
  try {
    const { common, rest } = takeCommonFlags(Deno.args);
    const flags = parseControllerFlags(rest);
    return { common, flags, endpoint: loadKubeEndpoint(flags.kubeconfig) };
  } catch (e) {
    if (e instanceof InvalidFlagError || e instanceof KubeconfigError) {
      console.error(`tern controller: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
}

if (import.meta.main) {
  const { common, flags, endpoint } = setup();
  const client = new KubeClient(endpoint, { userAgent: "tern-controller" });
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
