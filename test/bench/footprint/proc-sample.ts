import { readFileSync } from 'node:fs';

/**
 * What the kernel says a process costs, read from /proc/<pid>: resident memory, CPU time and
 * bytes it sent to the block layer. Read from outside the process so a bare aedes or an idle
 * `node -e` is measured exactly as the gateway is, with no code of ours inside them.
 */
export interface ProcSample {
  /** ms since the run started. */
  atMs: number;
  rssBytes: number;
  /** user + system, µs (the kernel counts in clock ticks, 10 ms on this kernel). */
  cpuMicros: number;
  /** /proc/<pid>/io write_bytes: bytes this process caused to be written to storage. */
  writeBytes: number;
}

/** Linux's USER_HZ: /proc/<pid>/stat times are in these ticks; 100 on every Linux ABI in use. */
const TICKS_PER_SECOND = 100;

export function sampleProc(pid: number, atMs: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/u.exec(status)?.[1] ?? NaN);
  // comm (field 2) may hold spaces and parentheses: split after the last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  let writeBytes = NaN;
  try {
    writeBytes = Number(/write_bytes:\s+(\d+)/u.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
  } catch {
    // /proc/<pid>/io needs ptrace rights over the process; NaN shows it was not readable.
  }
  return { atMs, rssBytes: rssKb * 1024, cpuMicros: (ticks * 1e6) / TICKS_PER_SECOND, writeBytes };
}

/**
 * Relative change of a least-squares line fitted through `ys` over its span: +0.03 means the
 * fit rises 3% from the first sample to the last. "Flat" in the footprint bench is |trend| ≤ 5%.
 */
export function trend(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const first = my + slope * (xs[0]! - mx);
  return (slope * (xs[n - 1]! - xs[0]!)) / first;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export const mb = (bytes: number) => bytes / 2 ** 20;
