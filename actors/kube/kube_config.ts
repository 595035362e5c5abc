/**
 * Where the API server is and how to authenticate: from a kubeconfig file or from the
 * in-cluster ServiceAccount. Pure parsing (`parseKubeconfig`) is separate from the file reads.
 */
import { parse as parseYaml } from "yaml";

/** A resolved API endpoint. */
export interface KubeEndpoint {
  server: string;
  /** PEM of the CA that signed the server's certificate. */
  caCert?: string;
  token?: string;
  /** File to re-read the token from (ServiceAccount tokens rotate). */
  tokenFile?: string;
  clientCert?: string;
  clientKey?: string;
  /** Default namespace of the context. */
  namespace: string;
}

/** A kubeconfig that cannot be used, with the reason. */
export class KubeconfigError extends Error {
  override readonly name = "KubeconfigError";
  constructor(readonly source: string, readonly why: string) {
    super(`Kubeconfig "${source}": ${why}`);
  }
}

type Named<T> = { name: string } & T;
interface RawKubeconfig {
  "current-context"?: string;
  clusters?: Named<{ cluster: Record<string, unknown> }>[];
  users?: Named<{ user: Record<string, unknown> }>[];
  contexts?: Named<{ context: { cluster: string; user: string; namespace?: string } }>[];
}

function b64(data: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
}

/**
 * Resolves a kubeconfig document (YAML or JSON text). File references (`certificate-authority`,
 * `client-certificate`, `client-key`, `tokenFile`) are read through `readFile`, relative to
 * `baseDir`.
 */
export function parseKubeconfig(
  text: string,
  source: string,
  options: { context?: string; readFile?: (path: string) => string; baseDir?: string } = {},
): KubeEndpoint {
  let raw: RawKubeconfig;
  try {
    raw = parseYaml(text) as RawKubeconfig;
  } catch (e) {
    throw new KubeconfigError(source, `not YAML: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== "object") throw new KubeconfigError(source, "empty document");
  const ctxName = options.context ?? raw["current-context"];
  if (!ctxName) throw new KubeconfigError(source, "no current-context");
  const ctx = raw.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new KubeconfigError(source, `context "${ctxName}" not found`);
  const cluster = raw.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new KubeconfigError(source, `cluster "${ctx.cluster}" not found`);
  const user = raw.users?.find((u) => u.name === ctx.user)?.user ?? {};
  const read = (p: unknown) => {
    const path = String(p);
    const full = path.startsWith("/") || !options.baseDir ? path : `${options.baseDir}/${path}`;
    if (!options.readFile) throw new KubeconfigError(source, `cannot read "${full}"`);
    return options.readFile(full);
  };
  const server = cluster.server;
  if (typeof server !== "string" || !/^https?:\/\//.test(server)) {
    throw new KubeconfigError(source, `cluster "${ctx.cluster}" has no http(s) server`);
  }
  const ep: KubeEndpoint = {
    server: server.replace(/\/+$/, ""),
    namespace: ctx.namespace ?? "default",
  };
  if (typeof cluster["certificate-authority-data"] === "string") {
    ep.caCert = b64(cluster["certificate-authority-data"]);
  } else if (cluster["certificate-authority"]) {
    ep.caCert = read(cluster["certificate-authority"]);
  }
  if (typeof user.token === "string") ep.token = user.token;
  if (typeof user.tokenFile === "string") ep.tokenFile = user.tokenFile;
  if (typeof user["client-certificate-data"] === "string") {
    ep.clientCert = b64(user["client-certificate-data"]);
  } else if (user["client-certificate"]) ep.clientCert = read(user["client-certificate"]);
  if (typeof user["client-key-data"] === "string") ep.clientKey = b64(user["client-key-data"]);
  else if (user["client-key"]) ep.clientKey = read(user["client-key"]);
  if (server.startsWith("https://") && !ep.caCert && cluster["insecure-skip-tls-verify"]) {
    throw new KubeconfigError(
      source,
      "insecure-skip-tls-verify is not supported; give certificate-authority(-data)",
    );
  }
  return ep;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The endpoint to use: the kubeconfig at `path` (or `$KUBECONFIG`), else the in-cluster
 * ServiceAccount.
 */
export function loadKubeEndpoint(path?: string, context?: string): KubeEndpoint {
  const file = path ?? Deno.env.get("KUBECONFIG");
  const readFile = (p: string) => Deno.readTextFileSync(p);
  if (file) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (e) {
      throw new KubeconfigError(file, `cannot read: ${(e as Error).message}`);
    }
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
    return parseKubeconfig(text, file, { readFile, baseDir: dir, ...(context ? { context } : {}) });
  }
  const host = Deno.env.get("KUBERNETES_SERVICE_HOST");
  const port = Deno.env.get("KUBERNETES_SERVICE_PORT") ?? "443";
  if (!host) {
    throw new KubeconfigError("(none)", "no --kubeconfig, no $KUBECONFIG and not in a cluster");
  }
  const h = host.includes(":") ? `[${host}]` : host;
  let namespace = "default";
  try {
    namespace = Deno.readTextFileSync(`${SA_DIR}/namespace`).trim();
  } catch { /* keep default */ }
  return {
    server: `https://${h}:${port}`,
    caCert: readFile(`${SA_DIR}/ca.crt`),
    tokenFile: `${SA_DIR}/token`,
    namespace,
  };
}
