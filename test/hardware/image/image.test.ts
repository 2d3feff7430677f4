import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { MemoryBootPartition, MtoolsBootPartition } from '#hardware/image/boot-partition';
import { customiseBootPartition, customiseImageFile, type ImageFileRequest } from '@fieldmesh/hardware/image/customise';
import { isImageError } from '#hardware/image/errors';
import { loadOrCreateSite } from '@fieldmesh/hardware/image/identity';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { FileCredentialStore } from '#gateway/ingest/credentials';
import { inspectImage } from '#hardware/image/layout';
import { PI_CMDLINE, PI_CONFIG, makePiImage, requireTools } from './synthetic-image.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const SSH = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0123456789abcdefghijk tester@lab';

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

let dir: string;
let piImage: string;
// Starts with the gzip magic the image tool checks; the rest is filler.
const bundle = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.from('fake bundle '), Buffer.alloc(300_000, 7)]);

function request(out: string, over: Partial<ImageFileRequest> = {}): ImageFileRequest {
  return {
    source: piImage,
    out,
    bundle,
    devices: ['sensor-a', 'sensor-b'],
    provisioning: {
      hostname: 'gw-north-1',
      user: 'ops',
      sshKeys: [SSH],
      wifi: { ssid: 'farm net', passphrase: 'correct horse battery', country: 'DE' },
      uplinkUrl: 'mqtts://cloud.example:8883',
      meshSeeds: ['10.0.0.2:7946'],
      bootMount: '/boot/firmware',
    },
    ...over,
  };
}

async function bootOf(img: string): Promise<MtoolsBootPartition> {
  return new MtoolsBootPartition(img, (await inspectImage(img)).boot.offsetBytes);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeDefined();
  expect(isImageError(err) ? err.code : String(err)).toBe(code);
}

