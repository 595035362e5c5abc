/**
 * The decoder fuzzer shared by the bounded test and `bench/bgp_fuzz_long.ts`: random messages
 * and mutations of valid ones go through the framer and every decoder; anything thrown that is
 * not a BgpWireError is a finding.
 */
import { BgpWireError } from "../actors/bgp/errors.ts";
import { decodeNotification } from "../actors/bgp/notification.ts";
import { decodeOpen, encodeOpen } from "../actors/bgp/open_message.ts";
import { decodeRouteRefresh, encodeRouteRefresh } from "../actors/bgp/route_refresh.ts";
import { decodeUpdate, encodeUpdate, packAnnouncement } from "../actors/bgp/update_message.ts";
import { MessageFramer } from "../actors/bgp/wire_header.ts";

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  out.push(encodeOpen({
    myAsn: 65001,
    holdTime: 90,
    bgpId: "192.0.2.1",
    capabilities: [
      { kind: "multiprotocol", afi: 1, safi: 1 },
      { kind: "multiprotocol", afi: 2, safi: 1 },
      { kind: "route-refresh" },
      { kind: "extended-message" },
      {
        kind: "graceful-restart",
        restarting: false,
        notification: true,
        restartTime: 120,
        families: [{ afi: 1, safi: 1, forwarding: false }],
      },
      { kind: "four-octet-as", asn: 4200000000 },
    ],
  }));
  out.push(encodeUpdate({
    withdrawn: ["198.51.100.0/24"],
    attributes: {
      origin: 0,
      asPath: [{ type: 2, asns: [65001, 4200000000] }, { type: 1, asns: [1, 2, 3] }],
      nextHop: "192.0.2.1",
      med: 5,
      localPref: 100,
      atomicAggregate: true,
      aggregator: { asn: 4200000000, address: "192.0.2.1" },
      communities: [1, 2],
      largeCommunities: [[1, 2, 3]],
      unknown: [{ flags: 0xe0, code: 99, value: new Uint8Array([1, 2, 3]) }],
    },
    nlri: ["203.0.113.0/24", "192.0.2.128/25"],
  }, { as4: false }));
  out.push(...packAnnouncement({
    family: "ipv6",
    attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }] },
    mpNextHop: "fd00::1",
    mpLinkLocalNextHop: "fe80::1",
    prefixes: ["fd00:1::/64", "fd00:2::/48", "fd00::/8"],
  }, { as4: true }));
  out.push(encodeRouteRefresh({ afi: 2, safi: 1, subtype: 0 }));
  out.push(new Uint8Array([...new Array(16).fill(0xff), 0, 21, 3, 6, 2]));
  return out;
}

/** Result of a fuzz run. */
export interface FuzzReport {
  /** Messages tried. */
  iterations: number;
  /** Typed errors seen (expected). */
  typedErrors: number;
  /** Unexpected exceptions (bugs), with the input in hex. */
  findings: { input: string; error: string }[];
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Runs `iterations` fuzz cases (or until `deadlineMs` of wall time has passed). */
export function fuzz(iterations: number, seed = 1, deadlineMs = Infinity): FuzzReport {
  const rand = rng(seed);
  const pool = seeds();
  const report: FuzzReport = { iterations: 0, typedErrors: 0, findings: [] };
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    if ((i & 255) === 0 && performance.now() - started > deadlineMs) break;
    report.iterations++;
    let input: Uint8Array;
    const mode = rand();
    if (mode < 0.2) {
      // Random body with a valid header of a random type.
      const len = Math.floor(rand() * 200);
      input = new Uint8Array(19 + len);
      input.fill(0xff, 0, 16);
      input[16] = (19 + len) >> 8;
      input[17] = (19 + len) & 0xff;
      input[18] = 1 + Math.floor(rand() * 5);
      for (let j = 19; j < input.length; j++) input[j] = Math.floor(rand() * 256);
    } else {
      // Mutate a valid message: flip bytes, truncate, extend, fix up or keep the length.
      const base = pool[Math.floor(rand() * pool.length)];
      input = base.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) {
        const at = 16 + Math.floor(rand() * (input.length - 16));
        input[at] = rand() < 0.5
          ? Math.floor(rand() * 256)
          : input[at] ^ (1 << Math.floor(rand() * 8));
      }
      if (rand() < 0.2) input = input.subarray(0, 19 + Math.floor(rand() * (input.length - 19)));
      if (rand() < 0.7) {
        input[16] = input.length >> 8;
        input[17] = input.length & 0xff;
      }
    }
    const framer = new MessageFramer();
    framer.setExtended(rand() < 0.5);
    try {
      framer.push(input);
      const frame = framer.next();
      if (frame === null) continue;
      const opts = {
        as4: rand() < 0.5,
        ibgp: rand() < 0.5,
        peerAsn: rand() < 0.5 ? 65001 : undefined,
      };
      switch (frame.type) {
        case 1:
          decodeOpen(frame.body);
          break;
        case 2: {
          const d = decodeUpdate(frame.body, opts);
          // What we accept we must be able to send on.
          encodeUpdate(d.message, { as4: opts.as4, maxLength: 65535 });
          break;
        }
        case 3:
          decodeNotification(frame.body);
          break;
        case 5:
          decodeRouteRefresh(frame.body);
          break;
      }
    } catch (e) {
      if (e instanceof BgpWireError) report.typedErrors++;
      else report.findings.push({ input: toHex(input), error: String((e as Error)?.stack ?? e) });
    }
  }
  return report;
}
