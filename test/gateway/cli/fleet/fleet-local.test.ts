import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '#device-sdk/clock';
import { generateReleaseKey, signArtifact, verifyArtifact, type ReleaseBody } from '#protocol/index';
import { readConfigSections } from '#gateway/cli/fleet/config-revision-file';
import { highestConfigRevision, highestRollbackOrder } from '#gateway/cli/fleet/fleet-numbering';
import { fleetStatusText, historyText, type FleetView } from '#gateway/cli/fleet/fleet-status-view';
import { rolloutNextStep } from '#gateway/cli/fleet/rollout-commands';
import { readBundle, releaseBody } from '#gateway/cli/fleet/release-bundle';
import { readReleaseKeyFile } from '#gateway/cli/fleet/release-key-file';
import { tempDir } from '../../../cloud-bridge/cloud-fixture.js';
import { makeBundle, manifestOf, runCli } from './fleet-cli-run.js';

const tmp = tempDir('fm-fleet-local-');
afterAll(() => tmp.cleanup());
const dir = tmp.dir;

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  return 'no error';
};

describe('fleet keygen (real CLI)', () => {
  it('writes a 0600 key file, prints keyId, public key and the releaseKeys line, and never overwrites it', async () => {
    const r = await runCli(['fleet', 'keygen', '--out', 'release.key'], dir);
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, 'release.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readReleaseKeyFile(file);
    expect(r.stdout).toContain(`keyId     ${key.keyId}`);
    expect(r.stdout).toContain(`releaseKeys: ["${key.publicKey}"]`);
    // What it signs verifies against the printed public key, and only that one.
    const body: ReleaseBody = { kind: 'release', version: '1.2.0', sha256: 'a'.repeat(64), bytes: 10, commit: 'c1', machine: 'x86_64', nodeAbi: '115', createdAt: new Date(0).toISOString() };
    expect(verifyArtifact(signArtifact(body, key), 'release', [key.publicKey]).ok).toBe(true);
    expect(verifyArtifact(signArtifact(body, key), 'release', [generateReleaseKey().publicKey])).toMatchObject({ ok: false, reason: 'wrong-key' });

    const before = readFileSync(file, 'utf8');
    const again = await runCli(['fleet', 'keygen', '--out', 'release.key'], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('FM_ERR_CLI_FLEET_KEY_EXISTS');
    expect(again.stderr).toContain('--out release.key already exists');
    expect(readFileSync(file, 'utf8')).toBe(before);

    const noOut = await runCli(['fleet', 'keygen'], dir);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain('--out FILE');
  });
});

describe('release key files', () => {
  it('refuses what is not a matching release key, naming --key and the problem', () => {
    const good = generateReleaseKey();
    const other = generateReleaseKey();
    const write = (name: string, content: string): string => {
      const p = join(dir, name);
      writeFileSync(p, content, { mode: 0o600 });
      return p;
    };
    expect(codeOf(() => readReleaseKeyFile(write('notjson.key', 'signingKey=abc')))).toMatch(/FM_ERR_CLI_FLEET_KEY_FILE: --key .*notjson.key is not JSON/);
    expect(codeOf(() => readReleaseKeyFile(write('origin.key', JSON.stringify({ signingKey: good.signingKey, publicKey: good.publicKey }))))).toMatch(/not a fieldmesh release key file/);
    expect(codeOf(() => readReleaseKeyFile(write('mixed.key', JSON.stringify({ ...good, signingKey: other.signingKey }))))).toMatch(/signingKey does not belong to publicKey/);
    expect(codeOf(() => readReleaseKeyFile(write('keyid.key', JSON.stringify({ ...good, keyId: other.keyId }))))).toMatch(/keyId .* is not the id of its publicKey/);
    expect(codeOf(() => readReleaseKeyFile(write('short.key', JSON.stringify({ ...good, publicKey: 'AAAA' }))))).toMatch(/"publicKey" is not base64 of 32 bytes/);
    expect(codeOf(() => readReleaseKeyFile(write('huge.key', ' '.repeat(100_000))))).toMatch(/is 100000 bytes, not a release key file/);
    expect(codeOf(() => readReleaseKeyFile(join(dir, 'missing.key')))).toMatch(/cannot be read: ENOENT/);
    mkdirSync(join(dir, 'adir.key'));
    expect(codeOf(() => readReleaseKeyFile(join(dir, 'adir.key')))).toMatch(/is not a file/);

    const open = write('open.key', JSON.stringify(good));
    chmodSync(open, 0o644);
    const warnings: string[] = [];
    expect(readReleaseKeyFile(open, (l) => warnings.push(l)).keyId).toBe(good.keyId);
    expect(warnings.join()).toMatch(/can be read by other users \(mode 644\); chmod 600/);
  });
});

describe('bundles (real .tgz made with tar)', () => {
  it('reads the manifest, hashes the tarball, and refuses a version mismatch, no manifest, a non-tarball and hostile fields', async () => {
    const tgz = makeBundle(dir, 'b120', manifestOf('1.2.0'));
    const facts = await readBundle(tgz, '1.2.0');
    const raw = readFileSync(tgz);
    expect(facts).toEqual({ version: '1.2.0', commit: 'a1b2c3d4e5f6', machine: 'x86_64', nodeAbi: '115', sha256: createHash('sha256').update(raw).digest('hex'), bytes: raw.length });
    const body = releaseBody(facts, new ManualClock(Date.UTC(2026, 0, 2)));
    expect(body).toMatchObject({ kind: 'release', createdAt: '2026-01-02T00:00:00.000Z', sha256: facts.sha256 });

    await expect(readBundle(tgz, '1.3.0')).rejects.toThrow(/b120.tgz is version 1.2.0, not 1.3.0/);
    await expect(readBundle(makeBundle(dir, 'nomanifest', null), '1.2.0')).rejects.toThrow(/cannot read fieldmesh\/bundle-manifest.json from it/);
    writeFileSync(join(dir, 'plain.tgz'), 'not a gzip at all');
    await expect(readBundle(join(dir, 'plain.tgz'), '1.2.0')).rejects.toThrow(/FM_ERR_CLI_FLEET_BUNDLE/);
    await expect(readBundle(makeBundle(dir, 'hostile', manifestOf('1.2.0', { commit: 'x; rm -rf /' })), '1.2.0')).rejects.toThrow(/"commit" is "x; rm -rf \/", not a short token/);
    await expect(readBundle(makeBundle(dir, 'badver', manifestOf('1.2'), ''), '1.2.0')).rejects.toThrow(/manifest version "1.2" is not MAJOR.MINOR.PATCH/);
    await expect(readBundle(makeBundle(dir, 'nocommit', manifestOf('1.2.0', { commit: undefined })), '1.2.0')).rejects.toThrow(/has no "commit"/);
    // A manifest far too big is not read into memory.
    await expect(readBundle(makeBundle(dir, 'bigmanifest', manifestOf('1.2.0', { native: Array.from({ length: 20_000 }, (_, i) => `n${i}.node`) })), '1.2.0')).rejects.toThrow(/is over 65536 bytes/);
  });
});

describe('config revision files', () => {
  it('takes top-level sections; refuses id, gatewayId, dataDir, fleet, non-mappings, alias bombs and oversize', () => {
    const write = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    expect(readConfigSections(write('ok.yaml', 'rules:\n  - { name: hot, series: boiler/temp, high: 80 }\nstorage:\n  budgetBytes: 1000000\n'))).toEqual({
      rules: [{ name: 'hot', series: 'boiler/temp', high: 80 }],
      storage: { budgetBytes: 1000000 },
    });
    for (const section of ['id', 'gatewayId', 'dataDir', 'fleet']) {
      expect(codeOf(() => readConfigSections(write(`${section}.yaml`, `${section}: x\nrules: []\n`)))).toMatch(new RegExp(`FM_ERR_CLI_FLEET_CONFIG_FILE: --file .* sets ${section}: a revision may not set id, gatewayId, dataDir, fleet`));
    }
    expect(codeOf(() => readConfigSections(write('list.yaml', '- rules\n')))).toMatch(/must be a YAML mapping .* not a list/);
    expect(codeOf(() => readConfigSections(write('empty.yaml', '')))).toMatch(/must be a YAML mapping/);
    expect(codeOf(() => readConfigSections(write('broken.yaml', 'rules: [\n')))).toMatch(/is not valid YAML/);
    expect(codeOf(() => readConfigSections(write('dup.yaml', 'rules: []\nrules: []\n')))).toMatch(/is not valid YAML/);
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    expect(codeOf(() => readConfigSections(write('bomb.yaml', bomb + '\n')))).toMatch(/Excessive alias count.*FM_ERR_CLI_FLEET_CONFIG_FILE/);
    const big = `rules:\n${Array.from({ length: 2000 }, (_, i) => `  - { name: r${i}, series: s/${i}, high: ${i} }`).join('\n')}\n`;
    expect(codeOf(() => readConfigSections(write('big.yaml', big)))).toMatch(/bytes as JSON; a revision is at most/);
  });
});

describe('next revision and rollback order', () => {
  it('are one above the highest the cloud shows anywhere in its answer', () => {
    const fleet = {
      gateways: [
        { id: 'a', running: { version: '1.1.0', configRevision: 4 }, desired: { configRevision: 6, rollback: { body: { kind: 'rollback', order: 3, version: '1.0.0' } } } },
        { id: 'b', running: { configRevision: null }, update: { kind: 'config', target: 9, outcome: 'rolled-back' } },
      ],
      rollouts: [{ id: 'r1', configRevision: 7 }],
    };
    expect(highestConfigRevision(fleet)).toBe(9);
    expect(highestRollbackOrder(fleet)).toBe(3);
    expect(highestConfigRevision({})).toBe(0);
    expect(highestRollbackOrder(null)).toBe(0);
  });
});

describe('fleet usage errors (real CLI)', () => {
  it('names the flag and the fix, exit 2; an unreachable cloud is exit 1', { timeout: 180_000 }, async () => {
    const tgz = makeBundle(dir, 'cli120', manifestOf('1.2.0'));
    await runCli(['fleet', 'keygen', '--out', 'cli.key'], dir);
    const env = { FM_FLEET_TOKEN: 'not-checked-before-local-errors', FM_CLOUD_URL: 'http://127.0.0.1:9' };
    const cases: Array<[string[], RegExp]> = [
      [['fleet'], /a subcommand is needed: keygen, status/],
      [['fleet', 'launch'], /unknown subcommand 'launch'/],
      [['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--key', 'cli.key'], /say whom it is for: --gateway ID, --group TAG or --all \(or --upload-only/],
      [['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--key', 'cli.key', '--upload-only', '--group', 'north'], /--upload-only sets nothing desired/],
      [['fleet', 'set-config', '--file', 'x.yaml', '--key', 'cli.key'], /say whom it is for: --gateway ID, --group TAG or --all/],
      [['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--key', 'cli.key', '--gateway', 'gw-a', '--all'], /--gateway and --all cannot be combined/],
      [['fleet', 'set-version', '1.2', '--bundle', tgz, '--key', 'cli.key', '--all'], /version "1.2" is not MAJOR.MINOR.PATCH/],
      [['fleet', 'set-version', '1.2.0', '--key', 'cli.key', '--all'], /--bundle FILE is required/],
      [['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--all'], /--key FILE is required/],
      [['fleet', 'set-version', '1.3.0', '--bundle', tgz, '--key', 'cli.key', '--all'], /--bundle .*cli120.tgz is version 1.2.0, not 1.3.0: pass the bundle of 1.3.0, or set-version 1.2.0 \(FM_ERR_CLI_FLEET_BUNDLE/],
      [['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--key', tgz, '--all'], /--key .*cli120.tgz is not JSON \(FM_ERR_CLI_FLEET_KEY_FILE/],
      [['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--key', 'cli.key', '--gateway', 'gw/#'], /--gateway "gw\/#" is not a gateway id/],
      [['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--key', 'cli.key', '--group', '.north'], /--group "\.north" is not a tag \(1-64 of letters, digits, \. _ -, starting with a letter or digit\)/],
      [['fleet', 'rollout', '--version', '1.2.0', '--group', '_north'], /--group "_north" is not a tag \(1-64 of letters, digits, \. _ -, starting with a letter or digit\)/],
      [['fleet', 'set-config', '--key', 'cli.key', '--all'], /--file F.yaml is required/],
      [['fleet', 'set-config', '--file', 'x.yaml', '--key', 'cli.key', '--all', '--revision', '-3'], /--revision -3 must be a whole number/],
      [['fleet', 'rollout'], /exactly one of --version V or --config-revision N/],
      [['fleet', 'rollout', '--version', '1.2.0', '--canary', '150'], /--canary 150 must be a whole number from 0 to 100/],
      [['fleet', 'pause'], /pause needs one rollout id/],
      [['fleet', 'rollback', '--key', 'cli.key', '--all'], /rollback needs --version V/],
      [['fleet', 'status', '--verbose'], /unknown option --verbose/],
    ];
    // Four processes at a time: each is a whole CLI start (tsx), seconds apiece on a busy machine.
    for (let i = 0; i < cases.length; i += 4) {
      const batch = cases.slice(i, i + 4);
      const results = await Promise.all(batch.map(([args]) => runCli(args, dir, env)));
      batch.forEach(([args, msg], j) => {
        expect(results[j]!.stderr, args.join(' ')).toMatch(msg);
        expect(results[j]!.code, args.join(' ')).toBe(2);
      });
    }
    const noToken = await runCli(['fleet', 'status', '--url', 'http://127.0.0.1:9'], dir);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/no token: pass --token TOKEN or set FM_FLEET_TOKEN/);

    // A port that was just closed: connection refused, said as such, exit 1.
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const down = await runCli(['fleet', 'status', '--url', `http://127.0.0.1:${port}`, '--token', 't'], dir);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`GET http://127.0.0.1:${port}/api/fleet: ECONNREFUSED \\(FM_ERR_CLI_FLEET_UNREACHABLE: Check --url`));
  });
});

describe('fleet status and history text from a hostile or broken cloud answer', () => {
  it('control characters, C1 and bidi overrides become spaces; wrong shapes print what they can, never throw', () => {
    const esc = '\u001b]0;owned\u0007\u001b[2J';
    const text = fleetStatusText(
      {
        gateways: [
          { id: 'gw-a', tags: ['north'], online: true, running: { version: `1.1.0${esc}`, configRevision: 2 }, desired: { version: '1.2.0' }, update: { kind: 'release', target: '1.2.0', outcome: 'rolled-back', reason: `boom${esc}\u202egnp.exe\u009b31m` }, refused: [] },
          { id: 'gw-b', tags: 'not-a-list' as unknown as string[], online: 'yes' as unknown as boolean, running: null, desired: null, update: 'junk' as unknown as null, refused: 'junk' as unknown as [] },
        ],
        rollouts: [{ id: 4, state: 'stopped', version: '1.2.0', wave: 0, waveCount: 3, progress: { total: 10, reached: 1, adopted: 0, failed: 1, pending: 9 }, stopReason: `x${esc}`, waves: [{ index: 0, members: [{ gateway: 'gw-a', outcome: 'failed', reason: `r${esc}` }, null as unknown as { gateway: string; outcome: string }] }] }],
      },
      'http://cloud',
    );
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(text).toMatch(/^gw-a\s+north\s+online\s+1\.1\.0 .*\/ rev 2\s+1\.2\.0 \/ rev 2\s+rolled-back 1\.2\.0: boom .*gnp\.exe/m);
    expect(text).toMatch(/^gw-b\s+-\s+offline\s+-\s+none set\s+-$/m);
    expect(text).toMatch(/^rollout 4  version 1\.2\.0 to all gateways: stopped \(x .*\); canary wave, 2 waves after it, 0 adopted, 1 failed, 0 pending, 9 not reached$/m);
    expect(text).toMatch(/^ {10}failed gw-a: r /m);
    const fetching = fleetStatusText({ gateways: [{ id: 'gw-f', online: true, running: { version: '1.1.0', configRevision: null }, desired: { version: '1.2.0' }, update: { kind: 'release', target: '1.2.0', step: 'fetch', outcome: 'in-progress', bytes: 5 * 2 ** 20 } }] }, 'http://cloud');
    expect(fetching).toMatch(/^gw-f\s+-\s+online\s+1\.1\.0 \/ base\s+1\.2\.0 \/ base\s+in-progress 1\.2\.0 \(fetch, 5\.00 MiB\)$/m);
    expect(fleetStatusText({ gateways: 'nope', rollouts: 7 } as unknown as FleetView, 'http://cloud')).toMatch(/0 gateways \(0 online\)/);
    // A rollout over as soon as it started is not offered a pause.
    expect(rolloutNextStep({ id: 2, state: 'running' })).toBe('follow it with fieldmesh fleet status; hold it with fieldmesh fleet pause 2, stop it with fieldmesh fleet cancel 2');
    expect(rolloutNextStep({ id: 2, state: 'stopped' })).toMatch(/^stopped already: fieldmesh fleet status lists each failed gateway/);
    expect(rolloutNextStep({ id: 2, state: 'done' })).not.toMatch(/pause/);
    // The gateway's reason for a refusal is printed under the table, hostile text made harmless.
    const refused = fleetStatusText({ gateways: [{ id: 'gw-r', online: true, running: { version: '1.1.0', configRevision: null }, desired: { configRevision: 1 }, refused: [{ kind: 'config', target: '1', reason: 'invalid-config', why: `rules[0].kind: missing${esc}`, at: 'x' }] }] }, 'http://cloud');
    expect(refused).toMatch(/^gw-r\s.*refused config 1: invalid-config$/m);
    expect(refused).toMatch(/^ {10}gw-r refused config 1: invalid-config: rules\[0\]\.kind: missing /m);
    expect(refused).not.toMatch(/\u001b/);
    // A refusal newer than the last update is the last outcome.
    const downgrade = fleetStatusText({ gateways: [{ id: 'gw-d', online: true, running: { version: '1.2.0', configRevision: null }, desired: { version: '1.1.0' }, update: { kind: 'release', target: '1.2.0', outcome: 'adopted', at: '2026-01-01T00:00:00.000Z' }, refused: [{ kind: 'release', target: '1.1.0', reason: 'downgrade', why: 'older than the running 1.2.0', at: '2026-01-01T00:05:00.000Z' }] }] }, 'http://cloud');
    expect(downgrade).toMatch(/^gw-d\s.*refused release 1\.1\.0: downgrade$/m);
    // A refusal of what is no longer desired stays in history only.
    const past = fleetStatusText({ gateways: [{ id: 'gw-r', online: true, running: { version: '1.1.0', configRevision: 2 }, desired: { configRevision: 2 }, refused: [{ kind: 'config', target: '1', reason: 'invalid-config', why: 'rules[0].kind: missing', at: 'x' }] }] }, 'http://cloud');
    expect(past).not.toMatch(/rules\[0\]/);

    const h = historyText([{ at: 1e300, gateway: 'gw-a', kind: `desired${esc}`, version: '1.2.0' }, 'junk', null, { at: Date.UTC(2026, 0, 1), gateway: null, kind: 'release-added', version: '1.2.0', by: 'ops' }], Date.UTC(2026, 0, 1, 0, 1));
    expect(h).not.toMatch(/\u001b/);
    expect(h).toMatch(/^-\s+gw-a\s+desired .*version=1\.2\.0$/m);
    expect(h).toMatch(/^2026-01-01T00:00:00\.000Z \(1 min ago\)\s+-\s+release-added\s+version=1\.2\.0 by=ops$/m);
    expect(historyText('junk', 0)).toBe('no fleet history yet\n');
  });
});

describe('a bundle upload cut off part way (real sockets)', () => {
  it('exits 1 naming the cloud and its http.requestTimeoutMs, after nothing was set desired', async () => {
    const seen: string[] = [];
    // Answers as the cloud does until the upload, then drops the connection mid-body, as the
    // cloud's request deadline does to a slow upload.
    const server = createHttpServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === 'GET') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: 'no release 1.2.0', code: 'FM_ERR_CLOUD_HTTP_NOT_FOUND' }));
      }
      req.once('data', () => req.socket.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      await runCli(['fleet', 'keygen', '--out', 'cut.key'], dir);
      const tgz = makeBundle(dir, 'cut120', manifestOf('1.2.0'), randomBytes(3_000_000).toString('base64'));
      const r = await runCli(['fleet', 'set-version', '1.2.0', '--bundle', tgz, '--key', 'cut.key', '--all', '--url', `http://127.0.0.1:${port}`, '--token', 't'], dir);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/PUT http:\/\/127\.0\.0\.1:\d+\/api\/fleet\/releases\/1\.2\.0\/bundle: .*; if the cloud is reachable, the [\d.]+ MiB upload may have outlasted its http\.requestTimeoutMs: raise that on the cloud \(FM_ERR_CLI_FLEET_UNREACHABLE/);
      expect(seen).toEqual(['GET /api/fleet/releases/1.2.0', 'PUT /api/fleet/releases/1.2.0/bundle']);
    } finally {
      server.close();
    }
  });
});
