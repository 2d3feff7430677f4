// Dashboard part: the time range and the series filter. "Live" keeps the charts fed by /live
// (the last 15 minutes and on). A picked range (15 min … 7 days) draws every visible chart from
// /api/readings with step = range / chart width: the bridge keeps the first, lowest, highest and
// last reading of each pixel column, the choice the live charts make themselves, so a spike in a
// week of data stays visible. The filter keeps the charts whose "gateway series" contains every
// word typed (and, while a gateway is drilled into, only that gateway's).
'use strict';
(function () {
  const fm = window.fieldmesh;
  const { $, authFetch, chartFor, markDirty, MAX_CHARTS } = fm.lib;
  const RANGES = { '15m': 15 * 60e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3 };
  /**
   * A picked range is read again so its right edge follows the clock: every 1/50 of the range (a
   * chart moves by about 20 pixels), at least 30 s apart. A week costs the bridge seconds to
   * decimate; reading it every half minute would keep it busy for nothing.
   */
  const refreshMs = (span) => Math.max(30000, span / 50);
  fm.view = { range: null, words: [], gateway: null, loads: 0 };

  const visible = (c) => (fm.view.gateway === null || c.gateway === fm.view.gateway) && fm.view.words.every((w) => (c.gateway + ' ' + c.series).toLowerCase().includes(w));

  function applyFilter() {
    let shown = 0;
    for (const c of fm.charts.values()) {
      c.box.hidden = !visible(c);
      if (!c.box.hidden) shown++;
    }
    $('series-count').textContent = shown + ' of ' + fm.charts.size + ' series';
  }
  fm.view.applyFilter = applyFilter;
  fm.view.visible = visible;

  const asNumber = (v) => (typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : NaN);

  async function loadRange(c, span, to) {
    const from = to - span;
    const step = Math.max(1, Math.ceil(span / Math.max(50, Math.floor(c.width))));
    const q = new URLSearchParams({ gateway: c.gateway, series: c.series, from: String(from), to: String(to), step: String(step) });
    const r = await authFetch('/api/readings?' + q);
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const body = await r.json();
    const xs = [], ys = [];
    for (const x of body.readings) {
      xs.push(x.ts / 1000);
      ys.push(asNumber(x.value));
    }
    // Pin the x axis to the whole range: an empty start of the range shows as empty.
    c.rangeScale = { min: from / 1000, max: to / 1000 };
    c.rangeData = [xs, ys];
    c.box.dataset.range = fm.view.range;
    c.box.dataset.rangePoints = String(xs.length);
    c.box.dataset.truncated = String(!!body.truncated);
    markDirty(c);
  }

  let timer = null;
  async function reload() {
    const key = fm.view.range;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (key === null) {
      for (const c of fm.charts.values()) {
        c.rangeData = null;
        c.rangeScale = null;
        delete c.box.dataset.range;
        markDirty(c);
      }
      document.body.dataset.range = 'live';
      return;
    }
    const span = RANGES[key];
    const to = Date.now();
    // Series that have data in the store but no chart yet (nothing live since the page opened).
    try {
      const r = await authFetch('/api/series');
      if (r.ok) for (const s of (await r.json()).series.slice(0, MAX_CHARTS)) chartFor(s.gateway, s.series, s.unit);
    } catch (e) {
      /* the charts already made still load */
    }
    await Promise.all([...fm.charts.values()].filter(visible).map((c) => loadRange(c, span, to).catch(() => {})));
    if (fm.view.range !== key) return; // picked again meanwhile
    fm.view.loads++;
    document.body.dataset.range = key;
    document.body.dataset.rangeLoads = String(fm.view.loads);
    timer = setTimeout(reload, refreshMs(span));
  }
  fm.view.reload = reload;

  fm.on('chart', (c) => {
    c.box.hidden = !visible(c);
    applyFilter();
    if (fm.view.range !== null && visible(c)) loadRange(c, RANGES[fm.view.range], Date.now()).catch(() => {});
  });
  fm.on('start', () => {
    const pick = $('range');
    pick.onchange = () => {
      fm.view.range = pick.value === 'live' ? null : pick.value;
      reload();
    };
    const filter = $('series-filter');
    filter.oninput = () => {
      fm.view.words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      applyFilter();
      if (fm.view.range !== null) reload();
    };
    applyFilter();
  });
})();
