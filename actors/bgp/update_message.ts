/**
 * UPDATE message (RFC 4271 4.3, RFC 4760): decoding with RFC 7606 error handling, encoding,
 * packing of many prefixes that share attributes into as few UPDATEs as the negotiated message
 * size allows, and End-of-RIB markers (RFC 4724 2).
 * @module
 */
import {
  Afi,
  AttrFlag,
  AttrType,
  ErrorCode,
  HEADER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType,
  Safi,
  UpdateSubcode,
} from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import {
  type AttributeDecodeOptions,
  type AttributeEncodeOptions,
  type AttributeIssue,
  beginAttribute,
  ByteWriter,
  decodeAttributes,
  encodeAttributes,
  mpNextHopSize,
  type MpReach,
  type MpUnreach,
  type NlriKeys,
  type PathAttributes,
  writeMpNextHop,
} from "./path_attributes.ts";
import { type Family, nlriSize, parsePrefix, writeNlri } from "./prefix.ts";
import { PrefixList, readNlriKeys } from "./prefix_list.ts";
import { writeHeader } from "./wire_header.ts";

/** An UPDATE message. */
export interface UpdateMessage {
  /** Discriminator. */
  readonly type: "update";
  /** Withdrawn IPv4 prefixes. */
  readonly withdrawn: readonly string[];
  /** Path attributes (MP attributes excluded). */
  readonly attributes: PathAttributes;
  /** Reachable IPv4 prefixes. */
  readonly nlri: readonly string[];
  /** MP_REACH_NLRI. */
  readonly mpReach?: MpReach;
  /** MP_UNREACH_NLRI. */
  readonly mpUnreach?: MpUnreach;
}

/** A decoded UPDATE with the RFC 7606 verdict. */
export interface DecodedUpdate {
  /** The message. */
  readonly message: UpdateMessage;
  /** Every prefix announced in the message must be handled as withdrawn. */
  readonly treatAsWithdraw: boolean;
  /** Attribute-level findings (treat-as-withdraw and discard). */
  readonly issues: readonly AttributeIssue[];
}

function invalidNetwork(why: string): BgpWireError {
  return new BgpWireError("invalid_network_field", why, {
    code: ErrorCode.UPDATE_MESSAGE,
    subcode: UpdateSubcode.INVALID_NETWORK_FIELD,
  });
}

function malformedList(why: string): BgpWireError {
  return new BgpWireError("malformed_attribute_list", why, {
    code: ErrorCode.UPDATE_MESSAGE,
    subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
  });
}

/**
 * Decodes an UPDATE body. Session-reset errors throw {@linkcode BgpWireError}. With
 * `opts.keys` the prefixes go to those packed lists instead of the message's string arrays.
 */
