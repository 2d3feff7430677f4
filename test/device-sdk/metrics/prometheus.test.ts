import { describe, expect, it } from 'vitest';
import { buildInfoMetric, processMetrics } from '@fieldmesh/device-sdk/metrics/process-metrics';
import { Histogram, MetricsRegistry, renderPrometheus } from '@fieldmesh/device-sdk/metrics/prometheus';
import { promtoolCheck } from '../../cloud-bridge/observability/promtool.js';

describe('shared Prometheus exposition', () => {
  it('renders the text format byte for byte (escapes, special values, histogram suffixes)', () => {
    const h = new Histogram('x_seconds', 'Latency.', 'op', [0.01, 0.1]);
    h.observe('commit', 0.005);
    h.observe('commit', 0.05);
    h.observe('commit', 3);
    const text = renderPrometheus([
      { name: 'a_total', help: 'Back\\slash\nnewline.', type: 'counter', samples: [{ labels: { reason: 'q"uote\\\n' }, value: 3 }] },
      { name: 'b', help: 'Special.', type: 'gauge', samples: [{ value: NaN }, { labels: { k: 'inf' }, value: Infinity }, { labels: { k: '-inf' }, value: -Infinity }] },
      h.family(['query']),
    ]);
    expect(text).toBe(
      [
        '# HELP a_total Back\\\\slash\\nnewline.',
        '# TYPE a_total counter',
        'a_total{reason="q\\"uote\\\\\\n"} 3',
        '# HELP b Special.',
        '# TYPE b gauge',
        'b NaN',
        'b{k="inf"} +Inf',
        'b{k="-inf"} -Inf',
        '# HELP x_seconds Latency.',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{op="commit",le="0.01"} 1',
        'x_seconds_bucket{op="commit",le="0.1"} 2',
        'x_seconds_bucket{op="commit",le="+Inf"} 3',
        'x_seconds_sum{op="commit"} 3.055',
        'x_seconds_count{op="commit"} 3',
        'x_seconds_bucket{op="query",le="0.01"} 0',
        'x_seconds_bucket{op="query",le="0.1"} 0',
        'x_seconds_bucket{op="query",le="+Inf"} 0',
        'x_seconds_sum{op="query"} 0',
        'x_seconds_count{op="query"} 0',
        '',
      ].join('\n'),
    );
    expect(promtoolCheck(text)).toEqual({ ok: true, output: '' });
  });

  it('process and build families are what stock Node.js dashboards query, and pass promtool', () => {
    const reg = new MetricsRegistry();
    reg.register(buildInfoMetric({ component: 'test', version: '1.2.3' }));
    reg.register(processMetrics());
    const text = reg.render();
    for (const name of ['process_cpu_seconds_total', 'process_start_time_seconds', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds', 'process_virtual_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(text, name).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }
    expect(text).toContain(`fieldmesh_build_info{component="test",version="1.2.3",node="${process.version}"} 1`);
    expect(promtoolCheck(text)).toEqual({ ok: true, output: '' });
  });
});
