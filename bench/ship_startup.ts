/**
 * Start-up to ready, as a DaemonSet restart or upgrade sees it: tern's speaker (started exactly
 * as shipped, `deno run -P=speaker`) until its control API is up, side by side with GoBGP
 * (`gobgpd`, until its gRPC API accepts connections) and BIRD 2 (until its control socket
 * accepts connections); tern's node agent (`-P=agent`, in a network namespace) until its CNI
 * socket listens; and a bare Deno script as the floor. Run as root:
 *
 *     deno run -A bench/ship_startup.ts [RUNS]
 *
 * Prints a markdown table (median and p90 in ms) and the ratios.
 */

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const RUNS = Number(Deno.args[0] ?? 10);
const DENO = Deno.execPath();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

async function canConnect(opts: Deno.ConnectOptions | Deno.UnixConnectOptions): Promise<boolean> {
  try {
    const c = await Deno.connect(opts as Deno.ConnectOptions);
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** Spawns `cmd`, waits until `ready()` (polled every 2 ms, 20 s at most), returns the ms taken. */
async function timeToReady(
  cmd: string,
  args: string[],
  ready: (out: () => string) => Promise<boolean>,
): Promise<number> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const c of s) text += dec.decode(c, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  child.status.then(() => (exited = true));
  try {
    while (!(await ready(() => text))) {
      if (exited) throw new Error(`${cmd} exited before ready:\n${text}`);
      if (performance.now() - t0 > 20_000) throw new Error(`${cmd} not ready in 20 s:\n${text}`);
      await sleep(2);
    }
    return performance.now() - t0;
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await child.status;
    clearTimeout(timer);
    await pumps;
  }
}

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p90: at(0.9) };
}

async function sample(name: string, f: () => Promise<number>): Promise<[string, number[]]> {
  await f(); // warm-up (caches)
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) xs.push(await f());
  return [name, xs];
}

const dir = await Deno.makeTempDir({ prefix: "tn-ship-bench-" });
const ns = `tn-ship-b${crypto.randomUUID().slice(0, 6)}`;
const results: Array<[string, number[]]> = [];
try {
  // The floor: a script that only says it is ready (Deno's own start-up).
  await Deno.writeTextFile(
    `${dir}/floor.ts`,
    'console.log("ready");\nsetTimeout(() => {}, 60_000);\n',
  );
  results.push(
    await sample(
      "bare `deno run` (floor)",
      () =>
        timeToReady(
          DENO,
          ["run", `${dir}/floor.ts`],
          (out) => Promise.resolve(out().includes("ready")),
        ),
    ),
  );

  // tern speaker: no peers, BGP listener and API on loopback.
  await Deno.writeTextFile(
    `${dir}/speaker.yaml`,
    "asn: 64512\nrouterId: 192.0.2.250\nlisten: { address: 127.0.0.1, port: 0 }\n" +
      "api: { address: 127.0.0.1, port: 0 }\n",
  );
  results.push(
    await sample("tern speaker (-P=speaker)", () =>
      timeToReady(
        DENO,
        ["run", "-P=speaker", "roles/speaker.ts", "--config", `${dir}/speaker.yaml`],
        (out) => Promise.resolve(/"event":"ready"/.test(out())),
      )),
  );

  // GoBGP: no listener (port -1), gRPC API on a free loopback port.
  await Deno.writeTextFile(
    `${dir}/gobgp.toml`,
    '[global.config]\n  as = 64512\n  router-id = "192.0.2.250"\n  port = -1\n',
  );
  results.push(
    await sample("GoBGP gobgpd 3.x", () => {
      const port = freePort();
      return timeToReady(
        "gobgpd",
        ["-f", `${dir}/gobgp.toml`, "-t", "toml", "--api-hosts", `127.0.0.1:${port}`],
        () => canConnect({ hostname: "127.0.0.1", port }),
      );
    }),
  );

  // BIRD 2: a router id and a device protocol, control socket in the temp dir.
  await Deno.writeTextFile(
    `${dir}/bird.conf`,
    "router id 192.0.2.250;\nprotocol device {}\n",
  );
  results.push(
    await sample("BIRD 2", async () => {
      const sock = `${dir}/bird-${crypto.randomUUID().slice(0, 6)}.ctl`;
      const t = await timeToReady(
        "bird",
        ["-f", "-c", `${dir}/bird.conf`, "-s", sock, "-P", `${sock}.pid`],
        () => canConnect({ transport: "unix", path: sock } as Deno.UnixConnectOptions),
      );
      await Deno.remove(sock).catch(() => {});
      await Deno.remove(`${sock}.pid`).catch(() => {});
      return t;
    }),
  );

  // tern agent in its own network namespace, until its CNI socket accepts connections.
  let p = new Deno.Command("ip", { args: ["netns", "add", ns] }).outputSync();
  if (!p.success) throw new Error(new TextDecoder().decode(p.stderr));
  p = new Deno.Command("ip", { args: ["-n", ns, "link", "set", "lo", "up"] }).outputSync();
  results.push(
    await sample("tern agent (-P=agent, static)", async () => {
      const run = `${dir}/agent-${crypto.randomUUID().slice(0, 6)}`;
      const sock = `${run}/cni.sock`;
      const t = await timeToReady("ip", [
        "netns",
        "exec",
        ns,
        DENO,
        "run",
        "-P=agent",
        "roles/agent.ts",
        "--node=bench-node",
        `--state-dir=${run}/state`,
        `--socket=${sock}`,
        `--conflist-dir=${run}/net.d`,
        "--inspect-address=127.0.0.1:0",
        "--log-level=warn",
      ], () => canConnect({ transport: "unix", path: sock } as Deno.UnixConnectOptions));
      await Deno.remove(run, { recursive: true }).catch(() => {});
      return t;
    }),
  );
} finally {
  new Deno.Command("ip", { args: ["netns", "del", ns] }).outputSync();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const by = new Map(results);
const ref = (n: string) => stats(by.get(n)!).median;
console.log(`Start-up to ready, ${RUNS} runs each after one warm-up (ms).\n`);
console.log("| process | median | p90 |");
console.log("| --- | ---: | ---: |");
for (const [name, xs] of results) {
  const s = stats(xs);
  console.log(`| ${name} | ${s.median.toFixed(1)} | ${s.p90.toFixed(1)} |`);
}
const speaker = ref("tern speaker (-P=speaker)");
console.log("");
console.log(
  `tern speaker / GoBGP: ${(speaker / ref("GoBGP gobgpd 3.x")).toFixed(2)}x; ` +
    `tern speaker / BIRD: ${(speaker / ref("BIRD 2")).toFixed(2)}x; ` +
    `tern speaker minus the bare Deno floor: ${
      (speaker - ref("bare `deno run` (floor)")).toFixed(1)
    } ms`,
);
