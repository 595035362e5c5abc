/**
 * The CNI plugin binary a container runtime executes (CNI specification 1.1): configuration on
 * stdin, parameters in `CNI_*` variables, the result or the error as JSON on stdout. A thin
 * client of the node agent; see docs/cni.md. Kept free of npm packages and of the actor runtime
 * so it starts fast.
 */
import { callAgent } from "../actors/cni/client.ts";
import { runPlugin } from "../actors/cni/plugin.ts";

async function readAll(r: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let len = 0;
  for await (const c of r) {
    parts.push(c);
    len += c.length;
  }
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
  readStdin: () => readAll(Deno.stdin.readable),
  call: (socket, req) => callAgent(socket, req),
});
if (outcome.stdout) {
  const bytes = new TextEncoder().encode(outcome.stdout);
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}
Deno.exit(outcome.exitCode);
