/** Kubeconfig files for clients of the embedded API server. */

import { stringify } from "yaml";

/** Build a kubeconfig (YAML) for `server` with a bearer token, trusting `caPem` if given. */
export function kubeconfigYaml(
  opts: { server: string; token: string; caPem?: string; name?: string; namespace?: string },
): string {
  const name = opts.name ?? "tern";
  const cluster: Record<string, string | boolean> = { server: opts.server };
  if (opts.caPem) cluster["certificate-authority-data"] = btoa(opts.caPem);
  // Plain HTTP: client-node refuses http:// unless TLS verification is marked as skipped.
  if (opts.server.startsWith("http:")) cluster["insecure-skip-tls-verify"] = true;
  const context: Record<string, string> = { cluster: name, user: `${name}-admin` };
  if (opts.namespace) context.namespace = opts.namespace;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster }],
    users: [{ name: `${name}-admin`, user: { token: opts.token } }],
    contexts: [{ name, context }],
    "current-context": name,
    preferences: {},
  });
}

/** Write a kubeconfig file (mode 0600, atomically). */
export async function writeKubeconfig(path: string, yaml: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, yaml, { mode: 0o600 });
  await Deno.rename(tmp, path);
}
