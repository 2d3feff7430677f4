import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { credentialsFile, type CloudBridge } from '#cloud-bridge/cloud-bridge';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { batchSigner, encodeBatch, decodeAck, relayTopics, type BatchSign } from '@fieldmesh/protocol';
import { labConfig, startCloud, tempDir, waitFor } from '../cloud-bridge/cloud-fixture.js';

/**
 * What the cloud accepts from a relay (RELAY.md §4), with credentials, over real MQTT: a known
 * gateway may carry another known gateway's batch on its own relay topic, nothing else.
 */
describe('cloud acceptance of relayed batches', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  const batch = (gatewayId: string, first: number, n: number, sign?: BatchSign) =>
    encodeBatch({ gatewayId, epoch: 'e1', readings: Array.from({ length: n }, (_, i) => ({ seq: first + i, series: 'dev1/t', ts: 1_700_000_000_000 + i, value: first + i })) }, sign);

  async function client(cloud: CloudBridge, id: string, password: string): Promise<MqttClient> {
    const c = connect(`mqtt://127.0.0.1:${cloud.brokerPort}`, { clientId: `${id}.relay`, username: id, password, protocolVersion: 4, reconnectPeriod: 0 });
    cleanups.push(() => void c.end(true));
    await new Promise<void>((resolve, reject) => (c.once('connect', () => resolve()), c.once('error', reject)));
    return c;
  }

  it('commits a relayed batch under the origin, acks it to the relay, and refuses unknown origins, foreign topics and mismatched batches', async () => {
    const t = tempDir('fm-relay-cloud-');
    cleanups.push(t.cleanup);
    const config = labConfig(t.dir, { auth: 'credentials' });
    const creds = new GatewayCredentials(credentialsFile(config));
    // gw-a's batches carry its origin signature; gw-b can forward them, never make one.
    const enrolledB = creds.enrol('gw-b');
    const pb = enrolledB.password;
    const signB = batchSigner(enrolledB.signingKey!).sign;
    const signA = batchSigner(creds.enrol('gw-a').signingKey!).sign;
    const cloud = await startCloud(config);
    cleanups.push(() => cloud.stop());
    const b = await client(cloud, 'gw-b', pb);

    const acks: Array<{ topic: string; ack: ReturnType<typeof decodeAck> }> = [];
    b.on('message', (topic, payload) => acks.push({ topic, ack: decodeAck(payload) }));
    const granted = await b.subscribeAsync(relayTopics.ackFilter('gw-b'), { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    // Another relay's acks: SUBACK 0x80 (mqtt.js rejects the promise).
    await expect(b.subscribeAsync(relayTopics.ackFilter('gw-c'), { qos: 1 })).rejects.toThrow();

    // Made by the relay itself (unsigned, or signed with its own key): refused, never acked.
    await b.publishAsync(relayTopics.batch('gw-b', 'gw-a'), batch('gw-a', 1, 10), { qos: 1 });
    await b.publishAsync(relayTopics.batch('gw-b', 'gw-a'), batch('gw-a', 1, 10, signB), { qos: 1 });
    await waitFor(() => acks.length === 2, 'two nacks');
    expect(acks.map((a) => a.ack)).toMatchObject([{ ok: false, code: 'FM_ERR_CLOUD_BATCH_SIGNATURE' }, { ok: false, code: 'FM_ERR_CLOUD_BATCH_SIGNATURE' }]);
    acks.length = 0;
    expect(await cloud.store.count()).toBe(0);

    await b.publishAsync(relayTopics.batch('gw-b', 'gw-a'), batch('gw-a', 1, 10, signA), { qos: 1 });
    await waitFor(() => acks.length === 1, 'ack of the relayed batch');
    expect(acks[0]).toMatchObject({ topic: relayTopics.ack('gw-b', 'gw-a'), ack: { ok: true, firstSeq: 1, lastSeq: 10, stored: 10 } });
    expect((await cloud.store.readings({ gateway: 'gw-a', limit: 100 })).length).toBe(10);
    expect((await cloud.store.readings({ gateway: 'gw-b', limit: 100 })).length).toBe(0);

    // A batch that names another gateway than the topic's origin: refused, nothing stored.
    await b.publishAsync(relayTopics.batch('gw-b', 'gw-a'), batch('gw-b', 1, 5, signA), { qos: 1 });
    await waitFor(() => acks.length === 2, 'nack');
    expect(acks[1]!.ack).toMatchObject({ ok: false, code: 'FM_ERR_CLOUD_BATCH_GATEWAY' });

    // Unknown origin, relaying "for itself", and publishing as another relay: denied by the ACL.
    const deniedBefore = cloud.access.stats.publishDenied;
    for (const topic of [relayTopics.batch('gw-b', 'gw-unknown'), relayTopics.batch('gw-b', 'gw-b'), relayTopics.batch('gw-c', 'gw-a')]) {
      const c = await client(cloud, 'gw-b', pb);
      c.publish(topic, batch('gw-a', 100, 1), { qos: 1 });
      await waitFor(() => cloud.access.stats.publishDenied > deniedBefore, `denied ${topic}`);
    }
    await waitFor(() => cloud.access.stats.publishDenied >= deniedBefore + 3, 'three denials');
    await cloud.receiver.idle();
    expect((await cloud.store.readings({ gateway: 'gw-a', limit: 100 })).length).toBe(10);
    expect(await cloud.store.count()).toBe(10);
  }, 60_000);
});
