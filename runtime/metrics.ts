/**
 * A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
 * Every metric name must start with `tern_`.
 */

/** Label names to values. */
export type Labels = Record<string, string>;

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  name: string;
  help: string;
  kind: Kind;
  render(out: string[]): void;
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(",");
}

/** Escapes a label value for the text format. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function withLabels(name: string, key: string): string {
  return key ? `${name}{${key}}` : name;
}

/** A monotonically increasing count, per label set. */
export class Counter implements Family {
  readonly kind = "counter";
  #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new RangeError(`Counter "${this.name}" cannot decrease (by ${by})`);
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  render(out: string[]): void {
    for (const [k, v] of this.#values) out.push(`${withLabels(this.name, k)} ${formatValue(v)}`);
  }
}

/** A value that goes up and down, per label set. */
export class Gauge implements Family {
  readonly kind = "gauge";
  #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  set(value: number, labels?: Labels): void {
    this.#values.set(labelKey(labels), value);
  }
  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  /** Forgets one label set (for example when the actor it described is gone). */
  remove(labels?: Labels): void {
    this.#values.delete(labelKey(labels));
  }
  render(out: string[]): void {
    for (const [k, v] of this.#values) out.push(`${withLabels(this.name, k)} ${formatValue(v)}`);
  }
}

/** Observations counted into cumulative buckets, per label set. */
export class Histogram implements Family {
  readonly kind = "histogram";
  #series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];
  constructor(readonly name: string, readonly help: string, buckets: readonly number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(value: number, labels?: Labels): void {
    const k = labelKey(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { buckets: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }
  count(labels?: Labels): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }
  render(out: string[]): void {
    for (const [k, s] of this.#series) {
      const sep = k ? "," : "";
      for (let i = 0; i < this.buckets.length; i++) {
        out.push(`${this.name}_bucket{${k}${sep}le="${this.buckets[i]}"} ${s.buckets[i]}`);
      }
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${withLabels(this.name + "_sum", k)} ${formatValue(s.sum)}`);
      out.push(`${withLabels(this.name + "_count", k)} ${s.count}`);
    }
  }
}

/** Default histogram buckets, in seconds. */
export const DEFAULT_SECONDS_BUCKETS = [
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
] as const;

/** Metric families by name; asking twice for the same name returns the same family. */
export class MetricsRegistry {
  #families = new Map<string, Family>();
  #collectors: ((out: string[]) => void)[] = [];

  counter(name: string, help: string): Counter {
    return this.#get(name, "counter", () => new Counter(name, help)) as Counter;
  }
  gauge(name: string, help: string): Gauge {
    return this.#get(name, "gauge", () => new Gauge(name, help)) as Gauge;
  }
  histogram(
    name: string,
    help: string,
    buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS,
  ): Histogram {
    return this.#get(name, "histogram", () => new Histogram(name, help, buckets)) as Histogram;
  }

  /** Adds text produced at scrape time (used for per-actor metrics read from the tree). */
  addCollector(collect: (out: string[]) => void): void {
    this.#collectors.push(collect);
  }

  /** The whole registry in the Prometheus text format. */
  render(): string {
    const out: string[] = [];
    for (const collect of this.#collectors) collect(out);
    for (const f of this.#families.values()) {
      out.push(`# HELP ${f.name} ${f.help.replace(/\n/g, " ")}`);
      out.push(`# TYPE ${f.name} ${f.kind}`);
      f.render(out);
    }
    return out.join("\n") + "\n";
  }

  #get(name: string, kind: Kind, make: () => Family): Family {
    if (!/^tern_[a-zA-Z0-9_]+$/.test(name)) {
      throw new RangeError(`Metric name "${name}" must match tern_[a-zA-Z0-9_]+`);
    }
    const existing = this.#families.get(name);
    if (existing) {
      if (existing.kind !== kind) {
        throw new TypeError(`Metric "${name}" is a ${existing.kind}, not a ${kind}`);
      }
      return existing;
    }
    const f = make();
    this.#families.set(name, f);
    return f;
  }
}
