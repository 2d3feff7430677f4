/**
 * Release bundles over the uplink connection (protocol/FLEET-FORMAT.md §4), with real parts: the
 * real cloud bridge with mTLS on its broker, real gateways whose uplink logs in with a client
 * certificate only (no password, so no credential the HTTP API takes), certificates made with
 * openssl for this run. Also what a hostile gateway can try on the chunk topics.
 */
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type MqttClient } from 'mqtt';
import { bundleTopics, encodeChunkRequest, MAX_CHUNK_BYTES, parseChunk, type ChunkReply } from '#protocol/index';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { Gateway } from '#gateway/gateway';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import type { Pki } from '../../e2e/throwaway-pki.js';
import { startTcpProxy } from '../../fleet/tcp-proxy.js';
import { waitFor } from '../../wait-for.js';
import { ABI, MACHINE, buildBundle, tempRoot, type ServedBundle } from './fleet-fixture.js';
import { baseConfigData, layRoot, type FleetRoot } from './fleet-gateway.js';
import { startMtlsCloud, type MtlsCloud } from './mtls-cloud.js';

const dir = tempRoot('fm-fleet-mqtt-');
let mtls: MtlsCloud;
let pki: Pki;
let cloud: CloudBridge;
let passwords: Record<string, string>;
let bundle: ServedBundle;

const call = (method: string, path: string) => mtls.call(method, path);
const addRelease = (version: string, b: ServedBundle) => mtls.addRelease(version, b);
const desire = (gw: string, version: string) => mtls.desire(gw, version);

type Seen = { id: string; update: { kind: string; target: string; step: string; outcome: string; bytes?: number; reason?: string } | null; refused: Array<{ reason: string }> };
async function seen(gw: string): Promise<Seen | undefined> {
  const s = JSON.parse((await call('GET', '/api/fleet')).text) as { gateways: Array<Seen> };
  return s.gateways.find((x) => x.id === gw);
}

/** A gateway whose uplink is mqtts with a client certificate (CN = its id) and no password. */
async function startCertGateway(r: FleetRoot, gw: string, o: { port?: number; running?: string; env?: Record<string, string>; resendMs?: number } = {}) {
  const data = baseConfigData(r, { gw, brokerUrl: '', cloudUrl: null });
  const cert = pki.client(gw);
  data.uplink = { url: `mqtts://127.0.0.1:${o.port ?? cloud.brokerPort}`, ca: pki.ca, cert: cert.cert, key: cert.key };
  const running = o.running ?? '1.1.0';
  const g = new Gateway(parseGatewayConfig(data, r.root), {
    fleet: { source: { data, baseDir: r.root }, configRevision: null, running: { version: running, releaseDir: join(r.releasesDir, running) }, env: o.env ?? {}, machine: MACHINE, nodeAbi: ABI, retryMs: 200, chunkBytes: 64 * 1024, ...(o.resendMs !== undefined ? { resendMs: o.resendMs } : {}) },
  });
  await g.start();
  let exitCode: number | null = null;
  void g.exitRequest.then((c) => (exitCode = c));
  return { g, exitCode: () => exitCode, stop: () => g.stop() };
}

/** A cert gateway fetching 1.2.0 through a slowed relay, once a third of the bundle is in its part. */
async function aThirdIn(gw: string, resendMs?: number) {
  await desire(gw, '1.2.0');
  const proxy = await startTcpProxy(cloud.brokerPort, { rate: 300_000 });
  const r = layRoot(join(dir, gw));
  const part = join(r.dataDir, 'fleet/downloads/1.2.0.tgz.part');
  const g = await startCertGateway(r, gw, { port: proxy.port, ...(resendMs !== undefined ? { resendMs } : {}) });
  await waitFor(() => existsSync(part) && readFileSync(part).length > bundle.bytes / 3, 'a third downloaded', 30_000);
  return { proxy, r, part, g };
}

