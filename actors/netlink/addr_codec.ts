/**
 * RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR builders and the address parser (pure).
 *
 * `struct ifaddrmsg` layout: family u8, prefixlen u8, flags u8, scope u8, index u32 (8 bytes),
 * followed by `IFA_*` attributes.
 * @module
 */

import { AF_INET, AF_INET6, IFA, IFADDRMSG_LEN, NLM_F, RT_SCOPE, RTM } from "./constants.ts";
import { NetlinkDecodeError, NetlinkInputError } from "./errors.ts";
import { formatAddress, parseAddress, parsePrefix } from "./ip.ts";
import {
  attrString,
  attrU32,
  checkRequestHead,
  HOST_LE,
  type MessageWriter,
  type NetlinkMessage,
  parseAttrs,
  payloadFamily,
} from "./message.ts";

/** An interface address as tern asks for it. */
export interface Address {
  /** Interface index. */
  index: number;
  /** Address with prefix length, e.g. `"192.0.2.1/24"` or `"fd00::1/64"` (host bits allowed). */
  address: string;
  /** Point-to-point peer address (sets `IFA_ADDRESS` to the peer, like `ip addr add … peer …`). */
  peer?: string;
  /** Scope (default universe; `RT_SCOPE.LINK` for link-local). */
  scope?: number;
  /** `IFA_F_*` flags (e.g. `IFA_F.NODAD`); sent in `IFA_FLAGS`. */
  flags?: number;
  /** IPv4 label (defaults to the interface name in the kernel). */
  label?: string;
}

/** An interface address as the kernel reports it. */
export interface AddressInfo {
  /** `AF_INET` or `AF_INET6`. */
  family: number;
  /** Interface index. */
  index: number;
  /** Local address with prefix length. */
  address: string;
  /** Peer address, when different from the local one. */
  peer?: string;
  /** Prefix length. */
  prefixLen: number;
  /** Scope. */
  scope: number;
  /** Flags (from `IFA_FLAGS` when present). */
  flags: number;
  /** Label (IPv4). */
  label?: string;
}

/**
 * Appends an address request. `msgType` is `RTM.NEWADDR` or `RTM.DELADDR`; `flags` are added to
 * `NLM_F_REQUEST` (e.g. `NLM_F.CREATE | NLM_F.EXCL`, `NLM_F.ACK`). Throws
 * {@linkcode NetlinkInputError} and writes nothing on bad input.
 */
export function writeAddressRequest(
  w: MessageWriter,
  msgType: number,
  flags: number,
  seq: number,
  a: Address,
): void {
  checkRequestHead(msgType, [RTM.NEWADDR, RTM.DELADDR], "invalid_address", "address", a);
  const p = parsePrefix(a.address, false);
  if (!Number.isInteger(a.index) || a.index <= 0 || a.index > 0x7fffffff) {
    throw new NetlinkInputError(
      "invalid_number",
      `Invalid interface index ${JSON.stringify(a.index)}`,
      a,
    );
  }
  const peer = a.peer === undefined ? undefined : parseAddress(a.peer);
  if (peer && peer.family !== p.family) {
    throw new NetlinkInputError(
      "invalid_address",
      `Peer ${JSON.stringify(a.peer)} is not of the family of ${JSON.stringify(a.address)}`,
      a,
    );
  }
  const scope = a.scope ?? RT_SCOPE.UNIVERSE;
  if (!Number.isInteger(scope) || scope < 0 || scope > 255) {
    throw new NetlinkInputError("invalid_number", `Invalid scope ${JSON.stringify(scope)}`, a);
  }
  const aflags = a.flags ?? 0;
  w.beginMessage(msgType, NLM_F.REQUEST | flags, seq);
  w.u8(p.family);
  w.u8(p.len);
  w.u8(aflags & 0xff);
  w.u8(scope);
  w.u32(a.index);
  w.attrBytes(IFA.LOCAL, p.bytes);
  w.attrBytes(IFA.ADDRESS, peer ? peer.bytes : p.bytes);
  if (aflags > 0xff) w.attrU32(IFA.FLAGS, aflags);
  if (a.label !== undefined && p.family === AF_INET) w.attrString(IFA.LABEL, a.label);
  w.endMessage();
}

/** Appends an address dump request for one family (or both with `AF_UNSPEC`). */
export function writeAddressDump(w: MessageWriter, seq: number, family = 0): void {
  w.beginMessage(RTM.GETADDR, NLM_F.REQUEST | NLM_F.DUMP, seq);
  w.u8(family);
  w.zeros(IFADDRMSG_LEN - 1);
  w.endMessage();
}

/** Decodes an `RTM_NEWADDR`/`RTM_DELADDR` message. */
export function parseAddressMessage(msg: NetlinkMessage): AddressInfo {
  const p = msg.payload;
  const family = payloadFamily(p, IFADDRMSG_LEN, "ifaddrmsg", "address");
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const attrs = parseAttrs(p, IFADDRMSG_LEN);
  const local = attrs.get(IFA.LOCAL);
  const address = attrs.get(IFA.ADDRESS);
  const main = local ?? address;
  if (!main || main.length !== (family === AF_INET6 ? 16 : 4)) {
    throw new NetlinkDecodeError("Address message without a usable IFA_LOCAL/IFA_ADDRESS", 0);
  }
  const flagsAttr = attrs.get(IFA.FLAGS);
  const info: AddressInfo = {
    family,
    index: v.getUint32(4, HOST_LE),
    prefixLen: p[1],
    address: `${formatAddress(main)}/${p[1]}`,
    scope: p[3],
    flags: flagsAttr ? attrU32(flagsAttr) : p[2],
  };
  if (local && address && address.length === local.length) {
    const peer = formatAddress(address);
    if (peer !== formatAddress(local)) info.peer = peer;
  }
  const label = attrs.get(IFA.LABEL);
  if (label) info.label = attrString(label);
  return info;
}
