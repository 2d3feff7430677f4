/**
 * The CPU work origin signatures add to a drain, batch by batch, for instruction counting
 * (test/bench/NOTES.md, "Signing cost on drain"). Both ends run in this one process, so one
 * count covers them. Scenarios:
 *
 * - `drain`: the real Uplink drains BATCHES × 5,000 readings from a real reading log over MQTT on
 *   loopback to a real cloud bridge (aedes, SQLite store, FULL commits), which verifies every
 *   batch when signed (the gateway's key registered) and takes unsigned ones otherwise.
 * - `pack`: only the CPU path a signature touches: read 5,000 readings back, pack them (the
 *   uplink's packBatches), check the origin policy (OriginKeys + checkBatchSignature, as
 *   batch-receiver.ts) and decode; no MQTT, no cloud commit.
 * - `fill`: only the making of the backlog, to subtract.
 * - `sign`: BATCHES signatures (the batchSigner closure) over one 6.2 KB frame, nothing else:
 *   what one signature costs beyond OpenSSL's Ed25519 (callgrind_annotate --inclusive=yes
 *   shows EVP_DigestSign's part).
 *
 *   valgrind --tool=callgrind node --single-threaded --predictable --import tsx \
 *     test/bench/signing-cost.ts signed|unsigned BATCHES drain|pack|fill|sign
 *
 * Run it once without valgrind first, so tsx's transform cache is warm and no counted run
 * compiles TypeScript. The instructions of BATCHES=N minus those of BATCHES=0, over N, are one
 * batch's; `--predictable` keeps V8's compiler and GC on the main thread, in step between runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchSigner, checkBatchSignature, decodeBatch } from '@fieldmesh/protocol';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { packBatches } from '#gateway/uplink/batch-packer';
import { OriginKeys } from '#cloud-bridge/bridge/origin-keys';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { Uplink } from '#gateway/uplink/uplink';
import { MqttUplinkLink } from '#gateway/uplink/uplink-link';

const mode = process.argv[2];
const batches = Number(process.argv[3] ?? 20);
const scenario = process.argv[4] ?? 'drain';
if ((mode !== 'signed' && mode !== 'unsigned') || !Number.isInteger(batches) || batches < 0 || !['drain', 'pack', 'fill', 'sign'].includes(scenario)) {
  console.error('usage: signing-cost signed|unsigned BATCHES drain|pack|fill|sign');
  process.exit(2);
}
const PER_BATCH = 5000;
const SERIES = 100;
const T0 = Date.UTC(2026, 0, 1);

// A fixed key, so every run signs the same bytes.
const signer = batchSigner('nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=');
// Signed: the gateway's key is registered and every batch must verify; unsigned: none is.
const origins = new OriginKeys({ publicKey: () => (mode === 'signed' ? signer.publicKey : undefined) }, 'credentials');

if (scenario === 'sign') {
  const framed = Buffer.alloc(6200, 0x5a);
  let x = 0;
  for (let i = 0; i < batches; i++) x ^= signer.sign(framed)[0]!;
  console.log(JSON.stringify({ scenario, signatures: batches, x }));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'fm-signing-cost-'));
try {
  const log = new SqliteReadingLog(join(dir, 'gateway.db'));
  // The drain bench's backlog: 1 Hz per series, a slow random walk at 0.01 resolution.
  let seed = 42;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const level = Array.from({ length: SERIES }, (_, i) => 2000 + i * 10);
  for (let b = 0; b < batches; b++) {
    const chunk = [];
    for (let i = 0; i < PER_BATCH; i++) {
      const n = b * PER_BATCH + i;
      const s = n % SERIES;
      if (rand() < 0.2) level[s]! += rand() < 0.5 ? -1 : 1;
      chunk.push({ series: `sensor${s}/temp`, ts: T0 + Math.floor(n / SERIES) * 1000 + s * 3 + Math.floor(rand() * 20), value: level[s]! / 100, unit: 'Cel' });
    }
    log.append(chunk);
  }
  // `fill` stops here: its count is the backlog's making, to subtract from a drain's.
  if (scenario === 'pack') pack(log);
  else if (scenario === 'drain') await drain(log);
  log.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function pack(log: SqliteReadingLog): void {
  let after = 0;
  let readings = 0;
  let bytes = 0;
  for (let b = 0; b < batches; b++) {
    const rows = log.readAfter(after, PER_BATCH);
    const packed = packBatches(rows, { gatewayId: 'gw-bench', epoch: log.epoch, maxBatchBytes: 1024 * 1024, ...(mode === 'signed' ? { sign: signer.sign } : {}) }, () => {});
    for (const p of packed) {
      const payload = p.payload!;
      bytes += payload.length;
      // The cloud: the policy's rule, the signature, then the batch.
      const rule = origins.rule('gw-bench', false);
      const ok = rule.verify === null ? rule.allowUnsigned : checkBatchSignature(payload, rule.verify) === 'valid';
      if (!ok) throw new Error('refused by the origin policy');
      readings += decodeBatch(payload).readings.length;
    }
    after = rows.at(-1)!.seq;
  }
  console.log(JSON.stringify({ mode, scenario, batches, readings, bytes }));
}

async function drain(log: SqliteReadingLog): Promise<void> {
  const cloudDir = join(dir, 'cloud');
  if (mode === 'signed') new GatewayCredentials(join(cloudDir, 'gateways.json')).add('gw-bench', { publicKey: signer.publicKey });
  const cloud = await CloudBridge.start(resolveCloudConfig({ broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, dataDir: cloudDir }));
  const url = `mqtt://127.0.0.1:${cloud.brokerPort}`;
  const uplink = new Uplink({ gatewayId: 'gw-bench', log, url, link: new MqttUplinkLink(url), statusIntervalMs: 600_000, ...(mode === 'signed' ? { sign: signer.sign } : {}) });
  uplink.start();
  const total = batches * PER_BATCH;
  // Polled every 50 ms: the poll's own cost stays far below one batch's.
  while (log.ackWatermark() < total) await new Promise((r) => setTimeout(r, 50));
  const stats = uplink.stats();
  await uplink.stop();
  await cloud.stop();
  console.log(JSON.stringify({ mode, scenario, batches, acked: stats.batchesAcked, verified: mode === 'signed' ? 'every batch' : 'none' }));
}
