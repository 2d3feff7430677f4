// fieldmesh cloud dashboard: plain browser JavaScript, no build step, no CDN (served by the bridge).
// Fleet table from /api/gateways plus live status, one uPlot chart per series fed by /live
// (cloud-bridge/src/live/LIVE.md). The parts loaded after this file (alerts, time range and
// series filter, gateway drill-down) use `window.fieldmesh`: its `lib` helpers and `on(event)`.
// Everything shown comes from gateways (hostile input): only textContent is ever set, never innerHTML.
'use strict';
(function () {
  /** Points kept per series: enough for hours of a 1 Hz sensor, a fixed 800 kB per chart. */
  const RING_CAPACITY = 50000;
  /** Charts on the page; further series are counted but not drawn (a fleet can have thousands). */
  const MAX_CHARTS = 48;
  /** History loaded per series at start. */
  const HISTORY_MS = 15 * 60 * 1000;

  const $ = (id) => document.getElementById(id);
  const state = { token: null, ws: null, retryMs: 500, failedBeforeOpen: 0, gateways: new Map(), charts: new Map(), dirty: new Set(), lastRenderMs: 0, messages: 0, listeners: {} };
  window.fieldmesh = state; // for the other parts, tests and curious operators

  /** Events for the other parts: 'alert' (live alert event), 'status' (gateway record changed), 'chart' (chart made), 'select' (gateway row clicked). */
  state.on = (event, fn) => (state.listeners[event] = state.listeners[event] || []).push(fn);
  const emit = (event, ...args) => {
    for (const fn of state.listeners[event] || []) {
      try {
        fn(...args);
      } catch (e) {
        console.error(e);
      }
    }
  };

  /** fetch with the token as bearer: the bridge's API answers token holders. */
  function authFetch(url, opts) {
    const o = Object.assign({ cache: 'no-store' }, opts || {});
    if (state.token) o.headers = Object.assign({ authorization: 'Bearer ' + state.token }, o.headers || {});
    return fetch(url, o);
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  // ---- token -------------------------------------------------------------------------------
  function takeToken() {
    const url = new URL(location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl) {
      localStorage.setItem('fm-live-token', fromUrl);
      url.searchParams.delete('token');
      history.replaceState(null, '', url.pathname + url.search + url.hash); // keep it out of the address bar
    }
    return localStorage.getItem('fm-live-token');
  }

  function askToken(why) {
    const form = $('token-form');
    form.hidden = false;
    setLive(why, 'bad');
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const t = $('token-input').value.trim();
      if (!t) return;
      localStorage.setItem('fm-live-token', t);
      state.token = t;
      form.hidden = true;
      state.failedBeforeOpen = 0;
      connect();
    };
  }

  function setLive(text, cls) {
    const p = $('live-state');
    p.textContent = text;
    p.className = 'pill ' + (cls || '');
  }

  // ---- fleet -------------------------------------------------------------------------------
  const ago = (ms) => {
    if (ms === null || ms === undefined) return '—';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
  };
  const duration = (ms) => (typeof ms !== 'number' ? '—' : ms < 1000 ? '0 s' : ms < 90000 ? Math.round(ms / 1000) + ' s' : ms < 5400000 ? Math.round(ms / 60000) + ' min' : Math.round(ms / 3600000) + ' h');

  function members(status) {
    const m = status && status.members;
    if (Array.isArray(m)) return m.length + ' (' + m.slice(0, 5).map((x) => (typeof x === 'string' ? x : x && x.id)).join(', ') + (m.length > 5 ? ', …' : '') + ')';
    if (typeof m === 'number') return String(m);
    return '—';
  }

  /** Loss counters: any numeric status field about dropped, lost, refused or quarantined data. */
  function loss(status) {
    if (!status) return '—';
    const parts = [];
    const LOSS = /drop|lost|loss|refus|quarantin|reject/i;
    // A counter counts when its own name says loss, or its group's does (ingest.rejected.<reason>).
    const walk = (obj, prefix, depth, lossGroup) => {
      for (const [k, v] of Object.entries(obj)) {
        if (typeof v === 'number' && (lossGroup || LOSS.test(k)) && v > 0) parts.push(prefix + k + ' ' + v);
        else if (v && typeof v === 'object' && !Array.isArray(v) && depth < 2) walk(v, prefix + k + '.', depth + 1, lossGroup || LOSS.test(k));
      }
    };
    walk(status, '', 0, false);
    return parts.length ? parts.slice(0, 6).join(', ') : '0';
  }

  function upsertGateway(g) {
    const prev = state.gateways.get(g.id) || {};
    const merged = Object.assign({}, prev, g);
    state.gateways.set(g.id, merged);
    renderFleet();
    emit('status', merged);
  }

  function renderFleet() {
    const body = $('fleet-rows');
    const rows = [...state.gateways.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    body.replaceChildren(
      ...(rows.length === 0
        ? [(() => { const tr = el('tr', undefined, 'empty'); const td = el('td', 'no gateway yet'); td.colSpan = 8; tr.append(td); return tr; })()]
        : rows.map((g) => {
            const tr = el('tr');
            tr.dataset.gateway = g.id;
            tr.title = 'details of ' + g.id;
            if (state.selected === g.id) tr.className = 'selected';
            tr.dataset.online = String(!!g.online);
            const st = g.status || null;
            const backlog = st && typeof st.backlog === 'number' ? st.backlog : g.reportedBacklog;
            const stateCell = el('td');
            stateCell.append(el('span', g.online ? 'online' : 'offline', 'state'));
            tr.append(el('td', g.id), stateCell, el('td', ago(g.lastContact)), el('td', members(st)), el('td', backlog === null || backlog === undefined ? '—' : backlog), el('td', duration(st && st.oldestUnsentAgeMs)), el('td', loss(st), 'loss'), el('td', g.readings === undefined ? '—' : g.readings));
            return tr;
          })),
    );
  }

  async function loadFleet() {
    try {
      const r = await authFetch('/api/gateways');
      if (!r.ok) return;
      const { gateways } = await r.json();
      for (const g of gateways) upsertGateway(g);
    } catch (e) {
      /* the next poll retries */
    }
  }

  // ---- charts ------------------------------------------------------------------------------
  /** A fixed-size ring of (ts, value): memory per series never grows past RING_CAPACITY. */
  function makeRing() {
    return { ts: new Float64Array(RING_CAPACITY), v: new Float64Array(RING_CAPACITY), start: 0, n: 0, sorted: true, lastTs: -Infinity };
  }
  function ringPush(ring, ts, v) {
    const i = (ring.start + ring.n) % RING_CAPACITY;
    ring.ts[i] = ts;
    ring.v[i] = v;
    if (ring.n < RING_CAPACITY) ring.n++;
    else ring.start = (ring.start + 1) % RING_CAPACITY;
    if (ts < ring.lastTs) ring.sorted = false; // late reading: sort at the next draw
    else ring.lastTs = ts;
  }

  /**
   * Ring → uPlot data, decimated: with more points than about two per pixel, each pixel column
   * keeps its first, min, max and last point, so spikes stay visible and drawing costs O(width).
   */
  function chartData(ring, width) {
    let xs = new Float64Array(ring.n);
    let ys = new Float64Array(ring.n);
    for (let k = 0; k < ring.n; k++) {
      const i = (ring.start + k) % RING_CAPACITY;
      xs[k] = ring.ts[i] / 1000;
      ys[k] = ring.v[i];
    }
    if (!ring.sorted) {
      const idx = Array.from(xs.keys()).sort((a, b) => xs[a] - xs[b]);
      const xs2 = new Float64Array(ring.n), ys2 = new Float64Array(ring.n);
      idx.forEach((j, k) => { xs2[k] = xs[j]; ys2[k] = ys[j]; });
      xs = xs2; ys = ys2;
    }
    const buckets = Math.max(50, Math.floor(width));
    if (ring.n <= buckets * 4) return [Array.from(xs), Array.from(ys)];
    const x0 = xs[0], span = xs[ring.n - 1] - x0 || 1;
    const ox = [], oy = [];
    let b = -1, first = 0, last = 0, min = 0, max = 0;
    const emit = () => {
      const pick = [first, min, max, last].sort((p, q) => p - q).filter((p, k, a) => k === 0 || p !== a[k - 1]);
      for (const p of pick) { ox.push(xs[p]); oy.push(ys[p]); }
    };
    for (let k = 0; k < ring.n; k++) {
      const bk = Math.min(buckets - 1, Math.floor(((xs[k] - x0) / span) * buckets));
      if (bk !== b) {
        if (b >= 0) emit();
        b = bk; first = last = min = max = k;
      } else {
        last = k;
        if (ys[k] < ys[min]) min = k;
        if (ys[k] > ys[max]) max = k;
      }
    }
    emit();
    return [ox, oy];
  }

  function chartFor(gateway, series, unit) {
    const key = gateway + ' ' + series;
    let c = state.charts.get(key);
    if (c) return c;
    if (state.charts.size >= MAX_CHARTS) return null;
    const box = el('div', undefined, 'chart');
    box.dataset.gateway = gateway;
    box.dataset.series = series;
    const h = el('h3');
    const last = el('span', '', 'last');
    h.append(el('span', gateway + ' · ' + series + (unit ? ' [' + unit + ']' : '')), last);
    const plotEl = el('div');
    box.append(h, plotEl);
    $('charts').append(box);
    const width = Math.max(300, box.clientWidth - 10);
    const plot = new uPlot(
      { width, height: 180, cursor: { drag: { x: true, y: false } }, legend: { show: false }, scales: { x: { time: true } }, series: [{}, { label: series, stroke: '#0969da', width: 1.25, points: { show: false } }], axes: [{}, { size: 60 }] },
      [[], []],
      plotEl,
    );
    c = { key, gateway, series, unit, ring: makeRing(), plot, box, last, width, drawn: 0, rangeData: null };
    state.charts.set(key, c);
    emit('chart', c);
    return c;
  }

  function addReading(gateway, r) {
    const v = typeof r.value === 'number' ? r.value : typeof r.value === 'boolean' ? (r.value ? 1 : 0) : NaN;
    const c = chartFor(gateway, r.series, r.unit);
    if (!c || !Number.isFinite(v) || typeof r.ts !== 'number') return;
    ringPush(c.ring, r.ts, v);
    c.lastValue = r.value;
    c.lastUnit = r.unit;
    state.dirty.add(c);
  }

  /** Draws at most once per frame, whatever the message rate: smooth with tens of thousands of points. */
  function frame() {
    if (state.dirty.size > 0) {
      const t = performance.now();
      for (const c of state.dirty) {
        // A picked time range (dashboard-range.js) draws the API's decimated answer instead of the ring.
        const data = c.rangeData || chartData(c.ring, c.width);
        c.plot.setData(data);
        if (c.rangeData && c.rangeScale) c.plot.setScale('x', c.rangeScale);
        c.drawn = data[0].length;
        c.box.dataset.points = String(c.ring.n);
        c.box.dataset.drawn = String(c.drawn);
        c.box.dataset.last = String(c.lastValue);
        c.last.textContent = (typeof c.lastValue === 'number' && !Number.isInteger(c.lastValue) ? String(+c.lastValue.toPrecision(6)) : String(c.lastValue)) + (c.lastUnit ? ' ' + c.lastUnit : '');
      }
      state.dirty.clear();
      state.lastRenderMs = performance.now() - t;
    }
    requestAnimationFrame(frame);
  }

  async function loadHistory() {
    try {
      const r = await authFetch('/api/series');
      if (!r.ok) return;
      const { series } = await r.json();
      const from = Date.now() - HISTORY_MS;
      await Promise.all(
        series.slice(0, MAX_CHARTS).map(async (s) => {
          const q = new URLSearchParams({ gateway: s.gateway, series: s.series, from: String(from), limit: '10000' });
          const res = await authFetch('/api/readings?' + q);
          if (!res.ok) return;
          const { readings } = await res.json();
          chartFor(s.gateway, s.series, s.unit);
          for (const x of readings) addReading(s.gateway, x);
        }),
      );
    } catch (e) {
      /* live data still flows */
    }
  }

  // ---- live stream -------------------------------------------------------------------------
  function connect() {
    if (!state.token) return askToken('live: token needed');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(proto + '//' + location.host + '/live?token=' + encodeURIComponent(state.token));
    state.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      state.retryMs = 500;
      state.failedBeforeOpen = 0;
      setLive('live: connected', 'ok');
      loadFleet();
    };
    ws.onmessage = (ev) => {
      state.messages++;
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (m.type === 'readings') {
        for (const r of m.readings) addReading(m.gateway, r);
        const g = state.gateways.get(m.gateway);
        upsertGateway({ id: m.gateway, online: g ? g.online : true, lastContact: Date.now(), readings: g && typeof g.readings === 'number' ? g.readings + m.readings.length : g && g.readings });
      } else if (m.type === 'status') {
        const upd = { id: m.gateway, online: m.online, lastContact: m.at };
        if (m.status) upd.status = m.status;
        upsertGateway(upd);
      } else if (m.type === 'alert') {
        emit('alert', m.gateway, m.alert || {});
      }
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      // A refused token never opens (the browser hides the 401): after a few, ask for a new one.
      if (!opened && ++state.failedBeforeOpen >= 3) return askToken('live: token refused?');
      setLive('live: reconnecting…', 'bad');
      setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(10000, state.retryMs * 2);
    };
  }

  state.lib = { $, el, ago, duration, authFetch, chartFor, markDirty: (c) => state.dirty.add(c), renderFleet, RING_CAPACITY, MAX_CHARTS };
  document.getElementById('fleet-rows').addEventListener('click', (ev) => {
    const tr = ev.target.closest && ev.target.closest('tr[data-gateway]');
    if (tr) emit('select', tr.dataset.gateway);
  });
  state.token = takeToken();
  // The parts loaded after this script register their listeners first: start once the page is parsed.
  document.addEventListener('DOMContentLoaded', () => {
    loadFleet(); // the server rendered the first fleet table; this takes over
    setInterval(loadFleet, 10000);
    setInterval(renderFleet, 5000); // "last contact" ages
    requestAnimationFrame(frame);
    emit('start');
    loadHistory().then(connect);
  });
})();
