/**
 * NOTIFICATION (RFC 4271 4.5) and KEEPALIVE messages, with the names of every error code and
 * subcode tern knows, and the shutdown communication of RFC 9003 for Cease subcodes 2 and 4.
 * @module
 */
import { CeaseSubcode, ErrorCode, HEADER_LENGTH, MessageType } from "./constants.ts";
import { BgpWireError, type NotificationSpec } from "./errors.ts";
import { writeHeader } from "./wire_header.ts";

/** A decoded NOTIFICATION. */
export interface NotificationMessage extends NotificationSpec {
  /** Discriminator. */
  readonly type: "notification";
}

/** A KEEPALIVE. */
export interface KeepaliveMessage {
  /** Discriminator. */
  readonly type: "keepalive";
}

const CODE_NAMES: Record<number, [string, Record<number, string>]> = {
  1: ["Message Header Error", {
    1: "Connection Not Synchronized",
    2: "Bad Message Length",
    3: "Bad Message Type",
  }],
  2: ["OPEN Message Error", {
    1: "Unsupported Version Number",
    2: "Bad Peer AS",
    3: "Bad BGP Identifier",
    4: "Unsupported Optional Parameter",
    6: "Unacceptable Hold Time",
    7: "Unsupported Capability",
    11: "Role Mismatch",
  }],
  3: ["UPDATE Message Error", {
    1: "Malformed Attribute List",
    2: "Unrecognized Well-known Attribute",
    3: "Missing Well-known Attribute",
    4: "Attribute Flags Error",
    5: "Attribute Length Error",
    6: "Invalid ORIGIN Attribute",
    8: "Invalid NEXT_HOP Attribute",
    9: "Optional Attribute Error",
    10: "Invalid Network Field",
    11: "Malformed AS_PATH",
  }],
  4: ["Hold Timer Expired", {}],
  5: ["Finite State Machine Error", {
    1: "Receive Unexpected Message in OpenSent State",
    2: "Receive Unexpected Message in OpenConfirm State",
    3: "Receive Unexpected Message in Established State",
  }],
  6: ["Cease", {
    1: "Maximum Number of Prefixes Reached",
    2: "Administrative Shutdown",
    3: "Peer De-configured",
    4: "Administrative Reset",
    5: "Connection Rejected",
    6: "Other Configuration Change",
    7: "Connection Collision Resolution",
    8: "Out of Resources",
    9: "Hard Reset",
    10: "BFD Down",
  }],
  7: ["ROUTE-REFRESH Message Error", { 1: "Invalid Message Length" }],
};

/** Human name of a code/subcode pair, e.g. `Cease / Connection Rejected`. */
export function notificationName(code: number, subcode: number): string {
  const entry = CODE_NAMES[code];
  if (!entry) return `Unknown error code ${code} / subcode ${subcode}`;
  if (subcode === 0) return entry[0];
  return `${entry[0]} / ${entry[1][subcode] ?? `subcode ${subcode}`}`;
}

/** Decodes a NOTIFICATION body. */
export function decodeNotification(body: Uint8Array): NotificationMessage {
  if (body.length < 2) {
    throw new BgpWireError(
      "malformed_notification",
      `NOTIFICATION body of ${body.length} octets is too short`,
      { code: ErrorCode.MESSAGE_HEADER, subcode: 2 },
    );
  }
  return { type: "notification", code: body[0], subcode: body[1], data: body.slice(2) };
}

/** Encodes a NOTIFICATION. */
export function encodeNotification(n: NotificationSpec): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + 2 + n.data.length);
  writeHeader(out, out.length, MessageType.NOTIFICATION);
  out[HEADER_LENGTH] = n.code;
  out[HEADER_LENGTH + 1] = n.subcode;
  out.set(n.data, HEADER_LENGTH + 2);
  return out;
}

/** Encodes a KEEPALIVE (the bare header). */
export function encodeKeepalive(): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH);
  writeHeader(out, HEADER_LENGTH, MessageType.KEEPALIVE);
  return out;
}

/** Builds a Cease NOTIFICATION; for Administrative Shutdown/Reset a RFC 9003 message is added. */
export function cease(subcode: number, communication?: string): NotificationSpec {
  let data = new Uint8Array(0);
  if (
    communication !== undefined &&
    (subcode === CeaseSubcode.ADMIN_SHUTDOWN || subcode === CeaseSubcode.ADMIN_RESET)
  ) {
    let text = new TextEncoder().encode(communication);
    if (text.length > 255) text = text.subarray(0, 255);
    data = new Uint8Array(1 + text.length);
    data[0] = text.length;
    data.set(text, 1);
  }
  return { code: ErrorCode.CEASE, subcode, data };
}

/** The RFC 9003 shutdown communication of a Cease 2/4 NOTIFICATION, if well formed. */
export function shutdownCommunication(n: NotificationSpec): string | null {
  if (
    n.code !== ErrorCode.CEASE ||
    (n.subcode !== CeaseSubcode.ADMIN_SHUTDOWN && n.subcode !== CeaseSubcode.ADMIN_RESET) ||
    n.data.length === 0 || n.data[0] + 1 > n.data.length
  ) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(n.data.subarray(1, 1 + n.data[0]));
  } catch {
    return null;
  }
}
