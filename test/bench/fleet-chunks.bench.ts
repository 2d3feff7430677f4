import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@fieldmesh/device-sdk';
import { bundleHttpGet } from '#gateway/fleet/bundle-http';
import type { BundleFetchResult } from '#gateway/fleet/bundle-part';
import { httpBundleSource, uplinkBundleSource, type BundleSource } from '#gateway/fleet/bundle-source';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { uplinkChunkChannel } from '#gateway/uplink-chunk-channel';
import { Uplink } from '#gateway/uplink/uplink';
import { startTcpProxy, type TcpProxy } from '../fleet/tcp-proxy.js';
import { buildBundle, type ServedBundle } from '../gateway/fleet/fleet-fixture.js';
import { startMtlsCloud, type MtlsCloud } from '../gateway/fleet/mtls-cloud.js';
import type { BenchRow } from './harness.js';

/**
 * A release bundle of the size `npm run bundle` makes (10.3 MiB; here a tarball of random bytes,
 * so gzip leaves it that size) downloaded from a real cloud bridge (mTLS broker, HTTP API) by the
 * gateway's own fetchers: in chunks over a real uplink session logged in with a client
 * certificate, and with HTTP Range over the cloud's API, each through a TCP relay that counts
 * the wire bytes. Then five certificate gateways at once, sampling the process's RSS. The cloud
 * and the fetchers share this process (and its one event loop), so CPU and RSS are of both ends.
 */
const MIB = 2 ** 20;
const VERSION = '2.0.0';
const RUNS = 3;
const AT_ONCE = 5;

interface Run {
  seconds: number;
  wire: number;
  /** Wire bytes of the session before the download (TLS, CONNECT, subscriptions, status). */
  setup: number;
  cpuMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const load = () => loadavg()[0]!.toFixed(2);
const cpuMs = (since: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
};

/** A gateway's uplink with a client certificate only, as `uplink: { cert, key, ca }` makes it, and its chunk source. */
async function certGateway(m: MtlsCloud, id: string, port: number): Promise<{ source: BundleSource; stop: () => Promise<void> }> {
  const cert = m.pki.client(id);
  const uplink = new Uplink({
    gatewayId: id,
    log: new MemoryReadingLog(),
    url: `mqtts://127.0.0.1:${port}`,
    tls: { ca: readFileSync(m.pki.ca), cert: readFileSync(cert.cert), key: readFileSync(cert.key) },
  });
  const channel = uplinkChunkChannel(uplink, id);
  const subscribed = new Promise<void>((r) => uplink.onSubscribed(r));
  uplink.start();
  await subscribed;
  // The gateway's defaults (128 KiB a request, 4 in flight), as gateway-fleet.ts wires them.
  return { source: uplinkBundleSource({ channel, clock: systemClock }), stop: () => uplink.stop() };
}

function httpSource(m: MtlsCloud, id: string, port: number): BundleSource {
  return httpBundleSource({ cloudUrl: `http://127.0.0.1:${port}`, authorization: `Basic ${Buffer.from(`${id}:${m.passwords[id]}`).toString('base64')}`, get: bundleHttpGet(), clock: systemClock });
}

async function download(source: BundleSource, b: ServedBundle, into: string): Promise<BundleFetchResult> {
  mkdirSync(into, { recursive: true });
  const r = await source.fetch({ version: VERSION, bundlePath: `/api/fleet/releases/${VERSION}/bundle`, part: join(into, `${VERSION}.tgz.part`), final: join(into, `${VERSION}.tgz`), bytes: b.bytes, sha256: b.sha256 });
  if (!r.ok || r.moved !== b.bytes) throw new Error(`download into ${into}: ${JSON.stringify(r)}`);
  return r;
}

async function timed(relay: TcpProxy, fetchOnce: () => Promise<BundleFetchResult>): Promise<Omit<Run, 'setup'>> {
  const mark = relay.bytes.up + relay.bytes.down;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await fetchOnce();
  return { seconds: (performance.now() - t0) / 1000, wire: relay.bytes.up + relay.bytes.down - mark, cpuMs: cpuMs(cpu) };
}

async function mqttRun(m: MtlsCloud, b: ServedBundle, dir: string, i: number): Promise<Run> {
  const relay = await startTcpProxy(m.cloud.brokerPort);
  const gw = await certGateway(m, `gw-chunk-${i}`, relay.port);
  try {
    const setup = relay.bytes.up + relay.bytes.down;
    return { ...(await timed(relay, () => download(gw.source, b, join(dir, `mqtt-${i}`)))), setup };
  } finally {
    await gw.stop();
    await relay.close();
  }
}

async function httpRun(m: MtlsCloud, b: ServedBundle, dir: string, i: number): Promise<Run> {
  const relay = await startTcpProxy(m.cloud.httpPort);
  try {
    return { ...(await timed(relay, () => download(httpSource(m, 'gw-http', relay.port), b, join(dir, `http-${i}`)))), setup: 0 };
  } finally {
    await relay.close();
  }
}

/** Five certificate gateways downloading at once: the process's RSS sampled every 20 ms, and the chunks the cloud held. */
async function together(m: MtlsCloud, b: ServedBundle, dir: string) {
  const gws = await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => certGateway(m, `gw-many-${i}`, m.cloud.brokerPort)));
  try {
    const before = process.memoryUsage().rss;
    let peak = before;
    let held = 0;
    const sample = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
      held = Math.max(held, m.cloud.fleet.parts!.chunks.inFlight);
    }, 20);
    const t0 = performance.now();
    await Promise.all(gws.map((g, i) => download(g.source, b, join(dir, `many-${i}`))));
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sample);
    return { before, peak, after: process.memoryUsage().rss, held, seconds };
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
  }
}

