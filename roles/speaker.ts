/**
 * The standalone BGP speaker role:
 *
 *     deno run -P=speaker roles/speaker.ts --config speaker.yaml
 *
 * Reads and validates the YAML configuration (a bad field is named and the process exits 2
 * before starting anything), starts the actor tree (`/speaker/bgp/{rib,peers,speaker}`) and the
 * inspection server with the BGP control API, prints one JSON line `{"event":"ready",...}` on
 * stdout, reloads the configuration on SIGHUP (only what changed is touched) and stops on
 * SIGINT/SIGTERM.
 * @module
 */
import { ActorSystem, startInspectionServer, supervisor } from "../runtime/mod.ts";
import {
  ConfigError,
  parseConfig,
  peerNeedsFfi,
  type SpeakerConfig,
} from "../actors/bgp/config.ts";
import { loadSocketLibrary } from "../actors/bgp/ffi_socket.ts";
import { bgpApiRoutes } from "../actors/bgp/http_api.ts";
import {
  type ApplyResult,
  bgpPaths,
  bgpSupervisor,
  type SpeakerMsg,
} from "../actors/bgp/speaker_actor.ts";

function usage(): never {
  console.error("usage: speaker --config FILE");
  Deno.exit(2);
}

async function load(path: string): Promise<SpeakerConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError("(file)", `cannot read "${path}": ${(e as Error).message}`);
  }
  return parseConfig(text);
}

async function main(args: string[]): Promise<void> {
  const i = args.indexOf("--config");
  const path = i >= 0 ? args[i + 1] : undefined;
  if (!path) usage();
  let config: SpeakerConfig;
  try {
    config = await load(path);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  if (config.peers.some(peerNeedsFfi)) {
    // multihop, ttlSecurity, sourceAddress and password use the libc socket transport.
    try {
      loadSocketLibrary();
    } catch (e) {
      console.error((e as Error).message);
      Deno.exit(2);
    }
  }
  const system = new ActorSystem({ name: "speaker" });
  const paths = bgpPaths("speaker");
  await system.start(supervisor("speaker", {
    strategy: "one_for_one",
    intensity: { maxRestarts: 3, withinMs: 60_000 },
    children: [{ id: "bgp", def: bgpSupervisor("speaker", config) }],
  }));
  const server = await startInspectionServer({
    system,
    hostname: config.api.address,
    port: config.api.port,
    required: [paths.rib, paths.speaker],
    routes: bgpApiRoutes(system, paths.speaker),
  });
  const speaker = system.lookup<SpeakerMsg>(paths.speaker)!;
  const listening = await speaker.ask<{ address: string; port: number } | null>((replyTo) => ({
    type: "listening",
    replyTo,
  }));
  console.log(JSON.stringify({
    event: "ready",
    api: server.url,
    bgp: listening,
    asn: config.asn,
    routerId: config.routerId,
  }));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await system.shutdown();
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGHUP", async () => {
    try {
      const next = await load(path);
      const r = await speaker.ask<ApplyResult>((replyTo) => ({
        type: "applyConfig",
        config: next,
        replyTo,
      }));
      console.log(JSON.stringify({ event: "reloaded", ...r }));
    } catch (e) {
      console.log(JSON.stringify({ event: "reload_failed", error: (e as Error).message }));
    }
  });
  const reason = await system.whenTerminated();
  if (!stopping) {
    console.error(`speaker: actor tree ended: ${JSON.stringify(reason)}`);
    await server.close();
    Deno.exit(1);
  }
}

if (import.meta.main) await main(Deno.args);
