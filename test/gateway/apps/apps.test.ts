import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';
import { covers } from '#gateway/ingest/app-grant';
import { closed, connectPacket, until } from '../ingest/fixture.js';

const BIN = fileURLToPath(new URL('../../../gateway/bin/fieldmesh.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

function connected(url: string, opts: mqtt.IClientOptions): Promise<MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, ...opts });
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

function subscribe(c: MqttClient, topic: string): Promise<number> {
  // mqtt.js 5 reports a SUBACK failure (0x80) as an error that carries the packet.
  return new Promise((resolve, reject) =>
    c.subscribe(topic, { qos: 0 }, (err, granted) => {
      const failed = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted?.[0];
      if (failed !== undefined) return resolve(failed);
      return err ? reject(err) : resolve(granted![0]!.qos);
    }),
  );
}

async function metric(httpPort: number, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = text.split('\n').find((l) => l.startsWith(line + ' '));
  return m === undefined ? Number.NaN : Number(m.slice(line.length + 1));
}

/** MQTT 3.1.1 SUBSCRIBE (§3.8) of one filter at QoS 0. */
function subscribePacket(id: number, filter: string): Buffer {
  const t = Buffer.from(filter);
  const body = Buffer.concat([Buffer.from([id >> 8, id & 0xff, t.length >> 8, t.length & 0xff]), t, Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0x82, body.length]), body]);
}

