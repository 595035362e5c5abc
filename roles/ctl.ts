/**
 * The `ctl` role: a command-line client of the roles' control APIs.
 *
 *     deno run -P=ctl roles/ctl.ts bgp neighbors [--json] [--api http://127.0.0.1:7179]
 *
 * Command groups live in `actors/ctl/`; this file only dispatches.
 * @module
 */
import { runCtl } from "../actors/ctl/mod.ts";

if (import.meta.main) {
  Deno.exit(await runCtl(Deno.args, { env: (k) => Deno.env.get(k) }));
}
