/**
 * Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
 * `# HELP`, `# TYPE`, then `name{label="value"} number` lines. Label values escape `\`, `"`
 * and newline; HELP text escapes `\` and newline.
 */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** `fieldmesh_…`; counters end in `_total`. */
  name: string;
  help: string;
  type: 'counter' | 'gauge';
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
      out.push(`${f.name}${labels} ${formatValue(s.value)}`);
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

  render(): string {
    return renderPrometheus(this.collectors.flatMap((c) => c()));
  }
}
