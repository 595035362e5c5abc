/**
 * The fixed BGP message header (RFC 4271 4.1) and a framer that cuts a TCP byte stream into
 * messages, checking each header as RFC 4271 6.1 requires.
 * @module
 */
import {
  ErrorCode,
  HEADER_LENGTH,
  HeaderSubcode,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
} from "./constants.ts";
import { BgpWireError } from "./errors.ts";

/** One framed message: its type and a view of its body (valid until the next `push`). */
export interface Frame {
  /** Message type code. */
  readonly type: number;
  /** Body bytes after the 19-octet header (a view into the framer's buffer). */
  readonly body: Uint8Array;
}

/** Writes a message header at the start of `out` (which holds the whole message). */
export function writeHeader(out: Uint8Array, length: number, type: number): void {
  out.fill(0xff, 0, 16);
  out[16] = length >> 8;
  out[17] = length & 0xff;
  out[18] = type;
}

/** Builds a whole message from a type and a body. */
export function frameMessage(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + body.length);
  writeHeader(out, out.length, type);
  out.set(body, HEADER_LENGTH);
  return out;
}

function badLength(length: number, why: string): BgpWireError {
  return new BgpWireError("bad_length", `Bad message length ${length}: ${why}`, {
    code: ErrorCode.MESSAGE_HEADER,
    subcode: HeaderSubcode.BAD_MESSAGE_LENGTH,
    data: new Uint8Array([length >> 8, length & 0xff]),
  });
}

/**
 * Checks a header (19 bytes at `off`) against RFC 4271 6.1 and the type-specific minimum and
 * maximum lengths; throws {@linkcode BgpWireError} or returns `[length, type]`.
 */
export function checkHeader(
  buf: Uint8Array,
  off: number,
  maxLength: number,
): [length: number, type: number] {
  for (let i = 0; i < 16; i++) {
    if (buf[off + i] !== 0xff) {
      throw new BgpWireError(
        "bad_marker",
        `Connection not synchronized: marker octet ${i} is ${buf[off + i]}, not 255`,
        { code: ErrorCode.MESSAGE_HEADER, subcode: HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED },
      );
    }
  }
  const length = (buf[off + 16] << 8) | buf[off + 17];
  const type = buf[off + 18];
  if (length < HEADER_LENGTH) throw badLength(length, "shorter than the header");
  switch (type) {
    case MessageType.OPEN:
      if (length < 29) throw badLength(length, "OPEN needs at least 29 octets");
      if (length > MAX_MESSAGE_LENGTH) throw badLength(length, "OPEN is limited to 4096 octets");
      break;
    case MessageType.UPDATE:
      if (length < 23) throw badLength(length, "UPDATE needs at least 23 octets");
      break;
    case MessageType.NOTIFICATION:
      if (length < 21) throw badLength(length, "NOTIFICATION needs at least 21 octets");
      break;
    case MessageType.KEEPALIVE:
      if (length !== HEADER_LENGTH) throw badLength(length, "KEEPALIVE is exactly 19 octets");
      break;
    case MessageType.ROUTE_REFRESH:
      if (length < 23) throw badLength(length, "ROUTE-REFRESH needs at least 23 octets");
      break;
    default:
      throw new BgpWireError("bad_type", `Bad message type ${type}`, {
        code: ErrorCode.MESSAGE_HEADER,
        subcode: HeaderSubcode.BAD_MESSAGE_TYPE,
        data: new Uint8Array([type]),
      });
  }
  if (length > maxLength) throw badLength(length, `above the negotiated maximum ${maxLength}`);
  return [length, type];
}

/**
 * Cuts a byte stream into BGP messages. `push` appends received bytes; `next` returns the next
 * complete message or null. A bad header throws {@linkcode BgpWireError} as soon as its 19
 * octets are in, without waiting for the body.
 */
export class MessageFramer {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #maxLength = MAX_MESSAGE_LENGTH;

  /** Creates a framer with an initial buffer of `capacity` bytes. */
  constructor(capacity = 1 << 16) {
    this.#buf = new Uint8Array(Math.max(capacity, MAX_EXTENDED_MESSAGE_LENGTH + 1));
  }

  /** Raises the message size limit to 65535 (RFC 8654) or lowers it back to 4096. */
  setExtended(extended: boolean): void {
    this.#maxLength = extended ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  /** Bytes buffered and not yet returned. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Appends received bytes. Views returned by earlier `next` calls become invalid. */
  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const pending = this.#end - this.#start;
      if (pending + chunk.length > this.#buf.length) {
        const grown = new Uint8Array(Math.max(this.#buf.length * 2, pending + chunk.length));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      } else {
        this.#buf.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = pending;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next complete message, or null when more bytes are needed. */
  next(): Frame | null {
    if (this.#end - this.#start < HEADER_LENGTH) return null;
    const [length, type] = checkHeader(this.#buf, this.#start, this.#maxLength);
    if (this.#end - this.#start < length) return null;
    const body = this.#buf.subarray(this.#start + HEADER_LENGTH, this.#start + length);
    this.#start += length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { type, body };
  }
}
