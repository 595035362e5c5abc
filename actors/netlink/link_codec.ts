/**
 * RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK builders and the link parser (pure).
 *
 * `struct ifinfomsg` layout: family u8, pad u8, type u16, index s32, flags u32, change u32
 * (16 bytes), followed by `IFLA_*` attributes. A veth pair is created with
 * `IFLA_LINKINFO { IFLA_INFO_KIND "veth", IFLA_INFO_DATA { VETH_INFO_PEER { ifinfomsg, IFLA_* } } }`.
 * @module
 */

import { IFF, IFINFOMSG_LEN, IFLA, IFLA_INFO, NLM_F, RTM, VETH_INFO_PEER } from "./constants.ts";
import { NetlinkDecodeError, NetlinkInputError } from "./errors.ts";
import { formatMac, parseMac } from "./ip.ts";
import {
  attrS32,
  attrString,
  attrU32,
  attrU8,
  HOST_LE,
  type MessageWriter,
  type NetlinkMessage,
  parseAttrs,
} from "./message.ts";

/** Where to move a link: a namespace file descriptor or a process id. */
export interface NetnsTarget {
  /** Open fd of a network namespace (e.g. of `/run/netns/NAME`): `IFLA_NET_NS_FD`. */
  netnsFd?: number;
  /** A process whose network namespace to use: `IFLA_NET_NS_PID`. */
  netnsPid?: number;
}

/** Attributes settable on a link (create or change). */
export interface LinkSettings extends NetnsTarget {
  /** Interface name (`IFLA_IFNAME`): the new name when changing a link by index. */
  name?: string;
  /** MTU. */
  mtu?: number;
  /** MAC address `aa:bb:cc:dd:ee:ff`. */
  mac?: string;
  /** Administrative state (`IFF_UP` with the change mask). */
  up?: boolean;
}

/** A link request: identify by `index` (or by `name` when creating/looking up), then settings. */
export interface LinkRequest extends LinkSettings {
  /** Interface index of an existing link (0 or absent when creating). */
  index?: number;
  /** Create a link of this kind (only `"veth"` carries extra data here). */
  kind?: "veth";
  /** The peer end of a veth pair. */
  peer?: LinkSettings & { name: string };
}

/** A link as the kernel reports it. */
export interface LinkInfo {
  /** Interface index. */
  index: number;
  /** Name. */
  name: string;
  /** `IFF_*` flags. */
  flags: number;
  /** Administratively up. */
  up: boolean;
  /** ARPHRD type. */
  type: number;
  /** MTU. */
  mtu?: number;
  /** Link-layer address. */
  mac?: string;
  /** `IFLA_INFO_KIND` (e.g. `"veth"`). */
  kind?: string;
  /** `IFLA_LINK`: the peer's index for veth (in the peer's namespace). */
  link?: number;
  /** `IFLA_MASTER`. */
  master?: number;
  /** `IFLA_OPERSTATE` (6 = up). */
  operstate?: number;
  /** `IFLA_LINK_NETNSID`: the peer lives in another namespace with this id. */
  linkNetnsid?: number;
}

const IFNAMSIZ = 16;

function checkName(name: unknown, whole: unknown): string {
  if (
    typeof name !== "string" || name.length === 0 || new TextEncoder().encode(name).length >=
      IFNAMSIZ ||
    /[\s/:]/.test(name) || name.includes("\0") || name === "." || name === ".."
  ) {
    throw new NetlinkInputError(
      "invalid_interface_name",
      `Invalid interface name ${JSON.stringify(name)}`,
      whole,
    );
  }
  return name;
}

function checkInt(v: unknown, min: number, max: number, what: string, whole: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new NetlinkInputError(
      "invalid_number",
      `Invalid ${what} ${JSON.stringify(v)} (expected an integer ${min}..${max})`,
      whole,
    );
  }
  return v;
}

interface CheckedSettings {
  name?: string;
  mtu?: number;
  mac?: Uint8Array;
  up?: boolean;
  netnsFd?: number;
  netnsPid?: number;
}

function checkSettings(s: LinkSettings, whole: unknown): CheckedSettings {
  const out: CheckedSettings = {};
  if (s.name !== undefined) out.name = checkName(s.name, whole);
  if (s.mtu !== undefined) out.mtu = checkInt(s.mtu, 68, 65535, "MTU", whole);
  if (s.mac !== undefined) out.mac = parseMac(s.mac);
  if (s.up !== undefined) out.up = s.up === true;
  if (s.netnsFd !== undefined) out.netnsFd = checkInt(s.netnsFd, 0, 0x7fffffff, "netns fd", whole);
  if (s.netnsPid !== undefined) {
    out.netnsPid = checkInt(s.netnsPid, 1, 0x7fffffff, "netns pid", whole);
  }
  if (out.netnsFd !== undefined && out.netnsPid !== undefined) {
    throw new NetlinkInputError("invalid_link", "Give netnsFd or netnsPid, not both", whole);
  }
  return out;
}

function writeIfinfo(w: MessageWriter, index: number, s: CheckedSettings): void {
  w.u8(0); // family AF_UNSPEC
  w.u8(0);
  w.u16(0); // type
  w.s32(index);
  w.u32(s.up ? IFF.UP : 0);
  w.u32(s.up === undefined ? 0 : IFF.UP);
}

function writeSettingsAttrs(w: MessageWriter, s: CheckedSettings): void {
  if (s.name !== undefined) w.attrString(IFLA.IFNAME, s.name);
  if (s.mtu !== undefined) w.attrU32(IFLA.MTU, s.mtu);
  if (s.mac !== undefined) w.attrBytes(IFLA.ADDRESS, s.mac);
  if (s.netnsFd !== undefined) w.attrU32(IFLA.NET_NS_FD, s.netnsFd);
  if (s.netnsPid !== undefined) w.attrU32(IFLA.NET_NS_PID, s.netnsPid);
}

