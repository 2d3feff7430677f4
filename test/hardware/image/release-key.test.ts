import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '@fieldmesh/hardware/image/identity';
import { readReleasePublicKey } from '@fieldmesh/hardware/image/release-key';
import { renderGatewayConfig, validateProvisioning, type ProvisioningInput } from '#hardware/image/provisioning';
import { DEFAULT_SERVICE_LAYOUT } from '#hardware/image/service/unit';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { parse } from 'yaml';

const dir = mkdtempSync(join(tmpdir(), 'fm-release-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
const pub = raw.toString('base64');

describe('fieldmesh image --release-key', () => {
  it('takes the key itself, the keygen JSON file (public key only) or a one-line text file', async () => {
    expect(await readReleasePublicKey(pub)).toBe(pub);
    const json = join(dir, 'release.key');
    writeFileSync(json, JSON.stringify({ format: 1, kind: 'fieldmesh-release-key', signingKey: 'c2VjcmV0', publicKey: pub, keyId: '0011223344556677' }));
    expect(await readReleasePublicKey(json)).toBe(pub);
    const text = join(dir, 'release.pub');
    writeFileSync(text, `${pub}\n`);
    expect(await readReleasePublicKey(text)).toBe(pub);
  });

  it.each([
    ['a missing file', join(dir, 'nope')],
    ['a key of the wrong length', Buffer.alloc(31).toString('base64')],
  ])('refuses %s with a coded error', async (_what, arg) => {
    await expect(readReleasePublicKey(arg)).rejects.toMatchObject({ code: 'FM_ERR_IMAGE_BAD_OPTION' });
  });

  it('refuses files without a public key, and huge files, without reading them as keys', async () => {
    const noKey = join(dir, 'nokey.json');
    writeFileSync(noKey, JSON.stringify({ signingKey: pub }));
    await expect(readReleasePublicKey(noKey)).rejects.toThrow(/no release public key/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"publicKey": ');
    await expect(readReleasePublicKey(broken)).rejects.toThrow(/no release public key/);
    const big = join(dir, 'big');
    writeFileSync(big, 'A'.repeat(1 << 20));
    await expect(readReleasePublicKey(big)).rejects.toThrow(/not a key file/);
  });

  it('puts the keys into the gateway config as fleet.releaseKeys, and validates them', () => {
    const p: ProvisioningInput = { hostname: 'gw-k', user: 'ops', sshKeys: [], passwordHash: '$6$abcdefgh$ijklmnopqrstuvwxyz', bootMount: '/boot/firmware', releaseKeys: [pub] };
    const { identity } = generateIdentity({ gatewayId: 'gw-k', devices: [], now: new Date(0) });
    expect(renderGatewayConfig(p, identity, DEFAULT_SERVICE_LAYOUT)).toContain(`fleet: { releaseKeys: [${JSON.stringify(pub)}] }`);
    expect(renderGatewayConfig({ ...p, releaseKeys: undefined }, identity, DEFAULT_SERVICE_LAYOUT)).not.toContain('fleet');
    expect(() => validateProvisioning({ ...p, releaseKeys: ['"], evil: [1'] })).toThrow(/release-key/);
    expect(renderGatewayConfig({ ...p, fleetUrl: 'https://cloud.example:8443' }, identity, DEFAULT_SERVICE_LAYOUT)).toContain(`fleet: { releaseKeys: [${JSON.stringify(pub)}], cloudUrl: "https://cloud.example:8443" }`);
    // The gateway's own validator takes what the image writes (key names agree with the agent's).
    const parsed = parseGatewayConfig(parse(renderGatewayConfig({ ...p, fleetUrl: 'https://cloud.example:8443', uplinkUrl: 'mqtts://cloud.example:8883' }, identity, DEFAULT_SERVICE_LAYOUT)), '/etc/fieldmesh');
    expect(parsed.fleet).toMatchObject({ releaseKeys: [pub], cloudUrl: 'https://cloud.example:8443', releasesDir: DEFAULT_SERVICE_LAYOUT.releasesDir });
    expect(() => validateProvisioning({ ...p, fleetUrl: 'https://x/"\nid: evil' })).toThrow(/fleet-url/);
    expect(() => validateProvisioning({ ...p, releaseKeys: undefined, fleetUrl: 'https://cloud.example' })).toThrow(/release-key too/);
  });
});
