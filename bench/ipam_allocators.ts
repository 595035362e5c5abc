/**
 * IPAM benchmarks, side by side with the reference tools, in one run:
 *
 * 1. Address math: parsing CIDRs, containment checks and formatting, tern's `Cidr` against the
 *    `ip-cidr` npm package.
 * 2. Pod address allocation: tern's block + bitmap allocators against the reference IPAM plugin
 *    `host-local` (containernetworking-plugins), which runs as one process per ADD and keeps its
 *    state in files. This compares allocator cores only: a tern CNI ADD also pays the plugin's
 *    start and the agent round trip (issue 7 measures the whole ADD).
 * 3. Pod blocks for 1,000 nodes (both families) and their restore; LoadBalancer allocation of a
 *    10,000 Service burst and a restore of the same 10,000 after a restart (tern only: no
 *    reference tool here has an in-process block or LoadBalancer allocator).
 *
 * Run: `deno run -A bench/ipam_allocators.ts [--quick]`. Prints a table with ratios.
 *
 * @module
 */

import IPCIDR from "ip-cidr";
import { IpAddress } from "../actors/ipam/address.ts";
import { Cidr } from "../actors/ipam/cidr.ts";
import { Pool, resolvePools } from "../actors/ipam/pool.ts";
import { BlockAllocator } from "../actors/ipam/block_allocator.ts";
import { BlockAddressAllocator } from "../actors/ipam/address_allocator.ts";
import { ServiceAllocator } from "../actors/ipam/service_allocator.ts";
import { decideService, restoreFromServices } from "../actors/ipam/lb_decision.ts";
import type { ServiceObject } from "../actors/ipam/service_request.ts";

const quick = Deno.args.includes("--quick");
const HOST_LOCAL = "/usr/lib/cni/host-local";

interface Row {
  what: string;
  tern: number; // ms per op
  ref?: number; // ms per op
  refName?: string;
  ops: number;
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Deterministic pseudo-random numbers (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function cidrTexts(n: number): string[] {
  const r = rng(42);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      const len = 8 + (r() % 25);
      const a = IpAddress.of(4, BigInt(r()));
      out.push(Cidr.containing(a, len).toString());
    } else {
      const len = 16 + (r() % 113);
      const v = (0xfdn << 120n) | (BigInt(r()) << 64n) | (BigInt(r()) << 32n) | BigInt(r());
      out.push(Cidr.containing(IpAddress.of(6, v), len).toString());
    }
  }
  return out;
}

function benchMath(rows: Row[]): void {
  const n = quick ? 2_000 : 20_000;
  const texts = cidrTexts(n);
  const probes = texts.map((t) => t.split("/")[0]!);
  // Warm up both.
  for (const t of texts.slice(0, 500)) {
    Cidr.parse(t);
    new IPCIDR(t);
  }
  let ternParsed: Cidr[] = [];
  const tParse = time(() => {
    ternParsed = texts.map((t) => Cidr.parse(t));
  });
  let refParsed: IPCIDR[] = [];
  const rParse = time(() => {
    refParsed = texts.map((t) => new IPCIDR(t));
  });
  rows.push({ what: "parse CIDR", tern: tParse / n, ref: rParse / n, refName: "ip-cidr", ops: n });

  const probeAddrs = probes.map((p) => IpAddress.parse(p));
  let hits = 0;
  const tContains = time(() => {
    for (let i = 0; i < n; i++) if (ternParsed[i]!.contains(probeAddrs[(i * 7) % n]!)) hits++;
  });
  let refHits = 0;
  const rContains = time(() => {
    for (let i = 0; i < n; i++) if (refParsed[i]!.contains(probes[(i * 7) % n]!)) refHits++;
  });
  if (hits !== refHits) throw new Error(`contains disagrees: tern ${hits}, ip-cidr ${refHits}`);
  rows.push({
    what: "contains (parsed CIDR, address)",
    tern: tContains / n,
    ref: rContains / n,
    refName: "ip-cidr",
    ops: n,
  });
  const tFmt = time(() => {
    for (const c of ternParsed) c.toString();
  });
  const rFmt = time(() => {
    for (const c of refParsed) c.toString();
  });
  rows.push({ what: "format CIDR", tern: tFmt / n, ref: rFmt / n, refName: "ip-cidr", ops: n });
}

