/**
 * The libc TCP transport of the BGP speaker on loopback: data both ways, source address, TTL
 * and GTSM (IP_MINTTL: loopback does not decrement the TTL, so what is sent is what arrives),
 * TCP-MD5 keys (matching, wrong, missing), IPv6, close waking pending waits, errno names.
 */
import assert from "node:assert/strict";
import {
  BgpSocketError,
  connectFfi,
  FfiTcpConn,
  FfiTcpListener,
  loadSocketLibrary,
} from "../actors/bgp/ffi_socket.ts";
import {
  IP_MINTTL,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_MINHOPCOUNT,
  IPV6_UNICAST_HOPS,
} from "../actors/bgp/socket_options.ts";

// Loaded once for the process, outside any test's resource accounting.
loadSocketLibrary();

async function pair(
  l: FfiTcpListener,
  o: Omit<Parameters<typeof connectFfi>[0], "hostname" | "port"> = {},
): Promise<[FfiTcpConn, FfiTcpConn]> {
  const accepted = l.accept();
  const c = await connectFfi({ hostname: l.addr.hostname, port: l.addr.port, ...o });
  const s = await accepted;
  assert.ok(s);
  return [c, s];
}

/** Rejects with a connect timeout: the SYN was dropped (bad TTL, missing or wrong key). */
async function dropped(
  l: FfiTcpListener,
  o: Parameters<typeof connectFfi>[0] extends infer T ? Omit<T, "hostname" | "port">
    : never,
) {
  await assert.rejects(
    connectFfi({ hostname: l.addr.hostname, port: l.addr.port, timeoutMs: 700, ...o }),
    (e: unknown) => e instanceof BgpSocketError && e.code === "timeout" && e.errno === "ETIMEDOUT",
  );
}

async function readExactly(c: FfiTcpConn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await c.read(out.subarray(off));
    assert.ok(r !== null, "unexpected end of stream");
    off += r;
  }
  return out;
}

Deno.test("ffi socket: data both ways, addresses, source address, end of stream", async () => {
  const l = FfiTcpListener.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    assert.equal(l.addr.hostname, "127.0.0.1");
    assert.ok(l.addr.port > 0);
    const [c, s] = await pair(l, { sourceAddress: "127.0.0.2" });
    try {
      assert.equal(c.localAddr.hostname, "127.0.0.2");
      assert.deepEqual(c.remoteAddr, l.addr);
      assert.deepEqual(s.remoteAddr, c.localAddr);
      assert.deepEqual(s.localAddr, l.addr);
      c.setNoDelay(true);
      const msg = new Uint8Array(100_000).map((_, i) => i % 251);
      // A subarray at an offset: the pointer passed to libc must include the offset.
      const writing = (async () => {
        const src = new Uint8Array(100_010);
        src.set(msg, 10);
        let off = 0;
        while (off < msg.length) off += await c.write(src.subarray(10 + off));
      })();
      const got = await readExactly(s, msg.length);
      await writing;
      assert.deepEqual(got, msg);
      await s.write(new TextEncoder().encode("pong"));
      assert.equal(new TextDecoder().decode(await readExactly(c, 4)), "pong");
      c.close();
      assert.equal(await s.read(new Uint8Array(10)), null, "peer's close is end of stream");
      assert.equal(await c.read(new Uint8Array(10)), null, "reading after close is null");
    } finally {
      c.close();
      s.close();
    }
  } finally {
    l.close();
  }
});

