/**
 * The read-only inspection server every long-running role starts (127.0.0.1 by default):
 *
 * - `GET /debug/supervision`: the supervision tree as JSON ({@link SystemSnapshot})
 * - `GET /debug/`: an HTML page drawing the tree, refreshed live
 * - `GET /metrics`: Prometheus text format, names prefixed `tern_`
 * - `GET /healthz`: 200 while the root runs
 * - `GET /readyz`: 200 only when every required actor runs
 *
 * A role adds its own API under other paths through `routes`.
 */
import { INSPECTION_PAGE } from "./inspection_page.ts";
import type { ActorSystem } from "./system.ts";

/** Extra request handling; return undefined to fall through to the built-in routes. */
export type RouteHandler = (
  req: Request,
  url: URL,
) => Response | undefined | Promise<Response | undefined>;

/** Options of {@link startInspectionServer}. */
export interface InspectionServerOptions {
  system: ActorSystem;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Paths of the actors that must run for `/readyz` to answer 200. */
  required?: string[];
  /** Extra readiness condition (for example: leader elected, informers synced). */
  ready?: () => boolean;
  routes?: RouteHandler;
}

/** A running inspection server. */
export interface InspectionServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function text(body: string, status = 200, type = "text/plain; charset=utf-8"): Response {
  return new Response(body, { status, headers: { "content-type": type } });
}

/** Starts the inspection server; resolves once it listens. */
export function startInspectionServer(options: InspectionServerOptions): Promise<InspectionServer> {
  const { system } = options;
  const hostname = options.hostname ?? "127.0.0.1";
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (options.routes) {
      const r = await options.routes(req, url);
      if (r) return r;
    }
    if (req.method !== "GET" && req.method !== "HEAD") return text("method not allowed\n", 405);
    switch (url.pathname) {
      case "/debug/supervision":
        return text(JSON.stringify(system.snapshot(), null, 1), 200, "application/json");
      case "/debug":
      case "/debug/":
        return text(INSPECTION_PAGE, 200, "text/html; charset=utf-8");
      case "/metrics":
        return text(system.metrics.render(), 200, "text/plain; version=0.0.4; charset=utf-8");
      case "/healthz":
        return system.exitReason === null && system.snapshot().root
          ? text("ok\n")
          : text("stopped\n", 503);
      case "/readyz": {
        const missing = (options.required ?? []).filter((p) => !system.isRunning(p));
        const extra = options.ready ? options.ready() : true;
        if (missing.length === 0 && extra && system.exitReason === null) return text("ok\n");
        return text(
          `not ready: ${missing.length ? "waiting for " + missing.join(", ") : "not yet"}\n`,
          503,
        );
      }
      default:
        return text("not found\n", 404);
    }
  };
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname,
        port: options.port ?? 0,
        onListen: (addr) => {
          const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
          resolve({
            url: `http://${host}:${addr.port}`,
            port: addr.port,
            close: () => server.shutdown(),
          });
        },
        onError: (e) => text(`internal error: ${(e as Error).message}\n`, 500),
      }, handler);
    } catch (e) {
      reject(e);
    }
  });
}
