/**
 * Path attributes (RFC 4271 4.3/5, RFC 1997, RFC 4456, RFC 4760, RFC 6793, RFC 8092): types,
 * a decoder applying the revised error handling of RFC 7606 attribute by attribute, and an
 * encoder (attributes in ascending type order, MP attributes first as RFC 7606 5.1 asks).
 * @module
 */
import {
  Afi,
  AS_TRANS,
  AttrFlag,
  AttrType,
  ErrorCode,
  Safi,
  SegmentType,
  UpdateSubcode,
} from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import { type Family, formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "./prefix.ts";
import { PrefixList, readNlriKeys } from "./prefix_list.ts";

/** One AS_PATH segment. */
export interface AsPathSegment {
  /** 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET. */
  readonly type: number;
  /** AS numbers (always 4-octet values once decoded). */
  readonly asns: readonly number[];
}

/** AGGREGATOR. */
export interface Aggregator {
  /** Aggregating AS (4-octet value once decoded). */
  readonly asn: number;
  /** Aggregating speaker's address. */
  readonly address: string;
}

/** A large community (RFC 8092): global administrator, local data 1, local data 2. */
export type LargeCommunity = readonly [number, number, number];

/** An attribute kept as raw bytes (unrecognised optional transitive ones are passed on). */
export interface RawAttribute {
  /** Flags as they will be sent (partial bit set for unrecognised transitive attributes). */
  readonly flags: number;
  /** Type code. */
  readonly code: number;
  /** Value bytes. */
  readonly value: Uint8Array;
}

/** The path attributes of a route, MP_REACH/MP_UNREACH excluded (they belong to the UPDATE). */
export interface PathAttributes {
  /** ORIGIN: 0 IGP, 1 EGP, 2 INCOMPLETE. */
  readonly origin?: number;
  /** AS_PATH (merged with AS4_PATH toward 2-octet speakers). */
  readonly asPath?: readonly AsPathSegment[];
  /** NEXT_HOP (IPv4). */
  readonly nextHop?: string;
  /** MULTI_EXIT_DISC. */
  readonly med?: number;
  /** LOCAL_PREF. */
  readonly localPref?: number;
  /** ATOMIC_AGGREGATE present. */
  readonly atomicAggregate?: boolean;
  /** AGGREGATOR (merged with AS4_AGGREGATOR). */
  readonly aggregator?: Aggregator;
  /** COMMUNITIES as 32-bit values. */
  readonly communities?: readonly number[];
  /** ORIGINATOR_ID (RFC 4456). */
  readonly originatorId?: string;
  /** CLUSTER_LIST (RFC 4456). */
  readonly clusterList?: readonly string[];
  /** LARGE_COMMUNITIES. */
  readonly largeCommunities?: readonly LargeCommunity[];
  /** Unrecognised optional transitive attributes, passed on with the partial bit. */
  readonly unknown?: readonly RawAttribute[];
}

/** MP_REACH_NLRI content. */
export interface MpReach {
  /** AFI. */
  readonly afi: number;
  /** SAFI. */
  readonly safi: number;
  /** Next hop (IPv4 or IPv6 global). */
  readonly nextHop: string;
  /** IPv6 link-local next hop (32-octet next hop field). */
  readonly linkLocalNextHop?: string;
  /** Reachable prefixes. */
  readonly nlri: readonly string[];
}

/** MP_UNREACH_NLRI content. */
export interface MpUnreach {
  /** AFI. */
  readonly afi: number;
  /** SAFI. */
  readonly safi: number;
  /** Withdrawn prefixes. */
  readonly withdrawn: readonly string[];
}

/** What RFC 7606 made of one faulty attribute. */
export interface AttributeIssue {
  /** `treat-as-withdraw`: every prefix of the UPDATE is withdrawn; `discard`: attribute dropped. */
  readonly action: "treat-as-withdraw" | "discard";
  /** Attribute type code concerned (0 for the attribute list as a whole). */
  readonly attrType: number;
  /** The UPDATE Message Error subcode RFC 4271 would have sent. */
  readonly subcode: number;
  /** Explanation quoting the offending value. */
  readonly reason: string;
}

/** Decoding context. */
export interface AttributeDecodeOptions {
  /** 4-octet AS numbers negotiated (AS_PATH and AGGREGATOR carry 4-octet ASNs). */
  readonly as4: boolean;
  /** The session is iBGP (LOCAL_PREF is expected; from eBGP it is discarded). */
  readonly ibgp: boolean;
  /** For eBGP: the peer's ASN, which must lead the AS_PATH (RFC 4271 6.3). */
  readonly peerAsn?: number;
  /**
   * The receive path's packed form: when given, the prefixes of the UPDATE are appended to
   * these lists (emptied first by `decodeUpdate`) and the prefix arrays of the decoded message
   * (`withdrawn`, `nlri`, `mpReach.nlri`, `mpUnreach.withdrawn`) are left empty, so that no
   * string is made per prefix.
   */
  readonly keys?: NlriKeys;
}

/** Packed destinations for the prefixes of one UPDATE (see `AttributeDecodeOptions.keys`). */
export interface NlriKeys {
  /** Withdrawn routes field (IPv4). */
  readonly withdrawn: PrefixList;
  /** NLRI field (IPv4). */
  readonly nlri: PrefixList;
  /** MP_REACH_NLRI prefixes. */
  readonly mpReach: PrefixList;
  /** MP_UNREACH_NLRI prefixes. */
  readonly mpUnreach: PrefixList;
}

/** Four empty lists for {@linkcode NlriKeys}. */
export function nlriKeys(): NlriKeys {
  return {
    withdrawn: new PrefixList(),
    nlri: new PrefixList(),
    mpReach: new PrefixList(),
    mpUnreach: new PrefixList(),
  };
}

/** Result of decoding an attribute block. */
export interface DecodedAttributes {
  /** Attributes that survived. */
  attributes: PathAttributes;
  /** MP_REACH_NLRI, when present and for a supported family. */
  mpReach?: MpReach;
  /** MP_UNREACH_NLRI, when present and for a supported family. */
  mpUnreach?: MpUnreach;
  /** RFC 7606 outcomes. */
  issues: AttributeIssue[];
  /** Some issue asks for treat-as-withdraw. */
  treatAsWithdraw: boolean;
  /** NEXT_HOP was present but semantically invalid (only matters with IPv4 NLRI). */
  badNextHop?: string;
  /** Type codes seen (for missing well-known checks). */
  seen: Uint8Array;
}

const WELL_KNOWN = AttrFlag.TRANSITIVE;
const OPT_TRANS = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;
const OPT_NONTRANS = AttrFlag.OPTIONAL;

/** Expected optional/transitive flag bits of every attribute tern understands. */
const EXPECTED_FLAGS: Record<number, number> = {
  [AttrType.ORIGIN]: WELL_KNOWN,
  [AttrType.AS_PATH]: WELL_KNOWN,
  [AttrType.NEXT_HOP]: WELL_KNOWN,
  [AttrType.MULTI_EXIT_DISC]: OPT_NONTRANS,
  [AttrType.LOCAL_PREF]: WELL_KNOWN,
  [AttrType.ATOMIC_AGGREGATE]: WELL_KNOWN,
  [AttrType.AGGREGATOR]: OPT_TRANS,
  [AttrType.COMMUNITIES]: OPT_TRANS,
  [AttrType.ORIGINATOR_ID]: OPT_NONTRANS,
  [AttrType.CLUSTER_LIST]: OPT_NONTRANS,
  [AttrType.MP_REACH_NLRI]: OPT_NONTRANS,
  [AttrType.MP_UNREACH_NLRI]: OPT_NONTRANS,
  [AttrType.AS4_PATH]: OPT_TRANS,
  [AttrType.AS4_AGGREGATOR]: OPT_TRANS,
  [AttrType.LARGE_COMMUNITIES]: OPT_TRANS,
};

/** Attributes whose malformation means "attribute discard" rather than treat-as-withdraw. */
const DISCARD_ON_ERROR = new Set<number>([
  AttrType.ATOMIC_AGGREGATE,
  AttrType.AGGREGATOR,
  AttrType.AS4_PATH,
  AttrType.AS4_AGGREGATOR,
]);

function updateError(
  code: ConstructorParameters<typeof BgpWireError>[0],
  subcode: number,
  why: string,
  data?: Uint8Array,
): BgpWireError {
  return new BgpWireError(code, why, { code: ErrorCode.UPDATE_MESSAGE, subcode, data });
}

/** Family name of an AFI/SAFI pair tern carries, or null. */
export function familyOfAfiSafi(afi: number, safi: number): Family | null {
  if (safi !== Safi.UNICAST) return null;
  return afi === Afi.IPV4 ? "ipv4" : afi === Afi.IPV6 ? "ipv6" : null;
}

function parseAsPath(
  buf: Uint8Array,
  v: DataView,
  start: number,
  end: number,
  width: 2 | 4,
): AsPathSegment[] | string {
  const segs: AsPathSegment[] = [];
  let p = start;
  while (p < end) {
    if (p + 2 > end) return `truncated segment header at octet ${p - start}`;
    const type = buf[p], count = buf[p + 1];
    if (type < 1 || type > 4) return `segment type ${type} is not 1-4`;
    if (count === 0) return `segment of type ${type} has zero ASNs`;
    if (p + 2 + count * width > end) return `segment of ${count} ASNs overruns the attribute`;
    const asns = new Array<number>(count);
    let q = p + 2;
    for (let i = 0; i < count; i++, q += width) {
      asns[i] = width === 4 ? v.getUint32(q) : v.getUint16(q);
    }
    segs.push({ type, asns });
    p = q;
  }
  return segs;
}

function pathLength(segs: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segs) {
    if (s.type === SegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === SegmentType.AS_SET) n += 1;
  }
  return n;
}

