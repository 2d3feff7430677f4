import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock, silentLogger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { batchSigner, encodeBatch, type AckMessage } from '@fieldmesh/protocol';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { BatchReceiver } from '#cloud-bridge/bridge/batch-receiver';
import { OriginKeys } from '#cloud-bridge/bridge/origin-keys';
import { MemoryCloudStore } from '#cloud-bridge/store/memory-cloud-store';
import { HashedTokenFile } from '#cloud-bridge/http/hashed-token-file';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { fieldmeshBin } from '../e2e/fieldmesh-process.js';
import { labConfig, tempDir } from './cloud-fixture.js';

/**
 * The cloud's secret files (gateways.json: uplink password hashes and origin public keys; the
 * live and fleet admin token files) torn by a power cut or a bad disk: a coded error at start and
 * for every change, never read as "no gateways" or "no tokens", never overwritten.
 */
const tmp = tempDir('fm-cloud-cred-');
afterAll(() => tmp.cleanup());
let n = 0;
const freshDir = () => {
  const d = join(tmp.dir, `d${++n}`);
  mkdirSync(d);
  return d;
};
const later = (file: string) => utimesSync(file, new Date(2_000_000_000_000), new Date(2_000_000_000_000));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [fieldmeshBin, ...args], { cwd: tmp.dir, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const goodGateways = (() => {
  const dir = freshDir();
  const file = join(dir, 'gateways.json');
  const issued = new GatewayCredentials(file).enrol('gw-a');
  return { dir, file, text: readFileSync(file, 'utf8'), ...issued };
})();

const damaged: Array<[string, string | Buffer]> = [
  ['empty', ''],
  ['cut off', goodGateways.text.slice(0, goodGateways.text.length >> 1)],
  ['garbage', Buffer.from([0xde, 0xad, 0, 0xbe, 0xef])],
];

describe('gateways.json', () => {
  it('is written owner-only, leaves no .tmp, and a stale .tmp from a crash is harmless', () => {
    const { dir, file } = goodGateways;
    expect(readdirSync(dir)).toEqual(['gateways.json']);
    writeFileSync(`${file}.tmp`, '{"v":1,"gatew', { mode: 0o644 });
    const creds = new GatewayCredentials(file);
    expect(creds.ids()).toEqual(['gw-a']);
    creds.add('gw-b');
    expect(readdirSync(dir)).toEqual(['gateways.json']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(new GatewayCredentials(file).ids()).toEqual(['gw-a', 'gw-b']);
  });

  it.each(damaged)('%s: FM_ERR_CLOUD_CREDENTIALS naming the file at open and for add-gateway; the file byte for byte as it was', async (_what, bytes) => {
    const dir = freshDir();
    const file = join(dir, 'gateways.json');
    writeFileSync(file, bytes, { mode: 0o600 });
    const before = readFileSync(file);
    expect(() => new GatewayCredentials(file)).toThrow(expect.objectContaining({ code: 'FM_ERR_CLOUD_CREDENTIALS', message: expect.stringContaining(`${file}: is `) }));
    const add = await run(['cloud', 'add-gateway', 'gw-new', '--data-dir', dir]);
    expect(add.code).not.toBe(0);
    expect(add.stderr).toMatch(/FM_ERR_CLOUD_CREDENTIALS/);
    expect(add.stdout).not.toMatch(/password/);
    expect(readFileSync(file).equals(before)).toBe(true);
  }, 30_000);

  it('a cloud bridge does not start on it', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'gateways.json'), '');
    await expect(CloudBridge.start(labConfig(dir, { auth: 'credentials' }))).rejects.toMatchObject({ code: 'FM_ERR_CLOUD_CREDENTIALS', message: expect.stringMatching(/gateways\.json: is empty/) });
    expect(readFileSync(join(dir, 'gateways.json'), 'utf8')).toBe('');
  });

  it('broken while running: every gateway refused (they keep and resend), a change refused, the file not overwritten', async () => {
    const dir = freshDir();
    const file = join(dir, 'gateways.json');
    const creds = new GatewayCredentials(file);
    const password = creds.add('gw-a');
    expect(await creds.verify('gw-a', password)).toBe(true);
    writeFileSync(file, '{"v":1,"gateways":{"gw-a":{"salt":"ab');
    later(file);
    const before = readFileSync(file);
    expect(await creds.verify('gw-a', password)).toBe(false);
    expect(() => creds.add('gw-b')).toThrow(expect.objectContaining({ code: 'FM_ERR_CLOUD_CREDENTIALS' }));
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe('gateways.json damaged under a running bridge: batches are not checked against "no key registered"', () => {
  it.each([['credentials'], ['none']] as const)('auth %s: neither ack nor nack (no quarantine at the gateway), nothing stored; once restored the resend is stored', async (mode) => {
    const dir = freshDir();
    const file = join(dir, 'gateways.json');
    const { signingKey } = new GatewayCredentials(file).enrol('gw-a');
    const text = readFileSync(file);
    const clock = new ManualClock();
    const acks: AckMessage[] = [];
    const store = new MemoryCloudStore();
    const receiver = new BatchReceiver(store, async (_gw, ack) => void acks.push(ack), clock, silentLogger, new RateLimitedLog(silentLogger, clock), 1000, new OriginKeys(new GatewayCredentials(file), mode));
    const batch = (first: number, signed: boolean) =>
      encodeBatch({ gatewayId: 'gw-a', epoch: 'e', readings: [{ seq: first, series: 'd/t', ts: 1000 * first, value: first }] }, signed ? batchSigner(signingKey!).sign : undefined);
    writeFileSync(file, text.subarray(0, 30));
    later(file);
    receiver.receive('gw-a', batch(1, false));
    receiver.receive('gw-a', batch(2, true));
    await receiver.idle();
    expect(acks).toEqual([]);
    expect(receiver.stats.refusedByCode).toEqual({ FM_ERR_CLOUD_CREDENTIALS: 2 });
    writeFileSync(file, text);
    utimesSync(file, new Date(2_000_000_100_000), new Date(2_000_000_100_000));
    receiver.receive('gw-a', batch(1, false));
    receiver.receive('gw-a', batch(2, true));
    await receiver.idle();
    expect(acks.map((a) => (a.ok ? 'ack' : a.code))).toEqual(['FM_ERR_CLOUD_BATCH_SIGNATURE', 'ack']);
  });
});

describe('hashed token files (live and fleet admin tokens)', () => {
  const fail = (why: string) => Object.assign(new Error(`MALFORMED ${why}`), { code: 'OWNER_CODE' });

  it('are written owner-only and leave no .tmp, a stale one from a crash included', () => {
    const dir = freshDir();
    const file = join(dir, 'live-tokens.json');
    writeFileSync(`${file}.tmp`, 'stale', { mode: 0o644 });
    const token = new HashedTokenFile(file, fail).issue('ops', 1);
    expect(new HashedTokenFile(file, fail).identify(token)).toBe('ops');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['live-tokens.json']);
  });

  it.each([['empty', ''], ['cut off', '{"v":1,"tokens":[{"name":"op'], ['garbage', '\u0000\u0000']])('%s: the owner error at open and at issue, never "no tokens", never overwritten', (_what, text) => {
    const file = join(freshDir(), 'fleet-admin-tokens.json');
    writeFileSync(file, text);
    expect(() => new HashedTokenFile(file, fail)).toThrow(/MALFORMED .*fleet-admin-tokens\.json: is (empty|not JSON)/);
    const good = join(freshDir(), 'fleet-admin-tokens.json');
    const store = new HashedTokenFile(good, fail);
    store.issue('ops', 1);
    writeFileSync(good, text);
    later(good);
    expect(() => store.issue('ci', 2)).toThrow(/MALFORMED/);
    expect(readFileSync(good, 'utf8')).toBe(text);
  });
});
