/**
 * NETLINK_ROUTE sockets through libmnl: requests with ACKs, multipart dumps and batches.
 *
 * How it avoids blocking the event loop: the socket is opened with `SOCK_NONBLOCK` and every call
 * is a *synchronous* FFI call that never waits. rtnetlink handles a request inside the
 * `sendmsg(2)` of the sender (the kernel's `netlink_rcv_skb` runs the handler in our syscall),
 * so when `mnl_socket_sendto` returns, every ACK or error of that send is already queued on our
 * socket, and each dump part is produced inside the `recvmsg(2)` that asks for it. Draining with
 * a non-blocking `mnl_socket_recvfrom` until the expected replies are in therefore never sleeps;
 * `EAGAIN` before the last expected reply is a protocol error, not a reason to wait.
 * Large batches are cut into chunks of at most 32 KiB (about 600 routes, a few milliseconds of
 * kernel work; also bounded by how many ACKs fit in the receive buffer), their ACKs are drained
 * with `recvmmsg(2)` (up to 512 per system call, see `mmsg.ts`), and the loop yields to the event
 * loop (`setImmediate`) whenever it has held the thread for 4 ms, so timers, sockets and other
 * actors keep running during a 100,000-route batch.
 * The alternative, `nonblocking: true` FFI calls, moves each call to a thread of Deno's blocking
 * pool. Measured side by side in `bench/netlink_io.ts` (one RTM_GETLINK round trip): about 16 µs
 * per request with synchronous calls (as fast as `ip -batch`), about 70 µs with `nonblocking`
 * calls, because every call hops to a pool thread and back. Waiting for *unsolicited* messages
 * (multicast events) is the one place that must really wait: see `subscription.ts`, which polls on
 * a blocking-pool thread and is woken through an eventfd when closed.
 * A socket runs one exchange (request, dump or batch) at a time, queued in call order, so a
 * request made while a batch is yielding never reads the batch's ACKs.
 * @module
 */

import { setImmediate } from "node:timers";
import { NETLINK_OPT, NLM_F, NLMSG, NLMSG_HDRLEN } from "./constants.ts";
import {
  NetlinkDecodeError,
  NetlinkError,
  NetlinkSystemError,
  type RequestSummary,
} from "./errors.ts";
import {
  EAGAIN,
  EINTR,
  getLibc,
  getMnl,
  intOpt,
  lastErrno,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOL_SOCKET,
} from "./ffi.ts";
import {
  HOST_LE,
  messageTypeName,
  MessageWriter,
  type NetlinkMessage,
  parseDoneMessage,
  parseErrorMessage,
  parseMessages,
} from "./message.ts";
import { openRouteSocket } from "./netns.ts";
import { MMSG_SLOT_BYTES, MultiReceiver } from "./mmsg.ts";

/** Options of {@linkcode NetlinkSocket.open}. */
export interface SocketOptions {
  /** Open the socket inside the network namespace at this path (e.g. `/run/netns/NAME`). */
  netns?: string;
  /** Multicast groups (`RTNLGRP.*` numbers) to join. */
  groups?: number[];
  /** Receive buffer size in bytes (default 8 MiB; forced when privileged). */
  rcvbuf?: number;
  /** Send buffer size in bytes (default 1 MiB). */
  sndbuf?: number;
}

/** Outcome of one request of a batch: `undefined` for success. */
export type BatchOutcome = NetlinkError | undefined;

/** Result of {@linkcode NetlinkSocket.batch}. */
export interface BatchResult {
  /** Number of requests sent. */
  sent: number;
  /** Number of requests that failed. */
  failed: number;
  /** One entry per request, in order: `undefined` (ACK) or the kernel's error. */
  outcomes: BatchOutcome[];
  /** Number of `sendmsg` calls used. */
  sends: number;
}

const RECV_BUF = 64 * 1024;
const RECV_BUF_N = BigInt(RECV_BUF);
/** Bytes of receive buffer one queued ACK costs (skb truesize, rounded up generously). */
const ACK_COST = 1280;
/** Upper bound of bytes per send (about 600 routes, a few milliseconds of kernel work). */
const MAX_CHUNK_BYTES = 32 * 1024;
/** The batch loop yields to the event loop once it has held the thread this long. */
const YIELD_AFTER_MS = 4;

