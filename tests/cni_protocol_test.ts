import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AgentRequest,
  decodeRequest,
  decodeResponse,
  encodeMessage,
  LineReader,
  MAX_LINE,
  PROTOCOL_VERSION,
  ProtocolError,
  versionMismatch,
} from "../actors/cni/protocol.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("cni protocol: requests round-trip as one line", () => {
  const reqs: AgentRequest[] = [
    {
      v: 1,
      op: "add",
      attachment: {
        containerId: "c1",
        ifname: "eth0",
        netns: "/run/netns/x",
        network: "tern",
        pod: { namespace: "default", name: "web-0", uid: "u1" },
        pool: "blue",
        mtu: 1400,
      },
    },
    { v: 1, op: "del", attachment: { containerId: "c1", ifname: "eth0", network: "tern" } },
    { v: 1, op: "status", network: "tern" },
    { v: 1, op: "gc", network: "tern", valid: [{ containerId: "c2", ifname: "eth0" }] },
  ];
  for (const r of reqs) {
    const line = text(encodeMessage(r));
    assert.ok(line.endsWith("\n") && line.indexOf("\n") === line.length - 1);
    assert.deepEqual(decodeRequest(line.trimEnd()), r);
  }
});

Deno.test("cni protocol: responses round-trip", () => {
  const ok = { v: 1, ok: true as const, result: { interfaces: [], ips: [], routes: [], dns: {} } };
  assert.deepEqual(decodeResponse(text(encodeMessage(ok)).trimEnd()), ok);
  const err = { v: 1, ok: false as const, error: { code: 11, msg: "later", details: "d" } };
  assert.deepEqual(decodeResponse(text(encodeMessage(err)).trimEnd()), err);
});

Deno.test("cni protocol: bad messages are ProtocolError quoting the input", () => {
  const bad = [
    "",
    "null",
    "[]",
    '{"op":"add"}',
    '{"v":1,"op":"frob"}',
    '{"v":1,"op":"add","attachment":{"containerId":"c"}}',
    '{"v":1,"op":"add","attachment":{"containerId":"c","ifname":"eth0","network":"n","mtu":"x"}}',
    '{"v":1,"op":"gc","network":"n","valid":{}}',
  ];
  for (const b of bad) {
    assert.throws(() => decodeRequest(b), (e) => e instanceof ProtocolError, b);
  }
  assert.throws(() => decodeResponse('{"v":1,"ok":"yes"}'), ProtocolError);
  assert.throws(() => decodeResponse('{"v":1,"ok":true,"result":{}}'), ProtocolError);
});

Deno.test("cni protocol: decoders throw nothing but ProtocolError on arbitrary input", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (s) => {
      for (const d of [decodeRequest, decodeResponse]) {
        try {
          d(s);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("cni protocol: another version is answered with code 1", () => {
  const r = decodeRequest('{"v":2,"op":"teleport"}');
  assert.equal(r.v, 2);
  assert.equal(versionMismatch(r)?.code, 1);
  assert.equal(versionMismatch({ v: PROTOCOL_VERSION, op: "status", network: "n" }), undefined);
});

Deno.test("cni protocol: the line reader splits chunks and refuses huge lines", () => {
  const r = new LineReader();
  const enc = new TextEncoder();
  assert.deepEqual(r.push(enc.encode('{"a":')), []);
  assert.deepEqual(r.push(enc.encode('1}\n{"b":2}\n')), ['{"a":1}', '{"b":2}']);
  const big = new LineReader();
  assert.throws(() => big.push(new Uint8Array(MAX_LINE + 1).fill(0x61)), ProtocolError);
});
