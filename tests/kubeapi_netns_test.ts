/** The API server process listening on a namespace address, reached by kubectl from another. */

import assert from "node:assert/strict";

const opts = { sanitizeOps: true, sanitizeResources: true };

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

Deno.test(
  "kubeapi netns: kubectl in one network namespace reaches the server in another",
  opts,
  async () => {
    const id = crypto.randomUUID().slice(0, 6);
    const nsA = `tn-kubeapi-${id}-a`;
    const nsB = `tn-kubeapi-${id}-b`;
    const dir = await Deno.makeTempDir({ prefix: "tn-kubeapi-netns-" });
    let child: Deno.ChildProcess | undefined;
    try {
      await must("ip", ["netns", "add", nsA]);
      await must("ip", ["netns", "add", nsB]);
      await must("ip", [
        "-n",
        nsA,
        "link",
        "add",
        "kapi0",
        "type",
        "veth",
        "peer",
        "name",
        "kapi1",
        "netns",
        nsB,
      ]);
      await must("ip", ["-n", nsA, "addr", "add", "192.0.2.1/24", "dev", "kapi0"]);
      await must("ip", ["-n", nsB, "addr", "add", "192.0.2.2/24", "dev", "kapi1"]);
      for (const [ns, dev] of [[nsA, "kapi0"], [nsB, "kapi1"]]) {
        await must("ip", ["-n", ns, "link", "set", dev, "up"]);
        await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
      }
      child = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          nsA,
          Deno.execPath(),
          "run",
          "-P=apiserver",
          new URL("../roles/apiserver.ts", import.meta.url).pathname,
          "--listen",
          "192.0.2.1",
          "--port",
          "6443",
          "--kubeconfig",
          `${dir}/kc.yaml`,
          "--log-level",
          "silent",
        ],
        cwd: new URL("..", import.meta.url).pathname,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      const deadline = setTimeout(() => child?.kill("SIGKILL"), 60_000);
      try {
        while (!out.includes("\n")) {
          const { value, done } = await reader.read();
          if (done) break;
          out += value;
        }
      } finally {
        clearTimeout(deadline);
        await reader.cancel().catch(() => {});
      }
      assert.equal(JSON.parse(out.split("\n")[0]).url, "http://192.0.2.1:6443");
      const r = await run("ip", [
        "netns",
        "exec",
        nsB,
        "kubectl",
        "--kubeconfig",
        `${dir}/kc.yaml`,
        "--cache-dir",
        `${dir}/cache`,
        "--request-timeout=10s",
        "get",
        "ns",
        "kube-system",
        "-o",
        "name",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "namespace/kube-system");
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      child = undefined;
    } finally {
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await child.status;
      }
      await run("ip", ["netns", "del", nsA]);
      await run("ip", ["netns", "del", nsB]);
      await Deno.remove(dir, { recursive: true });
    }
  },
);
