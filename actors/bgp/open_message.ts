/**
 * OPEN message (RFC 4271 4.2) with capabilities in optional parameters (RFC 5492, and the
 * extended optional parameters length of RFC 9072), its checks (RFC 4271 6.2) and the
 * negotiation of session parameters from two OPENs.
 * @module
 */
import {
  type AfiSafi,
  type Capability,
  decodeCapability,
  encodeCapability,
} from "./capabilities.ts";
import {
  Afi,
  AS_TRANS,
  BGP_VERSION,
  ErrorCode,
  HEADER_LENGTH,
  MessageType,
  OpenSubcode,
  Safi,
} from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import { formatIPv4, parseIPv4 } from "./prefix.ts";
import { writeHeader } from "./wire_header.ts";

/** A decoded OPEN message. */
export interface OpenMessage {
  /** Discriminator. */
  readonly type: "open";
  /** BGP version (always 4 once decoded). */
  readonly version: number;
  /** The 2-octet "My Autonomous System" field (AS_TRANS when the real ASN needs 4 octets). */
  readonly myAsn: number;
  /** Proposed hold time in seconds. */
  readonly holdTime: number;
  /** BGP identifier as a dotted quad. */
  readonly bgpId: string;
  /** Capabilities from all capability optional parameters, in order. */
  readonly capabilities: readonly Capability[];
}

function openError(
  code: ConstructorParameters<typeof BgpWireError>[0],
  subcode: number,
  why: string,
  data?: Uint8Array,
): BgpWireError {
  return new BgpWireError(code, why, { code: ErrorCode.OPEN_MESSAGE, subcode, data });
}

/** Decodes an OPEN body and applies the peer-independent checks of RFC 4271 6.2. */
export function decodeOpen(body: Uint8Array): OpenMessage {
  if (body.length < 10) {
    throw openError("malformed_open", 0, `OPEN body of ${body.length} octets is too short`);
  }
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const version = body[0];
  if (version !== BGP_VERSION) {
    throw openError(
      "bad_version",
      OpenSubcode.UNSUPPORTED_VERSION,
      `Unsupported BGP version ${version}`,
      new Uint8Array([0, BGP_VERSION]),
    );
  }
  const myAsn = v.getUint16(1);
  const holdTime = v.getUint16(3);
  const bgpIdNum = v.getUint32(5);
  const bgpId = formatIPv4(body, 5);
  let optLen = body[9];
  let p = 10;
  let extended = false;
  if (optLen === 255 && body.length > 10 && body[10] === 255) {
    // RFC 9072: Non-Ext OP Type 255 followed by a 2-octet length.
    if (body.length < 13) throw openError("malformed_open", 0, "Truncated extended parameters");
    extended = true;
    optLen = v.getUint16(11);
    p = 13;
  }
  if (p + optLen !== body.length) {
    throw openError(
      "malformed_open",
      0,
      `Optional parameters length ${optLen} does not match the ${body.length - p} octets present`,
    );
  }
  const capabilities: Capability[] = [];
  const end = p + optLen;
  while (p < end) {
    const hdr = extended ? 3 : 2;
    if (p + hdr > end) throw openError("malformed_open", 0, "Truncated optional parameter");
    const ptype = body[p];
    const plen = extended ? v.getUint16(p + 1) : body[p + 1];
    p += hdr;
    if (p + plen > end) {
      throw openError("malformed_open", 0, `Optional parameter length ${plen} overruns OPEN`);
    }
    if (ptype !== 2) {
      throw openError(
        "unsupported_optional_parameter",
        OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER,
        `Unsupported optional parameter type ${ptype}`,
      );
    }
    const pend = p + plen;
    while (p < pend) {
      if (p + 2 > pend) throw openError("malformed_open", 0, "Truncated capability");
      const code = body[p], clen = body[p + 1];
      if (p + 2 + clen > pend) {
        throw openError("malformed_open", 0, `Capability ${code} length ${clen} overruns`);
      }
      capabilities.push(decodeCapability(code, body.subarray(p + 2, p + 2 + clen)));
      p += 2 + clen;
    }
  }
  if (holdTime === 1 || holdTime === 2) {
    throw openError(
      "unacceptable_hold_time",
      OpenSubcode.UNACCEPTABLE_HOLD_TIME,
      `Unacceptable hold time ${holdTime}: must be 0 or at least 3 seconds`,
    );
  }
  if (bgpIdNum === 0) {
    throw openError(
      "bad_bgp_identifier",
      OpenSubcode.BAD_BGP_IDENTIFIER,
      `Bad BGP identifier "${bgpId}"`,
    );
  }
  const as4 = capabilities.find((c) => c.kind === "four-octet-as");
  if (myAsn === 0 || (as4 !== undefined && as4.kind === "four-octet-as" && as4.asn === 0)) {
    // RFC 7607: AS 0 in OPEN is a Bad Peer AS.
    throw openError("bad_peer_as", OpenSubcode.BAD_PEER_AS, `Bad peer AS "0"`);
  }
  return { type: "open", version, myAsn, holdTime, bgpId, capabilities };
}

