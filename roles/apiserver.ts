/**
 * Role: the embedded Kubernetes API server as a process (for the demo and the simulated
 * cluster). For demos and tests, not production.
 *
 *   deno run -P=apiserver roles/apiserver.ts --listen 127.0.0.1 --port 6443 --tls \
 *     --kubeconfig /tmp/tern.kubeconfig --state /tmp/tern-api.json
 *
 * Runs under the actor runtime (`--inspect-address`, `--log-level` as every role; the inspection
 * page shows the server's URL, resourceVersion and watches). Prints one JSON line
 * `{"msg": "apiserver listening", "url": …, "kubeconfig": …}` on stdout once listening; saves state
 * and exits 0 on SIGINT/SIGTERM.
 */

import { type KubeApiMsg, kubeApiServerActor } from "../actors/kubeapi/server_actor.ts";
import { ServiceAddressIndex } from "../actors/kubeapi/service_allocator.ts";
import { type CommonFlags, runRole, supervisor, takeCommonFlags } from "../runtime/mod.ts";

/** Parsed command-line flags. */
export interface ApiServerFlags {
  listen: string;
  port: number;
  tls: boolean;
  kubeconfig: string;
  state?: string;
  adminToken?: string;
  bookmarkIntervalMs?: number;
  advertiseHost?: string;
  serviceCIDR?: string;
}

/** Typed error for bad flags. */
export class FlagError extends Error {
  /** Discriminator. */
  readonly code = "bad_flag";
  /** Build one quoting the flag. */
  constructor(flag: string, why: string) {
    super(`Flag "${flag}": ${why}`);
    this.name = "FlagError";
  }
}

const usage =
  `usage: apiserver [--listen ADDR] [--port N] [--tls|--plain] [--kubeconfig PATH] [--state FILE]
                 [--admin-token TOKEN] [--bookmark-interval-ms N] [--advertise-host HOST]
                 [--service-cidr CIDR]`;

/** Parse flags (`--flag value` or `--flag=value`). */
export function parseFlags(args: string[]): ApiServerFlags {
  const flags: ApiServerFlags = {
    listen: "127.0.0.1",
    port: 6443,
    tls: false,
    kubeconfig: "tern-apiserver.kubeconfig",
  };
  for (let i = 0; i < args.length; i++) {
    let [name, value] = args[i].split("=", 2) as [string, string | undefined];
    const next = () => {
      if (value !== undefined) return value;
      const v = args[++i];
      if (v === undefined) throw new FlagError(name, "needs a value");
      return v;
    };
    switch (name) {
      case "--listen":
        flags.listen = next();
        break;
      case "--port": {
        const v = next();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535) {
          throw new FlagError(name, `invalid port "${v}"`);
        }
        flags.port = n;
        break;
      }
      case "--tls":
        flags.tls = true;
        break;
      case "--plain":
        flags.tls = false;
        break;
      case "--kubeconfig":
        flags.kubeconfig = next();
        break;
      case "--advertise-host":
        flags.advertiseHost = next();
        break;
      case "--state":
        flags.state = next();
        break;
      case "--admin-token":
        flags.adminToken = next();
        break;
      case "--bookmark-interval-ms": {
        const v = next();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new FlagError(name, `invalid interval "${v}"`);
        flags.bookmarkIntervalMs = n;
        break;
      }
      case "--service-cidr": {
        const v = next();
        try {
          new ServiceAddressIndex(v);
        } catch (e) {
          throw new FlagError(name, e instanceof Error ? e.message : String(e));
        }
        flags.serviceCIDR = v;
        break;
      }
      case "--help":
      case "-h":
        throw new FlagError(name, usage);
      default:
        throw new FlagError(name, `unknown flag\n${usage}`);
    }
    value = undefined;
  }
  return flags;
}

async function main(): Promise<void> {
  let flags: ApiServerFlags;
  let common: CommonFlags;
  try {
    const taken = takeCommonFlags(Deno.args);
    common = taken.common;
    flags = parseFlags(taken.rest);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
  await runRole({
    name: "apiserver",
    common,
    required: ["/apiserver/kubeapi"],
    root: supervisor("apiserver", {
      strategy: "one_for_one",
      intensity: { maxRestarts: 3, withinMs: 60_000 },
      children: [{
        id: "kubeapi",
        def: kubeApiServerActor({
          hostname: flags.listen,
          port: flags.port,
          tls: flags.tls,
          kubeconfigPath: flags.kubeconfig,
          stateFile: flags.state,
          adminToken: flags.adminToken,
          bookmarkIntervalMs: flags.bookmarkIntervalMs,
          advertiseHost: flags.advertiseHost,
          serviceCIDR: flags.serviceCIDR,
        }),
      }],
    }),
    onStarted: ({ system, inspectUrl }) => {
      const ref = system.lookup<KubeApiMsg>("/apiserver/kubeapi");
      if (!ref) return;
      ref.ask<{ url: string; kubeconfigPath: string }>((replyTo) => ({ type: "info", replyTo }), {
        timeoutMs: 5000,
      })
        .then((info) => {
          console.log(JSON.stringify({
            msg: "apiserver listening",
            url: info.url,
            kubeconfig: info.kubeconfigPath,
            state: flags.state ?? null,
            inspect: `${inspectUrl}/debug/`,
          }));
        })
        .catch((e) => console.error(`apiserver: ${e instanceof Error ? e.message : String(e)}`));
    },
  });
}

if (import.meta.main) await main();