export default async (): Promise<BenchRow[]> => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-chunks-'));
  const m = await startMtlsCloud(dir, { passwordGateways: ['gw-http'] });
  try {
    const b = buildBundle(dir, VERSION, { fillerBytes: Math.round(10.3 * MIB) });
    await m.addRelease(VERSION, b);
    const loadAtStart = load();
    const mqtt: Run[] = [];
    const http: Run[] = [];
    // Alternated, so both transports see the machine in the same state.
    for (let i = 0; i < RUNS; i++) {
      mqtt.push(await mqttRun(m, b, dir, i));
      http.push(await httpRun(m, b, dir, i));
    }
    const many = await together(m, b, dir);
    const size = b.bytes / MIB;
    const rate = (runs: Run[]) => median(runs.map((r) => size / r.seconds));
    const each = (runs: Run[], f: (r: Run) => number, digits: number) => runs.map((r) => f(r).toFixed(digits)).join(' ');
    const mqttRate = rate(mqtt);
    const httpRate = rate(http);
    const overhead = (r: Run) => ((r.wire - b.bytes) / b.bytes) * 100;
    const cpuPerMib = (r: Run) => r.cpuMs / size;
    return [
      { name: `bundle (random content, buildBundle), ${b.bytes.toLocaleString('en')} bytes`, value: Number(size.toFixed(2)), unit: 'MiB', anchor: `load ${loadAtStart} at start` },
      { name: `MQTT chunks (128 KiB, window 4, mTLS), median of ${RUNS} (${each(mqtt, (r) => size / r.seconds, 1)})`, value: Number(mqttRate.toFixed(1)), unit: 'MiB/s', anchor: `HTTP Range ${httpRate.toFixed(1)} MiB/s` },
      { name: `HTTP Range download, same cloud, median of ${RUNS} (${each(http, (r) => size / r.seconds, 1)})`, value: Number(httpRate.toFixed(1)), unit: 'MiB/s' },
      { name: '  MQTT / HTTP', value: Number((mqttRate / httpRate).toFixed(2)), unit: '×' },
      { name: `wire bytes per MQTT download over bundle size: overhead, median (${each(mqtt, overhead, 2)})`, value: Number(median(mqtt.map(overhead)).toFixed(2)), unit: '%', anchor: `+${(median(mqtt.map((r) => r.wire - b.bytes)) / 1024).toFixed(1)} KiB; HTTP (plain http here, no TLS) +${median(http.map((r) => r.wire - b.bytes))} B` },
      { name: '  MQTT session before it (TLS, CONNECT, SUBSCRIBE, status), median', value: Number((median(mqtt.map((r) => r.setup)) / 1024).toFixed(1)), unit: 'KiB' },
      { name: `CPU per MiB served, cloud + fetcher (one process), MQTT, median (${each(mqtt, cpuPerMib, 0)})`, value: Math.round(median(mqtt.map(cpuPerMib))), unit: 'ms', anchor: `HTTP ${median(http.map(cpuPerMib)).toFixed(0)} ms (MQTT over mTLS, HTTP plain here)` },
      { name: `${AT_ONCE} certificate gateways at once: process RSS growth to peak (before ${(many.before / MIB).toFixed(0)} MiB)`, value: Number(((many.peak - many.before) / MIB).toFixed(1)), unit: 'MiB', anchor: `${AT_ONCE} bundles = ${(AT_ONCE * size).toFixed(1)} MiB` },
      { name: '  RSS after, over before', value: Number(((many.after - many.before) / MIB).toFixed(1)), unit: 'MiB' },
      { name: '  chunks the cloud held at most (limit 8 per connection, 256 in all)', value: many.held, unit: '' },
      { name: `  ${AT_ONCE} downloads together, all bytes over wall time`, value: Number(((AT_ONCE * size) / many.seconds).toFixed(1)), unit: 'MiB/s', anchor: `one alone ${mqttRate.toFixed(1)} MiB/s` },
      { name: 'load average (1 min) after the run', value: loadavg()[0]!, unit: '' },
    ];
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
