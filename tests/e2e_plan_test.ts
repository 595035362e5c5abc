/**
 * The simulated cluster's pure parts: the address plan, the spine configurations (checked by
 * the daemons themselves: FRR's and BIRD's own parsers), the stand-in CNI and speaker configs.
 */
import assert from "node:assert/strict";
import { assertSpinesAccept } from "./e2e_spine_check.ts";
import { makePlan, mgmtHostIf, PlanError, planNamespaces } from "../actors/sim/plan.ts";
import { birdConfig, frrConfig } from "../actors/sim/spine_config.ts";
import { gobgpConfig, standinConflist } from "../actors/sim/standin.ts";

const TEST_RANGES = [/^192\.0\.2\./, /^198\.51\.100\./, /^203\.0\.113\./, /^198\.1[89]\./];

Deno.test("plan: names, ASNs and addresses, only test ranges, unique", () => {
  const plan = makePlan({ prefix: "tn-e2e-abc123", nodes: 5, mgmtOctet: 250 });
  assert.equal(plan.nodes.length, 5);
  assert.deepEqual(plan.spines.map((s) => [s.kind, s.asn, s.address]), [
    ["frr", 65001, "192.0.2.1"],
    ["bird", 65002, "192.0.2.2"],
  ]);
  const addrs = [
    ...plan.spines.map((s) => s.address),
    plan.mgmt.address,
    ...plan.nodes.flatMap((
      n,
    ) => [n.internalIP, ...n.uplinks.flatMap((u) => [u.a.address, u.b.address])]),
    ...plan.client.uplinks.flatMap((u) => [u.a.address, u.b.address]),
  ];
  assert.equal(new Set(addrs).size, addrs.length, "an address is used twice");
  for (const a of addrs) assert.ok(TEST_RANGES.some((r) => r.test(a)), `${a} outside test ranges`);
  assert.ok(planNamespaces(plan).every((ns) => ns.startsWith("tn-e2e-abc123-")));
  for (const n of plan.nodes) assert.ok(mgmtHostIf(plan, n).length <= 15);
  assert.ok(plan.mgmt.bridge.length <= 15);
  assert.equal(new Set(plan.nodes.map((n) => n.asn)).size, 5);
});

Deno.test("plan: bad options are typed errors quoting the value", () => {
  assert.throws(() => makePlan({ prefix: "bad prefix" }), (e) => {
    assert.ok(e instanceof PlanError);
    assert.equal(e.code, "bad_plan");
    assert.match(e.message, /"bad prefix"/);
    return true;
  });
  assert.throws(() => makePlan({ prefix: "tn-e2e-abc", nodes: 0 }), PlanError);
  assert.throws(() => makePlan({ prefix: "tn-e2e-abc", nodes: 31 }), PlanError);
  assert.throws(() => makePlan({ prefix: "tn-e2e-abc", mgmtOctet: 10 }), /management octet 10/);
});

Deno.test("spine configs: one session per node; FRR and BIRD accept them", async () => {
  const plan = makePlan({ prefix: "tn-e2e-cfg001", nodes: 3 });
  const dir = await Deno.makeTempDir({ prefix: "tn-e2e-cfg-" });
  try {
    const frr = frrConfig(plan, plan.spines[0], `${dir}/frr.log`);
    for (const n of plan.nodes) {
      assert.match(frr, new RegExp(`neighbor ${n.uplinks[0].b.address} remote-as ${n.asn}\\n`));
    }
    const bird = birdConfig(plan, plan.spines[1], `${dir}/bird.log`);
    assert.equal(bird.match(/protocol bgp node_\d+ from tern_node/g)?.length, 3);
    assert.match(bird, /neighbor 192\.0\.2\.129 as 65101;/);
    await assertSpinesAccept(dir, plan, frr, bird);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node configs: the stand-ins' configurations are well formed", () => {
  const plan = makePlan({ prefix: "tn-e2e-cfg002", nodes: 2 });
  const g = gobgpConfig(plan, plan.nodes[0]);
  assert.match(g, /local-address = "192\.0\.2\.65"/);
  assert.match(g, /local-address = "192\.0\.2\.129"/);
  const c = standinConflist(plan.nodes[0]);
  assert.equal(c.plugins[0].type, "ptp");
});
