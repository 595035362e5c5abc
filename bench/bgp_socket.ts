/**
 * Transport benchmark: the libc TCP transport of `actors/bgp/ffi_socket.ts` (used by peers with
 * multihop, ttlSecurity, sourceAddress or password) against Deno's own `Deno.TcpConn` (every
 * other peer), receiving the same byte stream on loopback with the peer actor's read loop (a
 * 64 KiB buffer, one `await` per chunk, a copy of each chunk as the actor gets it).
 *
 *   deno run -A bench/bgp_socket.ts [MiB] [--rounds R] [--md5]
 *
 * The sender is an outside process (`bash` writing /dev/zero to /dev/tcp), the same for both,
 * so the CPU time measured (this process, from /proc) is the receiver's. `--md5` signs the FFI
 * side's segments with TCP-MD5 (the Deno side cannot). Rounds alternate who goes first; the
 * table shows medians and the ratio ffi/deno.
 */
import { FfiTcpListener, loadSocketLibrary } from "../actors/bgp/ffi_socket.ts";
import { procUsage, ratio } from "../tests/bgp_bench_lib.ts";

const args = [...Deno.args];
const flag = (name: string) => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const option = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} wants a positive integer`);
  return v;
};
const MD5 = flag("--md5");
const ROUNDS = option("--rounds", 3);
const MIB = Number(args[0] ?? 512);
const BYTES = MIB * 1024 * 1024;
loadSocketLibrary();

interface Conn {
  read(b: Uint8Array): Promise<number | null>;
  close(): void;
}

/** Accepts one connection, reads it to the end as the peer actor does; returns bytes read. */
async function receive(accept: () => Promise<Conn | null>): Promise<number> {
  const c = await accept();
  if (!c) throw new Error("no connection");
  const buf = new Uint8Array(65536);
  let total = 0, sink = 0;
  try {
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      const chunk = buf.slice(0, n); // the peer actor hands a copy to its mailbox
      sink ^= chunk[0];
      total += n;
    }
  } finally {
    c.close();
  }
  return total + (sink & 0);
}

async function runOnce(kind: "deno" | "ffi"): Promise<{ s: number; cpuS: number }> {
  let port: number, accept: () => Promise<Conn | null>, close: () => void;
  if (kind === "ffi") {
    const l = FfiTcpListener.listen({ hostname: "127.0.0.1", port: 0 });
    if (MD5) l.setPassword("127.0.0.1", "bench-key");
    port = l.addr.port;
    accept = () => l.accept();
    close = () => l.close();
  } else {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (l.addr as Deno.NetAddr).port;
    accept = () => l.accept();
    close = () => l.close();
  }
  const before = await procUsage(Deno.pid);
  const t0 = performance.now();
  const receiving = receive(accept);
  // bash cannot sign with TCP-MD5: with --md5 the FFI side's sender is a signed FFI process.
  const sender = MD5 && kind === "ffi" ? md5Sender(port) : new Deno.Command("bash", {
    args: ["-c", `head -c ${BYTES} /dev/zero > /dev/tcp/127.0.0.1/${port}`],
  }).output().then((o) => {
    if (!o.success) throw new Error(new TextDecoder().decode(o.stderr));
  });
  const [n] = await Promise.all([receiving, sender]);
  const s = (performance.now() - t0) / 1000;
  const after = await procUsage(Deno.pid);
  close();
  if (n !== BYTES) throw new Error(`${kind}: read ${n} of ${BYTES} bytes`);
  return { s, cpuS: after.cpuS - before.cpuS };
}

/** A signed sender: a second process running the FFI transport's connect with the key. */
async function md5Sender(port: number): Promise<void> {
  const code = `
    import { connectFfi } from ${
    JSON.stringify(new URL("../actors/bgp/ffi_socket.ts", import.meta.url).href)
  };
    const c = await connectFfi({ hostname: "127.0.0.1", port: ${port}, password: "bench-key" });
    const chunk = new Uint8Array(1 << 20);
    let left = ${BYTES};
    while (left > 0) left -= await c.write(chunk.subarray(0, Math.min(left, chunk.length)));
    c.close();
  `;
  const o = await new Deno.Command(Deno.execPath(), { args: ["eval", code] }).output();
  if (!o.success) throw new Error(new TextDecoder().decode(o.stderr));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const res = { deno: [] as { s: number; cpuS: number }[], ffi: [] as { s: number; cpuS: number }[] };
for (let r = 0; r < ROUNDS; r++) {
  const order: ("deno" | "ffi")[] = r % 2 === 0 ? ["deno", "ffi"] : ["ffi", "deno"];
  for (const k of order) res[k].push(await runOnce(k));
}
const row = (k: "deno" | "ffi") => {
  const s = median(res[k].map((x) => x.s)), cpu = median(res[k].map((x) => x.cpuS));
  return { s, cpu, mibs: MIB / s, cpuPerGib: cpu / (MIB / 1024) };
};
const d = row("deno"), f = row("ffi");
console.log(
  `receive ${MIB} MiB on loopback, 64 KiB reads, median of ${ROUNDS} rounds` +
    (MD5 ? " (FFI side TCP-MD5 signed, sent by a signed FFI sender; Deno side unsigned)" : ""),
);
console.log("| transport            | MiB/s | wall s | receiver CPU s | CPU s per GiB |");
console.log("| -------------------- | ----: | -----: | -------------: | ------------: |");
for (const [name, x] of [["Deno.TcpConn", d], ["ffi_socket (libc)", f]] as const) {
  console.log(
    `| ${name.padEnd(20)} | ${x.mibs.toFixed(0).padStart(5)} | ${x.s.toFixed(2).padStart(6)} | ${
      x.cpu.toFixed(2).padStart(14)
    } | ${x.cpuPerGib.toFixed(2).padStart(13)} |`,
  );
}
console.log(
  `ffi/deno: throughput ${ratio(f.mibs, d.mibs)}, CPU per byte ${ratio(f.cpuPerGib, d.cpuPerGib)}`,
);
