/**
 * One entry point for decoding any framed BGP message.
 * @module
 */
import { MessageType } from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import {
  decodeNotification,
  type KeepaliveMessage,
  type NotificationMessage,
} from "./notification.ts";
import { decodeOpen, type OpenMessage } from "./open_message.ts";
import type { AttributeDecodeOptions } from "./path_attributes.ts";
import { decodeRouteRefresh, type RouteRefreshMessage } from "./route_refresh.ts";
import { type DecodedUpdate, decodeUpdate } from "./update_message.ts";
import type { Frame } from "./wire_header.ts";

/** Any decoded message; UPDATEs come with their RFC 7606 verdict. */
export type BgpMessage =
  | OpenMessage
  | ({ type: "update" } & DecodedUpdate)
  | NotificationMessage
  | KeepaliveMessage
  | RouteRefreshMessage;

/** Result of {@linkcode decodeFrame}: a message or the typed error. Never throws. */
export type DecodeResult = { ok: true; message: BgpMessage } | { ok: false; error: BgpWireError };

/** Decodes a framed message. Any failure comes back as a {@linkcode BgpWireError}. */
export function decodeFrame(frame: Frame, opts: AttributeDecodeOptions): DecodeResult {
  try {
    switch (frame.type) {
      case MessageType.OPEN:
        return { ok: true, message: decodeOpen(frame.body) };
      case MessageType.UPDATE:
        return { ok: true, message: { type: "update", ...decodeUpdate(frame.body, opts) } };
      case MessageType.NOTIFICATION:
        return { ok: true, message: decodeNotification(frame.body) };
      case MessageType.KEEPALIVE:
        return { ok: true, message: { type: "keepalive" } };
      case MessageType.ROUTE_REFRESH:
        return { ok: true, message: decodeRouteRefresh(frame.body) };
      default:
        return {
          ok: false,
          error: new BgpWireError("bad_type", `Bad message type ${frame.type}`, {
            code: 1,
            subcode: 3,
            data: new Uint8Array([frame.type]),
          }),
        };
    }
  } catch (e) {
    if (e instanceof BgpWireError) return { ok: false, error: e };
    // Any other exception is a decoder bug: surface it as a typed error rather than crash.
    return {
      ok: false,
      error: new BgpWireError("malformed_attribute_list", `Decoder failure: ${String(e)}`, {
        code: 3,
        subcode: 1,
      }),
    };
  }
}
