/**
 * Shared pieces of `bench/bgp_receive.ts` and `bench/bgp_send.ts`: process accounting from
 * /proc, timing helpers and the BIRD/tern "table complete" probes.
 */
import { Bird, run, type Tern } from "./bgp_lab.ts";
import { encodeKeepalive } from "../actors/bgp/notification.ts";
import { encodeOpen } from "../actors/bgp/open_message.ts";
import { MessageFramer } from "../actors/bgp/wire_header.ts";

/** CPU seconds (user + system) and peak RSS of a process, from /proc. */
export async function procUsage(pid: number): Promise<{ cpuS: number; peakRssMb: number }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuS: ticks / 100, peakRssMb: hwm / 1024 };
}

/** Current RSS of a process in MB, from /proc. */
export async function procRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Routes BIRD holds in `table` (from `show route table <table> count`). */
export async function birdCount(bird: Bird, table = "master4"): Promise<number> {
  const out = await bird.cmd("show", "route", "table", table, "count");
  const m = /(\d+) of (\d+) routes/.exec(out);
  return m ? Number(m[1]) : 0;
}

/** Prefixes in tern's Loc-RIB (from /metrics). */
export async function ternCount(tern: Tern): Promise<number> {
  const r = await run([
    "ip",
    "netns",
    "exec",
    tern.ns,
    "curl",
    "-s",
    "-m",
    "5",
    `${tern.api}/metrics`,
  ]);
  const m = /^tern_bgp_rib_prefixes(?:\{[^}]*\})? (\d+)/m.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** Time of the first "Established" state change in tern's log (ms since epoch). */
export async function ternEstablishedAt(tern: Tern, peer: string): Promise<number | null> {
  const log = await Deno.readTextFile(tern.errFile).catch(() => "");
  for (const line of log.split("\n")) {
    if (line.includes('"to":"Established"') && line.includes(peer)) {
      return Date.parse(JSON.parse(line).time);
    }
  }
  return null;
}

/** Time BIRD's protocol entered its current state (ms since epoch, today). */
export async function birdSince(bird: Bird, proto: string): Promise<number | null> {
  const out = await bird.cmd("show", "protocols", proto);
  const line = out.split("\n").find((l) => l.startsWith(proto + " "));
  const m = line && /(\d\d):(\d\d):(\d\d)\.(\d{3})/.exec(line);
  if (!m) return null;
  const d = new Date();
  d.setHours(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]));
  return d.getTime();
}

/** Polls `count` until it reaches `n`; returns the time it was first seen complete. */
export async function waitCount(
  count: () => Promise<number>,
  n: number,
  timeoutMs: number,
  everyMs = 50,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await count().catch(() => 0);
    if (c >= n) return Date.now();
    if (Date.now() > deadline) throw new Error(`only ${c} of ${n} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Formats a ratio. */
export function ratio(a: number, b: number): string {
  return b > 0 ? (a / b).toFixed(2) + "x" : "n/a";
}

/** The part of a connection a raw sender uses (a `Deno.TcpConn` or the libc transport's). */
export interface RawConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
}

/** Writes all of `bytes`. */
export async function writeAll(conn: RawConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * A raw sender's session start: sends an OPEN (multiprotocol `afi`/unicast, 4-octet AS), waits
 * for the peer's OPEN and KEEPALIVE (a NOTIFICATION throws) and answers with a KEEPALIVE.
 */
export async function rawEstablish(
  conn: RawConn,
  o: { asn: number; routerId: string; afi: number },
): Promise<void> {
  await writeAll(
    conn,
    encodeOpen({
      myAsn: o.asn,
      holdTime: 90,
      bgpId: o.routerId,
      capabilities: [
        { kind: "multiprotocol", afi: o.afi, safi: 1 },
        { kind: "four-octet-as", asn: o.asn },
      ],
    }),
  );
  const framer = new MessageFramer();
  const buf = new Uint8Array(65536);
  let gotOpen = false, gotKeepalive = false;
  while (!(gotOpen && gotKeepalive)) {
    const r = await conn.read(buf);
    if (r === null) throw new Error("closed before OPEN");
    framer.push(buf.subarray(0, r));
    for (let f = framer.next(); f; f = framer.next()) {
      if (f.type === 1) gotOpen = true;
      if (f.type === 4) gotKeepalive = true;
      if (f.type === 3) throw new Error(`NOTIFICATION ${f.body[0]}/${f.body[1]}`);
    }
  }
  await writeAll(conn, encodeKeepalive());
}

/**
 * Times a raw-sender process against a receiver: from the `established` line the sender prints
 * to the whole table counted by the receiver; then stops both and returns the times and the
 * receiver's usage.
 */
export async function timeRawSender(
  proc: Deno.ChildProcess,
  rx: { pid: number; count: () => Promise<number>; stop: () => Promise<void> },
  n: number,
  timeoutMs: number,
): Promise<{ t0: number; t1: number; use: { cpuS: number; peakRssMb: number } }> {
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("established")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("raw sender exited");
    buf += value;
  }
  const t0 = JSON.parse(buf.split("\n").find((l) => l.includes("established"))!).established;
  const t1 = await waitCount(rx.count, n, timeoutMs, 20);
  const use = await procUsage(rx.pid);
  await rx.stop();
  await proc.stdin.close();
  await proc.status;
  while (!(await reader.read()).done) { /* drain */ }
  return { t0, t1, use };
}