/**
 * Yields to the event loop (I/O callbacks and other actors get to run). `setImmediate`, not
 * `setTimeout(0)`: nested zero timeouts are clamped to milliseconds.
 */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A NETLINK_ROUTE socket (libmnl `struct mnl_socket`), non-blocking.
 *
 * ```ts
 * const sock = NetlinkSocket.open({ netns: "/run/netns/tn-x" });
 * try {
 *   const links = await sock.dump((w, seq) => writeGetLink(w, 0, seq), parseLink);
 * } finally {
 *   sock.close();
 * }
 * ```
 */
export class NetlinkSocket {
  #nl: Deno.PointerObject | null;
  #seq: number;
  #recvBuf = new Uint8Array(RECV_BUF);
  #writer = new MessageWriter(1024);
  #multi: MultiReceiver | undefined;
  /** Tail of the queue of exchanges: one request, dump or batch at a time per socket. */
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  /** Set while an exchange runs; left set when one ends abnormally (replies may be queued). */
  #unclean = false;
  #rcvbuf: number;
  #sndbuf: number;
  /** Port id the kernel assigned to this socket. */
  readonly portId: number;
  /** The socket's file descriptor. */
  readonly fd: number;
  /** The namespace path it was opened in, if any. */
  readonly netns: string | undefined;

  private constructor(nl: Deno.PointerObject, netns: string | undefined, rcv: number, snd: number) {
    this.#nl = nl;
    this.netns = netns;
    const mnl = getMnl();
    this.fd = mnl.mnl_socket_get_fd(nl);
    this.portId = mnl.mnl_socket_get_portid(nl);
    this.#seq = (Date.now() & 0x3fffffff) >>> 0;
    this.#rcvbuf = rcv;
    this.#sndbuf = snd;
  }