Deno.test("ffi socket: TTL and GTSM minimum TTL, set and enforced (IPv4 and IPv6)", async () => {
  for (const host of ["127.0.0.1", "::1"]) {
    const v6 = host.includes(":");
    const [lvl, ttlOpt, minOpt] = v6
      ? [IPPROTO_IPV6, IPV6_UNICAST_HOPS, IPV6_MINHOPCOUNT]
      : [IPPROTO_IP, IP_TTL, IP_MINTTL];
    // GTSM listener for a directly connected peer: send 255, require 255.
    const l = FfiTcpListener.listen({ hostname: host, port: 0, ttl: { ttl: 255, minTtl: 255 } });
    try {
      await dropped(l, { ttl: { ttl: 254 } });
      await dropped(l, {}); // the kernel's default TTL (64)
      const [c, s] = await pair(l, { ttl: { ttl: 255, minTtl: 255 } });
      try {
        assert.equal(c.getIntOption(lvl, ttlOpt), 255, host);
        assert.equal(c.getIntOption(lvl, minOpt), 255, host);
        // The accepted socket inherits the listener's settings; a peer's own replace them.
        assert.equal(s.getIntOption(lvl, minOpt), 255, host);
        s.setTtl({ ttl: 2, minTtl: 0 });
        assert.equal(s.getIntOption(lvl, ttlOpt), 2, host);
        assert.equal(s.getIntOption(lvl, minOpt), 0, host);
        assert.equal(s.synTtl(), null, "no SYN saved without saveSyn");
        s.setTtl({ ttl: -1 });
        assert.equal(s.getIntOption(lvl, ttlOpt), 64, `${host}: -1 is the kernel's default`);
        await c.write(new Uint8Array([1, 2, 3]));
        assert.deepEqual(await readExactly(s, 3), new Uint8Array([1, 2, 3]));
      } finally {
        c.close();
        s.close();
      }
    } finally {
      l.close();
    }
    // A listener that saves SYNs tells the TTL each connection's SYN arrived with.
    const ls = FfiTcpListener.listen({ hostname: host, port: 0, saveSyn: true });
    try {
      for (const ttl of [200, 3]) {
        const [c, s] = await pair(ls, { ttl: { ttl } });
        try {
          assert.equal(s.synTtl(), ttl, host);
          assert.equal(s.synTtl(), null, "read once");
        } finally {
          c.close();
          s.close();
        }
      }
    } finally {
      ls.close();
    }
  }
});

Deno.test("ffi socket: TCP-MD5 keys: matching connects, wrong or missing never does", async () => {
  for (const [host, src] of [["127.0.0.1", "127.0.0.3"], ["::1", undefined]] as const) {
    const peer = src ?? "::1";
    const l = FfiTcpListener.listen({ hostname: host, port: 0 });
    try {
      l.setPassword(peer, "tern-md5-key");
      assert.deepEqual(l.passwordPeers, [peer]);
      await dropped(l, { sourceAddress: src, password: "wrong-key" });
      await dropped(l, { sourceAddress: src });
      const [c, s] = await pair(l, { sourceAddress: src, password: "tern-md5-key" });
      try {
        await c.write(new Uint8Array([7]));
        assert.deepEqual(await readExactly(s, 1), new Uint8Array([7]));
        // The kernel shows the signature on the established socket.
        const ss = new Deno.Command("ss", {
          args: ["-tnie", "state", "established", `sport = :${l.addr.port}`],
        }).outputSync();
        assert.match(new TextDecoder().decode(ss.stdout), /md5/, host);
      } finally {
        c.close();
        s.close();
      }
      // Removing the key: signed SYNs are dropped by an unsigned listener.
      l.setPassword(peer, null);
      assert.deepEqual(l.passwordPeers, []);
      await dropped(l, { sourceAddress: src, password: "tern-md5-key" });
    } finally {
      l.close();
    }
  }
});