export function decodeUpdate(body: Uint8Array, opts: AttributeDecodeOptions): DecodedUpdate {
  const keys = opts.keys;
  if (keys) {
    keys.withdrawn.clear();
    keys.nlri.clear();
    keys.mpReach.clear();
    keys.mpUnreach.clear();
  }
  const len = body.length;
  if (len < 4) throw malformedList(`UPDATE body of ${len} octets is too short`);
  const wlen = (body[0] << 8) | body[1];
  if (2 + wlen + 2 > len) {
    throw malformedList(`Withdrawn routes length ${wlen} exceeds the message`);
  }
  const wKeys = keys?.withdrawn ?? new PrefixList();
  let fault = readNlriKeys(body, 2, 2 + wlen, "ipv4", wKeys);
  if (fault) throw invalidNetwork(`Withdrawn routes: ${fault.reason}`);
  const aStart = 4 + wlen;
  const alen = (body[aStart - 2] << 8) | body[aStart - 1];
  if (aStart + alen > len) {
    throw malformedList(`Total path attribute length ${alen} exceeds the message`);
  }
  const nKeys = keys?.nlri ?? new PrefixList();
  fault = readNlriKeys(body, aStart + alen, len, "ipv4", nKeys);
  if (fault) throw invalidNetwork(`NLRI: ${fault.reason}`);
  const withdrawn = keys ? [] : wKeys.texts();
  const nlri = keys ? [] : nKeys.texts();
  const nlriCount = nKeys.length;
  if (alen === 0) {
    if (nlriCount > 0) {
      // RFC 7606 3(d): missing well-known attributes -> treat-as-withdraw.
      return {
        message: { type: "update", withdrawn, attributes: {}, nlri },
        treatAsWithdraw: true,
        issues: [{
          action: "treat-as-withdraw",
          attrType: AttrType.ORIGIN,
          subcode: UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
          reason: "NLRI without any path attribute",
        }],
      };
    }
    return {
      message: { type: "update", withdrawn, attributes: {}, nlri },
      treatAsWithdraw: false,
      issues: [],
    };
  }
  const d = decodeAttributes(body, aStart, aStart + alen, opts);
  let treatAsWithdraw = d.treatAsWithdraw;
  const issues = d.issues;
  const mpCount = d.mpReach === undefined ? 0 : keys ? keys.mpReach.length : d.mpReach.nlri.length;
  const reach = nlriCount > 0 || mpCount > 0;
  if (reach && !treatAsWithdraw) {
    const missing: number[] = [];
    if (!d.seen[AttrType.ORIGIN]) missing.push(AttrType.ORIGIN);
    if (!d.seen[AttrType.AS_PATH]) missing.push(AttrType.AS_PATH);
    if (nlriCount > 0 && !d.seen[AttrType.NEXT_HOP]) missing.push(AttrType.NEXT_HOP);
    if (opts.ibgp && !d.seen[AttrType.LOCAL_PREF]) missing.push(AttrType.LOCAL_PREF);
    for (const m of missing) {
      issues.push({
        action: "treat-as-withdraw",
        attrType: m,
        subcode: UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
        reason: `missing well-known attribute ${m}`,
      });
      treatAsWithdraw = true;
    }
    if (nlriCount > 0 && d.badNextHop !== undefined) {
      issues.push({
        action: "treat-as-withdraw",
        attrType: AttrType.NEXT_HOP,
        subcode: UpdateSubcode.INVALID_NEXT_HOP,
        reason: `invalid NEXT_HOP "${d.badNextHop}"`,
      });
      treatAsWithdraw = true;
    }
  }
  const message: UpdateMessage = {
    type: "update",
    withdrawn,
    attributes: d.attributes,
    nlri,
    ...(d.mpReach ? { mpReach: d.mpReach } : {}),
    ...(d.mpUnreach ? { mpUnreach: d.mpUnreach } : {}),
  };
  return { message, treatAsWithdraw, issues };
}

/** Encoding context for UPDATEs. */
export interface UpdateEncodeOptions extends AttributeEncodeOptions {
  /** Largest message allowed (4096, or 65535 with extended messages). */
  readonly maxLength?: number;
}

function writeMpReach(w: ByteWriter, m: MpReach) {
  const end = beginAttribute(w, AttrFlag.OPTIONAL, AttrType.MP_REACH_NLRI);
  w.u16(m.afi);
  w.u8(m.safi);
  writeMpNextHop(w, m.nextHop, m.linkLocalNextHop);
  w.u8(0);
  for (const p of m.nlri) {
    const pp = parsePrefix(p, false);
    w.ensure(17);
    w.pos = writeNlri(pp, w.buf, w.pos);
  }
  end();
}

function writeMpUnreach(w: ByteWriter, m: MpUnreach) {
  const end = beginAttribute(w, AttrFlag.OPTIONAL, AttrType.MP_UNREACH_NLRI);
  w.u16(m.afi);
  w.u8(m.safi);
  for (const p of m.withdrawn) {
    w.ensure(17);
    w.pos = writeNlri(parsePrefix(p, false), w.buf, w.pos);
  }
  end();
}