async function hostLocalAdds(n: number): Promise<number | undefined> {
  try {
    await Deno.stat(HOST_LOCAL);
  } catch {
    return undefined;
  }
  const dir = await Deno.makeTempDir({ prefix: "tn-ipam-bench-" });
  try {
    const conf = JSON.stringify({
      cniVersion: "1.0.0",
      name: "tn-ipam-bench",
      ipam: { type: "host-local", ranges: [[{ subnet: "198.18.0.0/16" }]], dataDir: dir },
    });
    const bytes = new TextEncoder().encode(conf);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const child = new Deno.Command(HOST_LOCAL, {
        env: {
          CNI_COMMAND: "ADD",
          CNI_CONTAINERID: `bench${i}`,
          CNI_NETNS: "/nonexistent",
          CNI_IFNAME: "eth0",
          CNI_PATH: "/usr/lib/cni",
        },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(bytes);
      await w.close();
      const out = await child.output();
      if (out.code !== 0) {
        throw new Error(`host-local failed: ${new TextDecoder().decode(out.stdout)}`);
      }
    }
    return (performance.now() - t0) / n;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function benchPods(rows: Row[]): Promise<void> {
  const n = quick ? 50 : 200;
  const pool = Pool.from({ name: "pods", type: "pod", cidrs: ["198.18.0.0/16"], blockSize: 26 });
  // tern: the agent's path for one ADD: find a block with room (or get one), take its lowest
  // free address. Averaged over many pods for a stable figure.
  const pods = quick ? 20_000 : 60_000;
  const ternMs = time(() => {
    const blocks = new BlockAllocator(pool);
    const open: BlockAddressAllocator[] = [];
    for (let i = 0; i < pods; i++) {
      let a = open[open.length - 1];
      if (!a || a.free === 0) {
        const b = blocks.allocate({ node: `node${open.length % 100}`, family: 4 }).block;
        a = new BlockAddressAllocator(b.cidr);
        open.push(a);
      }
      a.allocate(`container${i}/eth0`);
    }
  }) / pods;
  const ref = await hostLocalAdds(n);
  rows.push({
    what: "pod address ADD (allocator core)",
    tern: ternMs,
    ...(ref === undefined ? {} : { ref, refName: "host-local (exec per ADD)" }),
    ops: pods,
  });
}

function service(i: number): ServiceObject {
  return {
    metadata: {
      name: `svc-${i}`,
      namespace: `ns-${i % 50}`,
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
    },
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: "tern.dev/bgp",
      ports: [{ protocol: "TCP", port: 80 }],
      selector: { app: `a${i}` },
      ...(i % 10 === 0 ? { ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "RequireDualStack" } : {}),
    },
  };
}

function benchServices(rows: Row[]): void {
  const n = quick ? 2_000 : 10_000;
  const { accepted } = resolvePools([
    { name: "lb", type: "service", cidrs: ["198.18.0.0/16", "fd00:203::/112"], autoAssign: true },
  ]);
  const services = Array.from({ length: n }, (_, i) => service(i));
  const alloc = new ServiceAllocator(accepted.values());
  const tAssign = time(() => {
    for (const s of services) {
      const d = decideService(alloc, `${s.metadata.namespace}/${s.metadata.name}`, s);
      if (d.error) throw d.error;
      s.status = { loadBalancer: { ingress: d.writeIngress! } };
    }
  });
  rows.push({ what: `LoadBalancer assign, ${n} Services burst`, tern: tAssign / n, ops: n });
  const fresh = new ServiceAllocator(accepted.values());
  const tRestore = time(() => {
    const rep = restoreFromServices(fresh, services);
    if (rep.conflicts.length) throw new Error("restore found conflicts");
  });
  rows.push({ what: `LoadBalancer restore of ${n} Services`, tern: tRestore / n, ops: n });
  const tRelease = time(() => {
    for (let i = 0; i < n; i += 2) decideService(fresh, `ns-${i % 50}/svc-${i}`, undefined);
  });
  rows.push({
    what: "LoadBalancer release (Service deleted)",
    tern: tRelease / (n / 2),
    ops: n / 2,
  });
}

function benchBlocks(rows: Row[]): void {
  const nodes = 1_000;
  const pool = Pool.from({
    name: "pods",
    type: "pod",
    cidrs: ["198.18.0.0/15", "fd00:10::/96"],
    blockSize: 26,
    blockSizeV6: 122,
  });
  const blocks = new BlockAllocator(pool);
  const tCut = time(() => {
    for (let i = 0; i < nodes; i++) {
      blocks.allocate({ node: `node-${i}`, family: 4, request: `pods-node-${i}-4` });
      blocks.allocate({ node: `node-${i}`, family: 6, request: `pods-node-${i}-6` });
    }
  });
  rows.push({
    what: `pod blocks, ${nodes} nodes x 2 families`,
    tern: tCut / (2 * nodes),
    ops: 2 * nodes,
  });
  const existing = blocks.list().map((b) => ({
    name: b.name,
    cidr: b.cidr.toString(),
    node: b.node,
  }));
  const tRestore = time(() => {
    const fresh = new BlockAllocator(pool);
    const rep = fresh.restore(existing);
    if (rep.conflicts.length) throw new Error("block restore found conflicts");
  });
  rows.push({
    what: `pod block restore, ${existing.length} blocks`,
    tern: tRestore / existing.length,
    ops: existing.length,
  });
}

function fmt(ms: number): string {
  if (ms < 0.001) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${(ms * 1e3).toFixed(2)} µs`;
  return `${ms.toFixed(2)} ms`;
}

if (import.meta.main) {
  const rows: Row[] = [];
  benchMath(rows);
  await benchPods(rows);
  benchBlocks(rows);
  benchServices(rows);
  const header = ["benchmark", "ops", "tern / op", "reference / op", "reference", "ref ÷ tern"];
  const lines = rows.map((r) => [
    r.what,
    String(r.ops),
    fmt(r.tern),
    r.ref === undefined ? "-" : fmt(r.ref),
    r.refName ?? "-",
    r.ref === undefined ? "-" : `${(r.ref / r.tern).toFixed(1)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(line(l));
  console.log(
    "\nref ÷ tern > 1 means tern is faster. host-local's figure includes its process start and " +
      "file locking; tern's is the in-memory allocator the agent runs (no process start).",
  );
}
