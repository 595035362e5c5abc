import assert from "node:assert/strict";
import {
  type ActorSnapshot,
  ActorSystem,
  startInspectionServer,
  supervisor,
} from "../runtime/mod.ts";
import { probe, type ProbeMsg, settle, waitUntil } from "./runtime_fixtures.ts";

/** Checks a value against the snapshot schema; returns the list of violations. */
function snapshotViolations(a: unknown, where = "root"): string[] {
  const errs: string[] = [];
  const o = a as Record<string, unknown>;
  const need = (k: string, type: string) => {
    const v = o[k];
    const t = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
    if (!type.split("|").includes(t)) errs.push(`${where}.${k}: ${t}, want ${type}`);
  };
  need("path", "string");
  need("id", "string");
  need("behaviour", "string");
  need("kind", "string");
  need("state", "string");
  need("restartType", "string");
  need("mailbox", "object");
  need("processed", "number");
  need("restarts", "number");
  need("failures", "number");
  need("lastFailure", "object|null");
  need("startedAt", "string|null");
  need("children", "array");
  if (!["worker", "supervisor"].includes(o.kind as string)) errs.push(`${where}.kind`);
  if (!["starting", "running", "stopping", "restarting", "stopped"].includes(o.state as string)) {
    errs.push(`${where}.state: ${o.state}`);
  }
  if (o.kind === "supervisor") need("strategy", "string");
  const mb = o.mailbox as Record<string, unknown>;
  if (typeof mb?.depth !== "number") errs.push(`${where}.mailbox.depth`);
  if (!(typeof mb?.capacity === "number" || mb?.capacity === null)) {
    errs.push(`${where}.mailbox.capacity`);
  }
  if (typeof mb?.overflow !== "string") errs.push(`${where}.mailbox.overflow`);
  if (o.lastFailure) {
    const f = o.lastFailure as Record<string, unknown>;
    if (typeof f.error !== "string" || isNaN(Date.parse(f.at as string))) {
      errs.push(`${where}.lastFailure`);
    }
  }
  for (const [i, c] of ((o.children as unknown[]) ?? []).entries()) {
    errs.push(...snapshotViolations(c, `${where}.children[${i}]`));
  }
  return errs;
}

/** A strict parser of the Prometheus text format (0.0.4); throws on any malformed line. */
export function parsePrometheus(text: string): Map<string, { type: string; samples: number }> {
  const families = new Map<string, { type: string; samples: number }>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/
      .exec(line);
    if (t) {
      if (families.has(t[1]!)) throw new Error(`duplicate TYPE for ${t[1]}`);
      families.set(t[1]!, { type: t[2]!, samples: 0 });
      continue;
    }
    if (line.startsWith("#")) throw new Error(`bad comment line: ${line}`);
    const m = sample.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const name = m[1]!;
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ""));
    if (!family) throw new Error(`sample before its TYPE: ${line}`);
    family.samples++;
  }
  return families;
}

async function startTree() {
  const system = new ActorSystem({ name: "agent", logLevel: "silent" });
  const events: string[] = [];
  await system.start(supervisor("agent", {
    strategy: "one_for_one",
    children: [
      {
        id: "bgp",
        def: supervisor("bgp", {
          strategy: "one_for_one",
          children: [
            { id: "peer-192.0.2.1", def: probe("peer1", events) },
            { id: "peer-192.0.2.2", def: probe("peer2", events) },
          ],
        }),
      },
      { id: "routes", def: probe("routes", events), mailbox: { capacity: 64 } },
    ],
  }));
  // One actor crashes and is restarted, so the views must show it.
  system.lookup<ProbeMsg>("/agent/bgp/peer-192.0.2.2")!.tell({
    type: "crash",
    why: "hold timer expired",
  });
  await waitUntil(() => system.isRunning("/agent/bgp/peer-192.0.2.2"));
  await settle();
  return system;
}

Deno.test("GET /debug/supervision serves the tree in the documented shape", async () => {
  const system = await startTree();
  const server = await startInspectionServer({ system });
  try {
    const res = await fetch(`${server.url}/debug/supervision`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /application\/json/);
    const snap = await res.json();
    assert.equal(snap.system, "agent");
    assert.equal(typeof snap.deadLetters, "number");
    assert.deepEqual(snapshotViolations(snap.root), []);
    const root = snap.root as ActorSnapshot;
    assert.equal(root.strategy, "one_for_one");
    const bgp = root.children[0]!;
    assert.deepEqual(bgp.children.map((c) => c.path), [
      "/agent/bgp/peer-192.0.2.1",
      "/agent/bgp/peer-192.0.2.2",
    ]);
    const crashed = bgp.children[1]!;
    assert.equal(crashed.restarts, 1);
    assert.match(crashed.lastFailure!.error, /hold timer expired/);
    assert.equal(root.children[1]!.mailbox.capacity, 64);
  } finally {
    await server.close();
    await system.shutdown();
  }
});

Deno.test("GET /metrics is valid Prometheus text with per-actor series", async () => {
  const system = await startTree();
  system.metrics.counter("tern_test_events_total", "Events seen by the test.").inc({ kind: "a" });
  system.metrics.histogram("tern_test_duration_seconds", "Durations.").observe(0.003);
  const server = await startInspectionServer({ system });
  try {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    const body = await res.text();
    const families = parsePrometheus(body);
    for (const name of families.keys()) assert.match(name, /^tern_/);
    assert.equal(families.get("tern_actor_messages_processed_total")?.type, "counter");
    assert.equal(families.get("tern_actor_mailbox_depth")?.type, "gauge");
    assert.equal(families.get("tern_actor_restarts_total")!.samples, 5);
    assert.match(
      body,
      /tern_actor_restarts_total\{path="\/agent\/bgp\/peer-192\.0\.2\.2",behaviour="probe"\} 1/,
    );
    assert.equal(families.get("tern_test_duration_seconds")?.type, "histogram");
    assert.throws(() => parsePrometheus("tern_x{a=b} 1"), /bad sample/);
  } finally {
    await server.close();
    await system.shutdown();
  }
});

Deno.test("/healthz and /readyz follow the tree and the required actors", async () => {
  const system = await startTree();
  let extraReady = false;
  const server = await startInspectionServer({
    system,
    required: ["/agent/routes", "/agent/bgp"],
    ready: () => extraReady,
  });
  try {
    assert.equal((await (await fetch(`${server.url}/healthz`)).text()).trim(), "ok");
    let r = await fetch(`${server.url}/readyz`);
    assert.equal(r.status, 503);
    await r.body?.cancel();
    extraReady = true;
    r = await fetch(`${server.url}/readyz`);
    assert.equal(r.status, 200);
    await r.body?.cancel();
    await system.lookup("/agent")!.ask((replyTo) => ({
      type: "terminate_child",
      id: "routes",
      replyTo,
    }));
    r = await fetch(`${server.url}/readyz`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /\/agent\/routes/);
    r = await fetch(`${server.url}/debug/supervision`, { method: "POST" });
    assert.equal(r.status, 405);
    await r.body?.cancel();
    await system.shutdown();
    r = await fetch(`${server.url}/healthz`);
    assert.equal(r.status, 503);
    await r.body?.cancel();
  } finally {
    await server.close();
    await system.shutdown();
  }
});
