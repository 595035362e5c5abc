import assert from "node:assert/strict";
import {
  listRoutes,
  MessageWriter,
  NetlinkSocket,
  writeRouteRequest,
} from "../actors/netlink/mod.ts";
import { NLM_F, RTM } from "../actors/netlink/constants.ts";
import { basicLinks, nsPath, openFds, routes, run, withNamespaces } from "./netlink_fixtures.ts";

const N = 10_000;
const PROTO = 211;
const dst = (i: number) => `198.18.${(i >> 8) & 255}.${i & 255}/32`;

Deno.test("netlink scale: 10,000 routes added and removed in batches leave no route or fd behind", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    const fds = openFds();
    const sock = NetlinkSocket.open({ netns: nsPath(ns) });
    try {
      const add = new MessageWriter(1 << 20);
      for (let i = 0; i < N; i++) {
        writeRouteRequest(add, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, sock.nextSeq(), {
          dst: dst(i),
          gateway: "192.0.2.2",
          protocol: PROTO,
        });
      }
      const r1 = await sock.batch(add);
      assert.deepEqual([r1.sent, r1.failed], [N, 0]);
      assert.equal((await routes(ns, { proto: PROTO })).length, N);
      assert.equal((await listRoutes(sock, { protocol: PROTO })).length, N);
      const del = new MessageWriter(1 << 20);
      for (let i = 0; i < N; i++) {
        writeRouteRequest(del, RTM.DELROUTE, 0, sock.nextSeq(), { dst: dst(i), protocol: PROTO });
      }
      const r2 = await sock.batch(del);
      assert.deepEqual([r2.sent, r2.failed], [N, 0]);
      assert.deepEqual(await routes(ns, { proto: PROTO }), []);
    } finally {
      sock.close();
    }
    assert.equal(openFds(), fds);
  });
});

Deno.test("netlink scale: route-table cycles of 10,000 routes leave no route, fd or memory behind", async () => {
  await withNamespaces(1, async ([ns]) => {
    await basicLinks(ns);
    const script = new URL("./netlink_fixture_cycles.ts", import.meta.url).pathname;
    const out = await run(Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      "--v8-flags=--expose-gc",
      script,
      nsPath(ns),
      String(N),
      "4",
    ]);
    const res = JSON.parse(out.trim().split("\n").pop()!) as {
      heap: number[];
      fds: number[];
      installed: number[];
    };
    assert.deepEqual(res.installed, [N, 0, N, 0, N, 0, N, 0]);
    assert.deepEqual(await routes(ns, { proto: PROTO }), []);
    // the same netlink sockets and eventfds after every cycle: each cycle's are closed
    assert.ok(res.fds.every((f) => f === res.fds[0]), `fds per cycle: ${res.fds}`);
    // the heap after a full GC does not grow from cycle to cycle (first cycle warms up)
    const growth = res.heap[3] - res.heap[1];
    assert.ok(
      growth < 2 * 1024 * 1024,
      `heap grew by ${growth} bytes over two cycles: ${res.heap}`,
    );
  });
});
