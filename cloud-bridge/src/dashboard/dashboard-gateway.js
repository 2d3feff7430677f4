// Dashboard part: one gateway in detail, opened by clicking its fleet row. Backlog, drain rate and
// ETA are the gateway's own figures from its status messages (it alone knows what it has not sent
// yet); a gateway that does not report a drain rate gets one from the backlog changes this page
// has seen. While a gateway is open, the charts show only its series.
'use strict';
(function () {
  const fm = window.fieldmesh;
  const { $, el, ago, duration } = fm.lib;
  /** Backlog samples kept per gateway for the page's own drain estimate (a status every 15 s: 10 min). */
  const MAX_SAMPLES = 40;
  const samples = new Map();

  function record(g) {
    const st = g.status;
    if (!st || typeof st.backlog !== 'number') return;
    const list = samples.get(g.id) || [];
    const at = typeof g.lastContact === 'number' ? g.lastContact : Date.now();
    if (list.length === 0 || list[list.length - 1].at !== at) list.push({ at, backlog: st.backlog });
    while (list.length > MAX_SAMPLES) list.shift();
    samples.set(g.id, list);
  }

  /** Readings per second the backlog shrinks at: the gateway's figure, else the page's (first to last sample). */
  function drain(g) {
    const st = g.status || {};
    if (typeof st.drainRate === 'number') return { rate: st.drainRate, source: 'reported' };
    const list = samples.get(g.id) || [];
    if (list.length < 2) return { rate: null, source: 'unknown' };
    const a = list[0], b = list[list.length - 1];
    const dt = (b.at - a.at) / 1000;
    return dt > 0 ? { rate: Math.max(0, (a.backlog - b.backlog) / dt), source: 'observed' } : { rate: null, source: 'unknown' };
  }

  function eta(g, backlog, rate) {
    const st = g.status || {};
    if ('etaSeconds' in st) return st.etaSeconds === null ? null : st.etaSeconds;
    if (backlog === 0) return 0;
    return rate ? backlog / rate : null;
  }

  const fmtRate = (r) => (r === null ? '—' : (r >= 10 ? Math.round(r) : Math.round(r * 10) / 10) + ' readings/s');
  const fmtEta = (s, backlog) => (backlog === 0 ? 'caught up' : s === null ? 'not draining' : duration(s * 1000));

  function render() {
    const box = $('gateway-detail');
    const id = fm.selected;
    if (!id) {
      box.hidden = true;
      return;
    }
    const g = fm.gateways.get(id) || { id };
    const st = g.status || {};
    const backlog = typeof st.backlog === 'number' ? st.backlog : g.reportedBacklog;
    const d = drain(g);
    const left = eta(g, backlog, d.rate);
    const open = (fm.alerts ? fm.alerts.open : []).filter((a) => a.gateway === id).length;
    const series = [...fm.charts.values()].filter((c) => c.gateway === id).length;
    const rows = [
      ['state', g.online ? 'online' : 'offline', 'state'],
      ['last contact', ago(g.lastContact), 'last-contact'],
      ['backlog', backlog === null || backlog === undefined ? '—' : backlog + ' readings', 'backlog'],
      ['drain rate', fmtRate(d.rate) + (d.source === 'observed' ? ' (seen here)' : ''), 'drain'],
      ['ETA', backlog === null || backlog === undefined ? '—' : fmtEta(left, backlog), 'eta'],
      ['oldest unsent', duration(st.oldestUnsentAgeMs), 'oldest'],
      ['epoch', g.epoch || st.epoch || '—', 'epoch'],
      ['acked seq', g.ackedSeq === undefined ? '—' : g.ackedSeq, 'acked'],
      ['via', g.via || 'direct', 'via'],
      ['readings stored', g.readings === undefined ? '—' : g.readings, 'readings'],
      ['open alerts', open, 'open-alerts'],
      ['series', series, 'series'],
    ];
    const dl = el('dl');
    for (const [k, v, name] of rows) {
      const dd = el('dd', v);
      dd.dataset.field = name;
      const pair = el('div');
      pair.append(el('dt', k), dd);
      dl.append(pair);
    }
    $('gateway-detail-title').textContent = 'Gateway ' + id;
    $('gateway-detail-body').replaceChildren(dl);
    box.dataset.gateway = id;
    box.hidden = false;
  }

  function select(id) {
    fm.selected = fm.selected === id ? null : id;
    fm.view.gateway = fm.selected;
    fm.view.applyFilter();
    if (fm.view.range !== null) fm.view.reload();
    fm.lib.renderFleet();
    render();
  }
  fm.selectGateway = select;

  fm.on('select', select);
  fm.on('status', (g) => {
    record(g);
    if (g.id === fm.selected) render();
  });
  fm.on('start', () => {
    $('gateway-detail-close').onclick = () => select(fm.selected);
    setInterval(render, 5000); // ages
  });
})();
