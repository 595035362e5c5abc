/** Shared helpers for the kubeapi tests (not a test file). */

import * as k8s from "@kubernetes/client-node";
import {
  type KubeApiServer,
  type KubeApiServerOptions,
  startKubeApiServer,
} from "../actors/kubeapi/mod.ts";

/** The repository root (no trailing slash). */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Whether the kubectl binary is installed (the tests that run it are skipped otherwise). */
export function hasKubectl(): boolean {
  try {
    new Deno.Command("kubectl", { args: ["version", "--client"], stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Run `fn` against a fresh server, closing it afterwards. */
export async function withServer(
  fn: (api: KubeApiServer, kc: k8s.KubeConfig) => Promise<void>,
  opts: KubeApiServerOptions = {},
): Promise<void> {
  const api = await startKubeApiServer({ port: 0, ...opts });
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    await fn(api, kc);
  } finally {
    await api.close();
  }
}

/** Poll `cond` every 10 ms until it is true; fail after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A served, stored, cluster-scoped CRD `<plural>.tern.example.com`, version `v1`, whose objects'
 * `spec` has the schema `spec`.
 */
export function exampleCrd(plural: string, kind: string, spec: Record<string, unknown>) {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.tern.example.com` },
    spec: {
      group: "tern.example.com",
      scope: "Cluster",
      names: { plural, kind },
      versions: [{
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", properties: { spec } } },
      }],
    },
  };
}

/** The HTTP status code and parsed Status body of a failed client-node call. */
export async function failure(
  p: Promise<unknown>,
): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof k8s.ApiException) {
      const body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
      return { code: e.code, status: body };
    }
    throw e;
  }
  throw new Error("expected the call to fail");
}

/** A kubectl run: exit status, output, and both streams joined (for assertion messages). */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
  /** `stdout`, a newline, then `stderr`. */
  all: string;
}

/** Run kubectl against a server; returns exit status and output. */
export async function kubectl(
  api: KubeApiServer,
  cacheDir: string,
  args: string[],
  stdin?: string,
): Promise<KubectlResult> {
  const cmd = new Deno.Command("kubectl", {
    args: [
      "--kubeconfig",
      api.kubeconfigPath,
      "--cache-dir",
      cacheDir,
      "--request-timeout=20s",
      ...args,
    ],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { HOME: cacheDir },
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout);
  const stderr = dec.decode(out.stderr);
  return { code: out.code, stdout, stderr, all: `${stdout}\n${stderr}` };
}

/**
 * Run `fn` with kubectl bound to a fresh server and to a temporary cache directory (named
 * `prefix…`, removed afterwards, also after a failure).
 */
export async function withKubectl(
  fn: (
    run: (args: string[], stdin?: string) => Promise<KubectlResult>,
    api: KubeApiServer,
    cache: string,
  ) => Promise<void>,
  opts: { prefix?: string; server?: KubeApiServerOptions } = {},
): Promise<void> {
  const cache = await Deno.makeTempDir({ prefix: opts.prefix ?? "tn-kubeapi-kubectl-" });
  try {
    await withServer(async (api) => {
      await fn((args, stdin) => kubectl(api, cache, args, stdin), api, cache);
    }, opts.server);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
}
