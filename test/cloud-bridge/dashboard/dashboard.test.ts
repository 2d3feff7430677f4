import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import type { LoggedReading } from '#gateway/store/reading-log';
import { encodeBatch } from '@fieldmesh/protocol';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-fixture.js';
import { launchBrowser, pageErrors } from './browser.js';

async function gateway(port: number, id: string): Promise<MqttClient> {
  const c = connect(`mqtt://127.0.0.1:${port}`, {
    clientId: id,
    reconnectPeriod: 0,
    protocolVersion: 4,
    will: { topic: `fm/g/${id}/status`, payload: Buffer.from(JSON.stringify({ v: 1, online: false, ts: 0 })), qos: 1, retain: true },
  });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

const batch = (gw: string, firstSeq: number, values: number[], series = 'dev1/temp', endTs = Date.now()): Buffer => {
  const readings: LoggedReading[] = values.map((value, i) => ({ seq: firstSeq + i, series, ts: endTs - (values.length - 1 - i) * 100, value, unit: 'Cel' }));
  return encodeBatch({ gatewayId: gw, epoch: 'e1', readings });
};

describe('dashboard in a real browser (Debian chromium via playwright-core)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let cloud: CloudBridge | undefined;
  let closeBrowser: (() => Promise<void>) | undefined;
  const clients: MqttClient[] = [];

  beforeEach(() => {
    tmp = tempDir('fm-dash-');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await closeBrowser?.();
    closeBrowser = undefined;
    await cloud?.stop();
    cloud = undefined;
    tmp.cleanup();
  });

  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const b = await launchBrowser();
    closeBrowser = b.close;
    const page = await b.context.newPage();
    const errors = pageErrors(page);
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`http://127.0.0.1:${cloud!.httpPort}/`) && !r.url().startsWith(`ws://127.0.0.1:${cloud!.httpPort}/`) && !r.url().startsWith('data:')) external.push(r.url());
    });
    await page.goto(`http://127.0.0.1:${cloud!.httpPort}/?token=${cloud!.live.issuedToken}`);
    await page.waitForFunction("document.getElementById('live-state')?.textContent === 'live: connected'", null, { timeout: 30_000 });
    expect(external, 'every asset is served by the bridge').toEqual([]);
    // The token left the address bar (kept in localStorage).
    expect(page.url()).not.toContain('token=');
    return { page, errors };
  }

  it('loads without console errors, shows a published reading on its chart, the fleet, an alert, and a stopped gateway turning offline', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const gw = await gateway(cloud.brokerPort, 'gw-a');
    clients.push(gw);
    await gw.publishAsync('fm/g/gw-a/status', JSON.stringify({ v: 1, online: true, ts: Date.now(), backlog: 1234, oldestUnsentAgeMs: 95_000, members: ['gw-a', 'gw-b', 'gw-c'], dropped: 3, ingest: { ingested: 10, rejected: { oversize: 2 } } }), { qos: 1, retain: true });
    const history = Array.from({ length: 600 }, (_, i) => 20 + Math.sin(i / 30) * 2);
    await gw.publishAsync('fm/g/gw-a/batch', batch('gw-a', 1, history, 'dev1/temp', Date.now() - 1000), { qos: 1 });
    await gw.publishAsync('fm/g/gw-a/batch', batch('gw-a', 601, history.map((v) => v * 2 + 10), 'dev2/hum', Date.now() - 1000), { qos: 1 });
    await waitFor(async () => (await cloud!.store.count()) === 1200, 'history stored');
    const { page, errors } = await openPage();
    // History loaded from /api/readings, then live: a reading published by the gateway now.
    await page.waitForSelector('.chart[data-gateway="gw-a"][data-series="dev1/temp"][data-points="600"]', { timeout: 30_000 });
    await gw.publishAsync('fm/g/gw-a/batch', batch('gw-a', 1201, [42.5]), { qos: 1 });
    await page.waitForSelector('.chart[data-gateway="gw-a"][data-series="dev1/temp"][data-last="42.5"]', { timeout: 30_000 });
    expect(await page.locator('.chart[data-series="dev1/temp"]').getAttribute('data-points')).toBe('601');
    // Fleet row from the status message.
    const row = page.locator('tr[data-gateway="gw-a"]');
    await page.waitForSelector('tr[data-gateway="gw-a"][data-online="true"]');
    await waitFor(async () => (await row.textContent())!.includes('1234'), 'backlog shown');
    const text = (await row.textContent())!;
    expect(text).toContain('3 (gw-a, gw-b, gw-c)');
    expect(text).toContain('2 min'); // oldest unsent 95 s
    expect(text).toContain('dropped 3');
    expect(text).toContain('ingest.rejected.oversize 2');
    expect(text).not.toContain('ingested');
    // An alert (hostile text stays text).
    cloud.live.alert('gw-a', { v: 1, gateway: 'gw-a', type: 'raised', rule: 'boiler-hot', series: 'dev1/temp', severity: 'critical', value: 42.5, ts: Date.now(), reason: 'value 42.5 > high 40 <img src=x onerror=alert(1)>' });
    await page.waitForSelector('#alerts li[data-gateway="gw-a"]', { timeout: 30_000 });
    expect(await page.locator('#alerts li').first().textContent()).toContain('<img src=x');
    expect(await page.locator('#alerts img').count()).toBe(0);
    const shot = join(tmpdir(), 'fieldmesh-dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
    // The gateway stops: it turns offline on the page.
    gw.end(true);
    await page.waitForSelector('tr[data-gateway="gw-a"][data-online="false"]', { timeout: 30_000 });
    expect(await row.locator('.state').textContent()).toBe('offline');
    expect(errors).toEqual([]);
  });

  it('stays smooth with tens of thousands of points: ring buffer, decimated drawing', async () => {
    cloud = await startCloud(labConfig(tmp.dir));
    const gw = await gateway(cloud.brokerPort, 'gw-big');
    clients.push(gw);
    const { page, errors } = await openPage();
    const perSeries = 30_000;
    const start = Date.now() - perSeries * 100;
    let seq = 1;
    // Frame counter in the page while data streams in.
    await page.evaluate('window.frames_ = 0; (function tick() { window.frames_++; requestAnimationFrame(tick); })()');
    const t0 = Date.now();
    for (let k = 0; k < perSeries / 5000; k++) {
      for (const s of ['big/a', 'big/b']) {
        const values = Array.from({ length: 5000 }, (_, i) => Math.sin((k * 5000 + i) / 500) * 10 + (s === 'big/b' ? 50 : 0));
        await gw.publishAsync('fm/g/gw-big/batch', batch('gw-big', seq, values, s, start + (k + 1) * 5000 * 100), { qos: 1 });
        seq += 5000;
      }
    }
    for (const s of ['big/a', 'big/b']) await page.waitForSelector(`.chart[data-series="${s}"][data-points="${perSeries}"]`, { timeout: 60_000 });
    const seconds = (Date.now() - t0) / 1000;
    const m = (await page.evaluate('({ lastRenderMs: fieldmesh.lastRenderMs, drawn: [...fieldmesh.charts.values()].map((c) => [c.drawn, c.width]), frames: window.frames_ })')) as {
      lastRenderMs: number;
      drawn: Array<[number, number]>;
      frames: number;
    };
    console.log(`dashboard: 2 × ${perSeries} points in ${seconds.toFixed(1)} s, ${m.frames} frames (${(m.frames / seconds).toFixed(0)} fps), last draw ${m.lastRenderMs.toFixed(1)} ms, drawn points ${JSON.stringify(m.drawn)}`);
    // Decimation: at most 4 points per pixel column are drawn, whatever the ring holds.
    for (const [drawn, width] of m.drawn) expect(drawn).toBeLessThanOrEqual(4 * Math.max(50, Math.floor(width)));
    // The page kept drawing frames while 60k points arrived (headless, 2 shared cores: a loose floor).
    expect(m.frames / seconds).toBeGreaterThan(5);
    expect(m.lastRenderMs).toBeLessThan(500);
    expect(errors).toEqual([]);
  });
});
