/**
 * BGP capabilities (RFC 5492) carried in OPEN: multiprotocol (RFC 4760), route refresh
 * (RFC 2918), extended messages (RFC 8654), graceful restart (RFC 4724, with the N bit of
 * RFC 8538) and 4-octet AS numbers (RFC 6793). Unknown capabilities are kept as raw bytes.
 * @module
 */
import { CapabilityCode, ErrorCode, OpenSubcode } from "./constants.ts";
import { BgpWireError } from "./errors.ts";

/** An address family / subsequent address family pair. */
export interface AfiSafi {
  /** AFI (1 IPv4, 2 IPv6). */
  readonly afi: number;
  /** SAFI (1 unicast). */
  readonly safi: number;
}

/** A graceful restart family entry. */
export interface GracefulRestartFamily extends AfiSafi {
  /** Forwarding state preserved (F bit). */
  readonly forwarding: boolean;
}

/** A decoded capability. */
export type Capability =
  | { readonly kind: "multiprotocol"; readonly afi: number; readonly safi: number }
  | { readonly kind: "route-refresh" }
  | { readonly kind: "extended-message" }
  | {
    readonly kind: "graceful-restart";
    /** R bit: the sender has restarted. */
    readonly restarting: boolean;
    /** N bit (RFC 8538): graceful restart also covers NOTIFICATIONs. */
    readonly notification: boolean;
    /** Restart time in seconds (12 bits). */
    readonly restartTime: number;
    readonly families: readonly GracefulRestartFamily[];
  }
  | { readonly kind: "four-octet-as"; readonly asn: number }
  | { readonly kind: "unknown"; readonly code: number; readonly value: Uint8Array };

function capError(why: string, code: number, value: Uint8Array): BgpWireError {
  // A malformed known capability is reported as Unsupported Capability carrying the capability.
  const data = new Uint8Array(2 + value.length);
  data[0] = code;
  data[1] = value.length;
  data.set(value, 2);
  return new BgpWireError("unsupported_capability", why, {
    code: ErrorCode.OPEN_MESSAGE,
    subcode: OpenSubcode.UNSUPPORTED_CAPABILITY,
    data,
  });
}

/** Decodes one capability value (code already read). Throws {@linkcode BgpWireError}. */
export function decodeCapability(code: number, value: Uint8Array): Capability {
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  switch (code) {
    case CapabilityCode.MULTIPROTOCOL:
      if (value.length !== 4) {
        throw capError(`Multiprotocol capability length ${value.length}, expected 4`, code, value);
      }
      return { kind: "multiprotocol", afi: v.getUint16(0), safi: value[3] };
    case CapabilityCode.ROUTE_REFRESH:
      if (value.length !== 0) {
        throw capError(`Route refresh capability length ${value.length}, expected 0`, code, value);
      }
      return { kind: "route-refresh" };
    case CapabilityCode.EXTENDED_MESSAGE:
      if (value.length !== 0) {
        throw capError(
          `Extended message capability length ${value.length}, expected 0`,
          code,
          value,
        );
      }
      return { kind: "extended-message" };
    case CapabilityCode.GRACEFUL_RESTART: {
      if (value.length < 2 || (value.length - 2) % 4 !== 0) {
        throw capError(
          `Graceful restart capability length ${value.length} is not 2 + 4n`,
          code,
          value,
        );
      }
      const word = v.getUint16(0);
      const families: GracefulRestartFamily[] = [];
      for (let p = 2; p < value.length; p += 4) {
        families.push({
          afi: v.getUint16(p),
          safi: value[p + 2],
          forwarding: (value[p + 3] & 0x80) !== 0,
        });
      }
      return {
        kind: "graceful-restart",
        restarting: (word & 0x8000) !== 0,
        notification: (word & 0x4000) !== 0,
        restartTime: word & 0x0fff,
        families,
      };
    }
    case CapabilityCode.FOUR_OCTET_AS:
      if (value.length !== 4) {
        throw capError(`4-octet AS capability length ${value.length}, expected 4`, code, value);
      }
      return { kind: "four-octet-as", asn: v.getUint32(0) };
    default:
      return { kind: "unknown", code, value: value.slice() };
  }
}

/** Encodes the value of one capability and returns `[code, value]`. */
export function encodeCapability(cap: Capability): [number, Uint8Array] {
  switch (cap.kind) {
    case "multiprotocol":
      return [
        CapabilityCode.MULTIPROTOCOL,
        new Uint8Array([cap.afi >> 8, cap.afi & 0xff, 0, cap.safi]),
      ];
    case "route-refresh":
      return [CapabilityCode.ROUTE_REFRESH, new Uint8Array(0)];
    case "extended-message":
      return [CapabilityCode.EXTENDED_MESSAGE, new Uint8Array(0)];
    case "graceful-restart": {
      const out = new Uint8Array(2 + 4 * cap.families.length);
      const word = (cap.restarting ? 0x8000 : 0) | (cap.notification ? 0x4000 : 0) |
        (cap.restartTime & 0x0fff);
      out[0] = word >> 8;
      out[1] = word & 0xff;
      cap.families.forEach((f, i) => {
        out[2 + i * 4] = f.afi >> 8;
        out[3 + i * 4] = f.afi & 0xff;
        out[4 + i * 4] = f.safi;
        out[5 + i * 4] = f.forwarding ? 0x80 : 0;
      });
      return [CapabilityCode.GRACEFUL_RESTART, out];
    }
    case "four-octet-as": {
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, cap.asn >>> 0);
      return [CapabilityCode.FOUR_OCTET_AS, out];
    }
    case "unknown":
      return [cap.code, cap.value];
  }
}
