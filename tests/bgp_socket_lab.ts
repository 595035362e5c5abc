// deno-lint-ignore-file no-explicit-any
/**
 * Helpers of the socket-option interop tests (multihop, GTSM, TCP-MD5, source address): a
 * routed two-hop lab, a bounded "stays down" check and a configuration reload of the speaker.
 */
import assert from "node:assert/strict";
import { Lab, must, sleep, type Tern, waitFor } from "./bgp_lab.ts";

/**
 * A lab of two peers where the middle namespace `t` routes between them: peer 0 (198.51.100.2,
 * fd00:198:51:0::2) and peer 1 (198.51.100.6, fd00:198:51:1::2) are two hops apart.
 */
export async function routedLab(area: string): Promise<Lab> {
  const lab = await Lab.create(area, 2);
  try {
    await must(["ip", "netns", "exec", lab.t, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await must(["ip", "netns", "exec", lab.t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    const [a, b] = lab.peers;
    await must(["ip", "-n", a.ns, "route", "add", "198.51.100.4/30", "via", a.ternV4]);
    await must(["ip", "-n", b.ns, "route", "add", "198.51.100.0/30", "via", b.ternV4]);
    await must(["ip", "-n", a.ns, "-6", "route", "add", "fd00:198:51:1::/64", "via", a.ternV6]);
    await must(["ip", "-n", b.ns, "-6", "route", "add", "fd00:198:51:0::/64", "via", b.ternV6]);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

/** Asserts that for `ms` no poll of `state` sees `Established`. */
export async function staysDown(
  what: string,
  state: () => Promise<string | undefined>,
  ms = 4000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = await state();
    assert.notEqual(s, "Established", `${what} must not come up`);
    await sleep(250);
  }
}

/** Rewrites the speaker's configuration file and reloads it (SIGHUP); returns the result. */
export async function reload(
  lab: Lab,
  tern: Tern,
  yaml: string,
  name = "tern",
): Promise<{ added: string[]; removed: string[]; changedLive: string[]; reset: string[] }> {
  const before = tern.lines.filter((l) => l.includes('"reload')).length;
  await lab.file(`${name}.yaml`, yaml);
  tern.signal("SIGHUP");
  const line = await waitFor(
    "reload",
    () => {
      const ls = tern.lines.filter((l) => l.includes('"reload'));
      return ls.length > before ? ls[ls.length - 1] : undefined;
    },
    10_000,
    50,
  );
  const r = JSON.parse(line) as any;
  assert.equal(r.event, "reloaded", line);
  return r;
}
