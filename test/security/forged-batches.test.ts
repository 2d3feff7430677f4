import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFile } from '#cloud-bridge/cloud-bridge';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { batchSigner, decodeAck, encodeBatch, relayTopics, uplinkTopics, type AckMessage, type BatchSign, type WireReading } from '@fieldmesh/protocol';
import { tempDir } from '../cloud-bridge/cloud-fixture.js';
import { startBridgeProcess, type BridgeProcess } from '../cloud-bridge/scale/bridge-process.js';
import { alive, CHAOS, until } from './attack-fixture.js';

/**
 * gw-b, a fleet member with a valid login, tries to replace gw-a's future readings: it relays
 * batches "for gw-a" under gw-a's real epoch and next seqs (unsigned, signed with its own key,
 * or gw-a's genuine batch with a value changed), and replays gw-a's batch with other content.
 * Against a real `fieldmesh cloud` process: every forgery is refused with a nack, counted by
 * code in /metrics, nothing forged is stored, and gw-a's genuine readings then land as they are.
 */

const T0 = 1_767_225_600_000;
const readings = (first: number, n: number, value = (seq: number) => 20 + seq / 10): WireReading[] =>
  Array.from({ length: n }, (_, i) => ({ seq: first + i, series: 'dev1/temp', ts: T0 + (first + i) * 1000, value: value(first + i), unit: 'Cel' }));

