/**
 * Deleting links without stalling the agent. Deleting a veth costs the kernel an RCU grace
 * period (about 20 ms here) inside the netlink send itself; through the agent's regular
 * (synchronous) netlink socket that time would block the JavaScript thread, so 20 concurrent
 * DELs would queue up behind each other. Here each deletion gets its own netlink socket and the
 * send and the receive of the acknowledgement run as non-blocking FFI calls on Deno's blocking
 * thread pool: the JavaScript thread stays free and several deletions wait for the kernel at
 * the same time, as separate plugin processes would.
 *
 * @module
 */

import { NLM_F, NLMSG } from "../netlink/constants.ts";
import { errnoName, NetlinkError } from "../netlink/errors.ts";
import { writeDelLink } from "../netlink/link_codec.ts";
import { MessageWriter, parseErrorMessage, parseMessages } from "../netlink/message.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const ENODEV = 19;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize", nonblocking: true },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;
function libc() {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

let seq = 1;

/**
 * Deletes the link `name` in the agent's namespace. Resolves `true` when deleted, `false` when
 * there was no such link; throws {@linkcode NetlinkError} when the kernel refuses.
 */
export async function removeLinkAsync(name: string): Promise<boolean> {
  const c = libc();
  const w = new MessageWriter(128);
  const s = (seq = (seq + 1) & 0x7fffffff) || 1;
  writeDelLink(w, NLM_F.ACK, s, { name });
  const req = w.bytes().slice();
  const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new Error(`socket(AF_NETLINK) failed: ${errnoName(errno())}`);
  try {
    // The errno of a call made on another thread is not readable here; a failed send or receive
    // is reported by its return value.
    const sent = Number(await c.send(fd, req, BigInt(req.length), 0));
    if (sent !== req.length) throw new Error(`netlink send of RTM_DELLINK ${name} failed`);
    const buf = new Uint8Array(8192);
    for (;;) {
      const n = Number(await c.recv(fd, buf, BigInt(buf.length), 0));
      if (n <= 0) throw new Error(`netlink receive for RTM_DELLINK ${name} failed`);
      for (const m of parseMessages(buf.subarray(0, n))) {
        if (m.seq !== s || m.type !== NLMSG.ERROR) continue;
        const e = parseErrorMessage(m.payload, m.flags);
        if (e.errno === 0) return true;
        if (e.errno === ENODEV) return false;
        throw new NetlinkError(e.errno, {
          type: 17,
          typeName: "RTM_DELLINK",
          flags: NLM_F.REQUEST | NLM_F.ACK,
          seq: s,
          subject: { name },
        });
      }
    }
  } finally {
    c.close(fd);
  }
}
