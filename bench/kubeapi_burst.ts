/**
 * The embedded API server under bursts, over HTTP, measuring the server's own CPU time (it runs
 * as a child process; its utime + stime come from /proc):
 *
 * 1. N Services (default 10,000; a /17 service CIDR so they fit) created in a burst, 32 in flight.
 * 2. One list of all N, then 50 lists with a label selector matching 1 % of them.
 * 3. Watch fan-out: 10 watchers on ConfigMaps, M ConfigMaps (default 2,000) created, 32 in flight,
 *    until every watcher has seen every ADDED event.
 * 4. 1,000 ConfigMaps created with a finalizer and deleted (so they stay, deleting), then N / 5 of
 *    the Services deleted, 32 in flight (the delete path: garbage collection with objects held
 *    by finalizers, index upkeep).
 *
 * With `--baseline <git rev>`, the same run is made against that revision of the server first
 * (extracted with `git archive`) and the table shows both side by side with the ratio
 * baseline / current (higher is better for the current code).
 *
 *   deno run -A bench/kubeapi_burst.ts [--n 10000] [--m 2000] [--baseline <rev>]
 */

const args = Deno.args;
function flag(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
}

const CONCURRENCY = 32;
const WATCHERS = 10;
/** ConfigMaps left held by a finalizer (deleting) while the Services are deleted. */
const HELD = 1000;

if (args[0] === "--serve") {
  // Child: start the server of the tree at args[1] and wait for stdin to close.
  const mod = await import(`${args[1]}/actors/kubeapi/mod.ts`);
  const api = await mod.startKubeApiServer({ port: 0, serviceCIDR: "198.18.0.0/17" });
  console.log(JSON.stringify({ url: api.url }));
  const buf = new Uint8Array(64);
  while ((await Deno.stdin.read(buf)) !== null) { /* wait */ }
  await api.close();
  Deno.exit(0);
}

const N = Number(flag("n", "10000"));
const M = Number(flag("m", "2000"));
const baseline = flag("baseline", "");
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const self = new URL(import.meta.url).pathname;

/** CPU seconds (user + system) used so far by process `pid`. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function pool<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function call(url: string, method: string, body?: unknown): Promise<unknown> {
  const r = await fetch(url, {
    method,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

interface Phase {
  name: string;
  wallMs: number;
  cpuS: number;
}

async function runAgainst(tree: string): Promise<Phase[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${tree}/deno.json`, self, "--serve", tree],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("server exited before listening");
    first += value;
  }
  const { url } = JSON.parse(first.split("\n")[0]);
  const phases: Phase[] = [];
  const phase = async (name: string, fn: () => Promise<void>) => {
    const c0 = await cpuSeconds(child.pid);
    const t0 = performance.now();
    await fn();
    phases.push({
      name,
      wallMs: performance.now() - t0,
      cpuS: (await cpuSeconds(child.pid)) - c0,
    });
  };
  const timeout = AbortSignal.timeout(600_000);
  try {
    const svcs = `${url}/api/v1/namespaces/default/services`;
    const ids = Array.from({ length: N }, (_, i) => i);
    await phase(`create ${N} Services`, () =>
      pool(ids, async (i) => {
        if (timeout.aborted) throw new Error("bench timed out");
        await call(svcs, "POST", {
          metadata: { name: `s-${i}`, labels: { tier: `t${i % 100}` } },
          spec: { ports: [{ port: 80 }], selector: { app: `a${i}` } },
        });
      }));
    await phase(`list ${N} Services`, async () => {
      const l = await call(svcs, "GET") as { items: unknown[] };
      if (l.items.length !== N) throw new Error(`listed ${l.items.length}`);
    });
    await phase(`50 label-selected lists (1 %)`, async () => {
      for (let k = 0; k < 50; k++) {
        const l = await call(`${svcs}?labelSelector=tier%3Dt${k}`, "GET") as { items: unknown[] };
        if (l.items.length !== N / 100) throw new Error(`selected ${l.items.length}`);
      }
    });
    const cms = `${url}/api/v1/namespaces/default/configmaps`;
    const start = (await call(cms, "GET") as { metadata: { resourceVersion: string } }).metadata
      .resourceVersion;
    const ctl = new AbortController();
    const seen = new Array(WATCHERS).fill(0);
    const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
    const streams = Array.from({ length: WATCHERS }, async (_, w) => {
      const r = await fetch(`${cms}?watch=1&resourceVersion=${start}`, { signal: ctl.signal });
      const reader = r.body!.getReader();
      readers.push(reader);
      const dec = new TextDecoder();
      let buf = "";
      try {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            if (buf.slice(0, nl).startsWith('{"type":"ADDED"')) seen[w]++;
            buf = buf.slice(nl + 1);
          }
        }
      } catch (e) {
        if (!ctl.signal.aborted) throw e;
      }
    });
    await phase(`${M} ConfigMaps to ${WATCHERS} watchers`, async () => {
      await pool(Array.from({ length: M }, (_, i) => i), async (i) => {
        await call(cms, "POST", { metadata: { name: `c-${i}` }, data: { k: "v" } });
      });
      const deadline = Date.now() + 120_000;
      while (seen.some((s) => s < M)) {
        if (Date.now() > deadline) throw new Error(`watchers saw ${seen}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    ctl.abort();
    for (const r of readers) await r.cancel().catch(() => {});
    await Promise.allSettled(streams);
    const held = Array.from({ length: HELD }, (_, i) => i);
    await phase(`hold ${HELD} ConfigMaps (finalizers)`, () =>
      pool(held, async (i) => {
        await call(cms, "POST", {
          metadata: { name: `h-${i}`, finalizers: ["example.com/hold"] },
        });
        await call(`${cms}/h-${i}`, "DELETE");
      }));
    await phase(`delete ${N / 5} Services`, () =>
      pool(ids.slice(0, N / 5), async (i) => {
        await call(`${svcs}/s-${i}`, "DELETE");
      }));
  } finally {
    await child.stdin.close();
    await reader.cancel();
    await child.status;
  }
  return phases;
}

async function extract(rev: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tn-kubeapi-bench-" });
  const archive = new Deno.Command("git", {
    args: ["-C", root, "archive", rev],
    stdout: "piped",
  }).spawn();
  const tar = new Deno.Command("tar", { args: ["-x", "-C", dir], stdin: "piped" }).spawn();
  await archive.stdout.pipeTo(tar.stdin);
  if (!(await archive.status).success || !(await tar.status).success) {
    throw new Error(`cannot extract ${rev}`);
  }
  return dir;
}

const fmt = (p: Phase) => `${(p.wallMs / 1000).toFixed(2)} s / ${p.cpuS.toFixed(2)} s`;
const current = async () => await runAgainst(root);
if (baseline) {
  const dir = await extract(baseline);
  try {
    const before = await runAgainst(dir);
    const after = await current();
    console.log(`N=${N} M=${M}; wall / server CPU; baseline ${baseline} vs working tree`);
    console.log(
      ["phase".padEnd(36), "baseline".padEnd(20), "current".padEnd(20), "CPU ratio"].join(" "),
    );
    for (let i = 0; i < after.length; i++) {
      const b = before[i], a = after[i];
      console.log(
        [
          a.name.padEnd(36),
          fmt(b).padEnd(20),
          fmt(a).padEnd(20),
          `${(b.cpuS / Math.max(a.cpuS, 0.01)).toFixed(1)}x`,
        ].join(" "),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
} else {
  console.log(`N=${N} M=${M}; wall / server CPU`);
  for (const p of await current()) console.log(`${p.name.padEnd(36)} ${fmt(p)}`);
}
