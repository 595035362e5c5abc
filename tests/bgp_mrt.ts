/** Largest number of distinct IPv4 prefixes inside 198.18.0.0/15 (lengths 15 to 32). */
export const MAX_TEST_PREFIXES = 2 ** 18 - 1;

/**
 * Distinct IPv4 prefixes inside the benchmark range 198.18.0.0/15: every /32, then every /31,
 * and so on up to the /15 itself (262,143 in all). Tests may not use other address space.
 */
export function* prefixes(n: number): Generator<{ len: number; bytes: number[]; text: string }> {
  if (n > MAX_TEST_PREFIXES) {
    throw new RangeError(
      `At most ${MAX_TEST_PREFIXES} distinct prefixes fit in 198.18.0.0/15, asked ${n}`,
    );
  }
  let made = 0;
  for (let len = 32; len >= 15 && made < n; len--) {
    const count = 2 ** (len - 15);
    for (let k = 0; k < count && made < n; k++, made++) {
      const addr = (((198 << 24) >>> 0) + (18 << 16) + k * 2 ** (32 - len)) >>> 0;
      const bytes = [addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255];
      yield { len, bytes, text: `${bytes.join(".")}/${len}` };
    }
  }
}

/**
 * Distinct IPv6 prefixes inside fd00::/8 (`fd00:<hi>:<lo>::/48`, up to 2^32 of them), for
 * benchmarks larger than the IPv4 test space allows.
 */
export function* prefixes6(n: number): Generator<{ len: number; text: string }> {
  for (let i = 0; i < n; i++) {
    yield { len: 48, text: `fd00:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/48` };
  }
}

/**
 * Writes MRT TABLE_DUMP_V2 files (RFC 6396) holding N synthetic IPv4 routes, for
 * `gobgp mrt inject global` in the benchmarks. All routes share one attribute set.
 */

/** Writes `n` routes learned from `peerAsn` via `nextHop` into `path`. */
export async function writeMrt(
  path: string,
  n: number,
  peerAsn: number,
  nextHop: string,
): Promise<void> {
  const chunks: Uint8Array[] = [];
  const ts = Math.floor(Date.now() / 1000);
  const header = (subtype: number, len: number) => {
    const h = new Uint8Array(12);
    const v = new DataView(h.buffer);
    v.setUint32(0, ts);
    v.setUint16(4, 13);
    v.setUint16(6, subtype);
    v.setUint32(8, len);
    return h;
  };
  const nh = nextHop.split(".").map(Number);
  // PEER_INDEX_TABLE: collector id, empty view name, one peer (IPv4, AS4).
  const pit = new Uint8Array(4 + 2 + 2 + 1 + 4 + 4 + 4);
  const pv = new DataView(pit.buffer);
  pit.set(nh, 0);
  pv.setUint16(4, 0);
  pv.setUint16(6, 1);
  pit[8] = 0x02;
  pit.set(nh, 9);
  pit.set(nh, 13);
  pv.setUint32(17, peerAsn);
  chunks.push(header(1, pit.length), pit);
  // One attribute block: ORIGIN IGP, AS_PATH [peerAsn, 64512+x], NEXT_HOP.
  const attrs = new Uint8Array([
    0x40,
    1,
    1,
    0,
    0x40,
    2,
    10,
    2,
    2,
    0,
    0,
    0,
    0,
    0,
    0,
    0xfc,
    0x00,
    0x40,
    3,
    4,
    ...nh,
  ]);
  new DataView(attrs.buffer).setUint32(9, peerAsn);
  let written = 0;
  // `gobgp mrt inject` (3.10) drops the last few thousand entries of a file: the table is
  // followed by re-announcements of its first entries as padding.
  const pad = Math.min(n, 10_000);
  let gen = prefixes(n);
  for (let i = 0; written < n + pad; i++) {
    if (written === n) gen = prefixes(pad);
    const { len, bytes } = gen.next().value!;
    const [a, b, c, d] = bytes;
    const plen = (len + 7) >> 3;
    const entryLen = 2 + 4 + 2 + attrs.length;
    const body = new Uint8Array(4 + 1 + plen + 2 + entryLen);
    const v = new DataView(body.buffer);
    v.setUint32(0, i);
    body[4] = len;
    body.set([a, b, c, d].slice(0, plen), 5);
    let p = 5 + plen;
    v.setUint16(p, 1);
    p += 2;
    v.setUint16(p, 0);
    v.setUint32(p + 2, ts);
    v.setUint16(p + 6, attrs.length);
    body.set(attrs, p + 8);
    chunks.push(header(2, body.length), body);
    written++;
  }
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  await Deno.writeFile(path, out);
}
