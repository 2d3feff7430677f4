/**
 * Benchmarks print a table; they are measurements, not pass/fail tests. Each `*.bench.ts` in
 * test/bench default-exports a function returning rows; `npm run bench [-- name…]` runs them.
 */
export interface BenchRow {
  /** What was measured, e.g. "gateway ingest, SenML packs of 50". */
  name: string;
  value: number;
  unit: string;
  /** The target, as text, e.g. ">= 200000". */
  target?: string;
  /** Whether the target was met; omitted when there is none. */
  met?: boolean;
  /** A figure to compare with (a published or earlier measured figure, or a baseline measured in the same run). */
  anchor?: string;
}

export type Bench = () => Promise<BenchRow[]>;

export function formatRows(rows: BenchRow[]): string {
  const cells = rows.map((r) => [
    r.name,
    `${Number.isInteger(r.value) ? r.value : r.value.toPrecision(4)} ${r.unit}`,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'NOT met',
    r.anchor ?? '',
  ]);
  const head = ['measure', 'value', 'target', '', 'anchor'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
