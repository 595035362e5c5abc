/**
 * Receiving many small datagrams (ACKs) in one system call with `recvmmsg(2)` on the socket's fd.
 *
 * Draining 100,000 ACKs one `mnl_socket_recvfrom` at a time costs a system call and an FFI
 * transition each (about 3 µs); `recvmmsg` takes up to {@linkcode MMSG_SLOTS} datagrams per call
 * into fixed slots of one buffer, and the caller reads them in place without allocating.
 * Linux x86-64 / aarch64 layout: `struct iovec` 16 bytes, `struct msghdr` 56, `struct mmsghdr` 64.
 * @module
 */

import { EAGAIN, EINTR, getLibc, lastErrno, MSG_DONTWAIT } from "./ffi.ts";
import { NetlinkSystemError } from "./errors.ts";
import { HOST_LE } from "./message.ts";

/** Datagrams per `recvmmsg` call. */
export const MMSG_SLOTS = 512;
/** Bytes per slot: an ACK is 36 bytes, an error with an extended-ACK message a few hundred. */
export const MMSG_SLOT_BYTES = 1024;
const MMSGHDR = 64;
const IOVEC = 16;

/** Fixed buffers for `recvmmsg` on one socket. */
export class MultiReceiver {
  /** The slots: datagram `i` starts at `i * MMSG_SLOT_BYTES`. */
  readonly data = new Uint8Array(MMSG_SLOTS * MMSG_SLOT_BYTES);
  /** A view of {@linkcode data}. */
  readonly view = new DataView(this.data.buffer);
  readonly #hdrs = new Uint8Array(MMSG_SLOTS * MMSGHDR);
  readonly #iovs = new Uint8Array(MMSG_SLOTS * IOVEC);
  readonly #hv = new DataView(this.#hdrs.buffer);
  readonly #fd: number;

  /** Prepares the headers for socket `fd`. */
  constructor(fd: number) {
    this.#fd = fd;
    const dataPtr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.data)));
    const iovPtr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#iovs)));
    const iv = new DataView(this.#iovs.buffer);
    for (let i = 0; i < MMSG_SLOTS; i++) {
      iv.setBigUint64(i * IOVEC, dataPtr + BigInt(i * MMSG_SLOT_BYTES), HOST_LE);
      iv.setBigUint64(i * IOVEC + 8, BigInt(MMSG_SLOT_BYTES), HOST_LE);
      const h = i * MMSGHDR;
      // msg_name NULL, msg_namelen 0, msg_iov, msg_iovlen 1, no control
      this.#hv.setBigUint64(h + 16, iovPtr + BigInt(i * IOVEC), HOST_LE);
      this.#hv.setBigUint64(h + 24, 1n, HOST_LE);
    }
  }

  /**
   * Receives up to {@linkcode MMSG_SLOTS} queued datagrams without waiting; returns how many
   * (0 when none is queued). Throws {@linkcode NetlinkSystemError} on a socket error
   * (e.g. `ENOBUFS` when the receive queue overflowed).
   */
  receive(): number {
    for (;;) {
      const n = getLibc().recvmmsg(this.#fd, this.#hdrs, MMSG_SLOTS, MSG_DONTWAIT, null);
      if (n >= 0) return n;
      const errno = lastErrno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return 0;
      throw new NetlinkSystemError("recv_failed", "recvmmsg failed", errno);
    }
  }

  /** Length of datagram `i` of the last {@linkcode receive}. */
  length(i: number): number {
    return this.#hv.getUint32(i * MMSGHDR + 56, HOST_LE);
  }

  /** `msg_flags` of datagram `i` (e.g. `MSG_TRUNC`). */
  flags(i: number): number {
    return this.#hv.getInt32(i * MMSGHDR + 48, HOST_LE);
  }
}
