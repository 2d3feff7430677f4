import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { FileCredentialStore } from '#gateway/ingest/credentials';
import { loadAverage, median, runPublishers } from './ingest.bench.js';
import type { BenchRow } from './harness.js';

/**
 * Local apps (gateway/src/ingest/INGEST.md §Apps) must never slow ingest: SenML packs of 50
 * through the real gateway with no app, with 10 apps subscribed to every series that never read
 * (cut off at broker.maxAppQueueBytes), and with 10 apps that do read. Target: with 10 slow apps
 * ≥ 0.95 × without. Runs alternate; medians of RUNS.
 */
// 2M readings (~8 s): a slow app is cut once the kernel's socket buffers and maxAppQueueBytes are
// full (a few MB); a run of one second would measure mostly that start, not sustained ingest.
const PACKS = Number(process.env.FM_BENCH_APPS_PACKS ?? 40_000);
const RUNS = Number(process.env.FM_BENCH_RUNS ?? 3);
const APPS = 10;

function connectPacket(id: string, password: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(id), str(id), str(password)]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

function subscribePacket(filter: string): Buffer {
  const t = Buffer.from(filter);
  const body = Buffer.concat([Buffer.from([0, 1, t.length >> 8, t.length & 0xff]), t, Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0x82, body.length]), body]);
}

async function run(apps: 'none' | 'slow' | 'reading'): Promise<{ rate: number; cut: number; delivered: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-apps-'));
  const gw = new Gateway(parseGatewayConfig({ dataDir: dir, broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0 } }), { print: () => {} });
  const sockets: Socket[] = [];
  const clients: mqtt.MqttClient[] = [];
  let delivered = 0;
  try {
    const store = new FileCredentialStore(join(dir, 'apps.json'));
    const passwords: string[] = [];
    for (let i = 0; i < APPS; i++) passwords.push(await store.rotate(`a${i}`, ['*/*']));
    const { brokerPort } = await gw.start();
    for (let i = 0; i < APPS && apps !== 'none'; i++) {
      if (apps === 'slow') {
        const s = netConnect(brokerPort, '127.0.0.1');
        s.on('error', () => {});
        await new Promise<void>((r) => s.once('connect', () => r()));
        s.write(connectPacket(`app:a${i}`, passwords[i]!));
        s.write(subscribePacket('fm/r/#'));
        await new Promise<void>((r) => s.once('data', () => r()));
        s.pause(); // never reads again
        sockets.push(s);
      } else {
        const c = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, { clientId: `app:a${i}`, username: `app:a${i}`, password: passwords[i]!, reconnectPeriod: 0 });
        await new Promise<void>((r) => c.once('connect', () => r()));
        await c.subscribeAsync('fm/r/#', { qos: 0 });
        c.on('message', () => delivered++);
        clients.push(c);
      }
    }
    if (apps === 'slow') await new Promise((r) => setTimeout(r, 200)); // SUBACKs settled
    const res = await runPublishers(brokerPort, PACKS, 50);
    const stored = gw.store.lastSeq();
    if (stored !== res.messages * 50) throw new Error(`stored ${stored} of ${res.messages * 50}`);
    const status = gw.status() as { ingest?: { rejected?: Record<string, number> } };
    return { rate: (res.messages * 50) / (res.ms / 1000), cut: status.ingest?.rejected?.slow_consumer ?? 0, delivered };
  } finally {
    for (const s of sockets) s.destroy();
    for (const c of clients) c.end(true);
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function appsBench(): Promise<BenchRow[]> {
  await run('none'); // warm-up
  const none: number[] = [];
  const slow: number[] = [];
  const reading: number[] = [];
  const cuts: number[] = [];
  const delivered: number[] = [];
  const loads: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    none.push((await run('none')).rate);
    const s = await run('slow');
    slow.push(s.rate);
    cuts.push(s.cut);
    const r = await run('reading');
    reading.push(r.rate);
    delivered.push(r.delivered);
    loads.push(loadAverage());
  }
  const k = (xs: number[]) => xs.map((x) => Math.round(x / 1000) + 'k').join(' ');
  const ratio = median(slow) / median(none);
  return [
    { name: 'gateway, SenML packs of 50, no app', value: Math.round(median(none)), unit: 'readings/s', anchor: `runs ${k(none)}, load ${loads.join(' ')}` },
    { name: `gateway, same, ${APPS} apps on fm/r/# that never read`, value: Math.round(median(slow)), unit: 'readings/s', anchor: `runs ${k(slow)}; apps cut off per run: ${cuts.join(' ')}` },
    { name: `with ${APPS} slow apps / without`, value: Number(ratio.toFixed(3)), unit: '×', target: '>= 0.95', met: ratio >= 0.95 },
    { name: `gateway, same, ${APPS} apps on fm/r/# that read everything`, value: Math.round(median(reading)), unit: 'readings/s', anchor: `runs ${k(reading)}; messages delivered per run: ${delivered.map((d) => Math.round(d / 1000) + 'k').join(' ')}` },
  ];
}
