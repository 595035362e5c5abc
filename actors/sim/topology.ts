/**
 * Builds and removes the simulated cluster's network: namespaces, links, addresses, routes, the
 * management bridge and the two spine routers (FRR and BIRD), from a {@link SimPlan}.
 *
 * Everything a run creates carries its prefix: `teardown(prefix)` finds and removes it all
 * (processes inside the run's namespaces, the namespaces, the bridge and its veths, the run
 * directory) even when the run that created it crashed.
 * @module
 */
import { CommandError, ipBatch, run, waitFor } from "./exec.ts";
import { mgmtHostIf, type P2pLink, planNamespaces, type SimPlan, type SpinePlan } from "./plan.ts";
import { birdConfig, frrConfig, zebraConfig } from "./spine_config.ts";

/** Root of every run directory. */
export function simRoot(): string {
  return `${Deno.env.get("TMPDIR") ?? "/tmp"}/tern-sim`;
}

/** The run directory of a prefix. */
export function runDirOf(prefix: string): string {
  return `${simRoot()}/${prefix}`;
}

async function sysctls(ns: string): Promise<void> {
  await run([
    "sysctl",
    "-q",
    "-w",
    "net.ipv4.ip_forward=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv6.conf.all.forwarding=1",
    // No duplicate address detection: addresses (link-local ones too) usable at once.
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    // ECMP by 5-tuple, so the client's connections spread over every next hop.
    "net.ipv4.fib_multipath_hash_policy=1",
    "net.ipv6.fib_multipath_hash_policy=1",
  ], { ns });
}

function linkLines(l: P2pLink): string[] {
  return [
    `link add ${l.a.ifname} netns ${l.a.ns} type veth peer name ${l.b.ifname} netns ${l.b.ns}`,
  ];
}

async function addrUp(l: P2pLink): Promise<void> {
  for (const [side, v6] of [[l.a, l.v6.a], [l.b, l.v6.b]] as const) {
    await ipBatch([
      `addr add ${side.address}/${l.prefixLength} dev ${side.ifname}`,
      `addr add ${v6}/${l.v6.prefixLength} dev ${side.ifname} nodad`,
      `link set ${side.ifname} up`,
    ], side.ns);
  }
}

/** ECMP IPv4 and IPv6 default routes over uplinks, and routes to the spines' loopbacks. */
function uplinkRoutes(plan: SimPlan, uplinks: P2pLink[]): string[] {
  const hops = uplinks.map((u) => `nexthop via ${u.a.address} dev ${u.b.ifname}`);
  const hops6 = uplinks.map((u) => `nexthop via ${u.v6.a} dev ${u.b.ifname}`);
  return [
    ...uplinks.map((u, i) =>
      `route add ${plan.spines[i].address}/32 via ${u.a.address} dev ${u.b.ifname}`
    ),
    ...uplinks.map((u, i) =>
      `route add ${plan.spines[i].address6}/128 via ${u.v6.a} dev ${u.b.ifname}`
    ),
    `route add default ${hops.join(" ")}`,
    `route add ::/0 ${hops6.join(" ")}`,
  ];
}

/** Picks a free management octet (240..254) by looking at the root namespace's addresses. */
export async function freeMgmtOctet(): Promise<number> {
  const { stdout } = await run(["ip", "-4", "-o", "addr", "show"]);
  // A random free one: runs started at the same moment (parallel test files) rarely collide.
  const free = [];
  for (let m = 240; m <= 254; m++) if (!stdout.includes(` 198.19.${m}.`)) free.push(m);
  if (free.length) return free[Math.floor(Math.random() * free.length)];
  throw new CommandError(["ip", "addr"], 0, "no free management /24 in 198.19.240-254.0/24");
}

/**
 * Creates the namespaces, links, addresses and routes of a plan. On failure, removes what it
 * created and rethrows.
 */
