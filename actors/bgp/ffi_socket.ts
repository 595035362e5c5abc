/**
 * A TCP transport over libc (`libc.so.6`, through `Deno.dlopen`) for the BGP sessions Deno's own
 * sockets cannot serve: the TTL sent (eBGP multihop, IP_TTL / IPV6_UNICAST_HOPS), the minimum
 * TTL accepted (GTSM, RFC 5082: IP_MINTTL / IPV6_MINHOPCOUNT), a source address (bind before
 * connect) and TCP-MD5 signatures (RFC 2385, TCP_MD5SIG).
 *
 * Every socket is non-blocking and every libc call but one is synchronous and returns at once;
 * waiting for readiness is a `poll` declared `nonblocking: true`, which Deno runs on a worker
 * thread and turns into a Promise. Each socket has an eventfd in its poll set: `close()` signals
 * it, so pending reads, writes, connects and accepts return at once, and only then is the
 * descriptor closed (never while a poll on it is in flight). Needs `--allow-ffi`.
 *
 * Errors are {@linkcode BgpSocketError}s carrying the errno name (`ECONNREFUSED`, ...).
 * @module
 */
import {
  addressFamily,
  AF_INET,
  AF_INET6,
  decodeSockaddr,
  encodeSockaddr,
  encodeTcpMd5Sig,
  intOption,
  IP_MINTTL,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_MINHOPCOUNT,
  IPV6_UNICAST_HOPS,
  readIntOption,
  savedSynTtl,
  SO_ERROR,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  type SocketAddress,
  SOL_SOCKET,
  TCP_MD5SIG,
  TCP_NODELAY,
  TCP_SAVE_SYN,
  TCP_SAVED_SYN,
  type TtlSettings,
} from "./socket_options.ts";

const POLLIN = 0x1;
const POLLOUT = 0x4;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const EFD_NONBLOCK_CLOEXEC = 0x800 | 0x80000;
const EINTR = 4;
const EAGAIN = 11;
const EINPROGRESS = 115;

/** errno values of Linux (x86-64 / aarch64) by name, for messages and `errno` fields. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  22: "EINVAL",
  24: "EMFILE",
  32: "EPIPE",
  88: "ENOTSOCK",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  103: "ECONNABORTED",
  104: "ECONNRESET",
  105: "ENOBUFS",
  106: "EISCONN",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  112: "EHOSTDOWN",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  115: "EINPROGRESS",
};

/** Name of an errno value (`E123` when unknown). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** A failure of the FFI transport. */
export class BgpSocketError extends Error {
  /** Discriminator: what failed. */
  readonly code: "library_unavailable" | "system_call" | "timeout" | "closed";
  /** The libc call that failed (`connect`, `setsockopt(TCP_MD5SIG)`, ...). */
  readonly call: string;
  /** errno name, e.g. `ECONNREFUSED` (empty when no errno is involved). */
  readonly errno: string;
  /** Creates an error. */
  constructor(code: BgpSocketError["code"], call: string, errno: string, message: string) {
    super(message);
    this.name = "BgpSocketError";
    this.code = code;
    this.call = call;
    this.errno = errno;
  }
}

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** poll(2) on a worker thread: the only call that waits. */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

/**
 * Loads libc now (it stays loaded for the life of the process). Throws
 * {@linkcode BgpSocketError} (`library_unavailable`) without `--allow-ffi`; the speaker calls
 * it when the configuration first needs this transport, so a missing permission is reported
 * at start-up or reload instead of at the first connection.
 */
export function loadSocketLibrary(): void {
  lib();
}

function lib(): Libc {
  if (!libc) {
    try {
      libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    } catch (e) {
      throw new BgpSocketError(
        "library_unavailable",
        "dlopen",
        "",
        `Cannot load "libc.so.6" for BGP socket options (multihop, ttlSecurity, sourceAddress, ` +
          `password need --allow-ffi): ${(e as Error).message}`,
      );
    }
  }
  return libc;
}

