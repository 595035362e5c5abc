/**
 * A set of non-negative bigints stored as sorted, disjoint, non-adjacent runs `[start, end]`.
 * Dense allocations collapse into few runs, so it scales to IPv6-sized pools where a bitmap
 * cannot; lookups are binary searches.
 *
 * @module
 */

/**
 * Sorted run-length set of bigints.
 *
 * @example
 * ```ts
 * const s = new IntervalSet();
 * s.add(0n); s.add(1n); s.add(3n);
 * s.lowestAbsent(0n, 10n); // 2n
 * ```
 */
export class IntervalSet {
  #starts: bigint[] = [];
  #ends: bigint[] = [];
  #count = 0n;

  /** Number of members. */
  get size(): bigint {
    return this.#count;
  }

  /** Number of runs (a measure of fragmentation). */
  get runs(): number {
    return this.#starts.length;
  }

  /** Index of the last run whose start is <= v, or -1. */
  #floor(v: bigint): number {
    let lo = 0, hi = this.#starts.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#starts[mid]! <= v) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /** True when `v` is a member. */
  has(v: bigint): boolean {
    const i = this.#floor(v);
    return i >= 0 && this.#ends[i]! >= v;
  }

  /** Adds `v`; returns false when it was already a member. */
  add(v: bigint): boolean {
    const i = this.#floor(v);
    if (i >= 0 && this.#ends[i]! >= v) return false;
    const joinLeft = i >= 0 && this.#ends[i]! + 1n === v;
    const joinRight = i + 1 < this.#starts.length && this.#starts[i + 1]! - 1n === v;
    if (joinLeft && joinRight) {
      this.#ends[i] = this.#ends[i + 1]!;
      this.#starts.splice(i + 1, 1);
      this.#ends.splice(i + 1, 1);
    } else if (joinLeft) {
      this.#ends[i] = v;
    } else if (joinRight) {
      this.#starts[i + 1] = v;
    } else {
      this.#starts.splice(i + 1, 0, v);
      this.#ends.splice(i + 1, 0, v);
    }
    this.#count++;
    return true;
  }

  /** Removes `v`; returns false when it was not a member. */
  delete(v: bigint): boolean {
    const i = this.#floor(v);
    if (i < 0 || this.#ends[i]! < v) return false;
    const s = this.#starts[i]!, e = this.#ends[i]!;
    if (s === e) {
      this.#starts.splice(i, 1);
      this.#ends.splice(i, 1);
    } else if (s === v) {
      this.#starts[i] = v + 1n;
    } else if (e === v) {
      this.#ends[i] = v - 1n;
    } else {
      this.#ends[i] = v - 1n;
      this.#starts.splice(i + 1, 0, v + 1n);
      this.#ends.splice(i + 1, 0, e);
    }
    this.#count--;
    return true;
  }

  /** The lowest value in `[lo, hi]` that is not a member, or undefined when all are. */
  lowestAbsent(lo: bigint, hi: bigint): bigint | undefined {
    if (lo > hi) return undefined;
    const i = this.#floor(lo);
    const candidate = i >= 0 && this.#ends[i]! >= lo ? this.#ends[i]! + 1n : lo;
    return candidate <= hi ? candidate : undefined;
  }

  /** How many members lie in `[lo, hi]`. */
  countIn(lo: bigint, hi: bigint): bigint {
    let n = 0n;
    let i = Math.max(0, this.#floor(lo));
    for (; i < this.#starts.length; i++) {
      const s = this.#starts[i]!, e = this.#ends[i]!;
      if (s > hi) break;
      const a = s > lo ? s : lo, b = e < hi ? e : hi;
      if (a <= b) n += b - a + 1n;
    }
    return n;
  }

  /** Every member in ascending order. */
  *values(): Generator<bigint> {
    for (let i = 0; i < this.#starts.length; i++) {
      for (let v = this.#starts[i]!; v <= this.#ends[i]!; v++) yield v;
    }
  }

  /** The runs as `[start, end]` pairs. */
  toRuns(): [bigint, bigint][] {
    return this.#starts.map((s, i) => [s, this.#ends[i]!]);
  }

  /** Removes everything. */
  clear(): void {
    this.#starts = [];
    this.#ends = [];
    this.#count = 0n;
  }
}
