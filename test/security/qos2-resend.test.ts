import { writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cloud-bridge/cloud-fixture.js';
import { FieldmeshProcess } from '../e2e/fieldmesh-process.js';
import { alive, CHAOS, until } from './attack-fixture.js';

/**
 * A device that resends a QoS 2 PUBLISH (DUP, same packet id) before its PUBREL, as a client
 * does after a lost PUBREC: the reading is stored once [MQTT-4.3.3]. Raw MQTT packets against a
 * real gateway process.
 */
describe('QoS 2 resend before PUBREL (real gateway process)', () => {
  const tmp = tempDir('fm-sec-qos2-');
  let gw: FieldmeshProcess;
  afterAll(async () => {
    await gw?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('stores each QoS 2 message once however often it is resent, and a reused id after PUBREL is a new message', async () => {
    const yaml = join(tmp.dir, 'gateway.yaml');
    writeFileSync(yaml, stringify({ id: 'gw-q', dataDir: join(tmp.dir, 'data'), broker: { port: 0, host: '127.0.0.1', auth: 'none' }, http: { port: 0, host: '127.0.0.1' }, mesh: { port: 0, bind: '127.0.0.1', mdns: false } }), { mode: 0o600 });
    gw = new FieldmeshProcess(['gateway', '--config', yaml, '--log-level', 'warn']);
    const httpPort = Number((await gw.waitForLine(/^http: http:\/\/[^:]+:(\d+)/m))[1]);
    const brokerPort = Number((await gw.waitForLine(/^broker: mqtt:\/\/[^:]+:(\d+)/m))[1]);
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text())?.[1]);

    const s = tcpConnect(brokerPort, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const got: mqttPacket.Packet[] = [];
    parser.on('packet', (p) => got.push(p));
    s.on('data', (d) => parser.parse(d));
    await new Promise<void>((r) => s.once('connect', () => r()));
    const send = (p: object) => s.write(mqttPacket.generate(p as mqttPacket.Packet));
    send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev1', clean: true, keepalive: 60 });
    await until(() => got.some((p) => p.cmd === 'connack'), 'CONNACK');
    const publish = (id: number, value: number, dup: boolean) => send({ cmd: 'publish', topic: 'fm/d/dev1/temp', payload: Buffer.from(String(value)), qos: 2, messageId: id, dup, retain: false });

    const resends = CHAOS ? 50 : 5;
    // Message 7: sent, then resent (DUP) several times before PUBREL, some in the same chunk.
    publish(7, 21, false);
    for (let i = 0; i < resends; i++) publish(7, 21, true);
    await until(() => got.filter((p) => p.cmd === 'pubrec').length >= 1 + resends, 'PUBREC for each copy');
    send({ cmd: 'pubrel', messageId: 7 });
    await until(() => got.some((p) => p.cmd === 'pubcomp'), 'PUBCOMP');
    expect(await metric('fieldmesh_log_last_seq')).toBe(1);
    expect(await metric('fieldmesh_ingest_duplicates_total')).toBe(resends);

    // After PUBREL the id is free: the same id now carries a new message.
    publish(7, 22, false);
    await until(() => got.filter((p) => p.cmd === 'pubrec').length >= 2 + resends, 'PUBREC of the new message');
    send({ cmd: 'pubrel', messageId: 7 });
    await until(async () => (await metric('fieldmesh_log_last_seq')) === 2, 'the new message stored');
    s.destroy();
    expect(alive(gw.child.pid!)).toBe(true);
  }, 60_000);
});
