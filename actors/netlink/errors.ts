/**
 * Typed errors of the netlink binding. Every error tern's netlink layer throws is one of these,
 * with a `code` discriminator and the offending value quoted in the message.
 * @module
 */

/** Linux errno numbers to their symbolic names (x86-64 / generic values). */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  28: "ENOSPC",
  34: "ERANGE",
  61: "ENODATA",
  71: "EPROTO",
  74: "EBADMSG",
  75: "EOVERFLOW",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  115: "EINPROGRESS",
  122: "EDQUOT",
};

/** Symbolic name of a (positive) Linux errno, e.g. `17` gives `"EEXIST"`. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[Math.abs(errno)] ?? `E${Math.abs(errno)}`;
}

/** Discriminators of {@linkcode NetlinkInputError}. */
export type InputErrorCode =
  | "invalid_prefix"
  | "invalid_address"
  | "invalid_mac"
  | "invalid_interface_name"
  | "invalid_number"
  | "invalid_route"
  | "invalid_link"
  | "message_too_large";

/** Input that cannot be turned into a netlink request; nothing was sent to the kernel. */
export class NetlinkInputError extends Error {
  /** What was wrong. */
  readonly code: InputErrorCode;
  /** The offending value. */
  readonly value: unknown;
  /** Builds the error; `message` should quote `value`. */
  constructor(code: InputErrorCode, message: string, value: unknown) {
    super(message);
    this.name = "NetlinkInputError";
    this.code = code;
    this.value = value;
  }
}

/** Bytes received from the kernel (or given to a parser) do not form valid netlink messages. */
export class NetlinkDecodeError extends Error {
  /** Always `"malformed_message"`. */
  readonly code = "malformed_message" as const;
  /** Byte offset where decoding failed. */
  readonly offset: number;
  /** Builds the error. */
  constructor(message: string, offset: number) {
    super(message);
    this.name = "NetlinkDecodeError";
    this.offset = offset;
  }
}

/** A short, printable description of the request that failed. */
export interface RequestSummary {
  /** Netlink message type, e.g. `24` (RTM_NEWROUTE). */
  type: number;
  /** Symbolic name of the type, e.g. `"RTM_NEWROUTE"`. */
  typeName: string;
  /** Header flags. */
  flags: number;
  /** Sequence number. */
  seq: number;
  /** What the request was about (e.g. the route or link), when the caller gave it. */
  subject?: unknown;
}

/** The kernel answered a request with an error (`NLMSG_ERROR` with a negative errno). */
export class NetlinkError extends Error {
  /** Always `"kernel_error"`. */
  readonly code = "kernel_error" as const;
  /** Positive errno, e.g. `17`. */
  readonly errno: number;
  /** Symbolic errno, e.g. `"EEXIST"`. */
  readonly errnoName: string;
  /** The request that failed. */
  readonly request: RequestSummary;
  /** Extended ACK message from the kernel, when it gave one. */
  readonly extack: string | undefined;
  /** Builds the error from a positive errno. */
  constructor(errno: number, request: RequestSummary, extack?: string) {
    const name = errnoName(errno);
    const subject = request.subject === undefined ? "" : ` ${JSON.stringify(request.subject)}`;
    super(
      `${request.typeName}${subject} failed: ${name}${extack ? ` (${extack})` : ""}`,
    );
    this.name = "NetlinkError";
    this.errno = Math.abs(errno);
    this.errnoName = name;
    this.request = request;
    this.extack = extack;
  }
}

/** Discriminators of {@linkcode NetlinkSystemError}. */
export type SystemErrorCode =
  | "socket_failed"
  | "send_failed"
  | "recv_failed"
  | "namespace_failed"
  | "socket_closed"
  | "socket_busy"
  | "library_unavailable"
  | "timeout";

/** A system call around the socket (open, bind, send, setns, …) failed. */
export class NetlinkSystemError extends Error {
  /** What failed. */
  readonly code: SystemErrorCode;
  /** Positive errno, 0 when not applicable. */
  readonly errno: number;
  /** Symbolic errno (`""` when not applicable). */
  readonly errnoName: string;
  /** Builds the error. */
  constructor(code: SystemErrorCode, message: string, errno = 0) {
    const name = errno ? errnoName(errno) : "";
    super(name ? `${message}: ${name}` : message);
    this.name = "NetlinkSystemError";
    this.code = code;
    this.errno = Math.abs(errno);
    this.errnoName = name;
  }
}

/** A network namespace given by path or name does not exist or cannot be entered. */
export class NamespaceNotFoundError extends Error {
  /** Always `"namespace_not_found"`. */
  readonly code = "namespace_not_found" as const;
  /** The path that was asked for. */
  readonly path: string;
  /** Positive errno of the failing open(2). */
  readonly errno: number;
  /** Builds the error. */
  constructor(path: string, errno: number) {
    super(`Network namespace ${JSON.stringify(path)} cannot be opened: ${errnoName(errno)}`);
    this.name = "NamespaceNotFoundError";
    this.path = path;
    this.errno = errno;
  }
}

/** An interface named by the caller does not exist. */
export class InterfaceNotFoundError extends Error {
  /** Always `"unknown_interface"`. */
  readonly code = "unknown_interface" as const;
  /** The interface name or index asked for. */
  readonly ifname: string | number;
  /** Builds the error. */
  constructor(ifname: string | number) {
    super(`Interface ${JSON.stringify(ifname)} does not exist`);
    this.name = "InterfaceNotFoundError";
    this.ifname = ifname;
  }
}
