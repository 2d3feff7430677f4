import type { GatewayRecord, SeriesInfo } from '../store/cloud-store.js';

const escape = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const time = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString());

/**
 * The plain page at `/`: gateways and the latest reading of each series. Everything shown came
 * from gateways (hostile input), so every value is HTML-escaped. The live dashboard is cloud-bridge/src/dashboard/.
 */
export function renderOverviewPage(gateways: GatewayRecord[], series: SeriesInfo[]): string {
  const gwRows = gateways
    .map(
      (g) =>
        `<tr><td>${escape(g.id)}</td><td>${g.online ? 'online' : 'offline'}</td><td>${time(g.lastContact)}</td><td>${escape(g.epoch ?? '—')}</td><td>${g.ackedSeq}</td><td>${g.reportedBacklog ?? '—'}</td><td>${g.readings}</td></tr>`,
    )
    .join('\n');
  const seriesRows = series
    .map(
      (s) =>
        `<tr><td>${escape(s.gateway)}</td><td>${escape(s.series)}</td><td>${escape(s.lastValue)}${s.unit ? ' ' + escape(s.unit) : ''}</td><td>${time(s.lastTs)}</td><td>${s.count}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fieldmesh cloud</title>
<meta http-equiv="refresh" content="5">
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style>
</head><body>
<h1>fieldmesh cloud</h1>
<h2>Gateways</h2>
<table><thead><tr><th>gateway</th><th>state</th><th>last contact</th><th>epoch</th><th>acked seq</th><th>reported backlog</th><th>readings</th></tr></thead>
<tbody>
${gwRows || '<tr><td colspan="7">no gateway yet</td></tr>'}
</tbody></table>
<h2>Latest readings</h2>
<table><thead><tr><th>gateway</th><th>series</th><th>value</th><th>time</th><th>readings</th></tr></thead>
<tbody>
${seriesRows || '<tr><td colspan="5">no reading yet</td></tr>'}
</tbody></table>
<p>JSON: <a href="/api/gateways">/api/gateways</a>, <a href="/api/series">/api/series</a>, /api/readings?gateway=&amp;series=&amp;from=&amp;to=</p>
</body></html>
`;
}
