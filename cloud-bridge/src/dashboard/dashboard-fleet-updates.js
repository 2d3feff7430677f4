// Dashboard part: fleet updates, from GET /api/fleet (cloud-bridge/src/fleet/FLEET-CLOUD.md). Per
// gateway the release version and config revision it runs, what is desired when that differs, and
// its last update's outcome with the reason (a rollback says why); per rollout its wave, the
// adopted / failed / pending counts and, when it stopped, why. Read again every 10 s: fleet state
// changes on the scale of minutes, and a report is one retained message per gateway.
'use strict';
(function () {
  const fm = window.fieldmesh;
  const { $, el, authFetch } = fm.lib;
  const POLL_MS = 10000;
  fm.fleetUpdates = { loads: 0, view: null };

  const text = (v) => (v === undefined || v === null || v === '' ? '—' : String(v));
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

  function versionAndRevision(s) {
    if (!s || typeof s !== 'object') return '—';
    const rev = num(s.configRevision);
    return text(s.version) + ' · ' + (rev === null ? 'base config' : 'rev ' + rev);
  }

  /** Desired state when it differs from what runs ("=" when the gateway already runs it). */
  function desired(g) {
    const d = g.desired;
    if (!d || (d.version == null && d.configRevision == null)) return { text: 'none set', pending: false };
    const r = g.running || {};
    const version = d.version != null ? d.version : r.version;
    const rev = d.configRevision != null ? d.configRevision : r.configRevision;
    if (version === r.version && rev === r.configRevision) return { text: '=', pending: false };
    return { text: versionAndRevision({ version, configRevision: rev }), pending: true };
  }

  function outcome(g) {
    const u = g.update;
    if (u && typeof u === 'object') {
      const target = (u.kind === 'config' ? 'rev ' : '') + text(u.target);
      const got = num(u.bytes) ? ', ' + (u.bytes >= 1048576 ? (u.bytes / 1048576).toFixed(1) + ' MiB' : Math.round(u.bytes / 1024) + ' KiB') : '';
      const step = u.outcome === 'in-progress' && u.step ? ' (' + u.step + got + ')' : '';
      return { cls: String(u.outcome || ''), head: text(u.outcome) + ' ' + target + step, reason: u.reason || '' };
    }
    const refused = Array.isArray(g.refused) && g.refused[0];
    if (refused) return { cls: 'refused', head: 'refused ' + text(refused.kind) + ' ' + text(refused.target), reason: [refused.reason, refused.why].filter(Boolean).join(': ') };
    return { cls: '', head: '—', reason: '' };
  }

  function gatewayRow(g) {
    const tr = el('tr');
    tr.dataset.gateway = String(g.id);
    tr.dataset.online = String(!!g.online);
    const d = desired(g);
    const o = outcome(g);
    tr.dataset.outcome = o.cls;
    const tags = Array.isArray(g.tags) ? g.tags.join(', ') : '';
    const outcomeCell = el('td', undefined, 'outcome ' + o.cls);
    outcomeCell.append(el('strong', o.head));
    if (o.reason) outcomeCell.append(el('span', o.reason, 'reason'));
    tr.append(el('td', g.id), el('td', tags || '—', 'tags'), el('td', g.online ? 'online' : 'offline', 'state'), el('td', versionAndRevision(g.running), 'running'), el('td', d.text, 'desired' + (d.pending ? ' pending' : '')), outcomeCell);
    return tr;
  }

  /**
   * Where a rollout is, numbered as the cloud numbers waves in its stop reasons: wave 0 is the
   * canary, waves 1..N follow (N = the plan's waves, fewer with too few gateways).
   */
  function waveText(r) {
    const after = Math.max(0, (num(r.waveCount) || 1) - 1);
    const k = num(r.wave);
    if (k === null || k < 0) return 'no wave started';
    if (k === 0) return 'canary wave, ' + after + (after === 1 ? ' wave' : ' waves') + ' after it';
    return 'wave ' + k + ' of ' + after;
  }

  function rolloutItem(r) {
    const li = el('li', undefined, 'rollout ' + text(r.state));
    li.dataset.rollout = String(r.id);
    li.dataset.state = String(r.state || '');
    const target = r.version ? 'version ' + r.version : r.configRevision != null ? 'config rev ' + r.configRevision : '?';
    const scope = r.group ? 'group ' + r.group : 'all gateways';
    const p = r.progress || {};
    // `pending` counts every member without an outcome; those in waves not started yet are shown
    // apart: a stopped rollout never reaches them.
    const later = Math.max(0, (num(p.total) || 0) - (num(p.reached) || 0));
    const counts = { adopted: num(p.adopted) || 0, failed: num(p.failed) || 0, pending: Math.max(0, (num(p.pending) || 0) - later), later };
    li.append(el('strong', 'rollout ' + r.id + ': ' + target + ' → ' + scope + ' '), el('span', text(r.state), 'pill rollout-state'));
    li.append(el('span', waveText(r), 'wave'));
    const c = el('span', undefined, 'counts');
    c.append(el('span', counts.adopted + ' adopted', 'adopted'), el('span', counts.failed + ' failed', 'failed'), el('span', counts.pending + ' pending', 'pending'));
    if (later > 0) c.append(el('span', later + (r.state === 'stopped' ? ' not reached' : ' in later waves'), 'later'));
    li.append(c);
    const total = counts.adopted + counts.failed + counts.pending + counts.later;
    if (total > 0) {
      const bar = el('div', undefined, 'bar');
      for (const key of ['adopted', 'failed', 'pending', 'later']) {
        const seg = el('span', undefined, key);
        seg.style.width = (100 * counts[key]) / total + '%';
        bar.append(seg);
      }
      li.append(bar);
    }
    if (r.stopReason) li.append(el('span', 'stopped: ' + r.stopReason, 'stop-reason'));
    return li;
  }

  function render(view) {
    const gateways = (Array.isArray(view.gateways) ? view.gateways : []).slice().sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));
    const rows = gateways.map(gatewayRow);
    if (rows.length === 0) {
      const tr = el('tr', undefined, 'empty');
      const td = el('td', 'no gateway has reported fleet state yet');
      td.colSpan = 6;
      tr.append(td);
      rows.push(tr);
    }
    $('fleet-update-rows').replaceChildren(...rows);
    const rollouts = Array.isArray(view.rollouts) ? view.rollouts : [];
    const items = rollouts.map(rolloutItem);
    if (items.length === 0) items.push(el('li', 'no rollout', 'empty'));
    $('rollouts').replaceChildren(...items);
    const behind = gateways.filter((g) => desired(g).pending).length;
    $('fleet-updates-summary').textContent = gateways.length + ' gateways, ' + behind + ' not yet on desired';
  }

  async function load() {
    try {
      const r = await authFetch('/api/fleet');
      if (!r.ok) {
        // 404: a bridge behind an external broker has no fleet routes (FLEET-CLOUD.md).
        $('fleet-updates-summary').textContent = r.status === 401 ? 'needs a token' : r.status === 404 ? 'not served by this bridge (fleet operations need its embedded broker)' : 'unavailable (HTTP ' + r.status + ')';
        return;
      }
      const view = await r.json();
      fm.fleetUpdates.view = view;
      render(view);
      fm.fleetUpdates.loads++;
      document.body.dataset.fleetUpdatesLoaded = String(fm.fleetUpdates.loads);
    } catch (e) {
      /* the next poll retries */
    }
  }

  fm.fleetUpdates.reload = load;
  fm.on('start', () => {
    load();
    setInterval(load, POLL_MS);
  });
})();
