import assert from "node:assert/strict";
import { ActorSystem, startInspectionServer, supervisor } from "../runtime/mod.ts";
import { probe, type ProbeMsg, settle, waitUntil } from "./runtime_fixtures.ts";

/** Renders a page in headless Chromium (Debian's `chromium`) and returns the DOM after scripts ran. */
export async function renderInChromium(url: string, extraArgs: string[] = []): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "tern-chromium-" });
  try {
    const out = await new Deno.Command("chromium", {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--virtual-time-budget=3000",
        ...extraArgs,
        "--dump-dom",
        url,
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) throw new Error(`chromium exited with ${out.code}`);
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

Deno.test("the /debug/ page in Chromium draws the tree and a crashed-and-restarted actor", async () => {
  const system = new ActorSystem({ name: "agent", logLevel: "silent" });
  const events: string[] = [];
  await system.start(supervisor("agent", {
    strategy: "one_for_one",
    children: [{
      id: "bgp",
      def: supervisor("bgp", {
        strategy: "rest_for_one",
        children: [
          { id: "speaker", def: probe("speaker", events) },
          { id: "peer-192.0.2.7", def: probe("peer", events) },
        ],
      }),
    }, { id: "routes", def: probe("routes", events) }],
  }));
  system.lookup<ProbeMsg>("/agent/bgp/peer-192.0.2.7")!.tell({
    type: "crash",
    why: "connection reset by peer",
  });
  await waitUntil(() => system.isRunning("/agent/bgp/peer-192.0.2.7"));
  await settle();
  const server = await startInspectionServer({ system });
  try {
    const dom = await renderInChromium(`${server.url}/debug/`);
    for (
      const path of ["/agent", "/agent/bgp", "/agent/bgp/speaker", "/agent/bgp/peer-192.0.2.7"]
    ) {
      assert.ok(dom.includes(`data-path="${path}"`), `node ${path} drawn`);
    }
    const peerNode = dom.slice(dom.indexOf('class="node worker state-running failed"'));
    assert.ok(peerNode.length < dom.length, "the crashed actor is marked as failed");
    assert.match(peerNode, /peer-192\.0\.2\.7/);
    assert.match(dom, /restarts 1/);
    assert.match(dom, /connection reset by peer/);
    assert.match(dom, /rest_for_one/);
  } finally {
    await server.close();
    await system.shutdown();
  }
});
