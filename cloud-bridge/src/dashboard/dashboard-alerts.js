// Dashboard part: alerts. The open alerts come from /api/alerts when the page loads (and again on
// every live alert event), so an alert raised before the page was opened is shown; the feed below
// lists events as they arrive. "Acknowledge" posts to /api/alerts/ack with the page's token: the
// bridge records who (the token's name) and when, and tells every open page. HTTP.md in http/.
'use strict';
(function () {
  const fm = window.fieldmesh;
  const { $, el, authFetch } = fm.lib;
  /** Events kept in the feed; older ones drop off the end. */
  const MAX_FEED = 200;
  fm.alerts = { open: [], loads: 0 };

  const when = (ms) => new Date(typeof ms === 'number' ? ms : Date.now()).toLocaleString();
  const keyOf = (a) => a.gateway + '~' + a.epoch + '~' + a.alertId;

  function ackLine(ack) {
    return 'acknowledged by ' + ack.by + ', ' + when(ack.at);
  }

  function openItem(a) {
    const li = el('li', undefined, 'raised ' + (typeof a.severity === 'string' ? a.severity : ''));
    li.dataset.gateway = a.gateway;
    li.dataset.epoch = a.epoch;
    li.dataset.alertId = String(a.alertId);
    li.dataset.acked = String(!!a.ack);
    li.append(el('strong', (a.rule || 'alert') + ' '), el('span', a.gateway + ' · ' + (a.series || '') + ' — ' + (a.reason || '')), el('span', 'since ' + when(a.ts), 'when'));
    const foot = el('span', undefined, 'ack');
    if (a.ack) foot.textContent = ackLine(a.ack);
    else {
      const b = el('button', 'Acknowledge');
      b.type = 'button';
      b.onclick = () => acknowledge(a, b, foot);
      foot.append(b);
    }
    li.append(foot);
    return li;
  }

  function renderOpen() {
    const list = $('alerts-open');
    const items = fm.alerts.open.map(openItem);
    if (items.length === 0) items.push(el('li', 'no open alert', 'empty'));
    list.replaceChildren(...items);
    $('alerts-open-count').textContent = String(fm.alerts.open.length);
  }

  async function acknowledge(a, button, foot) {
    button.disabled = true;
    try {
      const r = await authFetch('/api/alerts/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ gateway: a.gateway, epoch: a.epoch, alertId: a.alertId }) });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(r.status === 401 ? 'token refused' : body.error || 'HTTP ' + r.status);
      a.ack = body.ack;
      foot.textContent = ackLine(body.ack);
      foot.parentElement.dataset.acked = 'true';
    } catch (e) {
      button.disabled = false;
      foot.append(el('span', ' ' + e.message, 'error'));
    }
  }

  function feedItem(gateway, a) {
    const li = el('li', undefined, [a.type, a.severity].filter((x) => typeof x === 'string').join(' '));
    li.dataset.gateway = gateway;
    if (a.type === 'acknowledged') {
      li.append(el('strong', 'acknowledged '), el('span', 'alert ' + a.alertId + ' of ' + gateway + ' by ' + a.by), el('span', when(a.at), 'when'));
      return li;
    }
    li.append(el('strong', (a.type === 'cleared' ? 'cleared: ' : '') + (a.rule || 'alert') + ' '), el('span', gateway + ' · ' + (a.series || '') + ' — ' + (a.reason || '')), el('span', when(a.ts), 'when'));
    return li;
  }

  function addToFeed(gateway, a) {
    const list = $('alerts');
    const empty = list.querySelector('.empty');
    if (empty) empty.remove();
    list.prepend(feedItem(gateway, a));
    while (list.children.length > MAX_FEED) list.lastElementChild.remove();
  }

  async function load(withHistory) {
    try {
      const r = await authFetch('/api/alerts?limit=50' + (withHistory ? '' : '&state=open'));
      if (!r.ok) return;
      const body = await r.json();
      fm.alerts.open = body.open;
      fm.alerts.loads++;
      renderOpen();
      if (withHistory && body.history.length > 0) {
        const list = $('alerts');
        list.replaceChildren(...body.history.map((e) => feedItem(e.gateway, e)));
      }
      document.body.dataset.alertsLoaded = String(fm.alerts.loads);
    } catch (e) {
      /* the next event or poll retries */
    }
  }

  let reload = null;
  fm.on('alert', (gateway, a) => {
    addToFeed(gateway, a);
    if (a.type === 'acknowledged') {
      const open = fm.alerts.open.find((x) => keyOf(x) === keyOf({ gateway, epoch: a.epoch, alertId: a.alertId }));
      if (open) {
        open.ack = { by: a.by, at: a.at };
        renderOpen();
      }
      return;
    }
    // Raised or cleared: the open list is the store's, read again (at most every 300 ms).
    if (reload === null) reload = setTimeout(() => ((reload = null), load(false)), 300);
  });
  fm.on('start', () => {
    load(true);
    setInterval(() => load(false), 30000);
  });
})();
