/**
 * Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
 * `# HELP`, `# TYPE`, then `name{label="value"} number` lines. Label values escape `\`, `"`
 * and newline; HELP text escapes `\` and newline. Dependency-free so the gateway and the cloud
 * bridge render their `/metrics` with the same code; `promtool check metrics` passes on both.
 */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** Appended to the family name: a histogram's `_bucket`, `_sum` and `_count` lines. */
  suffix?: '_bucket' | '_sum' | '_count';
}

export interface MetricFamily {
  /** `fieldmesh_…` (or `process_…`, `nodejs_…`); counters end in `_total`. */
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Sample[];
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function renderPrometheus(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels && Object.keys(s.labels).length > 0
        ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
        : '';
      out.push(`${f.name}${s.suffix ?? ''}${labels} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

/** Collects metric families from every component at scrape time (no background work). */
export class MetricsRegistry {
  private readonly collectors: Array<() => MetricFamily[]> = [];

  /** Adds a source; other components (rules, mesh, serial) register theirs here. */
  register(collect: () => MetricFamily[]): void {
    this.collectors.push(collect);
  }

  /** Every registered family, in registration order. */
  collect(): MetricFamily[] {
    return this.collectors.flatMap((c) => c());
  }

  render(): string {
    return renderPrometheus(this.collect());
  }
}

/**
 * Upper bounds, in seconds, for store and request latencies: 0.5 ms (an SQLite commit on a quiet
 * SSD) to 10 s (a PostgreSQL fail-over), roughly ×2.5 apart so a median moves by one bucket at most.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A Prometheus histogram with one label (`op`): cumulative buckets, `_sum` and `_count`.
 * Memory is one array of bucket counts per label value; label values come from code, never
 * from input, so the set stays small.
 */
export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    private readonly buckets: readonly number[] = LATENCY_BUCKETS_SECONDS,
  ) {}

  observe(labelValue: string, value: number): void {
    let s = this.series.get(labelValue);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Label values seen so far are listed; `always` ones appear at zero before their first observation. */
  family(always: readonly string[] = []): MetricFamily {
    for (const v of always) if (!this.series.has(v)) this.series.set(v, { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    const samples: Sample[] = [];
    for (const [v, s] of this.series) {
      this.buckets.forEach((le, i) => samples.push({ suffix: '_bucket', labels: { [this.label]: v, le: String(le) }, value: s.counts[i]! }));
      samples.push({ suffix: '_bucket', labels: { [this.label]: v, le: '+Inf' }, value: s.count });
      samples.push({ suffix: '_sum', labels: { [this.label]: v }, value: s.sum });
      samples.push({ suffix: '_count', labels: { [this.label]: v }, value: s.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', samples };
  }
}