/** RFC 6793 4.2.3: rebuild the real path from AS_PATH and AS4_PATH. */
export function mergeAs4Path(
  asPath: readonly AsPathSegment[],
  as4Path: readonly AsPathSegment[],
): readonly AsPathSegment[] {
  const n = pathLength(asPath), n4 = pathLength(as4Path);
  if (n < n4) return asPath;
  let keep = n - n4;
  const out: AsPathSegment[] = [];
  for (const s of asPath) {
    if (keep <= 0) break;
    if (s.type === SegmentType.AS_SEQUENCE) {
      const take = Math.min(keep, s.asns.length);
      out.push({ type: s.type, asns: s.asns.slice(0, take) });
      keep -= take;
    } else if (s.type === SegmentType.AS_SET) {
      out.push(s);
      keep -= 1;
    } else out.push(s);
  }
  for (const s of as4Path) {
    const last = out[out.length - 1];
    if (
      last && last.type === SegmentType.AS_SEQUENCE && s.type === SegmentType.AS_SEQUENCE &&
      last.asns.length + s.asns.length <= 255
    ) {
      out[out.length - 1] = { type: last.type, asns: [...last.asns, ...s.asns] };
    } else out.push(s);
  }
  return out;
}

function isBadNextHop(b: Uint8Array, off: number): boolean {
  const a = b[off];
  if (a === 0 && b[off + 1] === 0 && b[off + 2] === 0 && b[off + 3] === 0) return true;
  if (a >= 224 && a <= 239) return true; // multicast
  if (a === 255 && b[off + 1] === 255 && b[off + 2] === 255 && b[off + 3] === 255) return true;
  return false;
}