/** Encodes an OPEN message (whole message, header included). */
export function encodeOpen(open: Omit<OpenMessage, "type" | "version">): Uint8Array {
  const caps = open.capabilities.map(encodeCapability);
  // One capability per optional parameter is the most interoperable form; each capability
  // value must fit one octet of length.
  let paramsLen = 0;
  for (const [, value] of caps) {
    if (value.length > 255) {
      throw new BgpWireError("encode_error", `Capability value of ${value.length} octets`, {
        code: ErrorCode.CEASE,
        subcode: 0,
      });
    }
    paramsLen += 2 + 2 + value.length;
  }
  const extended = paramsLen > 254;
  if (extended) paramsLen += caps.length; // 3-octet parameter headers
  const bodyLen = 10 + (extended ? 3 : 0) + paramsLen;
  const out = new Uint8Array(HEADER_LENGTH + bodyLen);
  writeHeader(out, out.length, MessageType.OPEN);
  const v = new DataView(out.buffer);
  let p = HEADER_LENGTH;
  out[p] = BGP_VERSION;
  v.setUint16(p + 1, open.myAsn);
  v.setUint16(p + 3, open.holdTime);
  out.set(parseIPv4(open.bgpId), p + 5);
  if (extended) {
    out[p + 9] = 255;
    out[p + 10] = 255;
    v.setUint16(p + 11, paramsLen);
    p += 13;
  } else {
    out[p + 9] = paramsLen;
    p += 10;
  }
  for (const [code, value] of caps) {
    out[p++] = 2;
    if (extended) {
      v.setUint16(p, 2 + value.length);
      p += 2;
    } else out[p++] = 2 + value.length;
    out[p++] = code;
    out[p++] = value.length;
    out.set(value, p);
    p += value.length;
  }
  return out;
}

/** The AS number a peer announces: its 4-octet AS capability, else the 2-octet field. */
export function peerAsn(open: OpenMessage): number {
  for (const c of open.capabilities) if (c.kind === "four-octet-as") return c.asn;
  return open.myAsn;
}

/** What we expect of the peer, for {@linkcode checkOpenAgainstConfig}. */
export interface OpenExpectation {
  /** Configured peer ASN. */
  readonly peerAsn: number;
  /** Our own BGP identifier. */
  readonly localBgpId: string;
  /** Our own ASN (an iBGP peer may not reuse our identifier). */
  readonly localAsn: number;
}

