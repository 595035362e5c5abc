/**
 * Netlink framing (pure): `struct nlmsghdr`, `struct rtattr` (nested too), a growable writer that
 * packs many messages into one buffer for a batched send, and parsers for received buffers,
 * `NLMSG_ERROR` (ACKs, errnos and extended ACK messages) and `NLMSG_DONE`.
 *
 * Netlink uses host byte order; the writer and parsers follow the host's endianness.
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  NLA_F_NESTED,
  NLA_TYPE_MASK,
  NLM_F,
  NLMSG,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR,
  NLMSGERR_LEN,
  RTM,
} from "./constants.ts";
import { type InputErrorCode, NetlinkDecodeError, NetlinkInputError } from "./errors.ts";

/** True on little-endian hosts (netlink integers are in host order). */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Rounds up to the 4-byte netlink alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Largest message the writer accepts (nlmsg_len is 32 bits, but the kernel caps sends lower). */
const MAX_MESSAGE = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A growable buffer of concatenated netlink messages.
 *
 * ```ts
 * const w = new MessageWriter();
 * w.beginMessage(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP, 1);
 * w.zeros(16); // struct ifinfomsg
 * w.endMessage();
 * const bytes = w.bytes();
 * ```
 */
export class MessageWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;
  #msgStart = -1;
  #nests: number[] = [];
  /** Start offsets of complete messages, in order. */
  readonly starts: number[] = [];

  /** Creates a writer with an initial capacity in bytes. */
  constructor(capacity = 4096) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** Number of complete messages written. */
  get count(): number {
    return this.starts.length;
  }

  /** Forgets everything written (keeps the allocation). */
  reset(): void {
    this.#pos = 0;
    this.#msgStart = -1;
    this.#nests.length = 0;
    this.starts.length = 0;
  }

  /** A view of the bytes written (valid until the next write). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  #ensure(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Starts a message; fill the fixed header and attributes, then call {@linkcode endMessage}. */
  beginMessage(type: number, flags: number, seq: number, pid = 0): void {
    if (this.#msgStart !== -1) throw new Error("beginMessage: previous message not ended");
    this.#ensure(NLMSG_HDRLEN);
    this.#msgStart = this.#pos;
    const v = this.#view;
    const p = this.#pos;
    v.setUint32(p, 0, HOST_LE);
    v.setUint16(p + 4, type, HOST_LE);
    v.setUint16(p + 6, flags, HOST_LE);
    v.setUint32(p + 8, seq >>> 0, HOST_LE);
    v.setUint32(p + 12, pid >>> 0, HOST_LE);
    this.#pos += NLMSG_HDRLEN;
  }

  /** Ends the current message, writing its length; returns the message's bytes as a view. */
  endMessage(): Uint8Array {
    const start = this.#msgStart;
    if (start === -1) throw new Error("endMessage: no message begun");
    if (this.#nests.length) throw new Error("endMessage: nested attribute not ended");
    const len = this.#pos - start;
    if (len > MAX_MESSAGE) {
      this.#pos = start;
      this.#msgStart = -1;
      throw new NetlinkInputError(
        "message_too_large",
        `Netlink message of ${len} bytes is too large`,
        len,
      );
    }
    this.#view.setUint32(start, len, HOST_LE);
    this.#msgStart = -1;
    this.starts.push(start);
    return this.#buf.subarray(start, this.#pos);
  }

  /** Drops the message being written (after a validation error). */
  abortMessage(): void {
    if (this.#msgStart === -1) return;
    this.#pos = this.#msgStart;
    this.#msgStart = -1;
    this.#nests.length = 0;
  }

  /** Sequence number of the message starting at byte `offset`. */
  seqAt(offset: number): number {
    return this.#view.getUint32(offset + 8, HOST_LE);
  }

  /** Appends `n` zero bytes. */
  zeros(n: number): void {
    this.#ensure(n);
    this.#buf.fill(0, this.#pos, this.#pos + n);
    this.#pos += n;
  }

  /** Appends one byte. */
  u8(v: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = v;
  }

  /** Appends a host-order 16-bit integer. */
  u16(v: number): void {
    this.#ensure(2);
    this.#view.setUint16(this.#pos, v, HOST_LE);
    this.#pos += 2;
  }

  /** Appends a host-order 32-bit unsigned integer. */
  u32(v: number): void {
    this.#ensure(4);
    this.#view.setUint32(this.#pos, v >>> 0, HOST_LE);
    this.#pos += 4;
  }

  /** Appends a host-order 32-bit signed integer. */
  s32(v: number): void {
    this.#ensure(4);
    this.#view.setInt32(this.#pos, v | 0, HOST_LE);
    this.#pos += 4;
  }

  /** Appends raw bytes and pads to 4-byte alignment. */
  raw(b: Uint8Array): void {
    const padded = align4(b.length);
    this.#ensure(padded);
    this.#buf.set(b, this.#pos);
    this.#buf.fill(0, this.#pos + b.length, this.#pos + padded);
    this.#pos += padded;
  }

  /** Pads to 4-byte alignment. */
  pad(): void {
    const p = align4(this.#pos);
    if (p !== this.#pos) this.zeros(p - this.#pos);
  }

  #attrHeader(type: number, payloadLen: number): void {
    this.#ensure(4 + align4(payloadLen));
    this.#view.setUint16(this.#pos, 4 + payloadLen, HOST_LE);
    this.#view.setUint16(this.#pos + 2, type, HOST_LE);
    this.#pos += 4;
  }

  /** Appends an attribute with a raw payload. */
  attrBytes(type: number, payload: Uint8Array): void {
    this.#attrHeader(type, payload.length);
    this.raw(payload);
  }

  /** Appends an attribute whose payload is the first `len` bytes of `src` (no view allocated). */
  attrBytesFrom(type: number, src: Uint8Array, len: number): void {
    this.#attrHeader(type, len);
    const padded = align4(len);
    for (let i = 0; i < len; i++) this.#buf[this.#pos + i] = src[i];
    for (let i = len; i < padded; i++) this.#buf[this.#pos + i] = 0;
    this.#pos += padded;
  }

  /** Appends an attribute holding one byte. */
  attrU8(type: number, v: number): void {
    this.#attrHeader(type, 1);
    this.#buf[this.#pos] = v;
    this.#buf[this.#pos + 1] = 0;
    this.#buf[this.#pos + 2] = 0;
    this.#buf[this.#pos + 3] = 0;
    this.#pos += 4;
  }

  /** Appends an attribute holding a host-order 16-bit integer. */
  attrU16(type: number, v: number): void {
    this.#attrHeader(type, 2);
    this.#view.setUint32(this.#pos, 0);
    this.#view.setUint16(this.#pos, v, HOST_LE);
    this.#pos += 4;
  }

  /** Appends an attribute holding a host-order 32-bit unsigned integer. */
  attrU32(type: number, v: number): void {
    this.#attrHeader(type, 4);
    this.#view.setUint32(this.#pos, v >>> 0, HOST_LE);
    this.#pos += 4;
  }

  /** Appends an attribute holding a host-order 32-bit signed integer. */
  attrS32(type: number, v: number): void {
    this.#attrHeader(type, 4);
    this.#view.setInt32(this.#pos, v | 0, HOST_LE);
    this.#pos += 4;
  }

  /** Appends a NUL-terminated string attribute. */
  attrString(type: number, s: string): void {
    const b = encoder.encode(s);
    this.#attrHeader(type, b.length + 1);
    this.#buf.set(b, this.#pos);
    const end = this.#pos + align4(b.length + 1);
    this.#buf.fill(0, this.#pos + b.length, end);
    this.#pos = end;
  }

  /** Opens a nested attribute; returns its offset for {@linkcode endNested}. */
  beginNested(type: number, flagNested = false): number {
    this.#ensure(4);
    const at = this.#pos;
    this.#view.setUint16(at + 2, flagNested ? type | NLA_F_NESTED : type, HOST_LE);
    this.#pos += 4;
    this.#nests.push(at);
    return at;
  }

  /** Closes the innermost nested attribute, writing its length. */
  endNested(): void {
    const at = this.#nests.pop();
    if (at === undefined) throw new Error("endNested: no nested attribute open");
    this.#view.setUint16(at, this.#pos - at, HOST_LE);
    this.pad();
  }

  /** Opens a nested raw structure (e.g. `struct rtnexthop`) whose 16-bit length is at `at`. */
  beginStruct(): number {
    const at = this.#pos;
    this.#nests.push(at);
    return at;
  }
}

/** A received netlink message; `payload` is a view into the receive buffer. */
export interface NetlinkMessage {
  /** Message type (`NLMSG_*` or `RTM_*`). */
  type: number;
  /** Header flags. */
  flags: number;
  /** Sequence number. */
  seq: number;
  /** Port id of the sender (0 for the kernel). */
  pid: number;
  /** Bytes after the header. */
  payload: Uint8Array;
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Splits a buffer into netlink messages. Throws {@linkcode NetlinkDecodeError} on truncation or a
 * bad length field.
 */
export function parseMessages(buf: Uint8Array): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  const v = viewOf(buf);
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = v.getUint32(off, HOST_LE);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new NetlinkDecodeError(
        `Bad netlink message length ${len} at offset ${off} of ${buf.length}`,
        off,
      );
    }
    out.push({
      type: v.getUint16(off + 4, HOST_LE),
      flags: v.getUint16(off + 6, HOST_LE),
      seq: v.getUint32(off + 8, HOST_LE),
      pid: v.getUint32(off + 12, HOST_LE),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  if (off < buf.length && buf.length - off >= 4) {
    throw new NetlinkDecodeError(
      `Trailing ${buf.length - off} bytes after the last netlink message`,
      off,
    );
  }
  return out;
}

/** Attributes of one level: type (flags masked off) to payload views; repeated types keep the last. */
export type Attrs = Map<number, Uint8Array>;

/**
 * Parses a run of `struct rtattr` starting at `offset`. Throws {@linkcode NetlinkDecodeError} on a
 * bad length.
 */
export function parseAttrs(buf: Uint8Array, offset = 0): Attrs {
  const out: Attrs = new Map();
  const v = viewOf(buf);
  let off = offset;
  while (off + 4 <= buf.length) {
    const len = v.getUint16(off, HOST_LE);
    const type = v.getUint16(off + 2, HOST_LE) & NLA_TYPE_MASK;
    if (len < 4 || off + len > buf.length) {
      throw new NetlinkDecodeError(`Bad attribute length ${len} at offset ${off}`, off);
    }
    out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length < n) {
    throw new NetlinkDecodeError(`${what}: ${b.length} bytes, expected at least ${n}`, 0);
  }
}

/** Reads a host-order u32 attribute payload. */
export function attrU32(b: Uint8Array): number {
  need(b, 4, "u32 attribute");
  return viewOf(b).getUint32(0, HOST_LE);
}

/** Reads a host-order s32 attribute payload. */
export function attrS32(b: Uint8Array): number {
  need(b, 4, "s32 attribute");
  return viewOf(b).getInt32(0, HOST_LE);
}

/** Reads a host-order u16 attribute payload. */
export function attrU16(b: Uint8Array): number {
  need(b, 2, "u16 attribute");
  return viewOf(b).getUint16(0, HOST_LE);
}

/** Reads a u8 attribute payload. */
export function attrU8(b: Uint8Array): number {
  need(b, 1, "u8 attribute");
  return b[0];
}

/** Reads a (possibly NUL-terminated) string attribute payload. */
export function attrString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return decoder.decode(nul === -1 ? b : b.subarray(0, nul));
}

/** A decoded `NLMSG_ERROR`: `errno` 0 is an ACK. */
export interface ErrorMessage {
  /** Positive errno, or 0 for an acknowledgement. */
  errno: number;
  /** Header of the request this answers. */
  request: { len: number; type: number; flags: number; seq: number; pid: number };
  /** Extended ACK text (`NLMSGERR_ATTR_MSG`), when present. */
  extack?: string;
}

/** Decodes the payload of an `NLMSG_ERROR` message (`flags` are the outer header's flags). */
export function parseErrorMessage(payload: Uint8Array, flags: number): ErrorMessage {
  need(payload, NLMSGERR_LEN + NLMSG_HDRLEN, "NLMSG_ERROR payload");
  const v = viewOf(payload);
  const err = v.getInt32(0, HOST_LE);
  const request = {
    len: v.getUint32(4, HOST_LE),
    type: v.getUint16(8, HOST_LE),
    flags: v.getUint16(10, HOST_LE),
    seq: v.getUint32(12, HOST_LE),
    pid: v.getUint32(16, HOST_LE),
  };
  const out: ErrorMessage = { errno: err < 0 ? -err : err, request };
  if (flags & NLM_F.ACK_TLVS) {
    const echoed = flags & NLM_F.CAPPED ? NLMSG_HDRLEN : align4(request.len);
    const tlvAt = NLMSGERR_LEN + echoed;
    if (tlvAt <= payload.length) {
      const attrs = parseAttrs(payload, tlvAt);
      const msg = attrs.get(NLMSGERR_ATTR.MSG);
      if (msg) out.extack = attrString(msg);
    }
  }
  return out;
}

/** Reads the error code of an `NLMSG_DONE` payload (0 for a clean end of dump). */
export function parseDoneMessage(payload: Uint8Array): number {
  if (payload.length < 4) return 0;
  const e = viewOf(payload).getInt32(0, HOST_LE);
  return e < 0 ? -e : e;
}

const TYPE_NAMES: Record<number, string> = {
  [NLMSG.NOOP]: "NLMSG_NOOP",
  [NLMSG.ERROR]: "NLMSG_ERROR",
  [NLMSG.DONE]: "NLMSG_DONE",
  [NLMSG.OVERRUN]: "NLMSG_OVERRUN",
  [RTM.NEWLINK]: "RTM_NEWLINK",
  [RTM.DELLINK]: "RTM_DELLINK",
  [RTM.GETLINK]: "RTM_GETLINK",
  [RTM.SETLINK]: "RTM_SETLINK",
  [RTM.NEWADDR]: "RTM_NEWADDR",
  [RTM.DELADDR]: "RTM_DELADDR",
  [RTM.GETADDR]: "RTM_GETADDR",
  [RTM.NEWROUTE]: "RTM_NEWROUTE",
  [RTM.DELROUTE]: "RTM_DELROUTE",
  [RTM.GETROUTE]: "RTM_GETROUTE",
};

/** Symbolic name of a netlink message type, e.g. `24` gives `"RTM_NEWROUTE"`. */
export function messageTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `NLMSG_${type}`;
}

/**
 * Checks what every add/delete request starts with: `msgType` is one of `types` (the `RTM_NEW*`
 * and `RTM_DEL*` of the kind) and `value` is an object. Throws {@linkcode NetlinkInputError} with
 * `code`, naming the value as `noun` (e.g. `"route"`).
 */
export function checkRequestHead(
  msgType: number,
  types: readonly [number, number],
  code: InputErrorCode,
  noun: string,
  value: unknown,
): void {
  if (msgType !== types[0] && msgType !== types[1]) {
    throw new NetlinkInputError(
      code,
      `Message type ${msgType} is not ${messageTypeName(types[0])} or ${messageTypeName(types[1])}`,
      msgType,
    );
  }
  if (value === null || typeof value !== "object") {
    throw new NetlinkInputError(code, `Invalid ${noun} ${JSON.stringify(value)}`, value);
  }
}

/**
 * The address family of a message whose payload starts with the fixed header `struct` of `size`
 * bytes, family first. A shorter payload, or a family other than IPv4 and IPv6, is a
 * {@linkcode NetlinkDecodeError} (the family named as the `what`'s, e.g. `"route"`).
 */
export function payloadFamily(p: Uint8Array, size: number, struct: string, what: string): number {
  if (p.length < size) {
    throw new NetlinkDecodeError(`${struct} of ${p.length} bytes, expected ${size}`, 0);
  }
  const family = p[0];
  if (family !== AF_INET && family !== AF_INET6) {
    throw new NetlinkDecodeError(`Unsupported ${what} family ${family}`, 0);
  }
  return family;
}
