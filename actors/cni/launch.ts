/**
 * How the plugin is run from a source checkout: the one place that names Deno's flags for it.
 * Tests, benchmarks and the shell launcher `actors/cni/tern_cni.sh` (which a dev node's CNI bin
 * directory can hold as `tern`) all run it this way; release images run the compiled `tern-cni`
 * (`deno task compile:cni`, the same `-P=cni` permission set baked in).
 *
 * - `-P=cni`: exactly the `cni` permission set of `deno.json` (the socket, the `CNI_*` variables);
 * - `--quiet`: no Deno diagnostics on stderr (the runtime logs it);
 * - `--config <root>/deno.json`: found wherever the runtime starts the plugin from;
 * - `--no-lock`: the plugin has no npm or remote dependency, so the project's lockfile (with every
 *   npm package of the other roles) has nothing to vouch for; reading it cost 3–5 ms per call.
 *
 * @module
 */

/** Deno's flags before the script, `root` being the checkout (where `deno.json` is). */
export function pluginDenoFlags(root: string): string[] {
  return ["run", "-P=cni", "--quiet", "--no-lock", "--config", `${root}/deno.json`];
}

/** The whole command line (`argv`) that runs the plugin with the Deno at `deno`. */
export function pluginCommand(deno: string, root: string): string[] {
  return [deno, ...pluginDenoFlags(root), `${root}/roles/cni.ts`];
}
