import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpApi } from '#gateway/http/server';
import { HttpError } from '#gateway/http/errors';
import { renderPrometheus } from '#gateway/metrics/prometheus';
import { gatewayMetrics } from '#gateway/gateway-metrics';
import { IngestStats } from '#gateway/ingest/stats';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';

describe('HttpApi (inject, no socket)', () => {
  it('routes, answers 404/405/400/414/500 as JSON with a reason, and survives a throwing handler', async () => {
    const api = new HttpApi();
    api.route('GET', '/api/x', ({ url }) => {
      const n = url.searchParams.get('n');
      if (n === null || !/^\d+$/.test(n)) throw new HttpError(400, 'FM_ERR_HTTP_BAD_REQUEST', 'n must be a whole number');
      return { json: { n: Number(n) } };
    });
    api.route('GET', '/boom', () => {
      throw new Error('handler bug');
    });
    expect(() => api.route('GET', '/api/x', () => ({}))).toThrow(/twice/);
    expect(await api.inject('GET', '/api/x?n=4')).toMatchObject({ status: 200, body: '{"n":4}' });
    expect(JSON.parse((await api.inject('GET', '/api/x?n=a')).body)).toEqual({ error: 'FM_ERR_HTTP_BAD_REQUEST', reason: 'n must be a whole number' });
    expect((await api.inject('GET', '/nope')).status).toBe(404);
    const m = await api.inject('DELETE', '/api/x');
    expect(m.status).toBe(405);
    expect(m.headers.allow).toBe('GET');
    expect((await api.inject('GET', '/boom')).status).toBe(500);
    expect((await api.inject('GET', '/api/x?' + 'a'.repeat(5000))).status).toBe(414);
    expect((await api.inject('GET', '//[bad')).status).toBeGreaterThanOrEqual(400);
  });
});

describe('metrics', () => {
  it('renders the Prometheus text format with escaped labels', () => {
    const text = renderPrometheus([{ name: 'x_total', help: 'a\\b', type: 'counter', samples: [{ labels: { r: 'q"u\nx' }, value: 2 }] }]);
    expect(text).toBe('# HELP x_total a\\\\b\n# TYPE x_total counter\nx_total{r="q\\"u\\nx"} 2\n');
  });

  it('reports ingest, backlog, oldest unsent age and uplink numbers from their sources', () => {
    const log = new MemoryReadingLog();
    const T = Date.UTC(2026, 0, 1);
    log.append([{ series: 'd/a', ts: T, value: 1 }, { series: 'd/a', ts: T + 1000, value: 2 }]);
    log.advanceAckWatermark(1);
    const stats = new IngestStats();
    stats.ingested = 2;
    stats.reject('bad_value');
    const text = renderPrometheus(
      gatewayMetrics({ stats, log, now: () => T + 11_000, uplink: () => ({ state: 'online', batchesSent: 5, batchesAcked: 4 }) })(),
    );
    expect(text).toContain('fieldmesh_readings_ingested_total 2');
    expect(text).toContain('fieldmesh_ingest_rejected_total{reason="bad_value"} 1');
    expect(text).toContain('fieldmesh_ingest_rejected_total{reason="packet_too_large"} 0');
    expect(text).toContain('fieldmesh_backlog_readings 1');
    expect(text).toContain('fieldmesh_oldest_unsent_age_seconds 10');
    expect(text).toContain('fieldmesh_uplink_state{state="online"} 1');
    expect(text).toContain('fieldmesh_uplink_state{state="none"} 0');
    expect(text).toContain('fieldmesh_uplink_batches_sent_total 5');
    expect(text).toContain('fieldmesh_uplink_batches_acked_total 4');
  });
});

describe('Gateway composition root over real sockets', () => {
  let gw: Gateway | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves /healthz, /metrics and /api/status reflecting what devices sent; prints credentials once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-gw-'));
    const config = parseGatewayConfig({ id: 'gw-t', dataDir: dir, broker: { port: 0, host: '127.0.0.1', devices: ['th1'] }, http: { port: 0 } });
    const printed: string[] = [];
    gw = new Gateway(config, { print: (l) => printed.push(l) });
    const started = await gw.start();
    expect(started.newCredentials.map((c) => c.device)).toEqual(['th1']);
    expect(printed.join('\n')).toContain(started.newCredentials[0]!.password);

    const client = mqtt.connect(`mqtt://127.0.0.1:${started.brokerPort}`, { clientId: 'th1', username: 'th1', password: started.newCredentials[0]!.password, reconnectPeriod: 0 });
    await new Promise<void>((res, rej) => {
      client.once('connect', () => res());
      client.once('error', rej);
    });
    const pub = (t: string, p: string) => new Promise<void>((res, rej) => client.publish(t, p, { qos: 1 }, (e) => (e ? rej(e) : res())));
    await pub('fm/d/th1/temp', '20.5');
    await pub('fm/d/th1/temp', 'warm');
    client.end(true);

    const base = `http://127.0.0.1:${started.httpPort}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true, id: 'gw-t' });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await metrics.text();
    expect(text).toContain('fieldmesh_readings_ingested_total 1');
    expect(text).toContain('fieldmesh_ingest_rejected_total{reason="bad_value"} 1');
    expect(text).toContain('fieldmesh_backlog_readings 1');
    const status = (await (await fetch(`${base}/api/status`)).json()) as Record<string, any>;
    expect(status).toMatchObject({ id: 'gw-t', running: true, log: { lastSeq: 1, ackWatermark: 0 }, uplink: { state: 'none' } });
    expect((await fetch(`${base}/api/nothing`)).status).toBe(404);

    // A second start on the same data keeps epoch and credentials, and prints nothing.
    const epoch = status.epoch as string;
    await gw.stop();
    printed.length = 0;
    gw = new Gateway(config, { print: (l) => printed.push(l) });
    const again = await gw.start();
    expect(again.newCredentials).toEqual([]);
    expect(printed).toEqual([]);
    expect(gw.status().epoch).toBe(epoch);
    expect(gw.store.lastSeq()).toBe(1);
  });

  it('fails to start with a coded error when the broker port is taken, and cleans up', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-gw-'));
    const first = new Gateway(parseGatewayConfig({ dataDir: join(dir, 'a'), broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0 } }));
    const { brokerPort } = await first.start();
    try {
      const second = new Gateway(parseGatewayConfig({ dataDir: join(dir, 'b'), broker: { port: brokerPort, host: '127.0.0.1', auth: 'none' }, http: { port: 0 } }));
      await expect(second.start()).rejects.toMatchObject({ code: 'FM_ERR_BROKER_LISTEN' });
    } finally {
      await first.stop();
    }
  });
});

describe('HttpApi under hostile request targets', () => {
  it('answers any target with a JSON status, never a crash or a 500', async () => {
    const fc = (await import('fast-check')).default;
    const api = new HttpApi();
    api.route('GET', '/api/status', () => ({ json: { ok: true } }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.webPath(), fc.webUrl()), fc.constantFrom('GET', 'POST', 'HEAD', 'BREW'), async (target, method) => {
        const res = await api.inject(method, target);
        expect([200, 400, 404, 405, 414]).toContain(res.status);
        expect(() => JSON.parse(res.body)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