export async function buildNetwork(plan: SimPlan): Promise<void> {
  try {
    for (const ns of planNamespaces(plan)) {
      await run(["ip", "netns", "add", ns]);
      await ipBatch(["link set lo up"], ns);
      await sysctls(ns);
    }
    // Management bridge in the root namespace (the API server and the controller live there).
    await ipBatch([
      `link add ${plan.mgmt.bridge} type bridge`,
      `addr add ${plan.mgmt.address}/${plan.mgmt.prefixLength} dev ${plan.mgmt.bridge}`,
      `link set ${plan.mgmt.bridge} up`,
    ]);
    for (const s of plan.spines) {
      await ipBatch([`addr add ${s.address}/32 dev lo`, `addr add ${s.address6}/128 dev lo`], s.ns);
    }
    const links = [...plan.nodes.flatMap((n) => n.uplinks), ...plan.client.uplinks];
    await ipBatch(links.flatMap(linkLines));
    for (const l of links) await addrUp(l);
    for (const node of plan.nodes) {
      const host = mgmtHostIf(plan, node);
      await ipBatch([
        `link add ${host} type veth peer name ${node.mgmtIf} netns ${node.ns}`,
        `link set ${host} master ${plan.mgmt.bridge}`,
        `link set ${host} up`,
      ]);
      await ipBatch([
        `addr add ${node.internalIP}/${plan.mgmt.prefixLength} dev ${node.mgmtIf}`,
        `link set ${node.mgmtIf} up`,
        ...uplinkRoutes(plan, node.uplinks),
      ], node.ns);
    }
    // Every spine reaches every address of every node and of the client, also those on the
    // other spine's links (replies take either spine: the nodes' default route is ECMP).
    for (const [si, spine] of plan.spines.entries()) {
      const lines: string[] = [];
      for (const owner of [...plan.nodes.map((n) => n.uplinks), plan.client.uplinks]) {
        const via = owner[si];
        for (const [ti, other] of owner.entries()) {
          if (ti !== si) {
            lines.push(`route add ${other.b.address}/32 via ${via.b.address}`);
            lines.push(`route add ${other.v6.b}/128 via ${via.v6.b}`);
          }
        }
      }
      for (const node of plan.nodes) {
        lines.push(`route add ${node.internalIP}/32 via ${node.uplinks[si].b.address}`);
      }
      await ipBatch(lines, spine.ns);
    }
    await ipBatch(uplinkRoutes(plan, plan.client.uplinks), plan.client.ns);
  } catch (e) {
    await teardown(plan.prefix).catch(() => {});
    throw e;
  }
}

/** Paths of a spine's files inside a run directory. */
export function spineFiles(runDir: string, spine: SpinePlan) {
  const dir = `${runDir}/${spine.id}`;
  return {
    dir,
    conf: `${dir}/${spine.kind}.conf`,
    zebraConf: `${dir}/zebra.conf`,
    log: `${dir}/${spine.kind}.log`,
    zebraLog: `${dir}/zebra.log`,
    pid: `${dir}/${spine.kind}.pid`,
    zebraPid: `${dir}/zebra.pid`,
    zserv: `${dir}/zserv.api`,
    ctl: `${dir}/bird.ctl`,
  };
}

/** Starts (or restarts) one spine's routing daemons; returns once they answer. */
export async function startSpine(plan: SimPlan, runDir: string, spine: SpinePlan): Promise<void> {
  const f = spineFiles(runDir, spine);
  await Deno.mkdir(f.dir, { recursive: true });
  if (spine.kind === "frr") {
    await Deno.writeTextFile(f.zebraConf, zebraConfig(spine, f.zebraLog));
    await Deno.writeTextFile(f.conf, frrConfig(plan, spine, f.log));
    // FRR drops to its own user (the only one in its vty group), so its directory is open to it.
    await Deno.chmod(f.dir, 0o777);
    const common = [
      "-d",
      "-u",
      "frr",
      "-g",
      "frr",
      "-A",
      "127.0.0.1",
      "-z",
      f.zserv,
      "--vty_socket",
      f.dir,
    ];
    await run(["/usr/lib/frr/zebra", ...common, "-f", f.zebraConf, "-i", f.zebraPid], {
      ns: spine.ns,
    });
    await waitFor("zebra socket", async () => (await exists(f.zserv)) ? true : undefined, 10_000);
    await run(["/usr/lib/frr/bgpd", ...common, "-f", f.conf, "-i", f.pid], { ns: spine.ns });
    await waitFor("bgpd answering", async () => {
      const r = await vtysh(runDir, spine, "show bgp summary json", false);
      return r.code === 0 ? true : undefined;
    }, 10_000);
  } else {
    await Deno.writeTextFile(f.conf, birdConfig(plan, spine, f.log));
    await run(["bird", "-c", f.conf, "-s", f.ctl, "-P", f.pid], { ns: spine.ns });
    await waitFor("bird answering", async () => {
      const r = await run(["birdc", "-s", f.ctl, "show", "status"], { check: false });
      return r.code === 0 ? true : undefined;
    }, 10_000);
  }
}

/** Stops one spine's daemons (SIGTERM, then SIGKILL). */
export async function stopSpine(runDir: string, spine: SpinePlan): Promise<void> {
  const f = spineFiles(runDir, spine);
  const pids = spine.kind === "frr" ? [f.pid, f.zebraPid] : [f.pid];
  for (const p of pids) {
    const pid = await readPid(p);
    if (pid !== undefined) await killAndWait(pid);
    await Deno.remove(p).catch(() => {});
  }
  await Deno.remove(f.zserv).catch(() => {});
  await Deno.remove(f.ctl).catch(() => {});
}