/** errno of the JS thread, read right after a synchronous call that failed. */
function errno(): number {
  if (!errnoView) {
    const p = lib().__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32();
}

function fail(call: string, what: string, e = errno()): BgpSocketError {
  const name = errnoName(e);
  return new BgpSocketError("system_call", call, name, `${call} ${what}: ${name}`);
}

function setOpt(fd: number, level: number, name: number, value: Uint8Array, label: string) {
  if (lib().setsockopt(fd, level, name, value as Uint8Array<ArrayBuffer>, value.length) < 0) {
    throw fail(`setsockopt(${label})`, `on socket ${fd}`);
  }
}

function getSockaddr(fd: number, which: "getsockname" | "getpeername"): SocketAddress {
  const sa = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const len = intOption(SOCKADDR_STORAGE_SIZE);
  if (lib()[which](fd, sa, len) < 0) throw fail(which, `on socket ${fd}`);
  return decodeSockaddr(sa, readIntOption(len));
}

/** Applies TTL settings to a socket of `family` (both IPv4 and IPv6 levels on an IPv6 socket). */
function applyTtl(fd: number, family: number, t: TtlSettings) {
  if (t.ttl !== undefined) {
    if (family === AF_INET6) {
      setOpt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, intOption(t.ttl), "IPV6_UNICAST_HOPS");
    }
    // On an IPv6 socket this covers IPv4-mapped peers.
    setOpt(fd, IPPROTO_IP, IP_TTL, intOption(t.ttl), "IP_TTL");
  }
  const min = t.minTtl ?? 0;
  if (family === AF_INET6) {
    setOpt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, intOption(min), "IPV6_MINHOPCOUNT");
  }
  if (t.minTtl !== undefined || family === AF_INET) {
    setOpt(fd, IPPROTO_IP, IP_MINTTL, intOption(min), "IP_MINTTL");
  }
}

function setMd5(fd: number, family: number, peer: string, key: string) {
  setOpt(fd, IPPROTO_TCP, TCP_MD5SIG, encodeTcpMd5Sig(peer, key, family), "TCP_MD5SIG");
}

/**
 * One socket descriptor with its wake-up eventfd. Waits poll both; `close()` signals the
 * eventfd and closes the descriptors when the last wait has returned.
 */
