/**
 * Typed errors of the BGP codec. Every decoding failure that requires a session reset carries
 * the NOTIFICATION to send (RFC 4271 section 6); lighter RFC 7606 outcomes (treat-as-withdraw,
 * attribute discard) are not errors but are reported inside the decoded UPDATE.
 * @module
 */

/** The NOTIFICATION a decoding error asks the session to send. */
export interface NotificationSpec {
  /** Error code (RFC 4271 4.5). */
  readonly code: number;
  /** Error subcode (0 when unspecific). */
  readonly subcode: number;
  /** Data field (may be empty). */
  readonly data: Uint8Array;
}

/** Discriminators of {@linkcode BgpWireError}. */
export type BgpWireErrorCode =
  | "bad_marker"
  | "bad_length"
  | "bad_type"
  | "bad_version"
  | "bad_peer_as"
  | "bad_bgp_identifier"
  | "unsupported_optional_parameter"
  | "unacceptable_hold_time"
  | "unsupported_capability"
  | "malformed_open"
  | "malformed_attribute_list"
  | "unrecognized_well_known_attribute"
  | "invalid_network_field"
  | "malformed_mp_reach"
  | "malformed_mp_unreach"
  | "malformed_notification"
  | "malformed_route_refresh"
  | "fsm_error"
  | "encode_error";

/** A wire-format error: the message cannot be used and the session must send `notification`. */
export class BgpWireError extends Error {
  /** What went wrong, machine readable. */
  readonly code: BgpWireErrorCode;
  /** The NOTIFICATION to send to the peer before closing. */
  readonly notification: NotificationSpec;

  /** Creates an error; `message` should quote the offending value. */
  constructor(
    code: BgpWireErrorCode,
    message: string,
    notification: { code: number; subcode: number; data?: Uint8Array },
  ) {
    super(message);
    this.name = "BgpWireError";
    this.code = code;
    this.notification = {
      code: notification.code,
      subcode: notification.subcode,
      data: notification.data ?? new Uint8Array(0),
    };
  }
}

/** Discriminators of {@linkcode PrefixError}. */
export type PrefixErrorCode = "bad_prefix" | "bad_address";

/** A textual prefix or address that cannot be parsed. */
export class PrefixError extends Error {
  /** What went wrong, machine readable. */
  readonly code: PrefixErrorCode;
  /** The offending text. */
  readonly value: string;
  /** Creates an error for `value`. */
  constructor(code: PrefixErrorCode, value: string, why: string) {
    super(`Invalid ${code === "bad_prefix" ? "prefix" : "address"} "${value}": ${why}`);
    this.name = "PrefixError";
    this.code = code;
    this.value = value;
  }
}
