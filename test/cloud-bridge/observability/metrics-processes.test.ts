import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSenml } from '@fieldmesh/device-sdk';
import { FieldmeshProcess } from '../../e2e/fieldmesh-process.js';
import { tempDir, waitFor } from '../cloud-fixture.js';
import { promtoolCheck, sample } from './promtool.js';

const metricsOf = async (port: number, token?: string): Promise<{ text: string; type: string | null }> => {
  // The cloud's /metrics takes the live token, as a Prometheus scrape config's bearer credentials would.
  const r = await fetch(`http://127.0.0.1:${port}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { text: await r.text(), type: r.headers.get('content-type') };
};

/**
 * The real `fieldmesh cloud` and `fieldmesh gateway` processes, a device publishing to the
 * gateway, the gateway delivering to the cloud: both `/metrics` pass `promtool check metrics`
 * and say what happened (readings committed, a refused batch by its code, the gateway's
 * backlog and lag, a live subscriber, the store latency histogram, process and build info).
 */
describe('/metrics of the running cloud and gateway, checked by promtool', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('cloud and gateway expositions pass promtool and count what happened', async () => {
    const tmp = tempDir('fm-metrics-');
    cleanups.push(tmp.cleanup);
    const cloudYaml = join(tmp.dir, 'cloud.yaml');
    writeFileSync(cloudYaml, `dataDir: ${join(tmp.dir, 'cloud')}\nbroker: { port: 0, host: 127.0.0.1, auth: none }\nhttp: { port: 0, host: 127.0.0.1 }\n`);
    const cloud = new FieldmeshProcess(['cloud', '--config', cloudYaml, '--log-level', 'warn']);
    cleanups.push(() => cloud.kill('SIGKILL'));
    const brokerPort = Number((await cloud.waitForLine(/cloud broker: mqtt:\/\/[^:]+:(\d+)/))[1]);
    const cloudHttp = Number((await cloud.waitForLine(/cloud http: http:\/\/[^:]+:(\d+)\//))[1]);
    const token = (await cloud.waitForLine(/^live token: ([A-Za-z0-9_-]+)$/m))[1]!;

    const gwYaml = join(tmp.dir, 'gateway.yaml');
    writeFileSync(
      gwYaml,
      `id: gw-metrics\ndataDir: ${join(tmp.dir, 'gw')}\nbroker: { port: 0, host: 127.0.0.1, auth: none }\nhttp: { port: 0, host: 127.0.0.1 }\nuplink: { url: "mqtt://127.0.0.1:${brokerPort}" }\n`,
    );
    const gw = new FieldmeshProcess(['gateway', '--config', gwYaml, '--log-level', 'warn']);
    cleanups.push(() => gw.kill('SIGKILL'));
    const gwBroker = Number((await gw.waitForLine(/^broker: mqtt:\/\/[^:]+:(\d+)/m))[1]);
    const gwHttp = Number((await gw.waitForLine(/^http: http:\/\/[^:]+:(\d+)\//m))[1]);

    // A live subscriber, counted on the cloud.
    const ws = new WebSocket(`ws://127.0.0.1:${cloudHttp}/live?token=${token}`);
    cleanups.push(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });

    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${gwBroker}`, { clientId: 'probe', reconnectPeriod: 0 });
    cleanups.push(() => dev.endAsync());
    const now = Date.now();
    await dev.publishAsync('fm/d/probe/senml', encodeSenml(Array.from({ length: 50 }, (_, i) => ({ series: 'probe/temp', ts: now - 1000 + i, value: 20 + i / 10, unit: 'Cel' }))), { qos: 1 });

    // A foreign client on the cloud broker (auth: none) publishes a batch that does not decode.
    const rogue = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'gw-rogue', reconnectPeriod: 0 });
    cleanups.push(() => rogue.endAsync());
    await rogue.publishAsync('fm/g/gw-rogue/batch', Buffer.from('not a batch'), { qos: 1 });

    let cloudText = '';
    await waitFor(async () => {
      cloudText = (await metricsOf(cloudHttp, token)).text;
      return sample(cloudText, 'fieldmesh_cloud_readings_committed_total') === 50 && (sample(cloudText, 'fieldmesh_cloud_gateway_backlog_readings{gateway="gw-metrics"}') ?? -1) === 0;
    }, 'the 50 readings committed at the cloud and a caught-up status of the gateway');
    const cloudMetrics = await metricsOf(cloudHttp, token);
    cloudText = cloudMetrics.text;
    expect(cloudMetrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const cloudCheck = promtoolCheck(cloudText);
    expect(cloudCheck.output, 'promtool on the cloud').toBe('');
    expect(cloudCheck.ok).toBe(true);

    expect(sample(cloudText, 'fieldmesh_cloud_batches_committed_total')).toBeGreaterThanOrEqual(1);
    expect(sample(cloudText, 'fieldmesh_cloud_readings_duplicate_total')).toBe(0);
    expect(cloudText).toMatch(/^fieldmesh_cloud_refused_total\{kind="batch",reason="FM_ERR_BATCH_[A-Z_]+"\} 1$/m);
    expect(sample(cloudText, 'fieldmesh_cloud_live_subscribers')).toBe(1);
    expect(sample(cloudText, 'fieldmesh_cloud_gateway_online{gateway="gw-metrics"}')).toBe(1);
    expect(sample(cloudText, 'fieldmesh_cloud_gateway_lag_seconds{gateway="gw-metrics"}')).toBe(0);
    expect(sample(cloudText, 'fieldmesh_cloud_gateway_readings_total{gateway="gw-metrics"}')).toBe(50);
    expect(sample(cloudText, 'fieldmesh_cloud_gateway_last_contact_age_seconds{gateway="gw-metrics"}')).toBeLessThan(60);
    expect(sample(cloudText, 'fieldmesh_cloud_gateway_alerts_open{gateway="gw-metrics"}')).toBe(0);
    const commits = sample(cloudText, 'fieldmesh_cloud_store_seconds_count{op="commit"}')!;
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(sample(cloudText, 'fieldmesh_cloud_store_seconds_bucket{op="commit",le="+Inf"}')).toBe(commits);
    expect(sample(cloudText, 'fieldmesh_cloud_store_seconds_sum{op="commit"}')).toBeGreaterThan(0);
    expect(cloudText).toMatch(/^fieldmesh_build_info\{component="cloud-bridge",version="\d+\.\d+\.\d+",node="v20\.[\d.]+"\} 1$/m);

    const gwMetrics = await metricsOf(gwHttp);
    const gwCheck = promtoolCheck(gwMetrics.text);
    expect(gwCheck.output, 'promtool on the gateway').toBe('');
    expect(gwCheck.ok).toBe(true);
    expect(sample(gwMetrics.text, 'fieldmesh_readings_ingested_total')).toBe(50);
    expect(gwMetrics.text).toMatch(/^fieldmesh_build_info\{component="gateway",version="\d+\.\d+\.\d+",node="v20\.[\d.]+"\} 1$/m);

    for (const text of [cloudText, gwMetrics.text]) {
      expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
      expect(sample(text, 'process_open_fds')).toBeGreaterThan(3);
      expect(sample(text, 'process_start_time_seconds')).toBeGreaterThan(now / 1000 - 600);
      expect(sample(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      expect(text).toMatch(/^nodejs_version_info\{version="v20\.[\d.]+",major="20",minor="\d+",patch="\d+"\} 1$/m);
    }
  });
});
