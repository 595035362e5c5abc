/**
 * Pure encoders for the socket structures the BGP TCP transport hands to libc: `sockaddr_in`,
 * `sockaddr_in6` and `struct tcp_md5sig` (RFC 2385 keys), plus the Linux constants and the TTL
 * arithmetic of eBGP multihop and GTSM (RFC 5082). No I/O: the FFI layer (`ffi_socket.ts`)
 * passes these bytes to `bind`, `connect` and `setsockopt` as they are.
 *
 * Layouts are those of Linux on x86-64 and aarch64 (little-endian hosts; multi-byte fields other
 * than ports, addresses and the flow label are in host order).
 * @module
 */

/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6`. */
export const AF_INET6 = 10;
/** `SOCK_STREAM`. */
export const SOCK_STREAM = 1;
/** `SOCK_NONBLOCK`. */
export const SOCK_NONBLOCK = 0x800;
/** `SOCK_CLOEXEC`. */
export const SOCK_CLOEXEC = 0x80000;
/** `SOL_SOCKET`. */
export const SOL_SOCKET = 1;
/** `SO_REUSEADDR`. */
export const SO_REUSEADDR = 2;
/** `SO_ERROR`. */
export const SO_ERROR = 4;
/** `IPPROTO_IP`. */
export const IPPROTO_IP = 0;
/** `IPPROTO_TCP`. */
export const IPPROTO_TCP = 6;
/** `IPPROTO_IPV6`. */
export const IPPROTO_IPV6 = 41;
/** `IP_TTL`: TTL of unicast packets sent. */
export const IP_TTL = 2;
/** `IP_MINTTL`: packets arriving with a lower TTL are dropped (GTSM). */
export const IP_MINTTL = 21;
/** `IPV6_UNICAST_HOPS`: hop limit of unicast packets sent. */
export const IPV6_UNICAST_HOPS = 16;
/** `IPV6_MINHOPCOUNT`: packets arriving with a lower hop limit are dropped (GTSM). */
export const IPV6_MINHOPCOUNT = 73;
/** `TCP_NODELAY`. */
export const TCP_NODELAY = 1;
/** `TCP_MD5SIG`. */
export const TCP_MD5SIG = 14;
/** `TCP_SAVE_SYN`: a listener keeps the headers of each connection's SYN. */
export const TCP_SAVE_SYN = 27;
/** `TCP_SAVED_SYN`: reads (once) the saved SYN headers of an accepted connection. */
export const TCP_SAVED_SYN = 28;
/** `TCP_MD5SIG_MAXKEYLEN`: longest key the kernel accepts, in bytes. */
export const TCP_MD5SIG_MAXKEYLEN = 80;
/** `sizeof(struct tcp_md5sig)`: sockaddr_storage (128) + flags, prefixlen, keylen, ifindex + key. */
export const TCP_MD5SIG_SIZE = 216;
/** `sizeof(struct sockaddr_storage)`. */
export const SOCKADDR_STORAGE_SIZE = 128;
/** `sizeof(struct sockaddr_in)`. */
export const SOCKADDR_IN_SIZE = 16;
/** `sizeof(struct sockaddr_in6)`. */
export const SOCKADDR_IN6_SIZE = 28;
/** The TTL GTSM sends with (RFC 5082 3). */
export const GTSM_TTL = 255;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Errors of the pure encoders: `code` says what was wrong, the message quotes the value. */
export class SocketOptionError extends Error {
  /** Discriminator. */
  readonly code: "invalid_address" | "invalid_key" | "invalid_sockaddr" | "invalid_hops";
  /** Creates an error. */
  constructor(code: SocketOptionError["code"], message: string) {
    super(message);
    this.name = "SocketOptionError";
    this.code = code;
  }
}

/** An IP address and port. */
export interface SocketAddress {
  /** Textual address (IPv4 dotted quad or IPv6, canonical lower-case). */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
}

/** Parses a dotted quad into 4 bytes, or null. */
function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parses an IPv6 address (with `::` and an optional trailing dotted quad) into 16 bytes, or null. */
function parseIpv6(text: string): Uint8Array | null {
  if (text.includes("%")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Family of a textual address. Throws {@linkcode SocketOptionError} (`invalid_address`). */
export function addressFamily(address: string): typeof AF_INET | typeof AF_INET6 {
  if (parseIpv4(address)) return AF_INET;
  if (parseIpv6(address)) return AF_INET6;
  throw new SocketOptionError("invalid_address", `"${address}" is not an IP address`);
}

/** The 4 or 16 bytes of an address. Throws {@linkcode SocketOptionError} (`invalid_address`). */
export function addressBytes(address: string): Uint8Array {
  const b = parseIpv4(address) ?? parseIpv6(address);
  if (!b) throw new SocketOptionError("invalid_address", `"${address}" is not an IP address`);
  return b;
}

/** Textual form of 4 or 16 address bytes (IPv6 compressed per RFC 5952, IPv4-mapped dotted). */
export function formatAddress(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

/**
 * The address as seen by a socket of `socketFamily`: an IPv4 address on an IPv6 socket becomes
 * its IPv4-mapped form `::ffff:a.b.c.d` (how a dual-stack listener sees IPv4 peers).
 */
export function addressForSocket(address: string, socketFamily: number): Uint8Array {
  const b = addressBytes(address);
  if (socketFamily === AF_INET6 && b.length === 4) {
    const m = new Uint8Array(16);
    m[10] = 0xff;
    m[11] = 0xff;
    m.set(b, 12);
    return m;
  }
  if (socketFamily === AF_INET && b.length !== 4) {
    throw new SocketOptionError(
      "invalid_address",
      `"${address}" is an IPv6 address and the socket is IPv4`,
    );
  }
  return b;
}

function checkPort(port: number) {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SocketOptionError("invalid_address", `port ${JSON.stringify(port)} is not 0..65535`);
  }
}

function writeSockaddr(out: Uint8Array, socketFamily: number, address: string, port: number) {
  checkPort(port);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const b = addressForSocket(address, socketFamily);
  v.setUint16(0, socketFamily, HOST_LE);
  v.setUint16(2, port, false);
  if (socketFamily === AF_INET) out.set(b, 4);
  else out.set(b, 8); // sin6_flowinfo (4..7) and sin6_scope_id (24..27) stay 0
}

/**
 * `struct sockaddr_in` (16 bytes) or `struct sockaddr_in6` (28 bytes) for `address`:`port`, for
 * a socket of the address's own family or, with `socketFamily` AF_INET6, an IPv4 address mapped.
 * Throws {@linkcode SocketOptionError}.
 */
export function encodeSockaddr(
  address: string,
  port: number,
  socketFamily: number = addressFamily(address),
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(socketFamily === AF_INET ? SOCKADDR_IN_SIZE : SOCKADDR_IN6_SIZE);
  writeSockaddr(out, socketFamily, address, port);
  return out;
}

/**
 * Decodes a `sockaddr_in`/`sockaddr_in6` as filled in by `accept`, `getsockname` or
 * `getpeername` (`length` is the size the kernel reported). IPv4-mapped IPv6 addresses are
 * returned as IPv4. Throws {@linkcode SocketOptionError} (`invalid_sockaddr`).
 */
export function decodeSockaddr(b: Uint8Array, length = b.length): SocketAddress {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (length < 2 || b.length < 2) {
    throw new SocketOptionError("invalid_sockaddr", `sockaddr of ${length} bytes is too short`);
  }
  const family = v.getUint16(0, HOST_LE);
  if (family === AF_INET && length >= SOCKADDR_IN_SIZE && b.length >= SOCKADDR_IN_SIZE) {
    return { hostname: formatAddress(b.subarray(4, 8)), port: v.getUint16(2, false) };
  }
  if (family === AF_INET6 && length >= SOCKADDR_IN6_SIZE && b.length >= SOCKADDR_IN6_SIZE) {
    const a = b.subarray(8, 24);
    const mapped = a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff;
    return {
      hostname: formatAddress(mapped ? a.subarray(12, 16) : a),
      port: v.getUint16(2, false),
    };
  }
  throw new SocketOptionError(
    "invalid_sockaddr",
    `sockaddr family ${family} with ${length} bytes is not AF_INET/AF_INET6`,
  );
}

/**
 * `struct tcp_md5sig` installing (or, with an empty key, removing) the RFC 2385 key for segments
 * to and from `peer` on a socket of `socketFamily`:
 *
 *     struct sockaddr_storage tcpm_addr;  // 128 bytes, port ignored
 *     __u8  tcpm_flags;                   // 0: no prefix, no ifindex
 *     __u8  tcpm_prefixlen;               // 0
 *     __u16 tcpm_keylen;                  // host order
 *     int   tcpm_ifindex;                 // 0
 *     __u8  tcpm_key[80];
 *
 * Throws {@linkcode SocketOptionError} (`invalid_key` for a key over 80 bytes).
 */
export function encodeTcpMd5Sig(
  peer: string,
  key: string,
  socketFamily: number = addressFamily(peer),
): Uint8Array<ArrayBuffer> {
  const k = new TextEncoder().encode(key);
  if (k.length > TCP_MD5SIG_MAXKEYLEN) {
    throw new SocketOptionError(
      "invalid_key",
      `TCP-MD5 key of ${k.length} bytes is longer than ${TCP_MD5SIG_MAXKEYLEN}`,
    );
  }
  const out = new Uint8Array(TCP_MD5SIG_SIZE);
  writeSockaddr(out.subarray(0, SOCKADDR_STORAGE_SIZE), socketFamily, peer, 0);
  const v = new DataView(out.buffer);
  v.setUint16(SOCKADDR_STORAGE_SIZE + 2, k.length, HOST_LE);
  out.set(k, SOCKADDR_STORAGE_SIZE + 8);
  return out;
}

/** A 4-byte host-order int for `setsockopt`. */
export function intOption(v: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, HOST_LE);
  return b;
}

/** Reads a 4-byte host-order int filled in by `getsockopt`. */
export function readIntOption(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, HOST_LE);
}

/** TTL and minimum TTL settings of a socket (undefined: leave the kernel's default). */
export interface TtlSettings {
  /** TTL / hop limit of the packets sent. */
  readonly ttl?: number;
  /** Packets arriving with a lower TTL / hop limit are dropped. */
  readonly minTtl?: number;
}

/**
 * The TTL settings of a BGP session: GTSM with `ttlSecurityHops` h (as FRR's `ttl-security hops
 * h`: send 255, accept only packets that crossed at most h-1 routers, i.e. TTL >= 256 - h; 1 =
 * directly connected), else `multihop` m as the TTL sent (1 = directly connected eBGP), else the
 * kernel's defaults. Throws {@linkcode SocketOptionError} (`invalid_hops`) out of 1..255/1..254.
 */
export function sessionTtl(o: { multihop?: number; ttlSecurityHops?: number }): TtlSettings {
  if (o.ttlSecurityHops !== undefined) {
    const h = o.ttlSecurityHops;
    if (!Number.isInteger(h) || h < 1 || h > 254) {
      throw new SocketOptionError("invalid_hops", `GTSM hops ${JSON.stringify(h)} is not 1..254`);
    }
    return { ttl: GTSM_TTL, minTtl: 256 - h };
  }
  if (o.multihop !== undefined) {
    const m = o.multihop;
    if (!Number.isInteger(m) || m < 1 || m > 255) {
      throw new SocketOptionError("invalid_hops", `multihop ${JSON.stringify(m)} is not 1..255`);
    }
    return { ttl: m };
  }
  return {};
}

/**
 * The TTL (IPv4) or hop limit (IPv6) of a SYN saved by `TCP_SAVED_SYN` (its IP header first).
 * Throws {@linkcode SocketOptionError} (`invalid_sockaddr`) for anything that is not an IP header.
 */
export function savedSynTtl(headers: Uint8Array): number {
  const version = headers.length > 0 ? headers[0] >> 4 : 0;
  if (version === 4 && headers.length >= 20) return headers[8];
  if (version === 6 && headers.length >= 40) return headers[7];
  throw new SocketOptionError(
    "invalid_sockaddr",
    `saved SYN of ${headers.length} bytes does not start with an IP header (version ${version})`,
  );
}
