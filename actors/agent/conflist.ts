/**
 * The conflist the agent puts in `/etc/cni/net.d` so the container runtime runs tern, followed
 * by the chained plugins (`portmap`, `bandwidth`, `tuning`). Rendering is pure; writing is
 * atomic, and only tern's own file is touched (sart's installer wiped the directory).
 *
 * @module
 */

import { actor } from "../../runtime/mod.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import type { AgentConfig } from "./config.ts";

/** The conflist for a configuration, as an object. */
export function renderConflist(c: AgentConfig): Record<string, unknown> {
  const plugins: Record<string, unknown>[] = [
    { type: "tern", socket: c.socket, mtu: c.mtu },
  ];
  for (const p of c.chain) {
    if (p === "portmap") {
      plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
    } else if (p === "bandwidth") {
      plugins.push({ type: "bandwidth", capabilities: { bandwidth: true } });
    } else plugins.push({ type: p });
  }
  return { cniVersion: c.cniVersion, name: c.network, plugins };
}

/** The conflist writer actor: writes the file when it starts. */
export function conflistWriter(c: AgentConfig) {
  return actor<never>("conflist-writer", async (ctx) => {
    Deno.mkdirSync(c.conflistDir, { recursive: true });
    const path = `${c.conflistDir}/${c.conflistName}`;
    await writeFileAtomic(path, JSON.stringify(renderConflist(c), null, 2) + "\n", 0o644);
    ctx.log.info("conflist written", { path });
    return { receive() {}, inspect: () => ({ path }) };
  });
}