/** A raw MQTT client with a password over TLS (the broker asks for a certificate but does not require one). */
async function passwordClient(id: string): Promise<MqttClient> {
  const c = connect(`mqtts://127.0.0.1:${cloud.brokerPort}`, { clientId: id, username: id, password: passwords[id]!, ca: readFileSync(pki.ca), rejectUnauthorized: true, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

const suback = (c: MqttClient, topic: string) =>
  new Promise<number>((resolve) => c.subscribe(topic, { qos: 1 }, (err, granted) => resolve(err ? ((err as { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1) : (granted?.[0]?.qos ?? -1))));

const chunkFigures = () => cloud.fleet.parts!.chunks;

beforeAll(async () => {
  mtls = await startMtlsCloud(dir, { passwordGateways: ['gw-flood', 'gw-honest'] });
  ({ pki, cloud, passwords } = mtls);
  bundle = buildBundle(dir, '1.2.0', { fillerBytes: 900_000 });
  await addRelease('1.2.0', bundle);
}, 60_000);
afterAll(async () => {
  await mtls?.stop();
});

describe('fleet bundles over the uplink, for a gateway with a client certificate only', () => {
  it('set-version → fetched over MQTT (no HTTP credential, no cloudUrl), switched; the trial start confirms; the cloud sees adopted', async () => {
    const gw = 'gw-cert';
    await desire(gw, '1.2.0');
    const r = layRoot(join(dir, gw));
    const sentBefore = chunkFigures().bytesSent;
    const g = await startCertGateway(r, gw);
    try {
      await waitFor(() => g.exitCode() === 75, 'exit 75 after the switch', 30_000);
    } finally {
      await g.stop();
    }
    expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.2.0');
    expect(existsSync(join(r.dataDir, 'fleet/downloads/1.2.0.tgz.part'))).toBe(false);
    // Every byte went over the uplink, once.
    expect(chunkFigures().bytesSent - sentBefore).toBe(bundle.bytes);
    const switched = await seen(gw);
    expect(switched?.update).toMatchObject({ kind: 'release', target: '1.2.0', step: 'switch', bytes: bundle.bytes });

    // The launcher starts 1.2.0 on trial: it proves healthy and confirms; the cloud sees it adopted.
    const t = await startCertGateway(r, gw, { running: '1.2.0', env: { FM_FLEET_TRIAL: '1' } });
    try {
      const adopted = await waitFor(async () => {
        const s = await seen(gw);
        return s?.update?.outcome === 'adopted' && s;
      }, 'the cloud sees 1.2.0 adopted', 30_000);
      expect(adopted.update).toMatchObject({ kind: 'release', target: '1.2.0', step: 'confirm' });
    } finally {
      await t.stop();
    }
  }, 90_000);

  it('a cut link mid-download resumes where it was after the reconnect: no byte is downloaded twice', async () => {
    const gw = 'gw-cut';
    const sentBefore = chunkFigures().bytesSent;
    // No resend by time: only the new session's asking again can finish this attempt.
    const { proxy, r, g } = await aThirdIn(gw, 120_000);
    try {
      proxy.cut();
      await waitFor(() => g.exitCode() === 75, 'exit 75 after the switch', 60_000);
    } finally {
      await g.stop();
      await proxy.close();
    }
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.2.0');
    // Written exactly once; sent again at most what was in flight when the link was cut (the window).
    expect((await seen(gw))?.update).toMatchObject({ step: 'switch', bytes: bundle.bytes });
    const resent = chunkFigures().bytesSent - sentBefore - bundle.bytes;
    expect(resent).toBeGreaterThanOrEqual(0);
    expect(resent).toBeLessThanOrEqual(8 * 64 * 1024);
  }, 90_000);

  it('a gateway stopped mid-download resumes from its .part after the restart (only the rest moves)', async () => {
    const gw = 'gw-restart';
    const { proxy, r, part, g: first } = await aThirdIn(gw);
    await first.stop();
    await proxy.close();
    const kept = readFileSync(part).length;
    expect(kept).toBeGreaterThan(0);
    const g = await startCertGateway(r, gw);
    try {
      await waitFor(() => g.exitCode() === 75, 'exit 75 after the switch', 30_000);
    } finally {
      await g.stop();
    }
    expect((await seen(gw))?.update).toMatchObject({ step: 'switch', bytes: bundle.bytes - kept });
  }, 90_000);

  it('a chunk that is not what was signed (the bundle altered on the cloud): hash mismatch, the part deleted, refused', async () => {
    const gw = 'gw-tamper';
    const b = buildBundle(dir, '1.3.0', { fillerBytes: 200_000 });
    await addRelease('1.3.0', b);
    const file = cloud.fleet.parts!.library.bundle('1.3.0');
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(file, bytes);
    await desire(gw, '1.3.0');
    const r = layRoot(join(dir, gw));
    const g = await startCertGateway(r, gw);
    try {
      const refused = await waitFor(async () => {
        const s = await seen(gw);
        return s?.update?.outcome === 'refused' && s;
      }, 'the cloud sees the refusal', 30_000);
      expect(refused.update).toMatchObject({ target: '1.3.0', step: 'verify' });
      expect(refused.refused.map((x) => x.reason)).toContain('hash-mismatch');
      expect(existsSync(join(r.dataDir, 'fleet/downloads/1.3.0.tgz.part'))).toBe(false);
      expect(existsSync(join(r.dataDir, 'fleet/downloads/1.3.0.tgz'))).toBe(false);
      expect(readlinkSync(join(r.releasesDir, 'current'))).toBe('1.1.0');
      expect(g.exitCode()).toBeNull();
    } finally {
      await g.stop();
    }
  }, 60_000);
});

describe('the chunk topics against a hostile gateway', () => {
  /** Chunk replies a client got, parsed. */
  function replies(c: MqttClient, id: string): ChunkReply[] {
    const got: ChunkReply[] = [];
    c.on('message', (topic, payload) => {
      if (topic !== bundleTopics.chunk(id)) return;
      const p = parseChunk(payload);
      if (p.ok) got.push(p.value);
    });
    return got;
  }
  const ask = (c: MqttClient, id: string, version: string, offset: number, length: number) => c.publish(bundleTopics.get(id), encodeChunkRequest({ version, offset, length }), { qos: 1 });

  it("another gateway's credential can neither subscribe to nor ask for a foreign gateway's chunks", async () => {
    const c = await passwordClient('gw-flood');
    try {
      expect(await suback(c, bundleTopics.chunk('gw-cert'))).toBe(128);
      expect(await suback(c, 'fm/g/+/fleet/bundle/chunk')).toBe(128);
      const denied = cloud.access.stats.publishDenied;
      const sent = chunkFigures().chunksSent;
      c.publish(bundleTopics.get('gw-cert'), encodeChunkRequest({ version: '1.2.0', offset: 0, length: 1000 }), { qos: 1 });
      await waitFor(() => cloud.access.stats.publishDenied > denied, 'the foreign request denied');
      expect(chunkFigures().chunksSent).toBe(sent);
    } finally {
      c.end(true);
    }
  });

  it('refusals name what was wrong: over-long length, no such release, offset past the end; each counted in /metrics', async () => {
    const c = await passwordClient('gw-honest');
    try {
      const got = replies(c, 'gw-honest');
      expect(await suback(c, bundleTopics.chunk('gw-honest'))).toBe(1);
      ask(c, 'gw-honest', '1.2.0', 0, MAX_CHUNK_BYTES + 1);
      ask(c, 'gw-honest', '9.9.9', 0, 1000);
      ask(c, 'gw-honest', '1.2.0', bundle.bytes, 1000);
      ask(c, 'gw-honest', '1.2.0', 1000, 500);
      await waitFor(() => got.length === 4, 'four answers');
      const by = new Map(got.map((x) => [x.kind === 'refusal' ? x.reason : 'data', x]));
      expect([...by.keys()].sort()).toEqual(['bad-length', 'data', 'out-of-range', 'unknown-release']);
      const data = by.get('data') as Extract<ChunkReply, { kind: 'data' }>;
      expect(Buffer.from(data.data).equals(readFileSync(bundle.file).subarray(1000, 1500))).toBe(true);
      expect(data.total).toBe(bundle.bytes);
      const metrics = await (await fetch(`http://127.0.0.1:${cloud.httpPort}/metrics`, { headers: { authorization: `Bearer ${cloud.live.issuedToken}` } })).text();
      for (const reason of ['bad-length', 'unknown-release', 'out-of-range']) expect(metrics).toMatch(new RegExp(`fieldmesh_cloud_refused_total\\{kind="fleet_bundle_chunk",reason="${reason}"\\} [1-9]`));
      expect(metrics).toMatch(/fieldmesh_cloud_fleet_bundle_chunk_bytes_sent_total [1-9]/);
    } finally {
      c.end(true);
    }
  });

  it('a flood of requests for the same chunk from a gateway that stops reading holds at most 8 chunks, the rest refused or dropped and counted; another gateway is served meanwhile', async () => {
    const flood = await passwordClient('gw-flood');
    const honest = await passwordClient('gw-honest');
    try {
      expect(await suback(flood, bundleTopics.chunk('gw-flood'))).toBe(1);
      // It stops reading its socket: what the cloud writes to it only fills the socket buffers.
      (flood.stream as unknown as { pause(): void }).pause();
      const before = { ...chunkFigures().refused };
      const sentBefore = chunkFigures().chunksSent;
      const N = 2000;
      for (let i = 0; i < N; i++) ask(flood, 'gw-flood', '1.2.0', 0, MAX_CHUNK_BYTES);
      const count = (k: 'busy' | 'flood') => (chunkFigures().refused[k] ?? 0) - (before[k] ?? 0);
      let most = 0;
      await waitFor(() => {
        most = Math.max(most, chunkFigures().inFlight);
        return chunkFigures().chunksSent - sentBefore + count('busy') + count('flood') >= N - 8;
      }, 'every flood request answered or counted', 20_000, { everyMs: 1 });
      // Unbounded, that would be 2000 × 256 KiB; what went is what the socket buffers took.
      expect(most).toBeLessThanOrEqual(8);
      expect(chunkFigures().chunksSent - sentBefore).toBeLessThan(N / 20);
      expect(count('busy')).toBeGreaterThan(0);
      expect(count('flood')).toBeGreaterThan(N / 2);

      const got = replies(honest, 'gw-honest');
      expect(await suback(honest, bundleTopics.chunk('gw-honest'))).toBe(1);
      ask(honest, 'gw-honest', '1.2.0', 0, 4096);
      await waitFor(() => got.some((x) => x.kind === 'data'), 'the other gateway served');
    } finally {
      flood.end(true);
      honest.end(true);
    }
    // Its connection gone, so are the chunks it held.
    await waitFor(() => chunkFigures().inFlight === 0, 'slots freed with the connection');
  }, 60_000);
});