/**
 * Decodes the path attribute block `buf[start, end)`. Session-reset conditions throw
 * {@linkcode BgpWireError}; RFC 7606 treat-as-withdraw and attribute discard are reported in
 * the result.
 */
export function decodeAttributes(
  buf: Uint8Array,
  start: number,
  end: number,
  opts: AttributeDecodeOptions,
): DecodedAttributes {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const seen = new Uint8Array(256);
  const issues: AttributeIssue[] = [];
  let treatAsWithdraw = false;
  const a: {
    -readonly [K in keyof PathAttributes]: PathAttributes[K];
  } = {};
  let mpReach: MpReach | undefined;
  let mpUnreach: MpUnreach | undefined;
  let as4Path: AsPathSegment[] | undefined;
  let as4Aggregator: Aggregator | undefined;
  let badNextHop: string | undefined;
  let unknown: RawAttribute[] | undefined;

  const withdraw = (attrType: number, subcode: number, reason: string) => {
    issues.push({ action: "treat-as-withdraw", attrType, subcode, reason });
    treatAsWithdraw = true;
  };
  const discard = (attrType: number, subcode: number, reason: string) => {
    issues.push({ action: "discard", attrType, subcode, reason });
  };
  const malformed = (attrType: number, subcode: number, reason: string) => {
    if (DISCARD_ON_ERROR.has(attrType)) discard(attrType, subcode, reason);
    else withdraw(attrType, subcode, reason);
  };

  let p = start;
  while (p < end) {
    if (end - p < 3) {
      withdraw(
        0,
        UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        `${end - p} stray octets after attributes`,
      );
      break;
    }
    const flags = buf[p], code = buf[p + 1];
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    const hdr = ext ? 4 : 3;
    if (end - p < hdr) {
      withdraw(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `truncated header of attribute ${code}`);
      break;
    }
    const len = ext ? v.getUint16(p + 2) : buf[p + 2];
    const vs = p + hdr, ve = vs + len;
    if (ve > end) {
      if (code === AttrType.MP_REACH_NLRI || code === AttrType.MP_UNREACH_NLRI) {
        throw updateError(
          "malformed_attribute_list",
          UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
          `Attribute ${code} length ${len} overruns the attribute list`,
        );
      }
      withdraw(
        code,
        UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
        `attribute ${code} length ${len} overruns`,
      );
      break;
    }
    p = ve;
    if (seen[code]) {
      if (code === AttrType.MP_REACH_NLRI || code === AttrType.MP_UNREACH_NLRI) {
        throw updateError(
          "malformed_attribute_list",
          UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
          `Attribute ${code} appears more than once`,
        );
      }
      discard(code, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, `duplicate attribute ${code} ignored`);
      continue;
    }
    seen[code] = 1;
    const expected = EXPECTED_FLAGS[code];
    if (expected === undefined) {
      if ((flags & AttrFlag.OPTIONAL) === 0) {
        throw updateError(
          "unrecognized_well_known_attribute",
          UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
          `Unrecognized well-known attribute ${code}`,
          buf.slice(ve - len - hdr, ve),
        );
      }
      if (flags & AttrFlag.TRANSITIVE) {
        (unknown ??= []).push({
          flags: (flags | AttrFlag.PARTIAL) & ~AttrFlag.EXTENDED_LENGTH,
          code,
          value: buf.slice(vs, ve),
        });
      }
      continue;
    }
    const flagsBad = (flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) !== expected ||
      ((expected & AttrFlag.OPTIONAL) === 0 || (expected & AttrFlag.TRANSITIVE) === 0) &&
        (flags & AttrFlag.PARTIAL) !== 0;
    if (flagsBad) {
      if (code === AttrType.MP_REACH_NLRI || code === AttrType.MP_UNREACH_NLRI) {
        throw updateError(
          "malformed_attribute_list",
          UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
          `Attribute ${code} has flags 0x${flags.toString(16)}`,
          buf.slice(vs - hdr, ve),
        );
      }
      malformed(
        code,
        UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
        `attribute ${code} flags 0x${flags.toString(16)}`,
      );
      continue;
    }
    switch (code) {
      case AttrType.ORIGIN:
        if (len !== 1) withdraw(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `ORIGIN length ${len}`);
        else if (buf[vs] > 2) {
          withdraw(code, UpdateSubcode.INVALID_ORIGIN, `ORIGIN value ${buf[vs]}`);
        } else a.origin = buf[vs];
        break;
      case AttrType.AS_PATH: {
        const r = parseAsPath(buf, v, vs, ve, opts.as4 ? 4 : 2);
        if (typeof r === "string") withdraw(code, UpdateSubcode.MALFORMED_AS_PATH, `AS_PATH ${r}`);
        else a.asPath = r;
        break;
      }
      case AttrType.NEXT_HOP:
        if (len !== 4) {
          withdraw(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `NEXT_HOP length ${len}`);
        } else {
          a.nextHop = formatIPv4(buf, vs);
          if (isBadNextHop(buf, vs)) badNextHop = a.nextHop;
        }
        break;
      case AttrType.MULTI_EXIT_DISC:
        if (len !== 4) withdraw(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `MED length ${len}`);
        else a.med = v.getUint32(vs);
        break;
      case AttrType.LOCAL_PREF:
        if (!opts.ibgp) discard(code, 0, "LOCAL_PREF from an external peer");
        else if (len !== 4) {
          withdraw(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `LOCAL_PREF length ${len}`);
        } else a.localPref = v.getUint32(vs);
        break;
      case AttrType.ATOMIC_AGGREGATE:
        if (len !== 0) {
          discard(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `ATOMIC_AGGREGATE length ${len}`);
        } else a.atomicAggregate = true;
        break;
      case AttrType.AGGREGATOR: {
        const want = opts.as4 ? 8 : 6;
        if (len !== want) {
          discard(
            code,
            UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
            `AGGREGATOR length ${len}, expected ${want}`,
          );
        } else {
          a.aggregator = opts.as4
            ? { asn: v.getUint32(vs), address: formatIPv4(buf, vs + 4) }
            : { asn: v.getUint16(vs), address: formatIPv4(buf, vs + 2) };
        }
        break;
      }
      case AttrType.COMMUNITIES:
        if (len === 0 || len % 4 !== 0) {
          withdraw(code, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `COMMUNITIES length ${len}`);
        } else {
          const c = new Array<number>(len / 4);
          for (let i = 0; i < c.length; i++) c[i] = v.getUint32(vs + i * 4);
          a.communities = c;
        }
        break;
      case AttrType.ORIGINATOR_ID:
        if (len !== 4) {
          withdraw(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `ORIGINATOR_ID length ${len}`);
        } else a.originatorId = formatIPv4(buf, vs);
        break;
      case AttrType.CLUSTER_LIST:
        if (len === 0 || len % 4 !== 0) {
          withdraw(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `CLUSTER_LIST length ${len}`);
        } else {
          const c: string[] = [];
          for (let q = vs; q < ve; q += 4) c.push(formatIPv4(buf, q));
          a.clusterList = c;
        }
        break;
      case AttrType.LARGE_COMMUNITIES:
        if (len === 0 || len % 12 !== 0) {
          withdraw(code, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `LARGE_COMMUNITIES length ${len}`);
        } else {
          const c: LargeCommunity[] = [];
          const dedupe = new Set<string>();
          for (let q = vs; q < ve; q += 12) {
            const lc: LargeCommunity = [v.getUint32(q), v.getUint32(q + 4), v.getUint32(q + 8)];
            const k = lc.join(":");
            if (!dedupe.has(k)) {
              dedupe.add(k);
              c.push(lc);
            }
          }
          a.largeCommunities = c;
        }
        break;
      case AttrType.AS4_PATH: {
        if (opts.as4) {
          discard(code, 0, "AS4_PATH between 4-octet speakers");
          break;
        }
        const r = parseAsPath(buf, v, vs, ve, 4);
        if (typeof r === "string") discard(code, UpdateSubcode.MALFORMED_AS_PATH, `AS4_PATH ${r}`);
        else if (r.some((s) => s.type > 2)) {
          discard(code, UpdateSubcode.MALFORMED_AS_PATH, "AS4_PATH holds confederation segments");
        } else as4Path = r;
        break;
      }
      case AttrType.AS4_AGGREGATOR:
        if (opts.as4) discard(code, 0, "AS4_AGGREGATOR between 4-octet speakers");
        else if (len !== 8) {
          discard(code, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `AS4_AGGREGATOR length ${len}`);
        } else as4Aggregator = { asn: v.getUint32(vs), address: formatIPv4(buf, vs + 4) };
        break;
      case AttrType.MP_REACH_NLRI: {
        const fail = (why: string) =>
          updateError(
            "malformed_mp_reach",
            UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
            `MP_REACH_NLRI ${why}`,
          );
        if (len < 5) throw fail(`length ${len} is too short`);
        const afi = v.getUint16(vs), safi = buf[vs + 2], nhl = buf[vs + 3];
        if (vs + 4 + nhl + 1 > ve) throw fail(`next hop length ${nhl} overruns`);
        const fam = familyOfAfiSafi(afi, safi);
        if (fam === null) {
          discard(code, 0, `MP_REACH_NLRI for unsupported AFI ${afi} SAFI ${safi}`);
          break;
        }
        let nextHop: string, linkLocal: string | undefined;
        const nh = vs + 4;
        if (nhl === 4) nextHop = formatIPv4(buf, nh);
        else if (nhl === 16) nextHop = formatIPv6(buf, nh);
        else if (nhl === 32) {
          nextHop = formatIPv6(buf, nh);
          linkLocal = formatIPv6(buf, nh + 16);
        } else throw fail(`next hop length ${nhl} is not 4, 16 or 32`);
        if (fam === "ipv6" && nhl === 4) throw fail("IPv4 next hop for IPv6 NLRI");
        const keys = opts.keys?.mpReach ?? new PrefixList();
        const fault = readNlriKeys(buf, nh + nhl + 1, ve, fam, keys);
        if (fault) throw fail(fault.reason);
        const nlri = opts.keys ? [] : keys.texts();
        mpReach = linkLocal === undefined
          ? { afi, safi, nextHop, nlri }
          : { afi, safi, nextHop, linkLocalNextHop: linkLocal, nlri };
        break;
      }
      case AttrType.MP_UNREACH_NLRI: {
        const fail = (why: string) =>
          updateError(
            "malformed_mp_unreach",
            UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,
            `MP_UNREACH_NLRI ${why}`,
          );
        if (len < 3) throw fail(`length ${len} is too short`);
        const afi = v.getUint16(vs), safi = buf[vs + 2];
        const fam = familyOfAfiSafi(afi, safi);
        if (fam === null) {
          discard(code, 0, `MP_UNREACH_NLRI for unsupported AFI ${afi} SAFI ${safi}`);
          break;
        }
        const keys = opts.keys?.mpUnreach ?? new PrefixList();
        const fault = readNlriKeys(buf, vs + 3, ve, fam, keys);
        if (fault) throw fail(fault.reason);
        const withdrawn = opts.keys ? [] : keys.texts();
        mpUnreach = { afi, safi, withdrawn };
        break;
      }
    }
  }

  // RFC 6793 4.2.3: merge AS4_AGGREGATOR / AS4_PATH received from a 2-octet speaker.
  if (!opts.as4) {
    if (a.aggregator && a.aggregator.asn !== AS_TRANS) {
      // The aggregator is an OLD speaker: AS4_PATH and AS4_AGGREGATOR are not trusted.
      as4Path = undefined;
    } else if (a.aggregator && as4Aggregator) {
      a.aggregator = as4Aggregator;
    }
    if (as4Path && a.asPath) a.asPath = mergeAs4Path(a.asPath, as4Path);
  }
  if (
    opts.peerAsn !== undefined && !treatAsWithdraw && a.asPath && a.asPath.length > 0 &&
    !(a.asPath[0].type === SegmentType.AS_SEQUENCE && a.asPath[0].asns[0] === opts.peerAsn)
  ) {
    withdraw(
      AttrType.AS_PATH,
      UpdateSubcode.MALFORMED_AS_PATH,
      `AS_PATH does not start with the peer AS ${opts.peerAsn}`,
    );
  }
  if (unknown) a.unknown = unknown;
  return { attributes: a, mpReach, mpUnreach, issues, treatAsWithdraw, badNextHop, seen };
}

