// deno-lint-ignore-file no-explicit-any
/**
 * Test bed for the BGP interop tests: network namespaces joined by veth, tern's speaker run as
 * a subprocess inside one of them, and drivers for BIRD 2, FRR bgpd, GoBGP and ExaBGP in others.
 * Every wait is bounded; `Lab.destroy` removes processes and namespaces even after failures.
 */

/** Result of a command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion. */
export async function run(
  cmd: string[],
  opts: { env?: Record<string, string> } = {},
): Promise<RunResult> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: opts.env,
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Runs a command and throws when it fails. */
export async function must(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 15_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();

/** Two or more namespaces: `t` (tern) and one per peer, each joined to `t` by a veth pair. */
export class Lab {
  readonly tag: string;
  readonly t: string;
  readonly dir: string;
  readonly peers: { ns: string; v4: string; v6: string; ternV4: string; ternV6: string }[] = [];
  #procs: Deno.ChildProcess[] = [];
  #pids: number[] = [];

  private constructor(tag: string, dir: string) {
    this.tag = tag;
    this.t = `${tag}-t`;
    this.dir = dir;
  }

  /** Creates the namespaces. Peer i gets 198.51.100.{4i+2} / fd00:198:51:i::2, tern .{4i+1}. */
  static async create(area: string, peers = 1): Promise<Lab> {
    const rand = Math.floor(Math.random() * 0xfffff).toString(16);
    const tag = `tn-${area}-${rand}`;
    const dir = await Deno.makeTempDir({ prefix: `${tag}-` });
    const lab = new Lab(tag, dir);
    try {
      await must(["ip", "netns", "add", lab.t]);
      await must(["ip", "-n", lab.t, "link", "set", "lo", "up"]);
      for (let i = 0; i < peers; i++) {
        const ns = `${tag}-p${i}`;
        await must(["ip", "netns", "add", ns]);
        const a = `tnb${rand}${i}a`.slice(0, 15), b = `tnb${rand}${i}b`.slice(0, 15);
        await must([
          "ip",
          "link",
          "add",
          a,
          "netns",
          lab.t,
          "type",
          "veth",
          "peer",
          "name",
          b,
          "netns",
          ns,
        ]);
        const v4 = `198.51.100.${4 * i + 2}`, ternV4 = `198.51.100.${4 * i + 1}`;
        const v6 = `fd00:198:51:${i}::2`, ternV6 = `fd00:198:51:${i}::1`;
        await must(["ip", "-n", lab.t, "addr", "add", `${ternV4}/30`, "dev", a]);
        await must(["ip", "-n", ns, "addr", "add", `${v4}/30`, "dev", b]);
        await must(["ip", "-n", lab.t, "addr", "add", `${ternV6}/64`, "dev", a, "nodad"]);
        await must(["ip", "-n", ns, "addr", "add", `${v6}/64`, "dev", b, "nodad"]);
        await must(["ip", "-n", lab.t, "link", "set", a, "up"]);
        await must(["ip", "-n", ns, "link", "set", b, "up"]);
        await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
        lab.peers.push({ ns, v4, v6, ternV4, ternV6 });
      }
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  /** Registers a process to kill at the end. */
  track(p: Deno.ChildProcess | number): void {
    if (typeof p === "number") this.#pids.push(p);
    else this.#procs.push(p);
  }

  /** Kills every process of the lab and removes the namespaces and files. */
  async destroy(): Promise<void> {
    for (const pid of this.#pids) {
      try {
        Deno.kill(pid, "SIGCONT");
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    for (const p of this.#procs) {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
      try {
        await p.status;
      } catch { /* gone */ }
    }
    for (const ns of [this.t, ...this.peers.map((p) => p.ns)]) {
      // Anything still running in the namespace (daemons that forked) goes too.
      const r = await run(["ip", "netns", "pids", ns]);
      for (const pid of r.stdout.split("\n").filter(Boolean)) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch { /* gone */ }
      }
      await run(["ip", "netns", "del", ns]);
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Writes a file in the lab directory and returns its path. */
  async file(name: string, text: string): Promise<string> {
    const p = `${this.dir}/${name}`;
    await Deno.writeTextFile(p, text);
    return p;
  }
}

/** A running tern speaker. */
export class Tern {
  readonly api: string;
  readonly pid: number;
  readonly bgpPort: number;
  #proc: Deno.ChildProcess;
  #drain: Promise<void>;
  #lines: string[];
  readonly ns: string;
  readonly errFile: string;

  private constructor(
    proc: Deno.ChildProcess,
    api: string,
    bgpPort: number,
    drain: Promise<void>,
    lines: string[],
    ns: string,
    errFile: string,
  ) {
    this.#proc = proc;
    this.pid = proc.pid;
    this.api = api;
    this.bgpPort = bgpPort;
    this.#drain = drain;
    this.#lines = lines;
    this.ns = ns;
    this.errFile = errFile;
  }

  /** Starts `roles/speaker.ts` in `ns` with `yaml` and waits for its ready line. */
  static async start(lab: Lab, yaml: string, name = "tern", ns = lab.t): Promise<Tern> {
    const conf = await lab.file(`${name}.yaml`, yaml);
    const errFile = `${lab.dir}/${name}.err`;
    const proc = new Deno.Command("bash", {
      args: [
        "-c",
        `exec ip netns exec ${ns} ${DENO} run -P=speaker ${ROOT}roles/speaker.ts --config ${conf} 2>>${errFile}`,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    lab.track(proc);
    const lines: string[] = [];
    let resolveReady!: (l: string | null) => void;
    const ready = new Promise<string | null>((r) => (resolveReady = r));
    const drain = (async () => {
      const dec = new TextDecoderStream();
      let buf = "";
      for await (const chunk of proc.stdout.pipeThrough(dec)) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          lines.push(line);
          if (line.includes('"ready"')) resolveReady(line);
        }
      }
      resolveReady(null);
    })();
    const timer = setTimeout(() => resolveReady(null), 20_000);
    const line = await ready;
    clearTimeout(timer);
    if (!line) {
      try {
        proc.kill("SIGKILL");
      } catch { /* gone */ }
      await proc.status;
      await drain;
      const err = await Deno.readTextFile(errFile).catch(() => "");
      throw new Error(`tern did not start: ${err.slice(-2000)}`);
    }
    const r = JSON.parse(line);
    return new Tern(proc, r.api, r.bgp?.port ?? 0, drain, lines, ns, errFile);
  }

  /** stdout lines so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Calls the API through curl inside the namespace. */
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const args = [
      "netns",
      "exec",
      this.ns,
      "curl",
      "-s",
      "-m",
      "20",
      "-X",
      method,
      "-w",
      "\n%{http_code}",
    ];
    if (body !== undefined) {
      args.push("-H", "content-type: application/json", "-d", JSON.stringify(body));
    }
    args.push(this.api + path);
    const r = await run(["ip", ...args]);
    const i = r.stdout.lastIndexOf("\n");
    const status = Number(r.stdout.slice(i + 1));
    let json: any = null;
    try {
      json = JSON.parse(r.stdout.slice(0, i));
    } catch { /* not JSON */ }
    return { status, json };
  }

  /** Neighbor status by address. */
  async neighbor(address: string): Promise<any> {
    const r = await this.call("GET", "/api/bgp/neighbors");
    return r.json?.neighbors?.find((n: any) => n.address === address);
  }

  /** Loc-RIB entries keyed by prefix. */
  async rib(family?: "ipv4" | "ipv6"): Promise<Map<string, any>> {
    const r = await this.call("GET", `/api/bgp/rib${family ? `?family=${family}` : ""}`);
    return new Map((r.json?.routes ?? []).map((e: any) => [e.prefix, e]));
  }

  /** Sends a signal. */
  signal(sig: Deno.Signal): void {
    Deno.kill(this.pid, sig);
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and returns its exit code. */
  async stop(): Promise<number> {
    try {
      this.#proc.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        this.#proc.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    const s = await this.#proc.status;
    clearTimeout(t);
    await this.#drain;
    return s.code;
  }

  /** The tail of its log. */
  async log(): Promise<string> {
    return (await Deno.readTextFile(this.errFile).catch(() => "")).slice(-4000);
  }
}

/** tern's YAML configuration for one peer. */
export function ternConfig(o: {
  asn: number;
  routerId: string;
  peers: Record<string, unknown>[];
  prefixes?: Record<string, unknown>[];
  listenPort?: number;
}): string {
  return JSON.stringify(
    {
      asn: o.asn,
      routerId: o.routerId,
      listen: { address: "0.0.0.0", port: o.listenPort ?? 179 },
      api: { address: "127.0.0.1", port: 0 },
      peers: o.peers,
      prefixes: o.prefixes ?? [],
    },
    null,
    1,
  ); // JSON is YAML
}

/** BIRD 2 in a namespace. */
export class Bird {
  readonly sock: string;
  readonly pidFile: string;
  constructor(readonly lab: Lab, readonly ns: string, readonly name = "bird") {
    this.sock = `${lab.dir}/${name}.ctl`;
    this.pidFile = `${lab.dir}/${name}.pid`;
  }
  /** Starts BIRD with `conf`. */
  async start(conf: string): Promise<void> {
    const path = await this.lab.file(`${this.name}.conf`, conf);
    await must([
      "ip",
      "netns",
      "exec",
      this.ns,
      "bird",
      "-c",
      path,
      "-s",
      this.sock,
      "-P",
      this.pidFile,
    ]);
    this.lab.track(await this.pid());
  }
  /** PID from the pid file. */
  async pid(): Promise<number> {
    return await waitFor(
      "bird pid file",
      async () => {
        const t = await Deno.readTextFile(this.pidFile).catch(() => "");
        return Number(t.trim()) || undefined;
      },
      5000,
      50,
    );
  }
  /** birdc command output. */
  async cmd(...args: string[]): Promise<string> {
    return (await run(["birdc", "-s", this.sock, ...args])).stdout;
  }
  /** State of a BGP protocol (e.g. `Established`). */
  async state(proto = "tern"): Promise<string> {
    const out = await this.cmd("show", "protocols", proto);
    const line = out.split("\n").find((l) => l.startsWith(proto + " "));
    return line?.trim().split(/\s+/).slice(5).join(" ") ?? "";
  }
  /** Routes learned from a protocol, as `prefix -> detail text`. */
  async routes(proto = "tern"): Promise<Map<string, string>> {
    const out = await this.cmd("show", "route", "protocol", proto, "all");
    const m = new Map<string, string>();
    let cur = "";
    for (const line of out.split("\n")) {
      const mm = /^([0-9a-f:.]+\/\d+)\s/.exec(line);
      if (mm) {
        cur = mm[1];
        m.set(cur, line);
      } else if (cur && line.startsWith("\t")) m.set(cur, m.get(cur) + "\n" + line.trim());
    }
    return m;
  }
  /** Kills BIRD (SIGKILL). */
  async kill(): Promise<void> {
    try {
      Deno.kill(await this.pid(), "SIGKILL");
    } catch { /* gone */ }
    await waitFor(
      "bird to exit",
      async () => {
        const r = await run(["kill", "-0", String(await this.pid())]);
        return r.code !== 0;
      },
      5000,
      50,
    );
    await Deno.remove(this.pidFile).catch(() => {});
  }
}

/** BIRD configuration for a peer session toward tern. */
export function birdConfig(o: {
  routerId: string;
  local: string;
  asn: number;
  neighbor: string;
  neighborAsn: number;
  nextHop6: string;
  passive?: boolean;
  as4?: boolean;
  gracefulRestart?: boolean;
  routes4?: string[];
  routes6?: string[];
  extra?: string;
}): string {
  return `
router id ${o.routerId};
protocol device {}
protocol static s4 { ipv4; ${(o.routes4 ?? []).map((r) => `route ${r} blackhole;`).join(" ")} }
protocol static s6 { ipv6; ${(o.routes6 ?? []).map((r) => `route ${r} blackhole;`).join(" ")} }
protocol bgp tern {
  local ${o.local} as ${o.asn};
  neighbor ${o.neighbor} as ${o.neighborAsn};
  hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 2;
  ${o.passive ? "passive on;" : ""}
  ${o.as4 === false ? "enable as4 off;" : ""}
  ${o.gracefulRestart ? "graceful restart on; graceful restart time 30;" : ""}
  ${o.extra ?? ""}
  ipv4 { import all; export all; };
  ipv6 { import all; export all; next hop address ${o.nextHop6}; };
}
`;
}

/** FRR bgpd (without zebra) in a namespace. */
export class Frr {
  readonly vty: string;
  readonly pidFile: string;
  constructor(readonly lab: Lab, readonly ns: string, readonly name = "frr") {
    this.vty = `${lab.dir}/${name}-vty`;
    this.pidFile = `${lab.dir}/${name}.pid`;
  }
  /** Starts bgpd with `conf`. */
  async start(conf: string): Promise<void> {
    await Deno.mkdir(this.vty, { recursive: true });
    const path = await this.lab.file(`${this.name}.conf`, conf);
    await must([
      "ip",
      "netns",
      "exec",
      this.ns,
      "/usr/lib/frr/bgpd",
      "-f",
      path,
      "-i",
      this.pidFile,
      "-z",
      `${this.lab.dir}/${this.name}-zserv`,
      "--vty_socket",
      this.vty,
      "-Z",
      "-n",
      "-S",
      "-d",
      "-l",
      "0.0.0.0",
      "-l",
      "::",
    ]);
    this.lab.track(await this.pid());
  }
  /** PID. */
  async pid(): Promise<number> {
    return await waitFor(
      "bgpd pid file",
      async () => {
        const t = await Deno.readTextFile(this.pidFile).catch(() => "");
        return Number(t.trim()) || undefined;
      },
      5000,
      50,
    );
  }
  /** vtysh command output. */
  async cmd(command: string): Promise<string> {
    return (await run(["vtysh", "--vty_socket", this.vty, "-d", "bgpd", "-c", command])).stdout;
  }
  /** JSON output of a vtysh command. */
  async json(command: string): Promise<any> {
    return JSON.parse(await this.cmd(command));
  }
  /** Prefixes in bgpd's RIB for a family. */
  async routes(family: "ipv4" | "ipv6"): Promise<Record<string, any>> {
    return (await this.json(`show bgp ${family} unicast json`)).routes ?? {};
  }
  /** Neighbor state. */
  async state(neighbor: string): Promise<string> {
    const j = await this.json(`show bgp neighbors ${neighbor} json`);
    return j[neighbor]?.bgpState ?? "";
  }
}

/** FRR configuration toward tern. */
export function frrConfig(o: {
  routerId: string;
  asn: number;
  neighbor: string;
  neighborAsn: number;
  nextHop6: string;
  passive?: boolean;
  gracefulRestart?: boolean;
  routes4?: string[];
  routes6?: string[];
}): string {
  const n = o.neighbor;
  return `frr defaults traditional
hostname frr
log stdout errors
route-map NH6 permit 10
 set ipv6 next-hop global ${o.nextHop6}
exit
router bgp ${o.asn}
 bgp router-id ${o.routerId}
 ${o.gracefulRestart ? "bgp graceful-restart\n bgp graceful-restart restart-time 30" : ""}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor ${n} remote-as ${o.neighborAsn}
 neighbor ${n} timers 1 3
 neighbor ${n} timers connect 1
 ${o.passive ? `neighbor ${n} passive` : ""}
 address-family ipv4 unicast
  ${(o.routes4 ?? []).map((r) => `network ${r}`).join("\n  ")}
  neighbor ${n} activate
 exit-address-family
 address-family ipv6 unicast
  ${(o.routes6 ?? []).map((r) => `network ${r}`).join("\n  ")}
  neighbor ${n} activate
  neighbor ${n} route-map NH6 out
 exit-address-family
exit
`;
}

/** GoBGP in a namespace. */
export class GoBgp {
  readonly apiPort: number;
  #proc: Deno.ChildProcess | null = null;
  constructor(readonly lab: Lab, readonly ns: string, readonly name = "gobgp") {
    this.apiPort = 50051;
  }
  /** Starts gobgpd with a TOML configuration. */
  async start(toml: string): Promise<void> {
    const path = await this.lab.file(`${this.name}.toml`, toml);
    this.#proc = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        this.ns,
        "gobgpd",
        "-f",
        path,
        "--api-hosts",
        `127.0.0.1:${this.apiPort}`,
        "-l",
        "warn",
      ],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
    this.lab.track(this.#proc);
    await waitFor("gobgpd API", async () => (await this.cli("global")).code === 0, 10_000, 100);
  }
  /** Runs the gobgp CLI in the namespace. */
  cli(...args: string[]) {
    return run(["ip", "netns", "exec", this.ns, "gobgp", "-p", String(this.apiPort), ...args]);
  }
  /** Prefixes of the global RIB. */
  async routes(family: "ipv4" | "ipv6"): Promise<Record<string, any>> {
    const r = await this.cli("global", "rib", "-a", family, "-j");
    return r.code === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : {};
  }
  /** Neighbor state (e.g. `established`). */
  async state(neighbor: string): Promise<string> {
    const r = await this.cli("neighbor", neighbor, "-j");
    if (r.code !== 0) return "";
    const st = JSON.parse(r.stdout)?.state?.session_state;
    return st === 6 || st === "established" || st === "ESTABLISHED"
      ? "established"
      : String(st ?? "");
  }
  /** Stops gobgpd. */
  async stop(): Promise<void> {
    if (!this.#proc) return;
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#proc.status;
    this.#proc = null;
  }
}

/** GoBGP configuration toward tern. */
export function gobgpConfig(o: {
  routerId: string;
  asn: number;
  neighbor: string;
  neighborAsn: number;
  passive?: boolean;
  gracefulRestart?: boolean;
}): string {
  return `[global.config]
  as = ${o.asn}
  router-id = "${o.routerId}"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${o.neighbor}"
    peer-as = ${o.neighborAsn}
  [neighbors.timers.config]
    hold-time = 3
    keepalive-interval = 1
    connect-retry = 1
  [neighbors.transport.config]
    passive-mode = ${o.passive ? "true" : "false"}
${
    o.gracefulRestart
      ? `  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 30
`
      : ""
  }  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
${
    o.gracefulRestart
      ? `    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
`
      : ""
  }  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
${
    o.gracefulRestart
      ? `    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
`
      : ""
  }`;
}

/** ExaBGP in a namespace; received UPDATEs are written as JSON lines to a file. */
export class ExaBgp {
  readonly received: string;
  #proc: Deno.ChildProcess | null = null;
  constructor(readonly lab: Lab, readonly ns: string, readonly name = "exabgp") {
    this.received = `${lab.dir}/${name}-received.jsonl`;
  }
  /** Starts ExaBGP with a configuration (use {@link exabgpConfig}). */
  async start(conf: string, bind = ""): Promise<void> {
    const path = await this.lab.file(`${this.name}.conf`, conf);
    const envFile = await this.lab.file(`${this.name}.env`, "");
    this.#proc = new Deno.Command("ip", {
      args: ["netns", "exec", this.ns, "exabgp", "--env", envFile, path],
      env: {
        "exabgp.daemon.user": "root",
        "exabgp.daemon.drop": "false",
        "exabgp.log.destination": `${this.lab.dir}/${this.name}.log`,
        "exabgp.api.ack": "false",
        "exabgp.tcp.bind": bind,
        "exabgp.tcp.port": "179",
      },
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
    this.lab.track(this.#proc);
  }
  /** Parsed messages received so far. */
  async messages(): Promise<any[]> {
    const t = await Deno.readTextFile(this.received).catch(() => "");
    return t.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  }
  /** Current reachable prefixes per family, replaying announce/withdraw in order. */
  async routes(): Promise<Set<string>> {
    const have = new Set<string>();
    for (const m of await this.messages()) {
      const u = m?.neighbor?.message?.update;
      if (!u) continue;
      for (const fam of Object.values(u.withdraw ?? {}) as any[]) {
        for (const p of fam) have.delete(p.nlri ?? p);
      }
      for (const fam of Object.values(u.announce ?? {}) as any[]) {
        for (const nhs of Object.values(fam) as any[]) {
          for (const p of nhs) have.add(p.nlri ?? p);
        }
      }
    }
    return have;
  }
  /** Whether a state message `up` was seen last. */
  async up(): Promise<boolean> {
    let up = false;
    for (const m of await this.messages()) {
      if (m.type === "state") up = m.neighbor?.state === "up";
    }
    return up;
  }
  /** Stops ExaBGP. */
  async stop(): Promise<void> {
    if (!this.#proc) return;
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#proc.status;
    this.#proc = null;
  }
}

/** ExaBGP configuration toward tern. */
export function exabgpConfig(o: {
  routerId: string;
  local: string;
  asn: number;
  neighbor: string;
  neighborAsn: number;
  nextHop6: string;
  passive?: boolean;
  gracefulRestart?: boolean;
  routes4?: string[];
  routes6?: string[];
  received: string;
}): string {
  return `process recv {
  run /bin/sh -c "cat >> ${o.received}";
  encoder json;
}
neighbor ${o.neighbor} {
  router-id ${o.routerId};
  local-address ${o.local};
  local-as ${o.asn};
  peer-as ${o.neighborAsn};
  hold-time 3;
  ${o.passive ? "passive;" : ""}
  ${o.gracefulRestart ? "capability { graceful-restart 30; }" : ""}
  family { ipv4 unicast; ipv6 unicast; }
  static {
    ${(o.routes4 ?? []).map((r) => `route ${r} next-hop ${o.local};`).join("\n    ")}
    ${(o.routes6 ?? []).map((r) => `route ${r} next-hop ${o.nextHop6};`).join("\n    ")}
  }
  api { processes [ recv ]; receive { parsed; update; } neighbor-changes; }
}
`;
}

/** Driver of `tests/bgp_raw_peer.ts` running in a namespace. */
export class RawPeer {
  #proc: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  private constructor(proc: Deno.ChildProcess) {
    this.#proc = proc;
    this.#writer = proc.stdin.getWriter();
    this.#reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** Starts the raw peer in `ns` aimed at `host:port`. */
  static start(lab: Lab, ns: string, host: string, port = 179): RawPeer {
    const proc = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        DENO,
        "run",
        "-A",
        `${ROOT}tests/bgp_raw_peer.ts`,
        host,
        String(port),
      ],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    lab.track(proc);
    return new RawPeer(proc);
  }
  /** Sends one command and returns its JSON answer. */
  async cmd(line: string): Promise<any> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
    for (;;) {
      const i = this.#buf.indexOf("\n");
      if (i >= 0) {
        const l = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        return JSON.parse(l);
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("raw peer exited");
      this.#buf += value;
    }
  }
  /** Ends the raw peer. */
  async stop(): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* closed */ }
    const t = setTimeout(() => {
      try {
        this.#proc.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await this.#proc.status;
    clearTimeout(t);
    try {
      while (!(await this.#reader.read()).done) { /* drain */ }
    } catch { /* closed */ }
  }
}
