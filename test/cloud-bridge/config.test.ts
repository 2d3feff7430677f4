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
    expect(failure({ brokr: {} })).toMatch(/^brokr: unknown key; known keys here: broker, http, liveMqtt, dataDir, store/);
    expect(failure({ broker: { port: 70000 } })).toMatch(/^broker\.port: must be an integer port 0\.\.65535/);
    expect(failure({ broker: { auth: 'anonymous' } })).toMatch(/^broker\.auth: must be one of credentials \| none/);
    expect(failure({ http: 'x' })).toMatch(/^http: must be a mapping/);
    expect(failure({ store: 'postgres://a b' })).toMatch(/^store: is not a valid postgres:\/\/ URL/);
    expect(resolveCloudConfig({ store: 'postgres://fm:pw@db:5432/x' }).store).toBe('postgres://fm:pw@db:5432/x');
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
