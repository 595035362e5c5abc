/**
 * The life of a long-running role process, shared by every role: parse the common flags, start
 * the actor tree and the inspection server, stop cleanly on SIGINT/SIGTERM, and exit non-zero
 * when the root supervisor gives up (so Kubernetes restarts the pod).
 *
 * Common flags:
 * - `--inspect-address HOST:PORT` (default `127.0.0.1:0`; env `TERN_INSPECT_ADDRESS`)
 * - `--log-level debug|info|warn|error|silent` (default env `TERN_LOG_LEVEL`, else `info`)
 */
import { InvalidFlagError, parseHostPort } from "./flags.ts";
import { type RouteHandler, startInspectionServer } from "./inspection_server.ts";
import { isLogLevel, type LogLevel, logLevelFromEnv } from "./log.ts";
import { ActorSystem } from "./system.ts";
import type { ActorDef, ExitReason, SupervisorDef } from "./types.ts";
import { describeError } from "./errors.ts";

/** Flags every long-running role understands. */
export interface CommonFlags {
  inspectHost: string;
  inspectPort: number;
  logLevel: LogLevel;
}

/** Reads and removes the common flags from `args`; the rest is returned for the role. */
export function takeCommonFlags(args: string[]): { common: CommonFlags; rest: string[] } {
  let inspect = envOr("TERN_INSPECT_ADDRESS", "127.0.0.1:0");
  let logLevel: LogLevel = logLevelFromEnv();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [name, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new InvalidFlagError(name, "", "a value is required");
      return v;
    };
    if (name === "--inspect-address") inspect = value();
    else if (name === "--log-level") {
      const v = value();
      if (!isLogLevel(v)) {
        throw new InvalidFlagError(name, v, "use debug, info, warn, error or silent");
      }
      logLevel = v;
    } else rest.push(a);
  }
  const { host, port } = parseHostPort("--inspect-address", inspect);
  return { common: { inspectHost: host, inspectPort: port, logLevel }, rest };
}

function envOr(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) ?? fallback;
  } catch {
    return fallback;
  }
}

/** What a role hands to {@link runRole}. */
export interface RoleOptions {
  /** Root path segment, e.g. `agent`. */
  name: string;
  // deno-lint-ignore no-explicit-any
  root: SupervisorDef | ActorDef<any>;
  common: CommonFlags;
  /** Actors that must run for `/readyz`. */
  required?: string[];
  ready?: () => boolean;
  /** Extra HTTP API on the inspection server (factory gets the started system). */
  routes?: (system: ActorSystem) => RouteHandler;
  /** Called once everything listens (for example to print URLs). */
  onStarted?: (info: { system: ActorSystem; inspectUrl: string }) => void;
}

/**
 * Runs a role until a signal or the root's failure, then exits the process: 0 after a clean
 * stop, 1 when the root gave up.
 */
export async function runRole(options: RoleOptions): Promise<never> {
  const system = new ActorSystem({ name: options.name, logLevel: options.common.logLevel });
  await system.start(options.root);
  const server = await startInspectionServer({
    system,
    hostname: options.common.inspectHost,
    port: options.common.inspectPort,
    ...(options.required ? { required: options.required } : {}),
    ...(options.ready ? { ready: options.ready } : {}),
    ...(options.routes ? { routes: options.routes(system) } : {}),
  });
  system.log.info("inspection server listening", { url: `${server.url}/debug/` });
  options.onStarted?.({ system, inspectUrl: server.url });

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    system.log.info("stopping", { why });
    await system.shutdown();
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => void stop(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const reason: ExitReason = await system.whenTerminated();
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  await server.close();
  if (reason.kind === "error") {
    system.log.error("exiting: the root supervisor gave up", {
      error: describeError(reason.error),
    });
    Deno.exit(1);
  }
  Deno.exit(0);
}