/** Encodes one UPDATE (whole message). Throws if it exceeds `maxLength`. */
export function encodeUpdate(
  m: Omit<UpdateMessage, "type">,
  opts: UpdateEncodeOptions,
): Uint8Array {
  const w = new ByteWriter(4096);
  w.pos = HEADER_LENGTH;
  w.u16(0);
  for (const p of m.withdrawn) {
    w.ensure(5);
    w.pos = writeNlri(parsePrefix(p, false), w.buf, w.pos);
  }
  w.view.setUint16(HEADER_LENGTH, w.pos - HEADER_LENGTH - 2);
  const alenAt = w.pos;
  w.u16(0);
  if (m.mpUnreach) writeMpUnreach(w, m.mpUnreach);
  if (m.mpReach) writeMpReach(w, m.mpReach);
  encodeAttributes(w, m.attributes, opts);
  w.view.setUint16(alenAt, w.pos - alenAt - 2);
  for (const p of m.nlri) {
    w.ensure(5);
    w.pos = writeNlri(parsePrefix(p, false), w.buf, w.pos);
  }
  const max = opts.maxLength ?? MAX_MESSAGE_LENGTH;
  if (w.pos > max) {
    throw new BgpWireError("encode_error", `UPDATE of ${w.pos} octets exceeds ${max}`, {
      code: ErrorCode.CEASE,
      subcode: 0,
    });
  }
  writeHeader(w.buf, w.pos, MessageType.UPDATE);
  return w.take();
}

/** Routes to announce with one set of attributes. */
export interface Announcement {
  /** Family of every prefix. */
  readonly family: Family;
  /** Attributes shared by all prefixes (NEXT_HOP is used for IPv4, `mpNextHop` for IPv6). */
  readonly attributes: PathAttributes;
  /** For IPv6: global next hop; for IPv4 over MP it is ignored. */
  readonly mpNextHop?: string;
  /** For IPv6: optional link-local next hop. */
  readonly mpLinkLocalNextHop?: string;
  /** Canonical prefixes. */
  readonly prefixes: readonly string[];
}

/**
 * Packs an announcement into as few UPDATE messages as `maxLength` allows: the attribute block is
 * encoded once and the NLRI are cut into chunks. IPv6 prefixes go into MP_REACH_NLRI.
 */
export function packAnnouncement(a: Announcement, opts: UpdateEncodeOptions): Uint8Array[] {
  const max = opts.maxLength ?? MAX_MESSAGE_LENGTH;
  const aw = new ByteWriter(1024);
  const attrs = a.family === "ipv6" ? { ...a.attributes, nextHop: undefined } : a.attributes;
  encodeAttributes(aw, attrs, opts);
  const attrBlock = aw.buf.subarray(0, aw.pos);
  const parsed = a.prefixes.map((p) => parsePrefix(p, false));
  const out: Uint8Array[] = [];
  let i = 0;
  if (a.family === "ipv4") {
    const fixed = HEADER_LENGTH + 2 + 2 + attrBlock.length;
    if (fixed + 5 > max) throw malformedList("Attributes leave no room for NLRI");
    while (i < parsed.length) {
      let size = fixed, j = i;
      while (j < parsed.length && size + nlriSize(parsed[j]) <= max) size += nlriSize(parsed[j++]);
      const msg = new Uint8Array(size);
      writeHeader(msg, size, MessageType.UPDATE);
      let p = HEADER_LENGTH;
      msg[p++] = 0;
      msg[p++] = 0;
      msg[p++] = attrBlock.length >> 8;
      msg[p++] = attrBlock.length & 0xff;
      msg.set(attrBlock, p);
      p += attrBlock.length;
      for (let k = i; k < j; k++) p = writeNlri(parsed[k], msg, p);
      out.push(msg);
      i = j;
    }
    return out;
  }
  const nh = a.mpNextHop ?? "::";
  const mpFixed = 4 + 3 + mpNextHopSize(nh, a.mpLinkLocalNextHop) + 1; // ext-length header
  const fixed = HEADER_LENGTH + 2 + 2 + attrBlock.length + mpFixed;
  if (fixed + 17 > max) throw malformedList("Attributes leave no room for NLRI");
  while (i < parsed.length) {
    let size = fixed, j = i;
    while (j < parsed.length && size + nlriSize(parsed[j]) <= max) size += nlriSize(parsed[j++]);
    const w = new ByteWriter(size);
    w.pos = HEADER_LENGTH;
    w.u16(0);
    w.u16(0);
    w.u8(AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH);
    w.u8(AttrType.MP_REACH_NLRI);
    const lenAt = w.pos;
    w.u16(0);
    w.u16(Afi.IPV6);
    w.u8(Safi.UNICAST);
    writeMpNextHop(w, nh, a.mpLinkLocalNextHop);
    w.u8(0);
    for (let k = i; k < j; k++) w.pos = writeNlri(parsed[k], w.buf, w.pos);
    w.view.setUint16(lenAt, w.pos - lenAt - 2);
    w.bytes(attrBlock);
    w.view.setUint16(HEADER_LENGTH + 2, w.pos - HEADER_LENGTH - 4);
    writeHeader(w.buf, w.pos, MessageType.UPDATE);
    out.push(w.buf.subarray(0, w.pos));
    i = j;
  }
  return out;
}

