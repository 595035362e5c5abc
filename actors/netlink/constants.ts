/**
 * Numeric constants of the Linux netlink and rtnetlink ABI (from `linux/netlink.h`,
 * `linux/rtnetlink.h`, `linux/if_link.h`, `linux/if_addr.h`, `linux/veth.h`).
 *
 * Only what tern uses is listed; values are part of the stable kernel ABI.
 * @module
 */

/** Netlink protocol family of the routing socket (`NETLINK_ROUTE`). */
export const NETLINK_ROUTE = 0;

/** Size of `struct nlmsghdr` in bytes. */
export const NLMSG_HDRLEN = 16;

/** Standard netlink message types (`NLMSG_*`). */
export const NLMSG = {
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  OVERRUN: 4,
} as const;

/** Netlink header flags (`NLM_F_*`). */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  // modifiers to GET requests
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300,
  // modifiers to NEW requests
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // flags of NLMSG_ERROR acknowledgements
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

/** rtnetlink message types (`RTM_*`). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

/** Address families. */
export const AF_UNSPEC = 0;
/** IPv4 address family. */
export const AF_INET = 2;
/** IPv6 address family. */
export const AF_INET6 = 10;

/** Route attributes (`RTA_*`). */
export const RTA = {
  DST: 1,
  SRC: 2,
  IIF: 3,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  METRICS: 8,
  MULTIPATH: 9,
  FLOW: 11,
  CACHEINFO: 12,
  TABLE: 15,
  MARK: 16,
  MFC_STATS: 17,
  VIA: 18,
  NEWDST: 19,
  PREF: 20,
  ENCAP_TYPE: 21,
  ENCAP: 22,
  EXPIRES: 23,
  UID: 25,
  TTL_PROPAGATE: 26,
  IP_PROTO: 27,
  SPORT: 28,
  DPORT: 29,
  NH_ID: 30,
} as const;

/** Route types (`RTN_*`). */
export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
  THROW: 9,
  NAT: 10,
} as const;

/** Route scopes (`RT_SCOPE_*`). */
export const RT_SCOPE = {
  UNIVERSE: 0,
  SITE: 200,
  LINK: 253,
  HOST: 254,
  NOWHERE: 255,
} as const;

/** Well-known routing tables (`RT_TABLE_*`). */
export const RT_TABLE = {
  UNSPEC: 0,
  DEFAULT: 253,
  MAIN: 254,
  LOCAL: 255,
} as const;

/** Well-known route protocols (`RTPROT_*`). */
export const RTPROT = {
  UNSPEC: 0,
  REDIRECT: 1,
  KERNEL: 2,
  BOOT: 3,
  STATIC: 4,
} as const;

/** Next-hop flags (`RTNH_F_*`). */
export const RTNH_F = {
  DEAD: 1,
  PERVASIVE: 2,
  ONLINK: 4,
  OFFLOAD: 8,
  LINKDOWN: 16,
  UNRESOLVED: 32,
  TRAP: 64,
} as const;

/** Size of `struct rtmsg`. */
export const RTMSG_LEN = 12;
/** Size of `struct ifaddrmsg`. */
export const IFADDRMSG_LEN = 8;
/** Size of `struct ifinfomsg`. */
export const IFINFOMSG_LEN = 16;
/** Size of `struct rtnexthop`. */
export const RTNH_LEN = 8;
/** Size of `struct nlmsgerr` without the echoed request header. */
export const NLMSGERR_LEN = 4;

/** Address attributes (`IFA_*`). */
export const IFA = {
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  BROADCAST: 4,
  ANYCAST: 5,
  CACHEINFO: 6,
  MULTICAST: 7,
  FLAGS: 8,
  RT_PRIORITY: 9,
  TARGET_NETNSID: 10,
  PROTO: 11,
} as const;

/** Address flags (`IFA_F_*`). */
export const IFA_F = {
  SECONDARY: 0x01,
  NODAD: 0x02,
  OPTIMISTIC: 0x04,
  DADFAILED: 0x08,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
  MCAUTOJOIN: 0x400,
  STABLE_PRIVACY: 0x800,
} as const;

/** Link attributes (`IFLA_*`). */
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  QDISC: 6,
  STATS: 7,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKMODE: 17,
  LINKINFO: 18,
  NET_NS_PID: 19,
  IFALIAS: 20,
  NUM_VF: 21,
  STATS64: 23,
  AF_SPEC: 26,
  GROUP: 27,
  NET_NS_FD: 28,
  PROMISCUITY: 30,
  NUM_TX_QUEUES: 31,
  NUM_RX_QUEUES: 32,
  CARRIER: 33,
  LINK_NETNSID: 37,
  NEW_NETNSID: 45,
  MIN_MTU: 50,
  MAX_MTU: 51,
  ALT_IFNAME: 53,
  PERM_ADDRESS: 54,
} as const;

/** Nested attributes of `IFLA_LINKINFO` (`IFLA_INFO_*`). */
export const IFLA_INFO = {
  KIND: 1,
  DATA: 2,
  XSTATS: 3,
  SLAVE_KIND: 4,
  SLAVE_DATA: 5,
} as const;

/** Nested attribute of veth `IFLA_INFO_DATA`: the peer's ifinfomsg and attributes. */
export const VETH_INFO_PEER = 1;

/** Interface flags (`IFF_*`). */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000,
} as const;

/** Nested attribute flag bit (`NLA_F_NESTED`). */
export const NLA_F_NESTED = 0x8000;
/** Attribute flag bit for network byte order payloads (`NLA_F_NET_BYTEORDER`). */
export const NLA_F_NET_BYTEORDER = 0x4000;
/** Mask selecting the attribute type from `nla_type`. */
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** rtnetlink multicast groups (`RTNLGRP_*`). */
export const RTNLGRP = {
  LINK: 1,
  NOTIFY: 2,
  NEIGH: 3,
  TC: 4,
  IPV4_IFADDR: 5,
  IPV4_MROUTE: 6,
  IPV4_ROUTE: 7,
  IPV4_RULE: 8,
  IPV6_IFADDR: 9,
  IPV6_MROUTE: 10,
  IPV6_ROUTE: 11,
} as const;

/** Socket option level of netlink options (`SOL_NETLINK`). */
export const SOL_NETLINK = 270;

/** Netlink socket options (`NETLINK_*` for `setsockopt(SOL_NETLINK, …)`). */
export const NETLINK_OPT = {
  ADD_MEMBERSHIP: 1,
  DROP_MEMBERSHIP: 2,
  PKTINFO: 3,
  BROADCAST_ERROR: 4,
  NO_ENOBUFS: 5,
  LISTEN_ALL_NSID: 8,
  CAP_ACK: 10,
  EXT_ACK: 11,
  GET_STRICT_CHK: 12,
} as const;

/** Extended ACK attributes (`NLMSGERR_ATTR_*`). */
export const NLMSGERR_ATTR = {
  MSG: 1,
  OFFS: 2,
  COOKIE: 3,
  POLICY: 4,
  MISS_TYPE: 5,
  MISS_NEST: 6,
} as const;
