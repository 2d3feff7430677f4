import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { connectGateway, labConfig, startCloud, tempDir, waitFor } from '../cloud-fixture.js';
import { launchBrowser, pageErrors } from './browser.js';


const alertEvent = (seq: number, type: 'raised' | 'cleared', ts: number) => ({
  v: 1,
  seq,
  alertId: 1,
  type,
  rule: 'boiler-hot',
  series: 'boiler/temp',
  condition: 'high',
  severity: 'critical',
  value: type === 'raised' ? 91 : 70,
  ts,
  reason: type === 'raised' ? 'value 91 > high 80' : 'value 70 back under 78',
});

/**
 * The dashboard's views in the real browser (Debian chromium via playwright-core): alerts open
 * before the page loaded, acknowledged from the page; the time-range picker drawing a week from
 * the readings API with server-side decimation; the series filter; a gateway's drill-down.
 */
describe('dashboard views in a real browser', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('shows open alerts on load and acknowledges one; picks 7 days (decimated, spike kept); filters series; drills into a gateway', async () => {
    const tmp = tempDir('fm-dash-views-');
    cleanups.push(tmp.cleanup);
    const cloud: CloudBridge = await startCloud(labConfig(tmp.dir));
    cleanups.push(() => cloud.stop());
    const gwA = await connectGateway(cloud.brokerPort, 'gw-a');
    const gwB = await connectGateway(cloud.brokerPort, 'gw-b');
    cleanups.push(() => void gwA.end(true), () => void gwB.end(true));

    // A week of boiler temperatures, one a minute, with a spike three days ago; a tank level lately.
    const now = Date.now();
    const week = 7 * 24 * 60;
    const spikeAt = week - 3 * 24 * 60;
    const temps = Array.from({ length: week }, (_, i) => ({ seq: i + 1, series: 'boiler/temp', ts: now - (week - i) * 60_000, value: i === spikeAt ? 999 : 60 + 5 * Math.sin(i / 90), unit: 'Cel' }));
    await cloud.store.commitBatch('gw-a', 'e1', temps, now);
    await cloud.store.commitBatch('gw-b', 'e1', Array.from({ length: 30 }, (_, i) => ({ seq: i + 1, series: 'tank/level', ts: now - (30 - i) * 10_000, value: 40 + i, unit: '%' })), now);
    await gwA.publishAsync('fm/g/gw-a/status', JSON.stringify({ v: 1, online: true, ts: now, backlog: 5000, drainRate: 250, etaSeconds: 20, oldestUnsentAgeMs: 60_000, epoch: 'e1' }), { qos: 1, retain: true });
    await gwB.publishAsync('fm/g/gw-b/status', JSON.stringify({ v: 1, online: true, ts: now, backlog: 0, drainRate: 0, etaSeconds: 0 }), { qos: 1, retain: true });
    // An alert raised before anyone opened the page.
    await gwA.publishAsync('fm/g/gw-a/alerts', JSON.stringify({ v: 1, epoch: 'e1', events: [alertEvent(1, 'raised', now - 120_000)] }), { qos: 1 });
    await waitFor(() => cloud.alerts.open().length === 1, 'the alert stored');

    const b = await launchBrowser();
    cleanups.push(b.close);
    const page: Page = await b.context.newPage();
    const errors = pageErrors(page);
    await page.goto(`http://127.0.0.1:${cloud.httpPort}/?token=${cloud.live.issuedToken}`);
    await page.waitForFunction("document.getElementById('live-state')?.textContent === 'live: connected'", null, { timeout: 30_000 });

    // 1. The open alert is there on load, then acknowledged from the page.
    const openAlert = page.locator('#alerts-open li[data-gateway="gw-a"][data-alert-id="1"]');
    await openAlert.waitFor({ timeout: 30_000 });
    expect(await openAlert.textContent()).toContain('boiler-hot');
    expect(await page.locator('#alerts-open-count').textContent()).toBe('1');
    await openAlert.locator('button', { hasText: 'Acknowledge' }).click();
    await page.waitForSelector('#alerts-open li[data-alert-id="1"][data-acked="true"]', { timeout: 30_000 });
    expect(await openAlert.textContent()).toContain('acknowledged by default');
    expect(cloud.alerts.open()[0]!.ack).toMatchObject({ by: 'default' });

    // 2. Live (last 15 min) shows no spike; 7 days from the API, decimated per pixel, shows it.
    const chart = page.locator('.chart[data-gateway="gw-a"][data-series="boiler/temp"]');
    await chart.waitFor({ timeout: 30_000 });
    await waitFor(async () => Number(await chart.getAttribute('data-points')) >= 14, 'the 15 min history');
    await page.selectOption('#range', '7d');
    await page.waitForSelector('body[data-range="7d"]', { timeout: 30_000 });
    const drawn = (await page.evaluate(`(() => { const c = fieldmesh.charts.get('gw-a boiler/temp'); return { n: c.rangeData[0].length, max: Math.max(...c.rangeData[1]), width: c.width, drawn: c.drawn, first: c.rangeData[0][0] }; })()`)) as { n: number; max: number; width: number; drawn: number; first: number };
    expect(drawn.max).toBe(999);
    expect(drawn.n).toBeGreaterThan(200);
    expect(drawn.n).toBeLessThanOrEqual(4 * Math.max(50, Math.floor(drawn.width)));
    expect(drawn.first).toBeLessThan((now - 6.9 * 24 * 3600e3) / 1000);
    await waitFor(async () => Number(await chart.getAttribute('data-drawn')) === drawn.n, 'the chart drew the range');

    // 3. The series filter.
    expect(await page.locator('#series-count').textContent()).toBe('2 of 2 series');
    await page.fill('#series-filter', 'tank');
    await waitFor(async () => (await page.locator('#series-count').textContent()) === '1 of 2 series', 'filtered');
    expect(await chart.isHidden()).toBe(true);
    expect(await page.locator('.chart[data-gateway="gw-b"]').isVisible()).toBe(true);
    await page.fill('#series-filter', '');
    await waitFor(async () => (await page.locator('#series-count').textContent()) === '2 of 2 series', 'filter cleared');

    // 4. Drill-down into gw-a: backlog, drain rate, ETA; only its charts; follows live status.
    await page.click('#fleet-rows tr[data-gateway="gw-a"]');
    const detail = page.locator('#gateway-detail[data-gateway="gw-a"]');
    await detail.waitFor({ state: 'visible', timeout: 30_000 });
    const field = (name: string) => page.locator(`#gateway-detail dd[data-field="${name}"]`).textContent();
    expect(await field('backlog')).toBe('5000 readings');
    expect(await field('drain')).toBe('250 readings/s');
    expect(await field('eta')).toBe('20 s');
    expect(await field('open-alerts')).toBe('1');
    expect(await field('epoch')).toBe('e1');
    expect(await page.locator('#series-count').textContent()).toBe('1 of 2 series');
    await page.screenshot({ path: join(tmpdir(), 'fieldmesh-dashboard-views.png'), fullPage: true });
    console.log(`dashboard screenshot: ${join(tmpdir(), 'fieldmesh-dashboard-views.png')}`);
    // The cloud stores at most one status a second per gateway: send until one gets through.
    let sentAt = 0;
    await waitFor(async () => {
      if (Date.now() - sentAt > 250) {
        sentAt = Date.now();
        await gwA.publishAsync('fm/g/gw-a/status', JSON.stringify({ v: 1, online: true, ts: sentAt, backlog: 1200, drainRate: 400, etaSeconds: 3 }), { qos: 1, retain: true });
      }
      return (await field('backlog')) === '1200 readings';
    }, 'the detail follows the status');
    expect(await field('eta')).toBe('3 s');
    await page.click('#gateway-detail-close');
    await detail.waitFor({ state: 'hidden' });
    expect(await page.locator('#series-count').textContent()).toBe('2 of 2 series');

    // 5. Back to live; the alert cleared by the gateway leaves the open list.
    await page.selectOption('#range', 'live');
    await page.waitForSelector('body[data-range="live"]');
    expect(await page.evaluate("fieldmesh.charts.get('gw-a boiler/temp').rangeData")).toBeNull();
    await gwA.publishAsync('fm/g/gw-a/alerts', JSON.stringify({ v: 1, epoch: 'e1', events: [alertEvent(2, 'cleared', Date.now())] }), { qos: 1 });
    await page.waitForSelector('#alerts-open li.empty', { timeout: 30_000 });
    expect(await page.locator('#alerts-open-count').textContent()).toBe('0');
    expect(await page.locator('#alerts li').first().textContent()).toContain('cleared: boiler-hot');
    expect(errors).toEqual([]);
  });
});
