/** Shared helpers for the netlink tests: throwaway namespaces and iproute2 as the oracle. */
import { loadNetlinkLibraries } from "../actors/netlink/mod.ts";

// Loaded once per test module, outside any test, so the resource sanitizer does not count them.
loadNetlinkLibraries();

/** Runs a command; returns stdout, throws with stderr on failure (unless `allowFail`). */
export async function run(cmd: string, args: string[], allowFail = false): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success && !allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** A fresh namespace name `tn-nl-<random>`. */
export function nsName(tag = ""): string {
  return `tn-nl-${tag}${crypto.randomUUID().slice(0, 8)}`;
}

/** Creates `count` namespaces, runs `fn` with their names, and always deletes them. */
export async function withNamespaces<T>(
  count: number,
  fn: (names: string[]) => Promise<T>,
): Promise<T> {
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const n = nsName();
      await run("ip", ["netns", "add", n]);
      names.push(n);
    }
    return await fn(names);
  } finally {
    for (const n of names) await run("ip", ["netns", "del", n], true);
  }
}

/** `/run/netns/NAME`. */
export function nsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** `ip -n NS -j ARGS…` parsed (iproute2 is the independent oracle). */
export async function ipJson<T = Record<string, unknown>[]>(
  ns: string,
  args: string[],
): Promise<T> {
  const text = await run("ip", ["-n", ns, "-j", ...args]);
  return (text.trim() === "" ? [] : JSON.parse(text)) as T;
}

/** `ip -n NS ARGS…`. */
export function ip(ns: string, args: string[], allowFail = false): Promise<string> {
  return run("ip", ["-n", ns, ...args], allowFail);
}

/** A route as `ip -j route show` prints it (the fields the tests read). */
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string | number;
  type?: string;
  metric?: number;
  scope?: string;
  table?: string;
  nexthops?: { gateway?: string; dev?: string; weight?: number }[];
}

/** Routes of a namespace: `ip -j [-6] route show table T [proto P]`. */
export function routes(
  ns: string,
  opts: { v6?: boolean; table?: number | string; proto?: number } = {},
): Promise<IpRoute[]> {
  const args = [...(opts.v6 ? ["-6"] : []), "route", "show", "table", String(opts.table ?? "main")];
  if (opts.proto !== undefined) args.push("proto", String(opts.proto));
  return ipJson<IpRoute[]>(ns, args);
}

const libc = Deno.dlopen("libc.so.6", {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
});

/** True when `fd` is a netlink socket (`SO_DOMAIN` is `AF_NETLINK`). */
function isNetlinkSocket(fd: number): boolean {
  const val = new Uint8Array(4);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, 4, true);
  if (libc.symbols.getsockopt(fd, 1, 39, val, len) !== 0) return false; // SOL_SOCKET, SO_DOMAIN
  return new DataView(val.buffer).getInt32(0, true) === 16; // AF_NETLINK
}

/**
 * Number of open netlink sockets and eventfds of this process: what the netlink code creates
 * (Deno's own cache files and socket pairs, opened lazily, are left out).
 */
export function openFds(): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
      if (target === "anon_inode:[eventfd]") n++;
      else if (target.startsWith("socket:") && isNetlinkSocket(Number(e.name))) n++;
    } catch {
      // closed while listing (the directory's own fd)
    }
  }
  return n;
}

/** Identity (inode) of the calling thread's network namespace. */
export function threadNetns(): string {
  return Deno.readLinkSync("/proc/thread-self/ns/net");
}

/** Polls `cond` every 20 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sets up `va` (192.0.2.1/24, fd00:db8::1/64) ↔ `vb` inside one namespace, both up. */
export async function basicLinks(ns: string): Promise<void> {
  await ip(ns, ["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
  await ip(ns, ["link", "set", "va", "up"]);
  await ip(ns, ["link", "set", "vb", "up"]);
  await ip(ns, ["addr", "add", "192.0.2.1/24", "dev", "va"]);
  await ip(ns, ["addr", "add", "fd00:db8::1/64", "dev", "va", "nodad"]);
}