class Fd {
  #waits = 0;
  #closed = false;
  #released = false;
  constructor(readonly fd: number, readonly wake: number) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits until `events` are ready (true), the timeout passed (false) or close() (throws). */
  async wait(events: number, timeoutMs = -1): Promise<boolean> {
    if (this.#closed) throw closedError();
    const fds = new Uint8Array(16);
    const v = new DataView(fds.buffer);
    const le = true;
    v.setInt32(0, this.fd, le);
    v.setInt16(4, events, le);
    v.setInt32(8, this.wake, le);
    v.setInt16(12, POLLIN, le);
    this.#waits++;
    let r: number;
    try {
      r = await lib().poll(fds, 2n, timeoutMs);
    } finally {
      this.#waits--;
      if (this.#closed && this.#waits === 0) this.#release();
    }
    if (this.#closed) throw closedError();
    if (r === 0) return false;
    // Errors and hang-ups (POLLERR/POLLHUP) are reported by the next call on the socket.
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#waits === 0) this.#release();
    else lib().write(this.wake, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), 8n);
  }

  #release() {
    if (this.#released) return;
    this.#released = true;
    lib().close(this.fd);
    lib().close(this.wake);
  }
}

function closedError() {
  return new BgpSocketError("closed", "poll", "", "Socket closed");
}

function newSocket(family: number): Fd {
  const l = lib();
  const fd = l.socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw fail("socket", family === AF_INET ? "(AF_INET)" : "(AF_INET6)");
  const wake = l.eventfd(0, EFD_NONBLOCK_CLOEXEC);
  if (wake < 0) {
    const e = fail("eventfd", "for a socket");
    l.close(fd);
    throw e;
  }
  return new Fd(fd, wake);
}

/** Options of an outgoing connection. */
export interface FfiConnectOptions {
  /** Peer address. */
  readonly hostname: string;
  /** Peer port. */
  readonly port: number;
  /** Source address to bind before connecting (`update-source`). */
  readonly sourceAddress?: string;
  /** TTL sent and minimum TTL accepted. */
  readonly ttl?: TtlSettings;
  /** TCP-MD5 key for the peer (RFC 2385). */
  readonly password?: string;
  /** Give up after this long (default 30 s). */
  readonly timeoutMs?: number;
  /** Aborting closes the socket and rejects the connect. */
  readonly signal?: AbortSignal;
}

/** The connection interface the BGP peer actor uses; `Deno.TcpConn` has the same shape. */
export interface BgpConn {
  /** Reads into `buf`: bytes read, or null at end of stream (or after close()). */
  read(buf: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes` (at least one): bytes written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes the connection; pending reads and writes end. */
  close(): void;
  /** Local address. */
  readonly localAddr: { readonly hostname: string; readonly port: number };
  /** Remote address. */
  readonly remoteAddr: { readonly hostname: string; readonly port: number };
  /** Disables Nagle's algorithm. */
  setNoDelay(noDelay?: boolean): void;
}

/** A TCP connection over libc. */
export class FfiTcpConn implements BgpConn {
  readonly #fd: Fd;
  readonly #family: number;
  /** Local address. */
  readonly localAddr: SocketAddress;
  /** Remote address. */
  readonly remoteAddr: SocketAddress;

  /** Wraps a connected non-blocking socket (takes ownership of both descriptors). */
  constructor(fd: Fd, family: number, remote?: SocketAddress) {
    this.#fd = fd;
    this.#family = family;
    this.localAddr = getSockaddr(fd.fd, "getsockname");
    this.remoteAddr = remote ?? getSockaddr(fd.fd, "getpeername");
  }

  /** The socket descriptor (for inspection and tests). */
  get fd(): number {
    return this.#fd.fd;
  }

  /** Reads into `buf`; null at end of stream or once closed locally. */
  async read(buf: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#fd.closed) return null;
      const n = Number(
        lib().recv(this.#fd.fd, buf as Uint8Array<ArrayBuffer>, BigInt(buf.length), MSG_DONTWAIT),
      );
      if (n > 0) return n;
      if (n === 0) return buf.length === 0 ? 0 : null;
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw fail("recv", `from ${this.remoteAddr.hostname}`, e);
      try {
        await this.#fd.wait(POLLIN);
      } catch (err) {
        if (err instanceof BgpSocketError && err.code === "closed") return null;
        throw err;
      }
    }
  }

  /** Writes some of `bytes` (waits until at least one byte is taken). */
  async write(bytes: Uint8Array): Promise<number> {
    if (bytes.length === 0) return 0;
    for (;;) {
      if (this.#fd.closed) throw closedError();
      const n = Number(
        lib().send(
          this.#fd.fd,
          bytes as Uint8Array<ArrayBuffer>,
          BigInt(bytes.length),
          MSG_DONTWAIT | MSG_NOSIGNAL,
        ),
      );
      if (n >= 0) return n;
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw fail("send", `to ${this.remoteAddr.hostname}`, e);
      await this.#fd.wait(POLLOUT);
    }
  }

  /** Sets TCP_NODELAY. */
  setNoDelay(noDelay = true): void {
    setOpt(this.#fd.fd, IPPROTO_TCP, TCP_NODELAY, intOption(noDelay ? 1 : 0), "TCP_NODELAY");
  }

  /** Applies TTL settings now (an accepted connection gets its peer's). */
  setTtl(t: TtlSettings): void {
    applyTtl(this.#fd.fd, this.#family, t);
  }

  /**
   * TTL / hop limit the connection's SYN arrived with, for an accepted connection of a listener
   * with `saveSyn` (readable once; null when nothing was saved). The GTSM check of a passive
   * session: IP_MINTTL set after accept cannot reject what arrived before it.
   */
  synTtl(): number | null {
    const b = new Uint8Array(512);
    const len = intOption(b.length);
    if (lib().getsockopt(this.#fd.fd, IPPROTO_TCP, TCP_SAVED_SYN, b, len) < 0) return null;
    const n = readIntOption(len);
    return n > 0 ? savedSynTtl(b.subarray(0, n)) : null;
  }

  /** Reads an integer socket option (tests and inspection). */
  getIntOption(level: number, name: number): number {
    const b = new Uint8Array(4);
    const len = intOption(4);
    if (lib().getsockopt(this.#fd.fd, level, name, b, len) < 0) {
      throw fail("getsockopt", `(${level}, ${name})`);
    }
    return readIntOption(b);
  }

  /** Closes the socket; pending reads return null, pending writes reject. Idempotent. */
  close(): void {
    this.#fd.close();
  }
}

/**
 * Opens a TCP connection with the given options: socket, TTL/GTSM and TCP-MD5 options, bind to
 * the source address, non-blocking connect, then a poll until connected, failed, timed out or
 * aborted. Throws {@linkcode BgpSocketError} (`system_call` with the errno of the failure,
 * `timeout`, or `closed` when aborted).
 */
export async function connectFfi(o: FfiConnectOptions): Promise<FfiTcpConn> {
  const family = addressFamily(o.hostname);
  const fd = newSocket(family);
  const onAbort = () => fd.close();
  o.signal?.addEventListener("abort", onAbort);
  try {
    if (o.signal?.aborted) throw closedError();
    if (o.ttl) applyTtl(fd.fd, family, o.ttl);
    if (o.password) setMd5(fd.fd, family, o.hostname, o.password);
    if (o.sourceAddress) {
      if (addressFamily(o.sourceAddress) !== family) {
        throw new BgpSocketError(
          "system_call",
          "bind",
          "EAFNOSUPPORT",
          `source address "${o.sourceAddress}" is not of the family of "${o.hostname}"`,
        );
      }
      const sa = encodeSockaddr(o.sourceAddress, 0, family);
      if (lib().bind(fd.fd, sa, sa.length) < 0) throw fail("bind", `to "${o.sourceAddress}"`);
    }
    const sa = encodeSockaddr(o.hostname, o.port, family);
    if (lib().connect(fd.fd, sa, sa.length) < 0) {
      const e = errno();
      if (e !== EINPROGRESS && e !== EINTR) {
        throw fail("connect", `to ${o.hostname} port ${o.port}`, e);
      }
      const timeoutMs = o.timeoutMs ?? 30_000;
      if (!(await fd.wait(POLLOUT, timeoutMs))) {
        throw new BgpSocketError(
          "timeout",
          "connect",
          "ETIMEDOUT",
          `connect to ${o.hostname} port ${o.port}: no answer within ${timeoutMs} ms`,
        );
      }
      const err = new Uint8Array(4);
      if (lib().getsockopt(fd.fd, SOL_SOCKET, SO_ERROR, err, intOption(4)) < 0) {
        throw fail("getsockopt(SO_ERROR)", `on socket ${fd.fd}`);
      }
      const so = readIntOption(err);
      if (so !== 0) throw fail("connect", `to ${o.hostname} port ${o.port}`, so);
    }
    return new FfiTcpConn(fd, family, { hostname: o.hostname, port: o.port });
  } catch (e) {
    fd.close();
    throw e;
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
  }
}

/** Options of a listener. */
export interface FfiListenOptions {
  /** Address to bind (`0.0.0.0`, `::`, ...). */
  readonly hostname: string;
  /** Port (0 picks one). */
  readonly port: number;
  /** TTL settings of the listening socket (the SYN-ACK carries its TTL). */
  readonly ttl?: TtlSettings;
  /** Backlog (default 128). */
  readonly backlog?: number;
  /** Keep each SYN's headers (TCP_SAVE_SYN) so that {@linkcode FfiTcpConn.synTtl} works. */
  readonly saveSyn?: boolean;
}

/**
 * A TCP listener over libc. TCP-MD5 keys are set per peer address ({@linkcode setPassword});
 * accepted connections inherit them.
 */
export class FfiTcpListener implements AsyncIterable<FfiTcpConn> {
  readonly #fd: Fd;
  readonly #family: number;
  readonly #keys = new Map<string, string>();
  /** Bound address. */
  readonly addr: SocketAddress;

  private constructor(fd: Fd, family: number) {
    this.#fd = fd;
    this.#family = family;
    this.addr = getSockaddr(fd.fd, "getsockname");
  }

  /** Binds and listens. Throws {@linkcode BgpSocketError}. */
  static listen(o: FfiListenOptions): FfiTcpListener {
    const family = addressFamily(o.hostname);
    const fd = newSocket(family);
    try {
      setOpt(fd.fd, SOL_SOCKET, SO_REUSEADDR, intOption(1), "SO_REUSEADDR");
      if (o.ttl) applyTtl(fd.fd, family, o.ttl);
      if (o.saveSyn) setOpt(fd.fd, IPPROTO_TCP, TCP_SAVE_SYN, intOption(1), "TCP_SAVE_SYN");
      const sa = encodeSockaddr(o.hostname, o.port, family);
      if (lib().bind(fd.fd, sa, sa.length) < 0) {
        throw fail("bind", `to ${o.hostname} port ${o.port}`);
      }
      if (lib().listen(fd.fd, o.backlog ?? 128) < 0) throw fail("listen", `on socket ${fd.fd}`);
      return new FfiTcpListener(fd, family);
    } catch (e) {
      fd.close();
      throw e;
    }
  }

  /** Socket family of the listener (AF_INET or AF_INET6). */
  get family(): number {
    return this.#family;
  }

  /** Whether connections from `peer` can reach this listener (no IPv6 peer on an IPv4 one). */
  reaches(peer: string): boolean {
    return this.#family === AF_INET6 || addressFamily(peer) === AF_INET;
  }

  /** Peers with a TCP-MD5 key on this listener. */
  get passwordPeers(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * Sets (or with null removes) the TCP-MD5 key for connections from `peer`. Setting the key a
   * peer already has is a no-op. Throws {@linkcode BgpSocketError}.
   */
  setPassword(peer: string, key: string | null): void {
    if ((this.#keys.get(peer) ?? null) === key) return;
    if (this.#family === AF_INET && addressFamily(peer) !== AF_INET) {
      throw new BgpSocketError(
        "system_call",
        "setsockopt(TCP_MD5SIG)",
        "EAFNOSUPPORT",
        `IPv6 peer "${peer}" on an IPv4 listener`,
      );
    }
    setMd5(this.#fd.fd, this.#family, peer, key ?? "");
    if (key === null) this.#keys.delete(peer);
    else this.#keys.set(peer, key);
  }

  /** Waits for the next connection; null once the listener is closed. */
  async accept(): Promise<FfiTcpConn | null> {
    const sa = new Uint8Array(SOCKADDR_STORAGE_SIZE);
    for (;;) {
      if (this.#fd.closed) return null;
      const len = intOption(SOCKADDR_STORAGE_SIZE);
      const fd = lib().accept4(this.#fd.fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        const wake = lib().eventfd(0, EFD_NONBLOCK_CLOEXEC);
        if (wake < 0) {
          const e = fail("eventfd", "for an accepted socket");
          lib().close(fd);
          throw e;
        }
        const accepted = new Fd(fd, wake);
        try {
          return new FfiTcpConn(accepted, this.#family, decodeSockaddr(sa, readIntOption(len)));
        } catch {
          accepted.close(); // its address cannot be read: the peer reset it already
          continue;
        }
      }
      const e = errno();
      if (e === EINTR || e === 103 /* ECONNABORTED */) continue;
      if (e !== EAGAIN) throw fail("accept4", `on ${this.addr.hostname} port ${this.addr.port}`, e);
      try {
        await this.#fd.wait(POLLIN);
      } catch (err) {
        if (err instanceof BgpSocketError && err.code === "closed") return null;
        throw err;
      }
    }
  }

  /** Accepted connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<FfiTcpConn> {
    for (;;) {
      const c = await this.accept();
      if (!c) return;
      yield c;
    }
  }

  /** Closes the listener; a pending accept returns null. Idempotent. */
  close(): void {
    this.#fd.close();
  }
}
