import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { MetricFamily } from './prometheus.js';

/**
 * The process families every Prometheus client library exports (`process_*`, `nodejs_*`, the
 * names prom-client uses), so stock Node.js dashboards and alerts work on fieldmesh as they are.
 * Linux-only figures (/proc: virtual memory, file descriptors) are left out elsewhere rather
 * than reported as 0.
 */
export function processMetrics(): () => MetricFamily[] {
  const loop = eventLoopDelay();
  const startSeconds = Math.round(performance.timeOrigin) / 1000;
  const [major, minor, patch] = process.versions.node.split('.');
  return () => {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const g = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
    const families: MetricFamily[] = [
      { name: 'process_cpu_user_seconds_total', help: 'User CPU time spent, seconds.', type: 'counter', samples: [{ value: cpu.user / 1e6 }] },
      { name: 'process_cpu_system_seconds_total', help: 'System CPU time spent, seconds.', type: 'counter', samples: [{ value: cpu.system / 1e6 }] },
      { name: 'process_cpu_seconds_total', help: 'User and system CPU time spent, seconds.', type: 'counter', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
      g('process_start_time_seconds', 'Start time of the process since the Unix epoch, seconds.', startSeconds),
      g('process_resident_memory_bytes', 'Resident memory size, bytes.', mem.rss),
      g('process_heap_bytes', 'Process heap size, bytes.', mem.heapTotal),
      g('nodejs_heap_size_total_bytes', 'V8 heap size, bytes.', mem.heapTotal),
      g('nodejs_heap_size_used_bytes', 'V8 heap in use, bytes.', mem.heapUsed),
      g('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects (Buffers among them), bytes.', mem.external),
      g('nodejs_active_resources', 'Resources (sockets, timers, file handles) keeping the event loop alive.', process.getActiveResourcesInfo().length),
      { name: 'nodejs_version_info', help: 'Node.js version: 1, with the version in labels.', type: 'gauge', samples: [{ labels: { version: process.version, major: major ?? '', minor: minor ?? '', patch: patch ?? '' }, value: 1 }] },
    ];
    const linux = procFigures();
    if (linux.virtualBytes !== null) families.push(g('process_virtual_memory_bytes', 'Virtual memory size, bytes.', linux.virtualBytes));
    if (linux.openFds !== null) families.push(g('process_open_fds', 'Open file descriptors.', linux.openFds));
    if (linux.maxFds !== null) families.push(g('process_max_fds', 'Maximum number of open file descriptors.', linux.maxFds));
    if (loop) {
      // The sampler's figures are nanoseconds; it is reset at each scrape, so each value covers
      // the time since the previous one (a scrape interval).
      const ns = (v: number) => (Number.isFinite(v) ? v / 1e9 : 0);
      families.push(g('nodejs_eventloop_lag_mean_seconds', 'Mean event loop delay since the previous scrape, seconds.', ns(loop.mean)));
      families.push(g('nodejs_eventloop_lag_p99_seconds', '99th percentile event loop delay since the previous scrape, seconds.', ns(loop.percentile(99))));
      families.push(g('nodejs_eventloop_lag_max_seconds', 'Largest event loop delay since the previous scrape, seconds.', ns(loop.max)));
      loop.reset();
    }
    return families;
  };
}

/** One build's identity as a constant-1 gauge, the Prometheus convention for version labels. */
export function buildInfoMetric(info: { component: string; version: string }): () => MetricFamily[] {
  const family: MetricFamily = {
    name: 'fieldmesh_build_info',
    help: 'fieldmesh build: 1, with the component, its version and the Node.js version in labels.',
    type: 'gauge',
    samples: [{ labels: { component: info.component, version: info.version, node: process.version }, value: 1 }],
  };
  return () => [family];
}

let sampler: IntervalHistogram | null | undefined;

/** One event-loop sampler per process, shared by every registry (a gateway and a cloud in one test process). */
function eventLoopDelay(): IntervalHistogram | null {
  if (sampler === undefined) {
    try {
      sampler = monitorEventLoopDelay({ resolution: 20 });
      sampler.enable();
    } catch {
      sampler = null;
    }
  }
  return sampler;
}

function procFigures(): { virtualBytes: number | null; openFds: number | null; maxFds: number | null } {
  let virtualBytes: number | null = null;
  let openFds: number | null = null;
  let maxFds: number | null = null;
  try {
    const kb = /^VmSize:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) virtualBytes = Number(kb) * 1024;
  } catch {
    /* not Linux */
  }
  try {
    openFds = readdirSync('/proc/self/fd').length;
  } catch {
    /* not Linux */
  }
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    if (soft !== undefined) maxFds = Number(soft);
  } catch {
    /* not Linux */
  }
  return { virtualBytes, openFds, maxFds };
}
