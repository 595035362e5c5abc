/**
 * The FFI surface: libmnl (`libmnl.so.0`, Debian `libmnl0`) for netlink sockets and a few libc
 * calls (`setns`, `open`, `close`, `poll`, `eventfd`, `setsockopt`, `__errno_location`).
 *
 * Both libraries are opened lazily on first use, once per process; needs `--allow-ffi`.
 * Linux x86-64 / aarch64 constant values.
 * @module
 */

import { NetlinkSystemError } from "./errors.ts";
import { HOST_LE } from "./message.ts";

/** `SOCK_NONBLOCK` for `mnl_socket_open2`. */
export const SOCK_NONBLOCK = 0x800;
/** `SOCK_CLOEXEC` for `mnl_socket_open2`. */
export const SOCK_CLOEXEC = 0x80000;
/** `O_RDONLY | O_CLOEXEC` for `open(2)`. */
export const O_RDONLY_CLOEXEC = 0x80000;
/** `CLONE_NEWNET` for `setns(2)`. */
export const CLONE_NEWNET = 0x40000000;
/** `EFD_NONBLOCK | EFD_CLOEXEC` for `eventfd(2)`. */
export const EFD_FLAGS = 0x800 | 0x80000;
/** `SOL_SOCKET`. */
export const SOL_SOCKET = 1;
/** `SO_SNDBUF`. */
export const SO_SNDBUF = 7;
/** `SO_RCVBUF`. */
export const SO_RCVBUF = 8;
/** `SO_SNDBUFFORCE` (needs CAP_NET_ADMIN, ignores `wmem_max`). */
export const SO_SNDBUFFORCE = 32;
/** `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN, ignores `rmem_max`). */
export const SO_RCVBUFFORCE = 33;
/** `POLLIN`. */
export const POLLIN = 1;
/** errno `EAGAIN`. */
export const EAGAIN = 11;
/** errno `EINTR`. */
export const EINTR = 4;
/** `MSG_DONTWAIT` for recv calls. */
export const MSG_DONTWAIT = 0x40;
/** `MSG_TRUNC` in `msg_flags`: the datagram was longer than the buffer. */
export const MSG_TRUNC = 0x20;
/** errno `ENOBUFS` (receive queue overrun: messages were lost). */
export const ENOBUFS = 105;

const MNL_SYMBOLS = {
  mnl_socket_open2: { parameters: ["i32", "i32"], result: "pointer" },
  mnl_socket_bind: { parameters: ["pointer", "u32", "i32"], result: "i32" },
  mnl_socket_get_fd: { parameters: ["pointer"], result: "i32" },
  mnl_socket_get_portid: { parameters: ["pointer"], result: "u32" },
  mnl_socket_sendto: { parameters: ["pointer", "buffer", "usize"], result: "isize" },
  mnl_socket_recvfrom: { parameters: ["pointer", "buffer", "usize"], result: "isize" },
  mnl_socket_setsockopt: { parameters: ["pointer", "i32", "buffer", "u32"], result: "i32" },
  mnl_socket_close: { parameters: ["pointer"], result: "i32" },
} as const;

const LIBC_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** poll(2) on a blocking-pool thread: the only call that waits. */
  poll_async: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
} as const;

/** The loaded libmnl symbols. */
export type Mnl = Deno.DynamicLibrary<typeof MNL_SYMBOLS>["symbols"];
/** The loaded libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let mnl: Mnl | undefined;
let libc: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

function load<S extends Deno.ForeignLibraryInterface>(
  name: string,
  symbols: S,
  hint: string,
): Deno.DynamicLibrary<S>["symbols"] {
  try {
    return Deno.dlopen(name, symbols).symbols;
  } catch (e) {
    throw new NetlinkSystemError(
      "library_unavailable",
      `Cannot load ${JSON.stringify(name)}${hint}: ${(e as Error).message}`,
    );
  }
}

/** libmnl, opened on first use. Throws {@linkcode NetlinkSystemError} (`library_unavailable`). */
export function getMnl(): Mnl {
  return mnl ??= load(
    "libmnl.so.0",
    MNL_SYMBOLS,
    " (install Debian libmnl0, run with --allow-ffi)",
  );
}

/** libc, opened on first use. Throws {@linkcode NetlinkSystemError} (`library_unavailable`). */
export function getLibc(): Libc {
  return libc ??= load("libc.so.6", LIBC_SYMBOLS, "");
}

/**
 * Loads libmnl and libc now (they stay loaded for the life of the process). Tests call it at
 * module level so that `deno test`'s resource sanitizer does not count the libraries against the
 * first test that happens to use them.
 */
export function loadNetlinkLibraries(): void {
  getMnl();
  getLibc();
}

/**
 * errno of the JS thread, read right after a synchronous call that failed (synchronous FFI calls
 * run on the JS thread, so its thread-local errno is the one that call set).
 */
export function lastErrno(): number {
  if (!errnoView) {
    const p = getLibc().__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32();
}

const encoder = new TextEncoder();

/** A NUL-terminated C string for `buffer` parameters. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** A 4-byte host-order int for `setsockopt`. */
export function intOpt(v: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, HOST_LE);
  return b;
}
