/**
 * A scriptable raw BGP peer for the malformed-input and flapping tests, run inside a network
 * namespace: `deno run -A tests/bgp_raw_peer.ts HOST PORT`. It reads one command per line on
 * stdin and answers each with one JSON line on stdout:
 *
 * - `connect` / `close`
 * - `send HEX` writes the bytes
 * - `read MS` collects messages for up to MS ms (stops early at a NOTIFICATION or close)
 * - `until-open MS` reads until an OPEN and a KEEPALIVE arrived
 * - `flap N HEXOPEN` connects, sends the OPEN, waits for tern's OPEN, closes; N times
 */
import { MessageFramer } from "../actors/bgp/wire_header.ts";

const [host, portText] = Deno.args;
const port = Number(portText);
let conn: Deno.TcpConn | null = null;
let framer = new MessageFramer();
let closed = false;
const buf = new Uint8Array(65536);
let pendingRead: Promise<number | null> | null = null;

function hexOf(b: Uint8Array) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
function bytesOf(h: string) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

async function connect() {
  conn = await Deno.connect({ hostname: host, port });
  framer = new MessageFramer();
  framer.setExtended(true);
  closed = false;
  pendingRead = null;
}

function close() {
  try {
    conn?.close();
  } catch { /* closed */ }
  conn = null;
  pendingRead = null;
}

type Msg = { type: number; body: string; code?: number; subcode?: number };

async function read(ms: number, stop: (got: Msg[]) => boolean): Promise<Msg[]> {
  const got: Msg[] = [];
  const deadline = Date.now() + ms;
  while (conn && !closed && Date.now() < deadline && !stop(got)) {
    pendingRead ??= conn.read(buf);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      pendingRead.then((n) => ({ n })).catch(() => ({ n: null })),
      new Promise<"timeout">((
        res,
      ) => (timer = setTimeout(() => res("timeout"), deadline - Date.now()))),
    ]);
    clearTimeout(timer);
    if (r === "timeout") break;
    pendingRead = null;
    if (r.n === null) {
      closed = true;
      break;
    }
    framer.push(buf.slice(0, r.n));
    for (let f = framer.next(); f; f = framer.next()) {
      const m: Msg = { type: f.type, body: hexOf(f.body) };
      if (f.type === 3) {
        m.code = f.body[0];
        m.subcode = f.body[1];
      }
      got.push(m);
    }
  }
  return got;
}

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let acc = "";
for await (const chunk of lines) {
  acc += chunk;
  let i;
  while ((i = acc.indexOf("\n")) >= 0) {
    const line = acc.slice(0, i).trim();
    acc = acc.slice(i + 1);
    const [cmd, ...args] = line.split(" ");
    const out: Record<string, unknown> = { cmd };
    try {
      switch (cmd) {
        case "connect":
          await connect();
          break;
        case "close":
          close();
          break;
        case "send":
          {
            const c = conn as Deno.TcpConn | null;
            const b = bytesOf(args[0]);
            let off = 0;
            while (c && off < b.length) off += await c.write(b.subarray(off));
          }
          break;
        case "read":
          out.messages = await read(Number(args[0]), (g) => g.some((m) => m.type === 3));
          break;
        case "until-open":
          out.messages = await read(
            Number(args[0]),
            (g) =>
              g.some((m) => m.type === 1) && g.some((m) => m.type === 4) ||
              g.some((m) => m.type === 3),
          );
          break;
        case "flap": {
          let opened = 0;
          for (let n = 0; n < Number(args[0]); n++) {
            await connect();
            const b = bytesOf(args[1]);
            await (conn as Deno.TcpConn | null)?.write(b);
            const g = await read(2000, (g) => g.some((m) => m.type === 1 || m.type === 3));
            if (g.some((m) => m.type === 1)) opened++;
            close();
          }
          out.opened = opened;
          break;
        }
        default:
          throw new Error(`unknown command "${cmd}"`);
      }
      out.closed = closed || conn === null;
    } catch (e) {
      out.error = String(e);
    }
    console.log(JSON.stringify(out));
  }
}
close();