  /**
   * Opens and binds a socket (inside `opts.netns` when given). Throws
   * {@linkcode NetlinkSystemError}, or {@linkcode NamespaceNotFoundError} for a missing namespace.
   */
  static open(opts: SocketOptions = {}): NetlinkSocket {
    const mnl = getMnl();
    const nl = openRouteSocket(opts.netns);
    try {
      let groups = 0;
      const extra: number[] = [];
      for (const g of opts.groups ?? []) {
        if (g >= 1 && g <= 32) groups |= 1 << (g - 1);
        else extra.push(g);
      }
      if (mnl.mnl_socket_bind(nl, groups >>> 0, 0) < 0) {
        throw new NetlinkSystemError("socket_failed", "mnl_socket_bind failed", lastErrno());
      }
      for (const g of extra) {
        if (mnl.mnl_socket_setsockopt(nl, NETLINK_OPT.ADD_MEMBERSHIP, intOpt(g), 4) < 0) {
          throw new NetlinkSystemError("socket_failed", `Cannot join group ${g}`, lastErrno());
        }
      }
      // Small error replies (no echoed request), kernel error strings, strict dump filtering.
      mnl.mnl_socket_setsockopt(nl, NETLINK_OPT.CAP_ACK, intOpt(1), 4);
      mnl.mnl_socket_setsockopt(nl, NETLINK_OPT.EXT_ACK, intOpt(1), 4);
      mnl.mnl_socket_setsockopt(nl, NETLINK_OPT.GET_STRICT_CHK, intOpt(1), 4);
      const fd = mnl.mnl_socket_get_fd(nl);
      const rcv = setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, opts.rcvbuf ?? 8 << 20);
      const snd = setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, opts.sndbuf ?? 1 << 20);
      return new NetlinkSocket(nl, opts.netns, rcv, snd);
    } catch (e) {
      mnl.mnl_socket_close(nl);
      throw e;
    }
  }

  /** True until {@linkcode close}. */
  get open(): boolean {
    return this.#nl !== null;
  }

  /** Next sequence number (wraps at 2^32, skipping 0). */
  nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    if (this.#seq === 0) this.#seq = 1;
    return this.#seq;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#nl) {
      getMnl().mnl_socket_close(this.#nl);
      this.#nl = null;
    }
  }

  #socket(): Deno.PointerObject {
    if (!this.#nl) throw new NetlinkSystemError("socket_closed", "Netlink socket is closed");
    return this.#nl;
  }

  /** Sends raw bytes (one or more complete messages). */
  #send(bytes: Uint8Array): void {
    const nl = this.#socket();
    for (;;) {
      const n = Number(
        getMnl().mnl_socket_sendto(nl, bytes as Uint8Array<ArrayBuffer>, BigInt(bytes.length)),
      );
      if (n >= 0) return;
      const errno = lastErrno();
      if (errno === EINTR) continue;
      throw new NetlinkSystemError("send_failed", "mnl_socket_sendto failed", errno);
    }
  }

  /** Receives one datagram without waiting; `null` when nothing is queued. */
  #recv(): NetlinkMessage[] | null {
    const nl = this.#socket();
    for (;;) {
      const n = Number(getMnl().mnl_socket_recvfrom(nl, this.#recvBuf, RECV_BUF_N));
      if (n >= 0) return parseMessages(this.#recvBuf.subarray(0, n));
      const errno = lastErrno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return null;
      throw new NetlinkSystemError("recv_failed", "mnl_socket_recvfrom failed", errno);
    }
  }

  /** Drops whatever is queued (stale replies of an earlier failed exchange). */
  #drainStale(): void {
    if (!this.#unclean) return;
    while (this.#recv() !== null) { /* discard */ }
    this.#unclean = false;
  }

  /**
   * Runs exchanges one at a time: a dump or batch yields to the event loop between parts, and
   * another caller's request must not read its replies in between.
   */
  async #exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const prev = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => (release = r));
    this.#queued++;
    try {
      await prev;
      return await fn();
    } finally {
      this.#queued--;
      release();
    }
  }

  /**
   * Sends one request built by `build` with `NLM_F_ACK` and returns the reply messages that
   * came before the ACK (e.g. the link of a `RTM_GETLINK` by name). Throws
   * {@linkcode NetlinkError} with the errno name and `subject` when the kernel refuses.
   */
  request(
    build: (w: MessageWriter, seq: number) => void,
    subject?: unknown,
  ): Promise<NetlinkMessage[]> {
    return this.#exclusive(() => this.#requestNow(build, subject));
  }

  /**
   * Synchronous form of {@linkcode request} (it never waits; see the module comment). Throws
   * {@linkcode NetlinkSystemError} (`socket_busy`) while a dump or batch is under way.
   */
  requestSync(build: (w: MessageWriter, seq: number) => void, subject?: unknown): NetlinkMessage[] {
    if (this.#queued) {
      throw new NetlinkSystemError("socket_busy", "A dump or batch is under way on this socket");
    }
    return this.#requestNow(build, subject);
  }

  /** Readies the socket and has `build` write one exchange's request into the reset writer. */
  #begin(build: (w: MessageWriter, seq: number) => void): { w: MessageWriter; seq: number } {
    this.#socket();
    this.#drainStale();
    const w = this.#writer;
    w.reset();
    const seq = this.nextSeq();
    build(w, seq);
    return { w, seq };
  }

  #requestNow(build: (w: MessageWriter, seq: number) => void, subject?: unknown): NetlinkMessage[] {
    const { w, seq } = this.#begin(build);
    if (w.count !== 1) throw new Error("request: the builder must write exactly one message");
    const bytes = w.bytes();
    setAckFlag(bytes, 0);
    const summary = summarize(bytes, 0, subject);
    this.#unclean = true;
    this.#send(bytes);
    const replies: NetlinkMessage[] = [];
    for (;;) {
      const ms = this.#recv();
      if (ms === null) {
        throw new NetlinkSystemError(
          "recv_failed",
          `No answer queued for ${summary.typeName} seq ${seq}`,
          EAGAIN,
        );
      }
      for (const m of ms) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG.ERROR) {
          const e = parseErrorMessage(m.payload, m.flags);
          this.#unclean = false; // the ACK or error is the last reply
          if (e.errno !== 0) throw new NetlinkError(e.errno, summary, e.extack);
          return replies;
        }
        replies.push(copyMessage(m));
      }
    }
  }

  /**
   * Sends a dump request built by `build` and returns every message of the multipart answer,
   * decoded by `parse` (messages of other types are skipped). Yields to the event loop every
   * few hundred parts.
   */
  dump<T>(
    build: (w: MessageWriter, seq: number) => void,
    parse: (m: NetlinkMessage) => T,
    accept?: (m: NetlinkMessage) => boolean,
  ): Promise<T[]> {
    // A dump the kernel marks inconsistent (NLM_F_DUMP_INTR: the table changed under it) is
    // read to its end and started again, a few times at most.
    return this.#exclusive(async () => {
      for (let attempt = 1;; attempt++) {
        const r = await this.#dumpOnce(build, parse, accept);
        if (!r.interrupted) return r.out;
        if (attempt >= 3) {
          throw new NetlinkError(4, { ...r.summary, subject: "dump interrupted 3 times" });
        }
      }
    });
  }

  async #dumpOnce<T>(
    build: (w: MessageWriter, seq: number) => void,
    parse: (m: NetlinkMessage) => T,
    accept?: (m: NetlinkMessage) => boolean,
  ): Promise<{ out: T[]; interrupted: boolean; summary: RequestSummary }> {
    const { w, seq } = this.#begin(build);
    const bytes = w.bytes();
    const summary = summarize(bytes, 0, undefined);
    this.#unclean = true;
    this.#send(bytes);
    const out: T[] = [];
    let interrupted = false;
    let parts = 0;
    for (;;) {
      const ms = this.#recv();
      if (ms === null) {
        throw new NetlinkSystemError(
          "recv_failed",
          `Dump ${summary.typeName} seq ${seq} ended without NLMSG_DONE`,
          EAGAIN,
        );
      }
      for (const m of ms) {
        if (m.seq !== seq) continue;
        if (m.flags & NLM_F.DUMP_INTR) interrupted = true;
        if (m.type === NLMSG.DONE) {
          const errno = parseDoneMessage(m.payload);
          this.#unclean = false;
          if (errno) throw new NetlinkError(errno, summary);
          return { out, interrupted, summary };
        }
        if (m.type === NLMSG.ERROR) {
          const e = parseErrorMessage(m.payload, m.flags);
          this.#unclean = false;
          if (e.errno !== 0) throw new NetlinkError(e.errno, summary, e.extack);
          return { out, interrupted, summary };
        }
        if (interrupted || (accept && !accept(m))) continue;
        out.push(parse(m));
      }
      if (++parts % 256 === 0) await yieldToLoop();
    }
  }

  /**
   * Sends every message in `w` (each gets `NLM_F_ACK`) in as few `sendmsg` calls as the socket
   * buffers allow, and matches each ACK or error back to its request by sequence number.
   * `subjects[i]` (optional) is attached to the error of request `i`. Never throws for a
   * refused request: see {@linkcode BatchResult.outcomes}. Throws
   * {@linkcode NetlinkSystemError} when the socket itself fails.
   */
  batch(w: MessageWriter, subjects?: readonly unknown[]): Promise<BatchResult> {
    return this.#exclusive(() => this.#batchNow(w, subjects));
  }

  async #batchNow(w: MessageWriter, subjects?: readonly unknown[]): Promise<BatchResult> {
    this.#socket();
    this.#drainStale();
    this.#unclean = true;
    const bytes = w.bytes();
    const starts = w.starts;
    const n = starts.length;
    const outcomes: BatchOutcome[] = new Array(n).fill(undefined);
    const result: BatchResult = { sent: 0, failed: 0, outcomes, sends: 0 };
    const maxBytes = Math.min(MAX_CHUNK_BYTES, this.#sndbuf - 1024);
    const maxMsgs = Math.max(1, Math.floor(this.#rcvbuf / ACK_COST));
    const seqIndex = new Map<number, number>();
    let i = 0;
    let heldSince = performance.now();
    while (i < n) {
      let j = i;
      const from = starts[i];
      while (j < n && j - i < maxMsgs) {
        const end = j + 1 < n ? starts[j + 1] : bytes.length;
        if (end - from > maxBytes && j > i) break;
        j++;
      }
      const to = j < n ? starts[j] : bytes.length;
      // Sequence numbers written by one writer are normally consecutive: index by arithmetic,
      // fall back to a map otherwise.
      const firstSeq = w.seqAt(starts[i]);
      let consecutive = true;
      seqIndex.clear();
      for (let k = i; k < j; k++) {
        setAckFlag(bytes, starts[k]);
        if (w.seqAt(starts[k]) !== ((firstSeq + (k - i)) >>> 0)) consecutive = false;
      }
      if (!consecutive) { for (let k = i; k < j; k++) seqIndex.set(w.seqAt(starts[k]), k); }
      const answered = new Uint8Array(j - i);
      this.#send(bytes.subarray(from, to));
      result.sends++;
      let pending = j - i;
      const mr = this.#multi ??= new MultiReceiver(this.fd);
      const dv = mr.view;
      while (pending > 0) {
        const got = mr.receive();
        if (got === 0) {
          throw new NetlinkSystemError(
            "recv_failed",
            `Batch: ${pending} of ${j - i} acknowledgements missing`,
            EAGAIN,
          );
        }
        for (let d = 0; d < got; d++) {
          const base = d * MMSG_SLOT_BYTES;
          const len = Math.min(mr.length(d), MMSG_SLOT_BYTES);
          let off = 0;
          while (off + NLMSG_HDRLEN + 4 <= len) {
            const mlen = dv.getUint32(base + off, HOST_LE);
            if (mlen < NLMSG_HDRLEN) break;
            const type = dv.getUint16(base + off + 4, HOST_LE);
            const seq = dv.getUint32(base + off + 8, HOST_LE);
            if (type === NLMSG.ERROR) {
              const rel = consecutive ? ((seq - firstSeq) >>> 0) : (seqIndex.get(seq) ?? -1) - i;
              if (rel >= 0 && rel < j - i && answered[rel] === 0) {
                answered[rel] = 1;
                pending--;
                const err = dv.getInt32(base + off + NLMSG_HDRLEN, HOST_LE);
                if (err !== 0) {
                  const k = i + rel;
                  let extack: string | undefined;
                  try {
                    const flags = dv.getUint16(base + off + 6, HOST_LE);
                    const end = Math.min(base + off + mlen, base + len);
                    extack = parseErrorMessage(
                      mr.data.subarray(base + off + NLMSG_HDRLEN, end),
                      flags,
                    ).extack;
                  } catch {
                    // a truncated extended ACK: the errno is what matters
                  }
                  outcomes[k] = new NetlinkError(
                    -err,
                    summarize(bytes, starts[k], subjects?.[k]),
                    extack,
                  );
                  result.failed++;
                }
              }
            }
            off += (mlen + 3) & ~3;
          }
        }
      }
      result.sent += j - i;
      i = j;
      if (i === n) this.#unclean = false;
      if (i < n && performance.now() - heldSince >= YIELD_AFTER_MS) {
        await yieldToLoop();
        heldSince = performance.now();
      }
    }
    return result;
  }

  /** Effective receive and send buffer sizes asked for. */
  get buffers(): { rcvbuf: number; sndbuf: number } {
    return { rcvbuf: this.#rcvbuf, sndbuf: this.#sndbuf };
  }
}

function setBuffer(fd: number, force: number, plain: number, size: number): number {
  const libc = getLibc();
  const v = intOpt(size);
  if (libc.setsockopt(fd, SOL_SOCKET, force, v, 4) === 0) return size;
  if (libc.setsockopt(fd, SOL_SOCKET, plain, v, 4) === 0) {
    // capped by net.core.{r,w}mem_max; assume the default when unprivileged
    return Math.min(size, 212992);
  }
  return 212992;
}

function setAckFlag(bytes: Uint8Array, at: number): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  v.setUint16(6, v.getUint16(6, HOST_LE) | NLM_F.ACK, HOST_LE);
}

function summarize(bytes: Uint8Array, at: number, subject: unknown): RequestSummary {
  if (bytes.length < at + 16) throw new NetlinkDecodeError("Request shorter than a header", at);
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, 16);
  const type = v.getUint16(4, HOST_LE);
  const s: RequestSummary = {
    type,
    typeName: messageTypeName(type),
    flags: v.getUint16(6, HOST_LE),
    seq: v.getUint32(8, HOST_LE),
  };
  if (subject !== undefined) s.subject = subject;
  return s;
}

function copyMessage(m: NetlinkMessage): NetlinkMessage {
  return { ...m, payload: m.payload.slice() };
}