/** Packs withdrawals into as few UPDATEs as possible (IPv6 through MP_UNREACH_NLRI). */
export function packWithdrawal(
  family: Family,
  prefixes: readonly string[],
  opts: { maxLength?: number } = {},
): Uint8Array[] {
  const max = opts.maxLength ?? MAX_MESSAGE_LENGTH;
  const parsed = prefixes.map((p) => parsePrefix(p, false));
  const out: Uint8Array[] = [];
  const fixed = family === "ipv4" ? HEADER_LENGTH + 4 : HEADER_LENGTH + 4 + 4 + 3;
  let i = 0;
  while (i < parsed.length) {
    let size = fixed, j = i;
    while (j < parsed.length && size + nlriSize(parsed[j]) <= max) size += nlriSize(parsed[j++]);
    const msg = new Uint8Array(size);
    const v = new DataView(msg.buffer);
    writeHeader(msg, size, MessageType.UPDATE);
    let p = HEADER_LENGTH;
    if (family === "ipv4") {
      v.setUint16(p, size - fixed);
      p += 2;
      for (let k = i; k < j; k++) p = writeNlri(parsed[k], msg, p);
      v.setUint16(p, 0);
    } else {
      v.setUint16(p, 0);
      v.setUint16(p + 2, size - HEADER_LENGTH - 4);
      msg[p + 4] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH;
      msg[p + 5] = AttrType.MP_UNREACH_NLRI;
      v.setUint16(p + 6, size - HEADER_LENGTH - 4 - 4);
      v.setUint16(p + 8, Afi.IPV6);
      msg[p + 10] = Safi.UNICAST;
      p += 11;
      for (let k = i; k < j; k++) p = writeNlri(parsed[k], msg, p);
    }
    out.push(msg);
    i = j;
  }
  return out;
}

/** The End-of-RIB marker for a family (RFC 4724 2). */
export function encodeEndOfRib(family: Family): Uint8Array {
  if (family === "ipv4") {
    return encodeUpdate({ withdrawn: [], attributes: {}, nlri: [] }, { as4: true });
  }
  return encodeUpdate({
    withdrawn: [],
    attributes: {},
    nlri: [],
    mpUnreach: { afi: Afi.IPV6, safi: Safi.UNICAST, withdrawn: [] },
  }, { as4: true });
}

/** The family an UPDATE marks as End-of-RIB, or null when it is not a marker. `keys`: the
 * packed prefixes, when the message was decoded with `keys`. */
export function endOfRibFamily(m: UpdateMessage, keys?: NlriKeys): Family | null {
  const withdrawn = keys ? keys.withdrawn.length : m.withdrawn.length;
  const nlri = keys ? keys.nlri.length : m.nlri.length;
  if (withdrawn > 0 || nlri > 0 || m.mpReach) return null;
  const attrCount = Object.keys(m.attributes).length;
  if (attrCount > 0) return null;
  if (!m.mpUnreach) return "ipv4";
  if ((keys ? keys.mpUnreach.length : m.mpUnreach.withdrawn.length) > 0) return null;
  if (m.mpUnreach.safi !== Safi.UNICAST) return null;
  return m.mpUnreach.afi === Afi.IPV6 ? "ipv6" : m.mpUnreach.afi === Afi.IPV4 ? "ipv4" : null;
}
