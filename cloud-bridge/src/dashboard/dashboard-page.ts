import type { GatewayRecord } from '../store/cloud-store.js';

const escape = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const time = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString());

/**
 * The dashboard shell at `/`. The fleet table is rendered on the server too, so the page shows
 * the fleet before (and without) JavaScript; dashboard.js then keeps it live over `/live`.
 * Everything shown came from gateways (hostile input): every value is HTML-escaped here, and
 * dashboard.js only ever sets textContent.
 */
export function renderDashboardPage(gateways: GatewayRecord[], seriesNames: Array<{ gateway: string; series: string }>): string {
  const rows = gateways
    .map(
      (g) =>
        `<tr data-gateway="${escape(g.id)}" data-online="${g.online}"><td>${escape(g.id)}</td><td><span class="state">${g.online ? 'online' : 'offline'}</span></td><td>${time(g.lastContact)}</td><td>—</td><td>${g.reportedBacklog ?? '—'}</td><td>—</td><td>—</td><td>${g.readings}</td></tr>`,
    )
    .join('\n');
  const series = seriesNames.map((s) => `<li>${escape(s.gateway)} ${escape(s.series)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fieldmesh cloud</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
</head><body>
<header><h1>fieldmesh cloud</h1><span id="live-state" class="pill">live: not connected</span></header>
<form id="token-form" hidden><label>Live token <input id="token-input" type="password" autocomplete="off" size="48"></label> <button>Connect</button>
<span class="hint">printed once by <code>fieldmesh cloud</code> at its first start (line "live token: …")</span></form>
<main>
<section id="fleet"><h2>Fleet</h2>
<table><thead><tr><th>gateway</th><th>state</th><th>last contact</th><th>mesh members</th><th>backlog</th><th>oldest unsent</th><th>loss</th><th>readings</th></tr></thead>
<tbody id="fleet-rows">
${rows || '<tr class="empty"><td colspan="8">no gateway yet</td></tr>'}
</tbody></table></section>
<section id="fleet-updates"><h2>Updates <span id="fleet-updates-summary" class="hint">loading…</span></h2>
<ol id="rollouts"><li class="empty">no rollout</li></ol>
<table><thead><tr><th>gateway</th><th>tags</th><th>state</th><th>running (version · config)</th><th>desired</th><th>last update</th></tr></thead>
<tbody id="fleet-update-rows"><tr class="empty"><td colspan="6">loading…</td></tr></tbody></table></section>
<section id="gateway-detail" hidden><h2><span id="gateway-detail-title">Gateway</span> <button type="button" id="gateway-detail-close" title="back to the whole fleet">×</button></h2><div id="gateway-detail-body"></div></section>
<section id="alerts-section"><h2>Open alerts <span id="alerts-open-count" class="pill">0</span></h2><ol id="alerts-open"><li class="empty">no open alert</li></ol>
<h2>Alert events</h2><ol id="alerts"><li class="empty">no alert yet</li></ol></section>
<section id="charts-section"><h2>Series</h2>
<div id="view-controls"><label>Time range <select id="range"><option value="live" selected>live</option><option value="15m">last 15 min</option><option value="1h">last hour</option><option value="6h">last 6 h</option><option value="24h">last 24 h</option><option value="7d">last 7 days</option></select></label>
<label>Filter <input id="series-filter" type="search" placeholder="gateway or series" size="24" autocomplete="off"></label> <span id="series-count" class="hint"></span></div>
<div id="charts"></div>
<noscript><ul>${series}</ul></noscript></section>
</main>
<footer>JSON: <a href="/api/gateways">/api/gateways</a>, <a href="/api/series">/api/series</a>, <a href="/api/alerts">/api/alerts</a>, <a href="/api/fleet">/api/fleet</a>, /api/readings?gateway=&amp;series=&amp;from=&amp;to=[&amp;step=] · <a href="/metrics">/metrics</a> · live: /live (WebSocket), /mqtt (MQTT over WebSocket)</footer>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/dashboard.js"></script>
<script src="/assets/dashboard-alerts.js"></script>
<script src="/assets/dashboard-range.js"></script>
<script src="/assets/dashboard-gateway.js"></script>
<script src="/assets/dashboard-fleet-updates.js"></script>
</body></html>
`;
}