/** Checks a decoded OPEN against configuration (Bad Peer AS, Bad BGP Identifier). */
export function checkOpenAgainstConfig(open: OpenMessage, expect: OpenExpectation): void {
  const asn = peerAsn(open);
  if (asn !== expect.peerAsn) {
    throw openError(
      "bad_peer_as",
      OpenSubcode.BAD_PEER_AS,
      `Bad peer AS "${asn}", expected ${expect.peerAsn}`,
      new Uint8Array([open.myAsn >> 8, open.myAsn & 0xff]),
    );
  }
  if (open.myAsn !== AS_TRANS && asn > 0xffff) {
    throw openError(
      "bad_peer_as",
      OpenSubcode.BAD_PEER_AS,
      `Bad peer AS "${open.myAsn}": 4-octet AS ${asn} needs AS_TRANS in My AS`,
    );
  }
  if (asn === expect.localAsn && open.bgpId === expect.localBgpId) {
    throw openError(
      "bad_bgp_identifier",
      OpenSubcode.BAD_BGP_IDENTIFIER,
      `Bad BGP identifier "${open.bgpId}": same as ours on an iBGP session`,
    );
  }
}

/** Session parameters agreed from both OPENs. */
export interface Negotiated {
  /** Hold time in seconds (the smaller of both; 0 means no hold timer and no keepalives). */
  readonly holdTime: number;
  /** Keepalive interval in seconds (0 when the hold time is 0). */
  readonly keepaliveTime: number;
  /** Both sides announced the 4-octet AS capability. */
  readonly as4: boolean;
  /** Both sides announced extended messages. */
  readonly extendedMessage: boolean;
  /** The peer can receive ROUTE-REFRESH. */
  readonly routeRefresh: boolean;
  /** Families both sides announced (IPv4 unicast when neither sent multiprotocol capabilities). */
  readonly families: readonly AfiSafi[];
  /** The peer's graceful restart capability, when sent. */
  readonly peerGracefulRestart: Extract<Capability, { kind: "graceful-restart" }> | null;
  /** The peer's ASN (4-octet aware). */
  readonly peerAsn: number;
  /** The peer's BGP identifier. */
  readonly peerBgpId: string;
}

function mpFamilies(open: OpenMessage): AfiSafi[] {
  const mp: AfiSafi[] = [];
  for (const c of open.capabilities) {
    if (c.kind === "multiprotocol") mp.push({ afi: c.afi, safi: c.safi });
  }
  // RFC 4760: without any multiprotocol capability, IPv4 unicast is implied.
  return mp.length === 0 ? [{ afi: Afi.IPV4, safi: Safi.UNICAST }] : mp;
}

/**
 * Agrees session parameters. `keepaliveTime` is our configured interval; it is capped at a
 * third of the negotiated hold time.
 */
export function negotiate(
  local: Omit<OpenMessage, "type" | "version">,
  remote: OpenMessage,
  keepaliveTime?: number,
): Negotiated {
  const holdTime = Math.min(local.holdTime, remote.holdTime);
  const third = Math.floor(holdTime / 3);
  const keepalive = holdTime === 0 ? 0 : Math.max(
    1,
    keepaliveTime !== undefined && keepaliveTime > 0 ? Math.min(keepaliveTime, third) : third,
  );
  const has = (o: { capabilities: readonly Capability[] }, kind: Capability["kind"]) =>
    o.capabilities.some((c) => c.kind === kind);
  const localFams = mpFamilies(local as OpenMessage);
  const remoteFams = mpFamilies(remote);
  const families = localFams.filter((f) =>
    remoteFams.some((r) => r.afi === f.afi && r.safi === f.safi)
  );
  const gr = remote.capabilities.find((c) => c.kind === "graceful-restart") ?? null;
  return {
    holdTime,
    keepaliveTime: keepalive,
    as4: has(local, "four-octet-as") && has(remote, "four-octet-as"),
    extendedMessage: has(local, "extended-message") && has(remote, "extended-message"),
    routeRefresh: has(remote, "route-refresh"),
    families,
    peerGracefulRestart: gr as Negotiated["peerGracefulRestart"],
    peerAsn: peerAsn(remote),
    peerBgpId: remote.bgpId,
  };
}