describe('forged and replaced batches (real cloud process)', () => {
  const tmp = tempDir('fm-sec-forge-');
  let bridge: BridgeProcess;
  const clients: MqttClient[] = [];
  let signA: BatchSign;
  let signB: BatchSign;
  const login: Record<string, string> = {};

  const api = async (path: string): Promise<any> => (await fetch(`http://127.0.0.1:${bridge.httpPort}${path}`, { headers: { authorization: `Bearer ${bridge.liveToken}` } })).json();
  const refusedBy = async (code: string) => {
    const text = await (await fetch(`http://127.0.0.1:${bridge.httpPort}/metrics`, { headers: { authorization: `Bearer ${bridge.liveToken}` } })).text();
    return Number(new RegExp(`^fieldmesh_cloud_refused_total\\{kind="batch",reason="${code}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  };
  const gwA = async () => (await api('/api/gateways')).gateways.find((g: { id: string }) => g.id === 'gw-a') as { epoch: string; ackedSeq: number; readings: number };

  /** Connects as `id` on `clientId`, subscribed to `ackTopic`; acks land in the returned list. */
  async function session(id: string, clientId: string, ackTopic: string): Promise<{ c: MqttClient; acks: AckMessage[] }> {
    const c = connect(`mqtt://127.0.0.1:${bridge.brokerPort}`, { clientId, username: id, password: login[id]!, reconnectPeriod: 0, protocolVersion: 4 });
    clients.push(c);
    await new Promise<void>((r, j) => (c.once('connect', () => r()), c.once('error', j)));
    const acks: AckMessage[] = [];
    c.on('message', (_t, p) => acks.push(decodeAck(p)));
    await c.subscribeAsync(ackTopic, { qos: 1 });
    return { c, acks };
  }

  beforeAll(async () => {
    const dataDir = `${tmp.dir}/data`;
    const creds = new GatewayCredentials(credentialsFile(resolveCloudConfig({ dataDir })));
    const a = creds.enrol('gw-a');
    const b = creds.enrol('gw-b');
    login['gw-a'] = a.password;
    login['gw-b'] = b.password;
    signA = batchSigner(a.signingKey!).sign;
    signB = batchSigner(b.signingKey!).sign;
    bridge = await startBridgeProcess(tmp.dir, { dataDir, broker: { port: 0, host: '127.0.0.1', auth: 'credentials' } });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients.splice(0)) c.end(true);
    expect(alive(bridge.proc.pid!)).toBe(true);
    await bridge.kill('SIGTERM');
    tmp.cleanup();
  });

  it("a relay cannot author gw-a's readings: unsigned, self-signed and altered batches are refused, gw-a's own land intact", async () => {
    const a = await session('gw-a', 'gw-a', uplinkTopics.ack('gw-a'));
    a.c.publish(uplinkTopics.batch('gw-a'), encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(1, 100) }, signA), { qos: 1 });
    await until(() => a.acks.length === 1, 'first batch acked');
    expect(a.acks[0]).toMatchObject({ ok: true, stored: 100 });
    const record = await gwA();
    expect(record).toMatchObject({ epoch: 'e1', ackedSeq: 100 });

    // gw-b reads gw-a's epoch and next seq and relays "gw-a's" seqs 101..200 with its own values.
    const b = await session('gw-b', 'gw-b.relay', relayTopics.ackFilter('gw-b'));
    const forgedReadings = readings(record.ackedSeq + 1, 100, () => 666);
    const genuine = encodeBatch({ gatewayId: 'gw-a', epoch: record.epoch, readings: readings(101, 100) }, signA);
    const altered = Buffer.from(genuine);
    // One byte of the body flipped, CRC recomputed: the frame is well formed, the signature is not.
    altered[40] = altered[40]! ^ 0x01;
    const { crc32 } = await import('node:zlib');
    altered.writeUInt32BE(crc32(altered.subarray(0, altered.length - 4)) >>> 0, altered.length - 4);
    const forgeries = [
      encodeBatch({ gatewayId: 'gw-a', epoch: record.epoch, readings: forgedReadings }),
      encodeBatch({ gatewayId: 'gw-a', epoch: record.epoch, readings: forgedReadings }, signB),
      altered,
    ];
    const rounds = CHAOS ? 50 : 3;
    const before = await refusedBy('FM_ERR_CLOUD_BATCH_SIGNATURE');
    for (let i = 0; i < rounds; i++) for (const f of forgeries) b.c.publish(relayTopics.batch('gw-b', 'gw-a'), f, { qos: 1 });
    await until(() => b.acks.length === rounds * forgeries.length, 'every forgery answered');
    expect(b.acks.every((k) => k.ok === false && k.code === 'FM_ERR_CLOUD_BATCH_SIGNATURE')).toBe(true);
    expect((await refusedBy('FM_ERR_CLOUD_BATCH_SIGNATURE')) - before).toBe(rounds * forgeries.length);
    expect(await gwA()).toMatchObject({ epoch: 'e1', ackedSeq: 100, readings: 100 });

    // gw-a's genuine batch for those seqs is stored as gw-a made it (not taken as a duplicate).
    a.c.publish(uplinkTopics.batch('gw-a'), genuine, { qos: 1 });
    await until(() => a.acks.length === 2, 'genuine batch acked');
    expect(a.acks[1]).toMatchObject({ ok: true, stored: 100, duplicates: 0 });
    const stored = (await api('/api/readings?gateway=gw-a&limit=1000')).readings as Array<{ seq: number; value: number }>;
    expect(stored).toHaveLength(200);
    expect(stored.some((r) => r.value === 666)).toBe(false);

    // The genuine batch relayed by gw-b (a relay doing its job) is a plain duplicate, acked to gw-b.
    b.c.publish(relayTopics.batch('gw-b', 'gw-a'), genuine, { qos: 1 });
    await until(() => b.acks.length === rounds * forgeries.length + 1, 'relayed genuine batch acked');
    expect(b.acks.at(-1)).toMatchObject({ ok: true, stored: 0, duplicates: 100 });
  }, 60_000);

  it('the second line: a signed batch whose seqs exist with other content is refused, counted, never acked as a duplicate', async () => {
    const a = await session('gw-a', 'gw-a', uplinkTopics.ack('gw-a'));
    const before = await refusedBy('FM_ERR_CLOUD_BATCH_CONFLICT');
    const storedBefore = await api('/api/readings?gateway=gw-a&limit=1000');
    // gw-a's own key (a rewound log, or a stolen key): seqs 150..250 with other values.
    a.c.publish(uplinkTopics.batch('gw-a'), encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: readings(150, 101, () => 999) }, signA), { qos: 1 });
    await until(() => a.acks.length === 1, 'answer');
    expect(a.acks[0], JSON.stringify(a.acks[0])).toMatchObject({ ok: false, code: 'FM_ERR_CLOUD_BATCH_CONFLICT' });
    expect((await refusedBy('FM_ERR_CLOUD_BATCH_CONFLICT')) - before).toBe(1);
    // Nothing of it stored: not even the new seqs 201..250, and the record did not move.
    expect(await api('/api/readings?gateway=gw-a&limit=1000')).toEqual(storedBefore);
    expect(await gwA()).toMatchObject({ epoch: 'e1', ackedSeq: 200, readings: 200 });
  }, 60_000);
});