beforeAll(() => {
  requireTools();
  dir = mkdtempSync(join(tmpdir(), 'fm-image-'));
  piImage = makePiImage(dir, 'raspios.img');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fieldmesh image on a synthetic Raspberry Pi OS image', () => {
  it('writes the provisioning files with the right contents and leaves the source and root untouched', async () => {
    const before = sha(piImage);
    const out = join(dir, 'gw1.img');
    const r = await customiseImageFile(request(out));
    expect(sha(piImage)).toBe(before);
    expect(existsSync(`${out}.partial`)).toBe(false);

    const boot = await bootOf(out);
    const text = async (p: string) => (await boot.read(p))!.toString('utf8');
    const cmdline = await text('/cmdline.txt');
    expect(cmdline).not.toMatch(/console=serial0/u);
    expect(cmdline).toContain('console=tty1');
    expect(cmdline).toContain('root=PARTUUID=1234abcd-02');
    expect(cmdline.trimEnd().endsWith('systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target')).toBe(true);
    expect(cmdline.split('\n')).toHaveLength(2);
    const config = await text('/config.txt');
    expect(config.startsWith(PI_CONFIG)).toBe(true);
    expect(config).toMatch(/\[all\]\nenable_uart=1\n$/u);

    const firstrun = await text('/firstrun.sh');
    expect(firstrun).toContain("NEW_HOSTNAME='gw-north-1'");
    expect(firstrun).toContain("NEW_USER='ops'");
    expect(spawnSync('bash', ['-n'], { input: firstrun }).status).toBe(0);

    const cfg = parseYaml(await text('/fieldmesh/gateway.yaml')) as Record<string, any>;
    expect(Object.keys(cfg).sort()).toEqual(['broker', 'dataDir', 'http', 'id', 'mesh', 'uplink']);
    expect(cfg.id).toBe('gw-north-1');
    expect(cfg.dataDir).toBe('/var/lib/fieldmesh');
    expect(cfg.broker).toEqual({ port: 1883, auth: 'credentials', devices: ['sensor-a', 'sensor-b'] });
    expect(cfg.mesh.key).toBe(r.identity.clusterKey);
    expect(Buffer.from(cfg.mesh.key, 'base64')).toHaveLength(32);
    expect(cfg.mesh.seeds).toEqual(['10.0.0.2:7946']);
    expect(cfg.uplink).toEqual({ url: 'mqtts://cloud.example:8883', username: 'gw-north-1', password: r.identity.uplink.password });

    // The config the gateway itself accepts, and the credential file its store reads.
    const parsed = parseGatewayConfig(cfg, '/');
    expect(parsed.broker.devices).toEqual(['sensor-a', 'sensor-b']);
    expect(parsed.mesh.key).toBe(r.identity.clusterKey);
    const credDir = mkdtempSync(join(tmpdir(), 'fm-cred-'));
    try {
      const credFile = join(credDir, 'device-credentials.json');
      writeFileSync(credFile, await text('/fieldmesh/device-credentials.json'));
      const store = new FileCredentialStore(credFile);
      expect(r.deviceSecrets).toHaveLength(2);
      expect(store.has('sensor-a') && store.has('sensor-b')).toBe(true);
      expect(await store.verify('sensor-a', Buffer.from(r.deviceSecrets![0]!.password))).toBe(true);
      expect(await store.verify('sensor-a', Buffer.from(r.deviceSecrets![1]!.password))).toBe(false);
      expect(await store.ensure(['sensor-a', 'sensor-b'])).toEqual([]);
    } finally {
      rmSync(credDir, { recursive: true, force: true });
    }

    expect(await text('/fieldmesh/authorized_keys')).toBe(SSH + '\n');
    const wifi = await text('/fieldmesh/wifi.nmconnection');
    expect(wifi).toContain('ssid=farm net');
    expect(wifi).not.toContain('correct horse battery');
    expect(wifi).toMatch(/^psk=[0-9a-f]{64}$/mu);
    expect((await boot.read('/fieldmesh/fieldmesh-bundle.tgz'))!.equals(bundle)).toBe(true);
    expect(await text('/fieldmesh/fieldmesh.service')).toBe(readFileSync(join(repo, 'hardware/systemd/fieldmesh.service'), 'utf8'));
    expect(await text('/fieldmesh/fieldmesh.sysusers')).toContain('m fieldmesh dialout');

    // The device passwords never land on the card, only their hashes.
    const raw = readFileSync(out);
    expect(raw.includes(Buffer.from(r.deviceSecrets![0]!.password))).toBe(false);
    // The ext4 root partition is byte-for-byte the source's.
    const l = await inspectImage(out);
    const src = readFileSync(piImage);
    expect(raw.subarray(l.root.offsetBytes, l.root.offsetBytes + l.root.sizeBytes).equals(src.subarray(l.root.offsetBytes, l.root.offsetBytes + l.root.sizeBytes))).toBe(true);
    // And the FAT file system mtools wrote is clean by dosfstools' own check.
    const bootCopy = join(dir, 'gw1.boot.check');
    writeFileSync(bootCopy, raw.subarray(l.boot.offsetBytes, l.boot.offsetBytes + l.boot.sizeBytes));
    const fsck = spawnSync('fsck.vfat', ['-n', bootCopy], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
  });

  it('gives two images different identities, and one site key to a site on purpose', async () => {
    const a = await customiseImageFile(request(join(dir, 'a.img'), { provisioning: { ...request('').provisioning, hostname: 'gw-a' } }));
    const b = await customiseImageFile(request(join(dir, 'b.img'), { provisioning: { ...request('').provisioning, hostname: 'gw-a' } }));
    expect(a.identity.gatewayId).toBe(b.identity.gatewayId); // asked for the same id
    expect(a.identity.clusterKey).not.toBe(b.identity.clusterKey);
    expect(a.identity.uplink.password).not.toBe(b.identity.uplink.password);
    expect(a.identity.devices[0]!.hash).not.toBe(b.identity.devices[0]!.hash);
    expect(a.deviceSecrets![0]!.password).not.toBe(b.deviceSecrets![0]!.password);

    const siteFile = join(dir, 'north.site.json');
    const site = await loadOrCreateSite(siteFile, 'north');
    expect(statSync(siteFile).mode & 0o777).toBe(0o600);
    const c = await customiseImageFile(request(join(dir, 'c.img'), { siteKey: await loadOrCreateSite(siteFile, undefined) }));
    const d = await customiseImageFile(request(join(dir, 'd.img'), { siteKey: await loadOrCreateSite(siteFile, 'north'), gatewayId: 'gw-d' }));
    expect(c.identity.clusterKey).toBe(site.clusterKey);
    expect(d.identity.clusterKey).toBe(site.clusterKey);
    expect(c.identity.site).toBe('north');
    expect(c.identity.uplink.password).not.toBe(d.identity.uplink.password);
  });

  it('changes nothing more when run twice on the same output', async () => {
    const out = join(dir, 'twice.img');
    const first = await customiseImageFile(request(out));
    const h1 = sha(out);
    const second = await customiseImageFile(request(out));
    expect(second.written).toEqual([]);
    expect(second.reusedIdentity).toBe(true);
    expect(second.deviceSecrets).toBeUndefined();
    expect(second.identity).toEqual(first.identity);
    expect(sha(out)).toBe(h1);
    // A changed option rewrites only what it affects; the identity stays.
    const third = await customiseImageFile(request(out, { provisioning: { ...request('').provisioning, sshKeys: [SSH, SSH.replace('tester', 'other')] } }));
    expect(third.written).toEqual(['/fieldmesh/authorized_keys']);
    expect(third.identity.clusterKey).toBe(first.identity.clusterKey);
  });

  it('refuses images it does not recognise, with a coded error and no output left behind', async () => {
    const junk = join(dir, 'junk.img');
    writeFileSync(junk, Buffer.alloc(1 << 20, 0x41));
    await expectCode(customiseImageFile(request(join(dir, 'o1.img'), { source: junk })), 'FM_ERR_IMAGE_NO_MBR');

    const foreign = makePiImage(dir, 'foreign.img', { foreign: true });
    await expectCode(customiseImageFile(request(join(dir, 'o2.img'), { source: foreign })), 'FM_ERR_IMAGE_NOT_RASPBERRY_PI');
    expect(existsSync(join(dir, 'o2.img'))).toBe(false);
    expect(existsSync(join(dir, 'o2.img.partial'))).toBe(false);

    const truncated = join(dir, 'truncated.img');
    writeFileSync(truncated, readFileSync(piImage));
    truncateSync(truncated, 20 << 20);
    await expectCode(customiseImageFile(request(join(dir, 'o3.img'), { source: truncated })), 'FM_ERR_IMAGE_PARTITION_OUT_OF_RANGE');

    const noFat = join(dir, 'nofat.img');
    writeFileSync(noFat, readFileSync(piImage));
    const fd = openSync(noFat, 'r+');
    writeSync(fd, Buffer.alloc(512), 0, 512, (await inspectImage(piImage)).boot.offsetBytes);
    closeSync(fd);
    await expectCode(customiseImageFile(request(join(dir, 'o4.img'), { source: noFat })), 'FM_ERR_IMAGE_NO_BOOT_PARTITION');

    const gpt = join(dir, 'gpt.img');
    writeFileSync(gpt, readFileSync(piImage));
    execFileSync('sfdisk', ['-q', '--label', 'gpt', gpt], { input: 'size=10M\n', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    await expectCode(customiseImageFile(request(join(dir, 'o5.img'), { source: gpt })), 'FM_ERR_IMAGE_NO_MBR');

    await expectCode(customiseImageFile(request(join(dir, 'o6.img'), { source: join(dir, 'missing.img') })), 'FM_ERR_IMAGE_NOT_FOUND');

    // An existing output this tool did not make is never overwritten.
    const precious = join(dir, 'precious.img');
    writeFileSync(precious, readFileSync(piImage));
    const h = sha(precious);
    await expectCode(customiseImageFile(request(precious)), 'FM_ERR_IMAGE_OUTPUT_EXISTS');
    expect(sha(precious)).toBe(h);
    expect(readdirSync(dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('rejects hostile option values before touching anything', async () => {
    const base = request(join(dir, 'bad.img'));
    const cases: Array<Partial<ImageFileRequest['provisioning']>> = [
      { hostname: 'gw;rm -rf /' },
      { user: "x'$(reboot)" },
      { sshKeys: ['ssh-ed25519 AAAA\nUser=root'] },
      { wifi: { ssid: 'a\nb', passphrase: 'long enough', country: 'DE' } },
      { wifi: { ssid: 'ok', passphrase: 'short', country: 'DE' } },
      { uplinkUrl: 'http://evil' },
      { sshKeys: [], passwordHash: undefined },
    ];
    for (const c of cases) {
      await expectCode(customiseImageFile({ ...base, provisioning: { ...base.provisioning, ...c } }), 'FM_ERR_IMAGE_BAD_OPTION');
    }
    await expectCode(customiseImageFile({ ...base, bundle: Buffer.from('not gzip') }), 'FM_ERR_IMAGE_BAD_OPTION');
    await expectCode(customiseImageFile({ ...base, nodeRuntime: Buffer.from('PK zip') }), 'FM_ERR_IMAGE_BAD_OPTION');
    expect(existsSync(join(dir, 'bad.img'))).toBe(false);
  });

  it('never modifies its input, even an image it made itself', async () => {
    const made = join(dir, 'made.img');
    await customiseImageFile(request(made));
    const h = sha(made);
    await expectCode(customiseImageFile(request(made, { source: made })), 'FM_ERR_IMAGE_BAD_OPTION');
    expect(sha(made)).toBe(h);
  });
});

describe('customiseBootPartition on the in-memory boot partition', () => {
  it('writes each file once, then nothing', async () => {
    const boot = new MemoryBootPartition({ '/config.txt': PI_CONFIG, '/cmdline.txt': PI_CMDLINE, '/start.elf': 'x' });
    const req = { ...request('x'), now: new Date(0) };
    const first = await customiseBootPartition(boot, req);
    expect(first.written).toContain('/firstrun.sh');
    const writes = boot.writes;
    const second = await customiseBootPartition(boot, req);
    expect(second.written).toEqual([]);
    expect(boot.writes).toBe(writes);
    await expect(customiseBootPartition(new MemoryBootPartition({ '/config.txt': '', '/cmdline.txt': '' }), req)).rejects.toMatchObject({
      code: 'FM_ERR_IMAGE_NOT_RASPBERRY_PI',
    });
  });
});

describe('fieldmesh image CLI', () => {
  it('makes an image, writes the secrets file 0600, and reports a refusal with its code', () => {
    const keyFile = join(dir, 'id.pub');
    writeFileSync(keyFile, `# my key\n${SSH}\n`);
    const bundleFile = join(dir, 'bundle.tgz');
    writeFileSync(bundleFile, bundle);
    const out = join(dir, 'cli.img');
    const cli = (args: string[]) => spawnSync(process.execPath, [join(repo, 'gateway/bin/fieldmesh.js'), 'image', ...args], { encoding: 'utf8', cwd: repo, timeout: 120_000 });
    const ok = cli(['--image', piImage, '--out', out, '--bundle', bundleFile, '--ssh-key-file', keyFile, '--hostname', 'gw-cli', '--devices', 'd1']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/^image: copying .*\nimage: writing the boot partition\n$/u);
    expect(ok.stdout).toContain('gateway id: gw-cli');
    const secrets = JSON.parse(readFileSync(`${out}.secrets.json`, 'utf8')) as { devices: Array<{ device: string; password: string }> };
    expect(secrets.devices[0]!.device).toBe('d1');
    expect(statSync(`${out}.secrets.json`).mode & 0o777).toBe(0o600);
    const again = cli(['--image', piImage, '--out', out, '--bundle', bundleFile, '--ssh-key-file', keyFile, '--hostname', 'gw-cli', '--devices', 'd1']);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('files written: none');

    // Without --hostname: a random name the first time, the same one on every re-run.
    const out2 = join(dir, 'cli-random.img');
    const r1 = cli(['--image', piImage, '--out', out2, '--bundle', bundleFile, '--ssh-key-file', keyFile]);
    expect(r1.status, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/gateway id: fm-[0-9a-f]{6}\n/u);
    const r2 = cli(['--image', piImage, '--out', out2, '--bundle', bundleFile, '--ssh-key-file', keyFile]);
    expect(r2.stdout).toContain('files written: none');
    expect(r2.stdout).toContain(r1.stdout.match(/gateway id: (fm-[0-9a-f]{6})/u)![1]!);

    const junk = join(dir, 'junk2.img');
    writeFileSync(junk, Buffer.alloc(4096));
    const ko = cli(['--image', junk, '--out', join(dir, 'cli2.img'), '--bundle', bundleFile, '--ssh-key-file', keyFile]);
    expect(ko.status).toBe(1);
    expect(ko.stderr).toContain('FM_ERR_IMAGE_NO_MBR');
    const usage = cli(['--out', out]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--image is required');
  });
});