/** Runs a `vtysh` command on the FRR spine. */
export function vtysh(runDir: string, spine: SpinePlan, command: string, check = true) {
  const f = spineFiles(runDir, spine);
  return run(["vtysh", "--vty_socket", f.dir, "-c", command], {
    ns: spine.ns,
    check,
    timeoutMs: 10_000,
  });
}

/** Runs a `birdc` command on the BIRD spine. */
export function birdc(runDir: string, spine: SpinePlan, ...command: string[]) {
  const f = spineFiles(runDir, spine);
  return run(["birdc", "-s", f.ctl, ...command], { timeoutMs: 10_000 });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process exists and is not a zombie (detached processes may be reaped late). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; returns when the process is gone. */
export async function killAndWait(pid: number, graceMs = 3_000): Promise<void> {
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
    const hard = Date.now() + 2_000;
    while (alive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 20));
  }
}

/** Named namespaces whose name starts with `prefix`. */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir("/run/netns")) {
      if (e.name === prefix || e.name.startsWith(`${prefix}-`)) out.push(e.name);
    }
  } catch { /* no /run/netns yet */ }
  return out.sort();
}

/**
 * Removes everything of a run: processes whose pid files are in its run directory, every process
 * still inside one of its namespaces, the namespaces, its management bridge and veths, and the
 * run directory. Never throws for things already gone.
 */
export async function teardown(prefix: string, opts: { keepRunDir?: boolean } = {}): Promise<void> {
  const dir = runDirOf(prefix);
  // 1. Processes the run recorded (daemons, agents, controller, API server), all at once.
  const pids: number[] = [];
  for (const pidFile of await findPidFiles(dir)) {
    const pid = await readPid(pidFile);
    if (pid !== undefined) pids.push(pid);
  }
  await Promise.all(pids.map((p) => killAndWait(p)));
  // 2. Anything still running inside the run's namespaces.
  const nss = await namespacesWithPrefix(prefix);
  for (const ns of nss) {
    const r = await run(["ip", "netns", "pids", ns], { check: false });
    const left = r.stdout.split(/\s+/).filter(Boolean).map(Number)
      .filter((p) => Number.isInteger(p) && p > 1 && p !== Deno.pid);
    await Promise.all(left.map((p) => killAndWait(p)));
  }
  // 3. Namespaces (their veth ends go with them), then the root-namespace bridge and veths.
  for (const ns of nss) await run(["ip", "netns", "del", ns], { check: false });
  const id = prefix.replace(/^tn-/, "").replace(/-/g, "").slice(-6);
  const links = await run(["ip", "-o", "link", "show"], { check: false });
  for (const m of links.stdout.matchAll(/^\d+:\s+([^:@]+)[@:]/gm)) {
    const name = m[1].trim();
    if (name.startsWith(`tn${id}`)) await run(["ip", "link", "del", name], { check: false });
  }
  if (!opts.keepRunDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
}

async function findPidFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    try {
      for await (const e of Deno.readDir(d)) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else if (e.name.endsWith(".pid")) out.push(p);
      }
    } catch { /* gone */ }
  };
  await walk(dir);
  return out;
}

/** nftables table that isolates a node (its failure, as the network sees it). */
const ISOLATE_TABLE = "tern_sim_isolate";

/**
 * Makes a node fail as the fabric sees it: every packet on its uplinks is dropped (links stay
 * up, so only BGP's hold timer notices), until {@link restoreNode}.
 */
export async function isolateNode(plan: SimPlan, nodeName: string): Promise<void> {
  const node = plan.nodes.find((n) => n.name === nodeName);
  if (!node) throw new CommandError(["isolate", nodeName], 1, `no node ${nodeName}`);
  const ifs = node.uplinks.map((u) => `"${u.b.ifname}"`).join(", ");
  await run(["nft", "-f", "-"], {
    ns: node.ns,
    stdin: `table inet ${ISOLATE_TABLE} {
  chain iso_in { type filter hook input priority -300; policy accept; iifname { ${ifs} } drop; }
  chain iso_fwd { type filter hook forward priority -300; policy accept; iifname { ${ifs} } drop; oifname { ${ifs} } drop; }
  chain iso_out { type filter hook output priority -300; policy accept; oifname { ${ifs} } drop; }
}
`,
  });
}

/** Undoes {@link isolateNode}. */
export async function restoreNode(plan: SimPlan, nodeName: string): Promise<void> {
  const node = plan.nodes.find((n) => n.name === nodeName);
  if (!node) throw new CommandError(["restore", nodeName], 1, `no node ${nodeName}`);
  await run(["nft", "delete", "table", "inet", ISOLATE_TABLE], { ns: node.ns, check: false });
}
