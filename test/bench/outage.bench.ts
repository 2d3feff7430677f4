import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '@fieldmesh/device-sdk';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { MqttUplinkLink, type LinkSession, type UplinkLink } from '#gateway/uplink/uplink-link';
import { Uplink } from '#gateway/uplink/uplink';
import { freePort, labConfig } from '../cloud-bridge/cloud-fixture.js';
import type { BenchRow } from './harness.js';

/**
 * An outage, in real time: readings are recorded at rate R (group commits every 100 ms into a
 * SQLite reading log, as the ingest does) while the cloud is unreachable for T seconds; then the
 * cloud bridge comes up (in process, embedded aedes, SQLite FULL) and the uplink drains the backlog
 * while recording goes on. Drain rate = readings acked per second from the reconnect (link
 * up) until the uplink has caught up, against R (target: >= 5x). A second run does
 * the same with `maxBytesPerSecond` set and reports the bytes/s actually sent against the cap.
 * Env: FM_OUTAGE_RATE (R, default 2000/s), FM_OUTAGE_S (T, default 60), FM_OUTAGE_CAP (default 8000 B/s).
 */
const R = Number(process.env.FM_OUTAGE_RATE ?? 2000);
const T = Number(process.env.FM_OUTAGE_S ?? 60);
const CAP = Number(process.env.FM_OUTAGE_CAP ?? 8000);
const SERIES = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Appends R readings/s in 100 ms group commits until stopped: 100 series, slow random walks. */
function recorder(log: SqliteReadingLog): { stop: () => void; appended: () => number } {
  let n = 0;
  let seed = 11;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const level = Array.from({ length: SERIES }, (_, i) => 2000 + i * 10);
  const started = performance.now();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - started) / 1000) * R);
    const chunk: Reading[] = [];
    for (; n < due; n++) {
      const s = n % SERIES;
      if (rand() < 0.2) level[s]! += rand() < 0.5 ? -1 : 1;
      // Each series samples at its own phase, with a few ms of jitter, as real sensors do.
      chunk.push({ series: `sensor${s}/temp`, ts: Date.now() - 100 + s + Math.floor(rand() * 20), value: level[s]! / 100, unit: 'Cel' });
    }
    if (chunk.length > 0) log.append(chunk);
    setTimeout(tick, 100);
  };
  tick();
  return { stop: () => void (stopped = true), appended: () => n };
}

async function outage(capBytesPerSecond: number | null, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-outage-'));
  const log = new SqliteReadingLog(join(dir, 'gw.sqlite'));
  const port = await freePort();
  const mqttLink = new MqttUplinkLink(`mqtt://127.0.0.1:${port}`);
  let session: LinkSession | null = null;
  const link: UplinkLink = { open: (o, e) => (session = mqttLink.open(o, e)) };
  // Backoff capped at 2 s so the reconnect delay does not dominate a bench of this length
  // (the default cap is 10 s; it is reported separately below).
  const uplink = new Uplink({ gatewayId: 'gw-bench', log, url: `mqtt://127.0.0.1:${port}`, link, backoffMaxMs: 2000, statusIntervalMs: 60_000, ...(capBytesPerSecond ? { maxBytesPerSecond: capBytesPerSecond } : {}) });
  const rec = recorder(log);
  uplink.start();
  await sleep(seconds * 1000);
  const backlog = log.lastSeq();
  const cloud = await CloudBridge.start(labConfig(join(dir, 'cloud'), { brokerPort: port }));
  const cloudUp = performance.now();
  while (uplink.stats().state !== 'online') await sleep(2);
  // From here on one session carries the whole drain: its byte counts are the drain's.
  const onlineAt = performance.now();
  // Caught up: the watermark reached what was recorded when the outage ended and is within one
  // second of recording behind the live edge.
  const deadline = Date.now() + 30 * 60_000;
  while (!(log.ackWatermark() >= backlog && log.lastSeq() - log.ackWatermark() <= R)) {
    if (Date.now() > deadline) throw new Error(`drain stuck at ${log.ackWatermark()} of ${log.lastSeq()}`);
    await sleep(5);
  }
  const done = performance.now();
  const drained = log.ackWatermark();
  const drainS = (done - onlineAt) / 1000;
  const stats = uplink.stats();
  const wire = (session as LinkSession | null)?.wireBytes() ?? 0;
  rec.stop();
  await uplink.stop();
  await cloud.stop();
  log.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    backlog,
    rate: drained / drainS,
    reconnectS: (onlineAt - cloudUp) / 1000,
    totalS: (done - cloudUp) / 1000,
    payloadBps: stats.bytesSent / drainS,
    wireBps: wire / drainS,
    wirePerReading: wire / drained,
    window: stats.sendWindow,
    drainRateStat: stats.drainRate,
  };
}

export default async function outageBench(): Promise<BenchRow[]> {
  const free = await outage(null, T);
  process.stderr.write(`outage: uncapped done (${free.backlog} backlog)\n`);
  const capped = await outage(CAP, T);
  const ratio = free.rate / R;
  return [
    { name: `outage ${T} s at R = ${R} readings/s: backlog`, value: free.backlog, unit: 'readings' },
    { name: 'drain rate after reconnect (link up -> caught up, recording goes on)', value: Math.round(free.rate), unit: 'readings/s', anchor: 'Kura 1 msg/s; Azure 53 s to drain a 120 s outage' },
    { name: 'drain rate / recording rate R', value: Number(ratio.toFixed(1)), unit: 'x', target: '>= 5', met: ratio >= 5 },
    { name: 'cloud back -> link up (reconnect backoff, capped 2 s here; default cap 10 s)', value: Number(free.reconnectS.toFixed(2)), unit: 's', anchor: 'Azure IoT Edge 60 s backoff' },
    { name: 'cloud back -> caught up', value: Number(free.totalS.toFixed(2)), unit: 's', anchor: `outage was ${T} s` },
    { name: 'wire bytes per reading while draining (all MQTT bytes both ways)', value: Number(free.wirePerReading.toFixed(3)), unit: 'B', anchor: 'Gorilla 1.37 B/point' },
    { name: 'send window at the end (AIMD, batches)', value: free.window, unit: 'batches' },
    { name: `capped run (maxBytesPerSecond ${CAP}, outage ${T} s): payload bytes/s while draining`, value: Math.round(capped.payloadBps), unit: 'B/s', target: `<= ${CAP} +2% (bucket burst)`, met: capped.payloadBps <= CAP * 1.02 },
    { name: 'capped run: wire bytes/s (MQTT framing and acks included)', value: Math.round(capped.wireBps), unit: 'B/s' },
    { name: 'capped run: drain rate / R', value: Number((capped.rate / R).toFixed(1)), unit: 'x' },
    { name: 'capped run: status drainRate (30 s sliding window) at the end', value: capped.drainRateStat, unit: 'readings/s' },
  ];
}
