/**
 * Multicast subscriptions (route and link change groups), so changes made by others are seen.
 *
 * Waiting is the one thing that cannot be done synchronously: the subscription calls `poll(2)`
 * as a `nonblocking: true` FFI call, which runs on a thread of Deno's blocking pool and resolves a
 * promise when the socket is readable. It polls two fds: the netlink socket and an `eventfd`
 * that {@linkcode Subscription.close} writes to, so closing wakes the waiting thread at once
 * (no timeout loop, nothing left pending for the op sanitizer). Once readable, the queue is
 * drained with synchronous non-blocking receives on the JS thread.
 * @module
 */

import { NetlinkSystemError } from "./errors.ts";
import {
  EAGAIN,
  EFD_FLAGS,
  EINTR,
  ENOBUFS,
  getLibc,
  getMnl,
  intOpt,
  lastErrno,
  POLLIN,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOL_SOCKET,
} from "./ffi.ts";
import { HOST_LE, type NetlinkMessage, parseMessages } from "./message.ts";
import { openRouteSocket } from "./netns.ts";

/** What a subscription delivers: a run of messages, or word that some were lost. */
export type SubscriptionEvent =
  | { type: "messages"; messages: NetlinkMessage[] }
  | { type: "overrun" };

/** Options of {@linkcode Subscription.open}. */
export interface SubscriptionOptions {
  /** `RTNLGRP.*` group numbers to join. */
  groups: number[];
  /** Subscribe inside the network namespace at this path. */
  netns?: string;
  /**
   * Port ids whose changes are not delivered (a classic BPF socket filter drops them in the
   * kernel, before they are queued): pass the port id of your own request socket so that your
   * own changes are not echoed back to you, as FRR's zebra does.
   */
  ignorePortIds?: number[];
  /** Receive buffer in bytes (default 64 MiB, a limit, not an allocation). */
  rcvbuf?: number;
}

const RECV_BUF = 64 * 1024;
const SO_ATTACH_FILTER = 26;

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/**
 * Attaches a classic BPF program that drops every datagram whose first `nlmsg_pid` (offset 12,
 * host order; `BPF_ABS` loads read big-endian, hence the byte swap on little-endian hosts) is one
 * of `pids`, and accepts everything else.
 */
function attachPortFilter(fd: number, pids: number[]): void {
  // ld [12]; for each pid: jeq #pid → drop; ret #-1 (accept); ret #0 (drop)
  const n = pids.length;
  const prog = new Uint8Array(8 * (n + 3));
  const v = new DataView(prog.buffer);
  const put = (i: number, code: number, jt: number, jf: number, k: number) => {
    v.setUint16(i * 8, code, HOST_LE);
    v.setUint8(i * 8 + 2, jt);
    v.setUint8(i * 8 + 3, jf);
    v.setUint32(i * 8 + 4, k >>> 0, HOST_LE);
  };
  put(0, 0x20, 0, 0, 12); // BPF_LD | BPF_W | BPF_ABS
  for (let i = 0; i < n; i++) {
    const k = HOST_LE ? bswap32(pids[i]) : pids[i] >>> 0;
    put(1 + i, 0x15, n - i, 0, k); // BPF_JMP | BPF_JEQ | BPF_K: equal → the drop at the end
  }
  put(n + 1, 0x06, 0, 0, 0xffffffff); // BPF_RET | BPF_K: accept
  put(n + 2, 0x06, 0, 0, 0); // drop
  const fprog = new Uint8Array(16); // struct sock_fprog { u16 len; struct sock_filter *filter; }
  const fv = new DataView(fprog.buffer);
  fv.setUint16(0, n + 3, HOST_LE);
  fv.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(prog))), HOST_LE);
  if (getLibc().setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, 16) !== 0) {
    throw new NetlinkSystemError("socket_failed", "SO_ATTACH_FILTER failed", lastErrno());
  }
}
const RECV_BUF_N = BigInt(RECV_BUF);

/**
 * A netlink socket joined to multicast groups, delivering events to a callback until closed.
 *
 * ```ts
 * const sub = Subscription.open({ groups: [RTNLGRP.IPV4_ROUTE] }, (ev) => console.log(ev));
 * // …
 * await sub.close();
 * ```
 */
export class Subscription {
  #nl: Deno.PointerObject | null;
  #efd: number;
  #fds = new Uint8Array(16);
  #buf = new Uint8Array(RECV_BUF);
  #closing = false;
  #loop: Promise<void>;
  #onEvent: (ev: SubscriptionEvent) => void;
  /** Messages delivered so far. */
  received = 0;
  /** Overruns seen so far. */
  overruns = 0;

