/**
 * Network namespaces without external commands.
 *
 * How tern works inside another namespace: a netlink socket belongs to the namespace of the
 * thread that created it, for its whole life. So {@linkcode withNetns} switches the JS thread
 * into the target namespace with `setns(2)` (through FFI, libc), runs a *synchronous* callback
 * (e.g. `mnl_socket_open2` + bind), and switches back to the thread's original namespace, which
 * it opened beforehand from `/proc/thread-self/ns/net`. Because the callback is synchronous, no
 * other JavaScript (and no other Deno op on this thread) runs while the thread is elsewhere; the
 * switch back happens in a `finally`, so it also happens on error. If switching back itself fails
 * (it cannot, short of the original namespace fd being revoked) the error is thrown as a
 * {@linkcode NetlinkSystemError} and the process should exit. Deno's other threads (tokio, the
 * blocking pool) are never moved: only the JS thread switches, and only for microseconds.
 *
 * A link can then be moved into a namespace with `IFLA_NET_NS_FD` using the fd from
 * {@linkcode openNetns}.
 * @module
 */

import { NETLINK_ROUTE } from "./constants.ts";
import { NamespaceNotFoundError, NetlinkSystemError } from "./errors.ts";
import {
  CLONE_NEWNET,
  cString,
  getLibc,
  getMnl,
  lastErrno,
  O_RDONLY_CLOEXEC,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
} from "./ffi.ts";

/** Path of the calling thread's own network namespace. */
const SELF_NS = "/proc/thread-self/ns/net";

/** Path of a named namespace as `ip netns add NAME` creates it. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/**
 * Opens a network namespace file (e.g. `/run/netns/NAME` or `/proc/PID/ns/net`) and returns its
 * file descriptor; close it with {@linkcode closeFd}. Throws {@linkcode NamespaceNotFoundError}.
 */
export function openNetns(path: string): number {
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw new NamespaceNotFoundError(String(path), 2);
  }
  const fd = getLibc().open(cString(path), O_RDONLY_CLOEXEC);
  if (fd < 0) throw new NamespaceNotFoundError(path, lastErrno());
  return fd;
}

/** Closes a raw file descriptor opened through FFI. */
export function closeFd(fd: number): void {
  getLibc().close(fd);
}

/**
 * Runs `fn` with the JS thread inside the network namespace at `path`, then returns the thread to
 * its original namespace (always, also when `fn` throws). `fn` must be synchronous.
 * Throws {@linkcode NamespaceNotFoundError} when the path cannot be opened and
 * {@linkcode NetlinkSystemError} (`namespace_failed`) when it is not a network namespace.
 */
export function withNetns<T>(path: string, fn: () => T): T {
  const libc = getLibc();
  const target = openNetns(path);
  let home = -1;
  try {
    home = libc.open(cString(SELF_NS), O_RDONLY_CLOEXEC);
    if (home < 0) {
      throw new NetlinkSystemError("namespace_failed", `Cannot open ${SELF_NS}`, lastErrno());
    }
    if (libc.setns(target, CLONE_NEWNET) !== 0) {
      throw new NetlinkSystemError(
        "namespace_failed",
        `Cannot enter network namespace ${JSON.stringify(path)}`,
        lastErrno(),
      );
    }
    try {
      const out = fn();
      if (out instanceof Promise) {
        throw new TypeError("withNetns: the callback must be synchronous");
      }
      return out;
    } finally {
      if (libc.setns(home, CLONE_NEWNET) !== 0) {
        // deno-lint-ignore no-unsafe-finally
        throw new NetlinkSystemError(
          "namespace_failed",
          `Cannot return to the original network namespace after ${JSON.stringify(path)}`,
          lastErrno(),
        );
      }
    }
  } finally {
    if (home >= 0) libc.close(home);
    libc.close(target);
  }
}

/**
 * Opens a non-blocking NETLINK_ROUTE libmnl socket, not yet bound, inside the namespace at
 * `netns` when given (else in the thread's own). Throws {@linkcode NetlinkSystemError}, or
 * {@linkcode NamespaceNotFoundError} for a missing namespace.
 */
export function openRouteSocket(netns: string | undefined): Deno.PointerObject {
  const create = () => {
    const nl = getMnl().mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (nl === null) {
      throw new NetlinkSystemError("socket_failed", "mnl_socket_open2 failed", lastErrno());
    }
    return nl;
  };
  return netns === undefined ? create() : withNetns(netns, create);
}