describe('local apps on the gateway broker (app:<id>, read-only, scoped by series pattern)', () => {
  let gw: Gateway | undefined;
  let dir: string | undefined;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await gw?.stop();
    gw = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(maxAppQueueBytes?: number) {
    dir = mkdtempSync(join(tmpdir(), 'fm-apps-'));
    const cfgFile = join(dir, 'gateway.yaml');
    writeFileSync(cfgFile, `id: gw-t\ndataDir: ${join(dir, 'data')}\nbroker: { port: 0, host: 127.0.0.1, devices: [th1, th2]${maxAppQueueBytes ? `, maxAppQueueBytes: ${maxAppQueueBytes}` : ''} }\nhttp: { port: 0 }\n`);
    // The real CLI makes the app credential (it is what a user runs).
    const made = await cli(['gateway', 'add-app', 'ha', '--read', 'th1/*', '--config', cfgFile]);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const password = /password: (\S+)/.exec(made.stdout)![1]!;
    expect(made.stdout).toContain('username: app:ha');
    const again = await cli(['gateway', 'add-app', 'ha', '--read', 'th1/*', '--config', cfgFile]);
    expect(again.code).toBe(1);
    expect((await cli(['gateway', 'add-app', 'bad', '--read', 'no-slash', '--config', cfgFile])).stderr).toMatch(/--read: read pattern "no-slash"/);
    gw = new Gateway(parseGatewayConfig({ id: 'gw-t', dataDir: join(dir, 'data'), broker: { port: 0, host: '127.0.0.1', devices: ['th1', 'th2'], ...(maxAppQueueBytes ? { maxAppQueueBytes } : {}) }, http: { port: 0 } }), { print: () => {} });
    const started = await gw.start();
    const cred = (id: string) => started.newCredentials.find((c) => c.device === id)!.password;
    const url = `mqtt://127.0.0.1:${started.brokerPort}`;
    return { started, url, password, cred };
  }

  it('an app reads fm/r/<series> as readings commit, within its patterns only, and can never publish', async () => {
    const { started, url, password, cred } = await start();
    const app = await connected(url, { clientId: 'app:ha', username: 'app:ha', password });
    clients.push(app);
    const got: Array<[string, unknown]> = [];
    app.on('message', (topic, payload) => got.push([topic, topic.startsWith('fm/r/') ? JSON.parse(payload.toString()) : payload.toString()]));
    expect(await subscribe(app, 'fm/r/th1/+')).toBe(0);
    expect(await subscribe(app, 'fm/g/gw-t/availability')).toBe(0);
    // Outside its patterns: SUBACK failure (0x80), counted.
    expect(await subscribe(app, 'fm/r/th2/temp')).toBe(128);
    expect(await subscribe(app, 'fm/r/#')).toBe(128);
    expect(await subscribe(app, 'fm/d/th1/#')).toBe(128);
    expect(await metric(started.httpPort, 'fieldmesh_ingest_rejected_total{reason="app_subscribe"}')).toBe(3);
    await until(() => got.some(([t, v]) => t === 'fm/g/gw-t/availability' && v === 'online'), 10_000, 'retained availability');

    for (const id of ['th1', 'th2']) {
      const dev = await connected(url, { clientId: id, username: id, password: cred(id) });
      clients.push(dev);
      await new Promise<void>((res, rej) => dev.publish(`fm/d/${id}/senml`, JSON.stringify([{ bn: `${id}/`, n: 'temp', u: 'Cel', v: 21.5, t: 1_800_000_000 }, { n: 'door', vb: true, t: 1_800_000_000 }]), { qos: 1 }, (e) => (e ? rej(e) : res())));
    }
    await until(() => got.filter(([t]) => t.startsWith('fm/r/')).length >= 2, 10_000, 'two th1 readings');
    const readings = got.filter(([t]) => t.startsWith('fm/r/'));
    expect(readings).toEqual([
      ['fm/r/th1/temp', [{ ts: 1_800_000_000_000, value: 21.5, unit: 'Cel' }]],
      ['fm/r/th1/door', [{ ts: 1_800_000_000_000, value: true }]],
    ]);

    // Several readings of a series in one commit arrive as one message, oldest first.
    const th1 = clients.find((c) => c.options.clientId === 'th1')!;
    await new Promise<void>((res, rej) => th1.publish('fm/d/th1/senml', JSON.stringify([{ bn: 'th1/', n: 'temp', u: 'Cel', v: 22, t: 1_800_000_001 }, { n: 'temp', u: 'Cel', v: 23, t: 1_800_000_002 }]), { qos: 1 }, (e) => (e ? rej(e) : res())));
    await until(() => got.filter(([t]) => t === 'fm/r/th1/temp').length >= 2, 10_000, 'the pack');
    expect(got.filter(([t]) => t === 'fm/r/th1/temp')[1]![1]).toEqual([{ ts: 1_800_000_001_000, value: 22, unit: 'Cel' }, { ts: 1_800_000_002_000, value: 23, unit: 'Cel' }]);

    // Publishing as an app is refused and closes the connection; nothing is stored.
    const before = gw!.store.lastSeq();
    const closedApp = new Promise<void>((res) => app.once('close', () => res()));
    app.publish('fm/d/th1/temp', '99', { qos: 1 });
    await closedApp;
    expect(gw!.store.lastSeq()).toBe(before);
    expect(await metric(started.httpPort, 'fieldmesh_ingest_rejected_total{reason="app_publish"}')).toBe(1);

    // An app's client id is bound to it, and a device password is no app password.
    await expect(connected(url, { clientId: 'th1', username: 'app:ha', password })).rejects.toThrow(/Identifier rejected|identifier/i);
    await expect(connected(url, { clientId: 'app:th1', username: 'app:th1', password: cred('th1') })).rejects.toThrow(/Bad username or password|password/i);
    // And an app cannot take over a device's session by its client id.
    await expect(connected(url, { clientId: 'th2', username: 'app:ha', password })).rejects.toThrow(/Identifier rejected|identifier/i);
  });

  it('an app that stops reading is cut off and counted; devices go on being acknowledged', async () => {
    const { started, url, password, cred } = await start(64 * 1024);
    const sock: Socket = await new Promise((resolve, reject) => {
      const s = netConnect(started.brokerPort, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
    sock.on('error', () => {});
    const suback = new Promise<void>((resolve) => {
      let seen = Buffer.alloc(0);
      const onData = (b: Buffer) => {
        seen = Buffer.concat([seen, b]);
        // CONNACK (0x20 0x02 0x00 0x00), then SUBACK (0x90) granting QoS 0.
        if (seen.includes(Buffer.from([0x90, 0x03, 0x00, 0x01, 0x00]))) {
          sock.off('data', onData);
          resolve();
        }
      };
      sock.on('data', onData);
    });
    sock.write(connectPacket('app:ha', 'app:ha', password));
    sock.write(subscribePacket(1, 'fm/r/th1/+'));
    await suback;
    // Never read: the kernel buffers fill, then the gateway's queue for it grows past the cap.
    sock.pause();
    const dev = await connected(url, { clientId: 'th1', username: 'th1', password: cred('th1') });
    clients.push(dev);
    const big = 'x'.repeat(1000);
    let acked = 0;
    for (let i = 0; i < 400; i++) {
      const pack = JSON.stringify([{ bn: 'th1/', n: 'log', vs: big, t: 1_800_000_000 + i }, ...Array.from({ length: 49 }, (_, k) => ({ n: 'log', vs: big, t: 1_800_000_000 + i + (k + 1) / 100 }))]);
      await new Promise<void>((res, rej) => dev.publish('fm/d/th1/senml', pack, { qos: 1 }, (e) => (e ? rej(e) : res())));
      acked++;
      if (i % 20 === 0 && (await metric(started.httpPort, 'fieldmesh_apps_cut_slow_total')) >= 1) break;
    }
    expect(await metric(started.httpPort, 'fieldmesh_apps_cut_slow_total')).toBe(1);
    expect(await metric(started.httpPort, 'fieldmesh_ingest_rejected_total{reason="slow_consumer"}')).toBe(1);
    expect(await metric(started.httpPort, 'fieldmesh_apps_connected')).toBe(0);
    await closed(sock, 10_000);
    // Ingest went on: every pack was acknowledged and stored.
    expect(gw!.store.lastSeq()).toBe(acked * 50);
  });
});

describe('series pattern covers an MQTT filter', () => {
  it.each([
    ['th1/*', 'th1/+', true],
    ['th1/*', 'th1/#', true],
    ['th1/*', 'th1/a/b', true],
    ['th1/*', '+/temp', false],
    ['th1/*', '#', false],
    ['*/*', '#', true],
    ['*/*', '+/+', true],
    ['*/temp', '+/temp', true],
    ['*/temp', '+/+', false],
    ['*/temp', 'th1/temp', true],
    ['rack/*/t', 'rack/+/t', true],
    ['rack/*/t', 'rack/a/+', false],
    ['rack/*/t', 'rack/a/t/#', false],
    ['th1/temp', 'th1/temp', true],
    ['th1/temp', 'th1/+', false],
  ])('%s covers fm/r/%s: %s', (pattern, filter, want) => {
    expect(covers(pattern, filter.split('/'))).toBe(want);
  });
});