  private constructor(
    nl: Deno.PointerObject,
    efd: number,
    onEvent: (ev: SubscriptionEvent) => void,
  ) {
    this.#nl = nl;
    this.#efd = efd;
    this.#onEvent = onEvent;
    const v = new DataView(this.#fds.buffer);
    v.setInt32(0, getMnl().mnl_socket_get_fd(nl), HOST_LE);
    v.setInt16(4, POLLIN, HOST_LE);
    v.setInt32(8, efd, HOST_LE);
    v.setInt16(12, POLLIN, HOST_LE);
    this.#loop = this.#run();
    this.#loop.catch(() => {}); // observed through `done` and `close`
  }

  /** Opens the socket, joins the groups and starts delivering events to `onEvent`. */
  static open(
    opts: SubscriptionOptions,
    onEvent: (ev: SubscriptionEvent) => void,
  ): Subscription {
    const mnl = getMnl();
    const libc = getLibc();
    const nl = openRouteSocket(opts.netns);
    let efd = -1;
    try {
      let groups = 0;
      for (const g of opts.groups) {
        if (!Number.isInteger(g) || g < 1 || g > 32) {
          throw new NetlinkSystemError("socket_failed", `Unsupported group ${JSON.stringify(g)}`);
        }
        groups |= 1 << (g - 1);
      }
      if (mnl.mnl_socket_bind(nl, groups >>> 0, 0) < 0) {
        throw new NetlinkSystemError("socket_failed", "mnl_socket_bind failed", lastErrno());
      }
      const fd = mnl.mnl_socket_get_fd(nl);
      const size = intOpt(opts.rcvbuf ?? 64 << 20);
      if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) !== 0) {
        libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
      }
      if (opts.ignorePortIds?.length) attachPortFilter(fd, opts.ignorePortIds);
      efd = libc.eventfd(0, EFD_FLAGS);
      if (efd < 0) throw new NetlinkSystemError("socket_failed", "eventfd failed", lastErrno());
      return new Subscription(nl, efd, onEvent);
    } catch (e) {
      if (efd >= 0) libc.close(efd);
      mnl.mnl_socket_close(nl);
      throw e;
    }
  }

  async #run(): Promise<void> {
    const libc = getLibc();
    const mnl = getMnl();
    const view = new DataView(this.#fds.buffer);
    try {
      while (!this.#closing) {
        view.setInt16(6, 0, HOST_LE);
        view.setInt16(14, 0, HOST_LE);
        const r = await libc.poll_async(this.#fds, 2n, -1);
        if (this.#closing) break;
        if (r < 0) continue; // EINTR on the pool thread; poll again
        const nl = this.#nl;
        if (!nl) break;
        const batch: NetlinkMessage[] = [];
        for (;;) {
          const n = Number(mnl.mnl_socket_recvfrom(nl, this.#buf, RECV_BUF_N));
          if (n < 0) {
            const errno = lastErrno();
            if (errno === EINTR) continue;
            if (errno === EAGAIN) break;
            if (errno === ENOBUFS) {
              this.overruns++;
              this.#deliver(batch);
              batch.length = 0;
              this.#safe({ type: "overrun" });
              continue;
            }
            throw new NetlinkSystemError("recv_failed", "Subscription receive failed", errno);
          }
          for (const m of parseMessages(this.#buf.subarray(0, n))) {
            batch.push({ ...m, payload: m.payload.slice() });
          }
        }
        this.#deliver(batch);
      }
    } finally {
      this.#release();
    }
  }

  #deliver(batch: NetlinkMessage[]): void {
    if (batch.length === 0) return;
    this.received += batch.length;
    this.#safe({ type: "messages", messages: batch.slice() });
  }

  #safe(ev: SubscriptionEvent): void {
    try {
      this.#onEvent(ev);
    } catch {
      // the consumer's failure is the consumer's; the subscription goes on
    }
  }

  #release(): void {
    const libc = getLibc();
    if (this.#nl) {
      getMnl().mnl_socket_close(this.#nl);
      this.#nl = null;
    }
    if (this.#efd >= 0) {
      libc.close(this.#efd);
      this.#efd = -1;
    }
  }

  /** Stops delivering, wakes the waiting poll and releases the socket; resolves when done. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      const one = new Uint8Array(8);
      new DataView(one.buffer).setBigUint64(0, 1n, HOST_LE);
      if (this.#efd >= 0) getLibc().write(this.#efd, one, 8n);
    }
    try {
      await this.#loop;
    } catch {
      // a receive failure already ended the loop; closing is still clean
    }
  }

  /** Resolves or rejects when the delivery loop ends (on close or on a socket failure). */
  get done(): Promise<void> {
    return this.#loop;
  }
}
