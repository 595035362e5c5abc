/**
 * ROUTE-REFRESH message (RFC 2918, subtypes of RFC 7313).
 * @module
 */
import { ErrorCode, HEADER_LENGTH, MessageType, RouteRefreshSubcode } from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import { writeHeader } from "./wire_header.ts";

/** A decoded ROUTE-REFRESH. */
export interface RouteRefreshMessage {
  /** Discriminator. */
  readonly type: "route-refresh";
  /** AFI. */
  readonly afi: number;
  /** SAFI. */
  readonly safi: number;
  /** 0 normal request, 1 begin of route refresh, 2 end of route refresh (RFC 7313). */
  readonly subtype: number;
}

/** Decodes a ROUTE-REFRESH body (exactly 4 octets). */
export function decodeRouteRefresh(body: Uint8Array): RouteRefreshMessage {
  if (body.length !== 4) {
    const data = new Uint8Array(HEADER_LENGTH + body.length);
    writeHeader(data, data.length, MessageType.ROUTE_REFRESH);
    data.set(body, HEADER_LENGTH);
    throw new BgpWireError(
      "malformed_route_refresh",
      `ROUTE-REFRESH body of ${body.length} octets, expected 4`,
      {
        code: ErrorCode.ROUTE_REFRESH,
        subcode: RouteRefreshSubcode.INVALID_MESSAGE_LENGTH,
        data,
      },
    );
  }
  return { type: "route-refresh", afi: (body[0] << 8) | body[1], subtype: body[2], safi: body[3] };
}

/** Encodes a ROUTE-REFRESH. */
export function encodeRouteRefresh(m: Omit<RouteRefreshMessage, "type">): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + 4);
  writeHeader(out, out.length, MessageType.ROUTE_REFRESH);
  out[HEADER_LENGTH] = m.afi >> 8;
  out[HEADER_LENGTH + 1] = m.afi & 0xff;
  out[HEADER_LENGTH + 2] = m.subtype;
  out[HEADER_LENGTH + 3] = m.safi;
  return out;
}
