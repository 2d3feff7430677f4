import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { connect } from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { resolveCloudConfig } from '#cloud-bridge/config';
import { encodeBatch } from '@fieldmesh/protocol';
import { connectGateway, startCloud, tempDir, waitFor } from '../cloud-fixture.js';
import { makePki, type Pki } from '../../e2e/throwaway-pki.js';

const T0 = 1_767_225_600_000;

function requireMosquittoSub(): void {
  if (spawnSync('mosquitto_sub', ['--help'], { stdio: 'ignore' }).error) {
    const msg = '\n\n*** mosquitto_sub is missing: install Debian `mosquitto-clients` (listed in .ci/apt-packages) ***\n\n';
    console.error(msg);
    throw new Error(msg);
  }
}

/** A real mosquitto_sub, printing `topic payload` lines; resolves with what it printed when it exits. */
function mosquittoSub(args: string[]): { proc: ChildProcess; out: () => string; exited: Promise<number> } {
  const proc = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-V', 'mqttv311', '-v', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number>((resolve) => proc.once('exit', (code) => resolve(code ?? -1)));
  return { proc, out: () => out, exited };
}


describe('read-only plain MQTT live feed (liveMqtt: TCP and TLS) for mosquitto_sub and friends', () => {
  let tmp: ReturnType<typeof tempDir>;
  let pki: Pki;
  let cloud: CloudBridge | undefined;
  const closers: Array<() => void> = [];
  beforeAll(() => {
    requireMosquittoSub();
    tmp = tempDir('fm-livemqtt-');
    pki = makePki(tmp.dir);
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) c();
    await cloud?.stop();
    cloud = undefined;
  });

  let starts = 0;
  const start = (tls: boolean) =>
    startCloud(
      resolveCloudConfig({
        broker: { port: 0, host: '127.0.0.1', auth: 'none' },
        http: { port: 0, host: '127.0.0.1' },
        liveMqtt: { port: 0, ...(tls ? { tls: { cert: pki.serverCert, key: pki.serverKey } } : {}) },
        dataDir: `${tmp.dir}/cloud-${++starts}`,
      }),
    );

  for (const tls of [false, true]) {
    it(`${tls ? 'TLS' : 'plain TCP'}: mosquitto_sub with a live token gets fm/live readings; a wrong token and a publish are refused`, async () => {
      cloud = await start(tls);
      const port = cloud.live.mqttPort!;
      expect(port).toBeGreaterThan(0);
      const token = cloud.live.issuedToken!;
      const tlsArgs = tls ? ['--cafile', pki.ca] : [];
      const sub = mosquittoSub(['-p', String(port), ...tlsArgs, '-i', 'grafana-feed', '-u', 'telegraf', '-P', token, '-t', 'fm/live/+/+/+', '-C', '2']);
      closers.push(() => sub.proc.kill('SIGKILL'));
      await waitFor(() => (cloud!.live.metrics().mqtt as { connected: number }).connected === 1, 'mosquitto_sub connected');
      const gw = await connectGateway(cloud.brokerPort, 'gw-a');
      closers.push(() => gw.end(true));
      await gw.publishAsync('fm/g/gw-a/batch', encodeBatch({ gatewayId: 'gw-a', epoch: 'e1', readings: [{ seq: 1, series: 'dev1/temp', ts: T0, value: 20.5, unit: 'Cel' }, { seq: 2, series: 'dev1/hum', ts: T0, value: 40 }] }), { qos: 1 });
      expect(await sub.exited).toBe(0);
      const lines = sub.out().trim().split('\n').sort();
      expect(lines).toEqual(['fm/live/gw-a/dev1/hum [{"ts":1767225600000,"value":40}]', 'fm/live/gw-a/dev1/temp [{"ts":1767225600000,"value":20.5,"unit":"Cel"}]']);

      // A wrong token: refused at CONNECT (mosquitto_sub exits non-zero), counted.
      const before = (cloud.live.metrics().mqtt as { authFailures: number }).authFailures;
      const bad = mosquittoSub(['-p', String(port), ...tlsArgs, '-u', 'x', '-P', 'wrong', '-t', 'fm/live/#', '-C', '1']);
      closers.push(() => bad.proc.kill('SIGKILL'));
      expect(await bad.exited).not.toBe(0);
      expect((cloud.live.metrics().mqtt as { authFailures: number }).authFailures).toBe(before + 1);

      // A viewer cannot publish, nor subscribe outside fm/live/, nor take a gateway's session.
      const viewer = connect(`${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`, { clientId: 'gw-a', username: 'v', password: token, reconnectPeriod: 0, protocolVersion: 4, ...(tls ? { ca: (await import('node:fs')).readFileSync(pki.ca) } : {}) });
      closers.push(() => viewer.end(true));
      await new Promise<void>((resolve, reject) => {
        viewer.once('connect', () => resolve());
        viewer.once('error', reject);
      });
      expect(gw.connected).toBe(true);
      await expect(viewer.subscribeAsync('fm/g/gw-a/batch', { qos: 0 })).rejects.toThrow(/Subscribe error/);
      const closed = new Promise<void>((r) => viewer.once('close', () => r()));
      viewer.publish('fm/g/gw-a/batch', 'forged', { qos: 1 });
      await closed;
      expect(gw.connected).toBe(true);
      expect(await cloud.store.count()).toBe(2);
    });
  }

  it('a stranger sending a huge CONNECT is cut by the same small pre-auth cap as /mqtt', async () => {
    cloud = await start(false);
    const s = tcpConnect(cloud.live.mqttPort!, '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    // CONNECT declaring 8 MiB (remaining length 0x80 0x80 0x80 0x04).
    s.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x04]));
    s.write(Buffer.alloc(64 * 1024));
    await new Promise<void>((r) => s.once('close', () => r()));
    const refused = await (await fetch(`http://127.0.0.1:${cloud.httpPort}/metrics`, { headers: { authorization: `Bearer ${cloud.live.issuedToken}` } })).text();
    expect(refused).toMatch(/preauth_packet_too_large[^\n]* [1-9]/);
  });
});