/** A growable byte writer with a DataView. */
export class ByteWriter {
  /** Backing buffer. */
  buf: Uint8Array;
  /** View over `buf`. */
  view: DataView;
  /** Write position. */
  pos = 0;
  /** Creates a writer with `capacity` bytes. */
  constructor(capacity = 4096) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }
  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  /** Writes one octet. */
  u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }
  /** Writes two octets, big endian. */
  u16(x: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, x);
    this.pos += 2;
  }
  /** Writes four octets, big endian. */
  u32(x: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, x >>> 0);
    this.pos += 4;
  }
  /** Writes bytes. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Copy of what was written. */
  take(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** Starts an attribute: writes flags, code and a length placeholder; returns a finisher. */
export function beginAttribute(w: ByteWriter, flags: number, code: number): () => void {
  w.u8(flags | AttrFlag.EXTENDED_LENGTH);
  w.u8(code);
  const lenAt = w.pos;
  w.u16(0);
  return () => {
    const len = w.pos - lenAt - 2;
    if (len <= 255) {
      // Shrink to a one-octet length: shift the value left by one.
      w.buf[lenAt - 2] &= ~AttrFlag.EXTENDED_LENGTH;
      w.buf.copyWithin(lenAt + 1, lenAt + 2, w.pos);
      w.buf[lenAt] = len;
      w.pos -= 1;
    } else {
      if (len > 0xffff) {
        throw new BgpWireError("encode_error", `Attribute ${code} of ${len} octets is too long`, {
          code: ErrorCode.CEASE,
          subcode: 0,
        });
      }
      w.view.setUint16(lenAt, len);
    }
  };
}

function writeAsPath(w: ByteWriter, segs: readonly AsPathSegment[], width: 2 | 4, trans: boolean) {
  for (const s of segs) {
    for (let i = 0; i < s.asns.length || i === 0; i += 255) {
      const chunk = s.asns.slice(i, i + 255);
      if (chunk.length === 0) break;
      w.u8(s.type);
      w.u8(chunk.length);
      for (const asn of chunk) {
        if (width === 4) w.u32(asn);
        else w.u16(trans && asn > 0xffff ? AS_TRANS : asn);
      }
    }
  }
}

/** Encoding context. */
export interface AttributeEncodeOptions {
  /** 4-octet AS numbers negotiated with the receiver. */
  readonly as4: boolean;
}

/**
 * Writes every attribute of `a` (ascending type code) into `w`. Toward a 2-octet speaker,
 * 4-octet ASNs become AS_TRANS and AS4_PATH / AS4_AGGREGATOR are added (RFC 6793 4.2.2).
 */
export function encodeAttributes(w: ByteWriter, a: PathAttributes, opts: AttributeEncodeOptions) {
  let end: () => void;
  if (a.origin !== undefined) {
    end = beginAttribute(w, WELL_KNOWN, AttrType.ORIGIN);
    w.u8(a.origin);
    end();
  }
  if (a.asPath !== undefined) {
    end = beginAttribute(w, WELL_KNOWN, AttrType.AS_PATH);
    writeAsPath(w, a.asPath, opts.as4 ? 4 : 2, true);
    end();
  }
  if (a.nextHop !== undefined) {
    end = beginAttribute(w, WELL_KNOWN, AttrType.NEXT_HOP);
    w.bytes(parseIPv4(a.nextHop));
    end();
  }
  if (a.med !== undefined) {
    end = beginAttribute(w, OPT_NONTRANS, AttrType.MULTI_EXIT_DISC);
    w.u32(a.med);
    end();
  }
  if (a.localPref !== undefined) {
    end = beginAttribute(w, WELL_KNOWN, AttrType.LOCAL_PREF);
    w.u32(a.localPref);
    end();
  }
  if (a.atomicAggregate) {
    end = beginAttribute(w, WELL_KNOWN, AttrType.ATOMIC_AGGREGATE);
    end();
  }
  if (a.aggregator !== undefined) {
    end = beginAttribute(w, OPT_TRANS, AttrType.AGGREGATOR);
    if (opts.as4) w.u32(a.aggregator.asn);
    else w.u16(a.aggregator.asn > 0xffff ? AS_TRANS : a.aggregator.asn);
    w.bytes(parseIPv4(a.aggregator.address));
    end();
  }
  if (a.communities !== undefined && a.communities.length > 0) {
    end = beginAttribute(w, OPT_TRANS, AttrType.COMMUNITIES);
    for (const c of a.communities) w.u32(c);
    end();
  }
  if (a.originatorId !== undefined) {
    end = beginAttribute(w, OPT_NONTRANS, AttrType.ORIGINATOR_ID);
    w.bytes(parseIPv4(a.originatorId));
    end();
  }
  if (a.clusterList !== undefined && a.clusterList.length > 0) {
    end = beginAttribute(w, OPT_NONTRANS, AttrType.CLUSTER_LIST);
    for (const c of a.clusterList) w.bytes(parseIPv4(c));
    end();
  }
  if (!opts.as4) {
    const needs4 = a.asPath?.some((s) => s.asns.some((x) => x > 0xffff)) ?? false;
    if (needs4 && a.asPath) {
      end = beginAttribute(w, OPT_TRANS, AttrType.AS4_PATH);
      writeAsPath(w, a.asPath.filter((s) => s.type <= 2), 4, false);
      end();
    }
    if (a.aggregator !== undefined && a.aggregator.asn > 0xffff) {
      end = beginAttribute(w, OPT_TRANS, AttrType.AS4_AGGREGATOR);
      w.u32(a.aggregator.asn);
      w.bytes(parseIPv4(a.aggregator.address));
      end();
    }
  }
  if (a.largeCommunities !== undefined && a.largeCommunities.length > 0) {
    end = beginAttribute(w, OPT_TRANS, AttrType.LARGE_COMMUNITIES);
    for (const [g, l1, l2] of a.largeCommunities) {
      w.u32(g);
      w.u32(l1);
      w.u32(l2);
    }
    end();
  }
  if (a.unknown) {
    for (const u of [...a.unknown].sort((x, y) => x.code - y.code)) {
      end = beginAttribute(w, u.flags & ~AttrFlag.EXTENDED_LENGTH, u.code);
      w.bytes(u.value);
      end();
    }
  }
}

/** Writes the next hop field of MP_REACH_NLRI (length octet included). */
export function writeMpNextHop(w: ByteWriter, nextHop: string, linkLocal?: string): void {
  if (nextHop.includes(":")) {
    w.u8(linkLocal ? 32 : 16);
    w.bytes(parseIPv6(nextHop));
    if (linkLocal) w.bytes(parseIPv6(linkLocal));
  } else {
    w.u8(4);
    w.bytes(parseIPv4(nextHop));
  }
}

/** Size of the MP next hop field, length octet included. */
export function mpNextHopSize(nextHop: string, linkLocal?: string): number {
  return 1 + (nextHop.includes(":") ? (linkLocal ? 32 : 16) : 4);
}