Deno.test("ffi socket: a dual-stack listener keys an IPv4 peer by its IPv4-mapped address", async () => {
  const l = FfiTcpListener.listen({ hostname: "::", port: 0 });
  try {
    assert.ok(l.reaches("127.0.0.1") && l.reaches("fd00::1"));
    l.setPassword("127.0.0.1", "mapped-key");
    const target = { hostname: "127.0.0.1", port: l.addr.port };
    await assert.rejects(
      connectFfi({ ...target, timeoutMs: 700 }),
      (e: unknown) => e instanceof BgpSocketError && e.code === "timeout",
    );
    const accepted = l.accept();
    const c = await connectFfi({ ...target, password: "mapped-key" });
    const s = await accepted;
    try {
      assert.ok(s);
      assert.equal(s.remoteAddr.hostname, "127.0.0.1", "mapped address shown as IPv4");
      // TTL on an accepted IPv4-mapped connection: IP_TTL is set along with the IPv6 hops.
      s.setTtl({ ttl: 9 });
      assert.equal(s.getIntOption(IPPROTO_IP, IP_TTL), 9);
      assert.equal(s.getIntOption(IPPROTO_IPV6, IPV6_UNICAST_HOPS), 9);
    } finally {
      c.close();
      s?.close();
    }
  } finally {
    l.close();
  }
});

Deno.test("ffi socket: close wakes a pending read, write and accept", async () => {
  const l = FfiTcpListener.listen({ hostname: "127.0.0.1", port: 0 });
  const [c, s] = await pair(l);
  try {
    // c reads (s never writes) and writes (s never reads): both wait on one socket.
    const reading = c.read(new Uint8Array(10));
    const accepting = l.accept();
    // Fill the send path (s never reads) until a write waits.
    const big = new Uint8Array(1 << 20);
    let pending: Promise<number> | null = null;
    for (let i = 0; i < 200 && !pending; i++) {
      const w = c.write(big);
      let t: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([w, new Promise((res) => t = setTimeout(res, 200, "waiting"))]);
      clearTimeout(t);
      if (r === "waiting") pending = w;
    }
    assert.ok(pending, "a write ends up waiting for the peer");
    c.close();
    await assert.rejects(
      pending,
      (e: unknown) => e instanceof BgpSocketError && e.code === "closed",
    );
    assert.equal(await reading, null);
    l.close();
    assert.equal(await accepting, null);
    await assert.rejects(c.write(new Uint8Array(1)), BgpSocketError);
  } finally {
    c.close();
    s.close();
    l.close();
  }
});

Deno.test("ffi socket: failures carry the call and the errno name", async () => {
  const l = FfiTcpListener.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await assert.rejects(connectFfi({ hostname: "127.0.0.1", port }), (e: unknown) => {
    assert.ok(e instanceof BgpSocketError);
    assert.equal(e.code, "system_call");
    assert.equal(e.call, "connect");
    assert.equal(e.errno, "ECONNREFUSED");
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1 port ${port}: ECONNREFUSED`));
    return true;
  });
  await assert.rejects(
    connectFfi({ hostname: "127.0.0.1", port, sourceAddress: "192.0.2.77" }),
    (e: unknown) => e instanceof BgpSocketError && e.call === "bind" && e.errno === "EADDRNOTAVAIL",
  );
  await assert.rejects(
    connectFfi({ hostname: "127.0.0.1", port, sourceAddress: "::1" }),
    (e: unknown) => e instanceof BgpSocketError && e.errno === "EAFNOSUPPORT",
  );
  const busy = FfiTcpListener.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    assert.throws(
      () => FfiTcpListener.listen({ hostname: "127.0.0.1", port: busy.addr.port }),
      (e: unknown) => e instanceof BgpSocketError && e.call === "bind" && e.errno === "EADDRINUSE",
    );
    assert.equal(busy.reaches("fd00::1"), false, "no IPv6 peer reaches an IPv4 listener");
    assert.throws(() => busy.setPassword("fd00::1", "k"), BgpSocketError);
    // An aborted connect (SYN dropped for want of a key) ends at once with `closed`.
    busy.setPassword("127.0.0.1", "k");
    const ac = new AbortController();
    const p = connectFfi({ hostname: "127.0.0.1", port: busy.addr.port, signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (e: unknown) => e instanceof BgpSocketError && e.code === "closed");
  } finally {
    busy.close();
  }
});
