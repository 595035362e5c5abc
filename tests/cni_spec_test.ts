import assert from "node:assert/strict";
import { CNI_ERROR, CniError } from "../actors/cni/errors.ts";
import { formatResult, type PodNetwork, versionResult } from "../actors/cni/result.ts";
import {
  decodeConfig,
  isValidIfname,
  negotiateVersion,
  parseCniArgs,
  parseEnv,
  parseNetConf,
} from "../actors/cni/spec.ts";

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, `expected a CniError, got ${e}`);
    return e.code;
  }
  assert.fail("expected an error");
}

const env = (vars: Record<string, string>) => (n: string) => vars[n];
const base = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "abc123",
  CNI_IFNAME: "eth0",
  CNI_NETNS: "/run/netns/x",
  CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
};

Deno.test("cni env: a complete ADD environment parses", () => {
  const e = parseEnv(
    env({ ...base, CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p" }),
  );
  assert.equal(e.command, "ADD");
  assert.equal(e.containerId, "abc123");
  assert.equal(e.ifname, "eth0");
  assert.equal(e.netns, "/run/netns/x");
  assert.deepEqual(e.path, ["/opt/cni/bin", "/usr/lib/cni"]);
  assert.equal(e.args.K8S_POD_NAME, "p");
});

Deno.test("cni env: missing or malformed variables are code 4, naming the variable", () => {
  const cases: Record<string, string | undefined>[] = [
    { CNI_COMMAND: undefined },
    { CNI_COMMAND: "FROB" },
    { CNI_CONTAINERID: undefined },
    { CNI_CONTAINERID: "-bad" },
    { CNI_CONTAINERID: "a/b" },
    { CNI_IFNAME: "" },
    { CNI_IFNAME: "much-too-long-name0" },
    { CNI_IFNAME: "a/b" },
    { CNI_NETNS: undefined },
    { CNI_NETNS: "relative/path" },
    { CNI_NETNS: "/run/netns/../x" },
    { CNI_ARGS: "novalue" },
  ];
  for (const c of cases) {
    const vars: Record<string, string> = { ...base };
    for (const [k, v] of Object.entries(c)) {
      if (v === undefined) delete vars[k];
      else vars[k] = v;
    }
    assert.equal(codeOf(() => parseEnv(env(vars))), CNI_ERROR.INVALID_ENV, JSON.stringify(c));
  }
});

Deno.test("cni env: DEL needs no netns; VERSION, STATUS and GC need only the command", () => {
  const vars: Record<string, string> = { ...base, CNI_COMMAND: "DEL" };
  delete vars.CNI_NETNS;
  assert.equal(parseEnv(env(vars)).netns, undefined);
  for (const c of ["VERSION", "STATUS", "GC"]) {
    assert.equal(parseEnv(env({ CNI_COMMAND: c })).command, c);
  }
});

Deno.test("cni args and interface names", () => {
  assert.deepEqual(parseCniArgs("A=1;B=x=y;"), { A: "1", B: "x=y" });
  assert.deepEqual(parseCniArgs(undefined), {});
  assert.equal(codeOf(() => parseCniArgs("=1")), CNI_ERROR.INVALID_ENV);
  assert.ok(isValidIfname("eth0"));
  assert.ok(isValidIfname("123456789012345"));
  assert.ok(!isValidIfname("1234567890123456"));
  assert.ok(!isValidIfname(".."));
  assert.ok(!isValidIfname("a b"));
});

Deno.test("cni version negotiation: 0.4.0, 1.0.0 and 1.1.0 only", () => {
  for (const v of ["0.4.0", "1.0.0", "1.1.0"]) assert.equal(negotiateVersion(v), v);
  for (const v of ["0.3.1", "0.2.0", "2.0.0", "1.0"]) {
    assert.equal(codeOf(() => negotiateVersion(v)), CNI_ERROR.INCOMPATIBLE_VERSION, v);
  }
  assert.equal(codeOf(() => negotiateVersion(undefined)), CNI_ERROR.INVALID_CONFIG);
  assert.equal(codeOf(() => negotiateVersion(1)), CNI_ERROR.INVALID_CONFIG);
  const v = versionResult("0.4.0");
  assert.equal(v.cniVersion, "0.4.0");
  assert.deepEqual(v.supportedVersions, ["0.4.0", "1.0.0", "1.1.0"]);
  assert.equal(versionResult("9.9.9").cniVersion, "1.1.0");
});

Deno.test("cni config: decode failures are code 6, bad fields code 7, ipam code 2", () => {
  assert.equal(codeOf(() => decodeConfig("{not json")), CNI_ERROR.DECODE_FAILURE);
  assert.equal(codeOf(() => decodeConfig("[1]")), CNI_ERROR.DECODE_FAILURE);
  const ok = { cniVersion: "1.0.0", name: "tern", type: "tern" };
  const conf = parseNetConf(
    { ...ok, mtu: 1400, args: { cni: { "tern.dev/addresspool": "blue" } } },
    "ADD",
  );
  assert.equal(conf.socket, "/run/tern/cni.sock");
  assert.equal(conf.mtu, 1400);
  assert.equal(conf.pool, "blue");
  const bad: Record<string, unknown>[] = [
    { name: "" },
    { name: "has space" },
    { type: 3 },
    { socket: "relative.sock" },
    { mtu: 20 },
    { mtu: 1500.5 },
    { pool: "Not_A_Pool" },
    { prevResult: [] },
    { args: "x" },
  ];
  for (const b of bad) {
    assert.equal(
      codeOf(() => parseNetConf({ ...ok, ...b }, "ADD")),
      CNI_ERROR.INVALID_CONFIG,
      JSON.stringify(b),
    );
  }
  assert.equal(
    codeOf(() => parseNetConf({ ...ok, ipam: { type: "host-local" } }, "ADD")),
    CNI_ERROR.UNSUPPORTED_FIELD,
  );
  assert.equal(
    codeOf(() => parseNetConf({ ...ok, cniVersion: "0.3.1" }, "ADD")),
    CNI_ERROR.INCOMPATIBLE_VERSION,
  );
});

Deno.test("cni config: GC reads cni.dev/valid-attachments", () => {
  const ok = { cniVersion: "1.1.0", name: "tern", type: "tern" };
  const conf = parseNetConf(
    { ...ok, "cni.dev/valid-attachments": [{ containerID: "a", ifname: "eth0" }] },
    "GC",
  );
  assert.deepEqual(conf.validAttachments, [{ containerId: "a", ifname: "eth0" }]);
  assert.deepEqual(parseNetConf(ok, "GC").validAttachments, []);
  assert.equal(
    codeOf(() => parseNetConf({ ...ok, "cni.dev/valid-attachments": [{ ifname: "x" }] }, "GC")),
    CNI_ERROR.INVALID_CONFIG,
  );
});

const sample: PodNetwork = {
  interfaces: [
    { name: "tern0123456789a", mac: "02:00:00:00:00:01" },
    { name: "eth0", mac: "02:00:00:00:00:02", mtu: 1400, sandbox: "/run/netns/x" },
  ],
  ips: [
    { address: "198.18.0.5/32", gateway: "169.254.1.1", interface: 1 },
    { address: "fd00::5/128", gateway: "fe80::1", interface: 1 },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "169.254.1.1" }, { dst: "::/0", gw: "fe80::1" }],
  dns: {},
};

Deno.test("cni results take the requested version's shape", () => {
  const r04 = formatResult("0.4.0", sample) as {
    ips: { version?: string }[];
    interfaces: { mtu?: number }[];
  };
  assert.deepEqual(r04.ips.map((i) => i.version), ["4", "6"]);
  assert.equal(r04.interfaces[1]!.mtu, undefined);
  const r10 = formatResult("1.0.0", sample) as {
    cniVersion: string;
    ips: { version?: string }[];
    interfaces: { mtu?: number }[];
  };
  assert.equal(r10.cniVersion, "1.0.0");
  assert.ok(r10.ips.every((i) => i.version === undefined));
  assert.equal(r10.interfaces[1]!.mtu, undefined);
  const r11 = formatResult("1.1.0", sample) as {
    interfaces: { mtu?: number; sandbox?: string }[];
    routes: unknown[];
    dns: unknown;
  };
  assert.equal(r11.interfaces[1]!.mtu, 1400);
  assert.equal(r11.interfaces[1]!.sandbox, "/run/netns/x");
  assert.equal(r11.interfaces[0]!.sandbox, undefined);
  assert.deepEqual(r11.routes, sample.routes);
  assert.deepEqual(r11.dns, {});
});

Deno.test("cni errors render as the spec's JSON", () => {
  const e = new CniError(7, "Invalid network configuration", 'mtu "x"');
  assert.deepEqual(e.toJSON("1.0.0"), {
    cniVersion: "1.0.0",
    code: 7,
    msg: "Invalid network configuration",
    details: 'mtu "x"',
  });
  assert.deepEqual(new CniError(11, "later").toJSON(), {
    cniVersion: "1.1.0",
    code: 11,
    msg: "later",
  });
});