/**
 * Appends an `RTM_NEWLINK` request: creates a link when `kind` is given (add `NLM_F.CREATE |
 * NLM_F.EXCL`), otherwise changes the link `index` (up/down, MTU, MAC, rename, move to a netns).
 * Throws {@linkcode NetlinkInputError} and writes nothing on bad input.
 */
export function writeNewLink(
  w: MessageWriter,
  flags: number,
  seq: number,
  req: LinkRequest,
): void {
  if (req === null || typeof req !== "object") {
    throw new NetlinkInputError("invalid_link", `Invalid link request ${JSON.stringify(req)}`, req);
  }
  const s = checkSettings(req, req);
  const index = req.index === undefined ? 0 : checkInt(req.index, 0, 0x7fffffff, "index", req);
  if (req.kind !== undefined && req.kind !== "veth") {
    throw new NetlinkInputError(
      "invalid_link",
      `Unsupported link kind ${JSON.stringify(req.kind)}`,
      req,
    );
  }
  if (req.kind === undefined && index === 0 && s.name === undefined) {
    throw new NetlinkInputError("invalid_link", "A link change needs an index or a name", req);
  }
  if (req.kind === "veth" && s.name === undefined) {
    throw new NetlinkInputError("invalid_link", "A new veth needs a name", req);
  }
  const peer = req.peer === undefined ? undefined : checkSettings(req.peer, req);
  if (req.peer !== undefined && peer?.name === undefined) {
    throw new NetlinkInputError("invalid_link", "The veth peer needs a name", req);
  }
  if (peer && req.kind !== "veth") {
    throw new NetlinkInputError("invalid_link", "Only a veth has a peer", req);
  }
  w.beginMessage(RTM.NEWLINK, NLM_F.REQUEST | flags, seq);
  writeIfinfo(w, index, s);
  writeSettingsAttrs(w, s);
  if (req.kind) {
    w.beginNested(IFLA.LINKINFO);
    w.attrString(IFLA_INFO.KIND, req.kind);
    if (peer) {
      w.beginNested(IFLA_INFO.DATA);
      w.beginNested(VETH_INFO_PEER);
      writeIfinfo(w, 0, peer);
      writeSettingsAttrs(w, peer);
      w.endNested();
      w.endNested();
    }
    w.endNested();
  }
  w.endMessage();
}

/** Appends an `RTM_DELLINK` request for a link given by index or name. */
export function writeDelLink(
  w: MessageWriter,
  flags: number,
  seq: number,
  link: { index?: number; name?: string },
): void {
  const index = link.index === undefined ? 0 : checkInt(link.index, 1, 0x7fffffff, "index", link);
  const name = link.name === undefined ? undefined : checkName(link.name, link);
  if (!index && name === undefined) {
    throw new NetlinkInputError("invalid_link", "Deleting a link needs an index or a name", link);
  }
  w.beginMessage(RTM.DELLINK, NLM_F.REQUEST | flags, seq);
  writeIfinfo(w, index, {});
  if (name !== undefined) w.attrString(IFLA.IFNAME, name);
  w.endMessage();
}

/** Appends an `RTM_GETLINK` request: one link by index or name, or a dump when neither is given. */
export function writeGetLink(
  w: MessageWriter,
  flags: number,
  seq: number,
  link: { index?: number; name?: string } = {},
): void {
  const index = link.index === undefined ? 0 : checkInt(link.index, 1, 0x7fffffff, "index", link);
  const name = link.name === undefined ? undefined : checkName(link.name, link);
  const dump = !index && name === undefined;
  w.beginMessage(RTM.GETLINK, NLM_F.REQUEST | flags | (dump ? NLM_F.DUMP : 0), seq);
  writeIfinfo(w, index, {});
  if (name !== undefined) w.attrString(IFLA.IFNAME, name);
  w.endMessage();
}

/** Decodes an `RTM_NEWLINK`/`RTM_DELLINK` message. */
export function parseLink(msg: NetlinkMessage): LinkInfo {
  const p = msg.payload;
  if (p.length < IFINFOMSG_LEN) {
    throw new NetlinkDecodeError(`ifinfomsg of ${p.length} bytes, expected ${IFINFOMSG_LEN}`, 0);
  }
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const attrs = parseAttrs(p, IFINFOMSG_LEN);
  const flags = v.getUint32(8, HOST_LE);
  const nameAttr = attrs.get(IFLA.IFNAME);
  const info: LinkInfo = {
    index: v.getInt32(4, HOST_LE),
    name: nameAttr ? attrString(nameAttr) : "",
    flags,
    up: (flags & IFF.UP) !== 0,
    type: v.getUint16(2, HOST_LE),
  };
  const mtu = attrs.get(IFLA.MTU);
  if (mtu) info.mtu = attrU32(mtu);
  const mac = attrs.get(IFLA.ADDRESS);
  if (mac && mac.length > 0) info.mac = formatMac(mac);
  const link = attrs.get(IFLA.LINK);
  if (link) info.link = attrS32(link);
  const master = attrs.get(IFLA.MASTER);
  if (master) info.master = attrU32(master);
  const oper = attrs.get(IFLA.OPERSTATE);
  if (oper) info.operstate = attrU8(oper);
  const nsid = attrs.get(IFLA.LINK_NETNSID);
  if (nsid) info.linkNetnsid = attrS32(nsid);
  const li = attrs.get(IFLA.LINKINFO);
  if (li) {
    const kind = parseAttrs(li).get(IFLA_INFO.KIND);
    if (kind) info.kind = attrString(kind);
  }
  return info;
}
