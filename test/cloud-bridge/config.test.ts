import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCloudConfig, resolveCloudConfig } from '#cloud-bridge/config';
import { CloudError } from '#cloud-bridge/errors';
import { tempDir } from './cloud-fixture.js';

function failure(input: unknown): string {
  try {
    resolveCloudConfig(input, '/srv');
  } catch (err) {
    expect(err).toBeInstanceOf(CloudError);
    expect((err as CloudError).code).toBe('FM_ERR_CLOUD_CONFIG');
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('cloud config', () => {
  it('runs on defaults and freezes the result', () => {
    const c = resolveCloudConfig({}, '/srv');
    expect(c).toMatchObject({ broker: { port: 1884, host: '127.0.0.1', auth: 'credentials' }, http: { port: 8080 }, dataDir: '/srv/cloud-data', store: '/srv/cloud-data/cloud.sqlite' });
    expect(Object.isFrozen(c.broker)).toBe(true);
  });

  it('names the bad key and the fix', () => {
    expect(failure({ brokr: {} })).toMatch(/^brokr: unknown key; known keys here: broker, http, liveMqtt, fleet, dataDir, store/);
    expect(failure({ broker: { port: 70000 } })).toMatch(/^broker\.port: must be an integer port 0\.\.65535/);
    expect(failure({ broker: { auth: 'anonymous' } })).toMatch(/^broker\.auth: must be one of credentials \| none/);
    expect(failure({ http: 'x' })).toMatch(/^http: must be a mapping/);
    expect(failure({ store: 'postgres://a b' })).toMatch(/^store: is not a valid postgres:\/\/ URL/);
    expect(resolveCloudConfig({ store: 'postgres://fm:pw@db:5432/x' }).store).toBe('postgres://fm:pw@db:5432/x');
  });

  it('fleet: release keys must be Ed25519 public keys, the bundle cap a positive integer', () => {
    const key = Buffer.alloc(32, 9).toString('base64');
    expect(resolveCloudConfig({}, '/srv').fleet).toEqual({ releaseKeys: [], maxBundleBytes: 256 * 1024 * 1024 });
    expect(resolveCloudConfig({ fleet: { releaseKeys: [key], maxBundleBytes: 1024 } }, '/srv').fleet).toEqual({ releaseKeys: [key], maxBundleBytes: 1024 });
    expect(failure({ fleet: { releaseKeys: 'abc' } })).toMatch(/^fleet\.releaseKeys: must be a list of Ed25519 public keys/);
    expect(failure({ fleet: { releaseKeys: [Buffer.alloc(31).toString('base64')] } })).toMatch(/^fleet\.releaseKeys: must be a list/);
    expect(failure({ fleet: { maxBundleBytes: 0 } })).toMatch(/^fleet\.maxBundleBytes: must be a positive integer/);
    expect(failure({ fleet: { signingKey: key } })).toMatch(/^fleet\.signingKey: unknown key; known keys here: releaseKeys, maxBundleBytes/);
  });

  it('loads YAML with paths relative to the file', () => {
    const t = tempDir('fm-cloud-cfg-');
    try {
      const f = join(t.dir, 'cloud.yaml');
      writeFileSync(f, 'broker: { port: 0, auth: none }\ndataDir: ./d\n');
      expect(loadCloudConfig(f)).toMatchObject({ broker: { port: 0, auth: 'none' }, dataDir: join(t.dir, 'd') });
      writeFileSync(f, 'broker: [1, 2');
      expect(() => loadCloudConfig(f)).toThrow(/FM_ERR_CLOUD_CONFIG_FILE/);
    } finally {
      t.cleanup();
    }
  });
});
