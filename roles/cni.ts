/**
 * The CNI plugin binary a container runtime executes (CNI specification 1.1): configuration on
 * stdin, parameters in `CNI_*` variables, the result or the error as JSON on stdout. A thin
 * client of the node agent; see docs/cni.md. Kept free of npm packages and of the actor runtime
 * so it starts fast.
 */
import { callAgent } from "../actors/cni/client.ts";
import { runPlugin } from "../actors/cni/plugin.ts";

/**
 * Reads stdin to its end with synchronous reads: `Deno.stdin.readable` would first set up the web
 * streams machinery, which costs more (3–5 ms) than everything else the plugin does.
 */
function readAllSync(): Uint8Array {
  const parts: Uint8Array[] = [];
  let len = 0;
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = Deno.stdin.readSync(buf);
    if (n === null || n === 0) break;
    parts.push(buf.slice(0, n));
    len += n;
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const outcome = await runPlugin({
  env: (n) => Deno.env.get(n),
  // deno-lint-ignore require-await
  readStdin: async () => readAllSync(),
  call: (socket, req) => callAgent(socket, req),
});
if (outcome.stdout) {
  const bytes = new TextEncoder().encode(outcome.stdout);
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}
Deno.exit(outcome.exitCode);
