import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandConfigString, processConfigEnv, type ConfigEnv } from '#device-sdk/config-env';
import { loadGatewayConfig } from '#gateway/config/gateway-config';
import { loadCloudConfig } from '#cloud-bridge/config';

/** The error `fn` throws (the test fails when it does not throw). */
function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected an error');
}
const envOf = (vars: Record<string, string>): ConfigEnv => ({ get: (n) => vars[n] });
const dir = mkdtempSync(join(tmpdir(), 'fm-env-'));
let n = 0;
function file(text: string): string {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, text);
  return f;
}

describe('${VAR} substitution in config values', () => {
  const env = envOf({ HOST: 'cloud.example', EMPTY: '', PW: 'p@ss' });
  it.each([
    ['mqtt://${HOST}:1884', 'mqtt://cloud.example:1884'],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${HOST:-fallback}', 'cloud.example'],
    ['${PW:?the uplink password}', 'p@ss'],
    ['$${HOST} stays', '${HOST} stays'],
    ['no variables', 'no variables'],
    ['${HOST}${HOST}', 'cloud.examplecloud.example'],
  ])('%s → %s', (input, out) => {
    expect(expandConfigString(input, 'k', env).value).toBe(out);
  });

  it.each([
    ['${MISSING}', /MISSING is not set/],
    ['${MISSING:?give the uplink password}', /MISSING is not set: give the uplink password/],
    ['${EMPTY:?required}', /EMPTY is not set: required/],
    ['${unclosed', /unclosed/],
    ['${1BAD}', /not a variable reference/],
  ])('%s is refused', (input, re) => {
    expect(() => expandConfigString(input, 'k', env)).toThrow(re);
  });

  it('reads a systemd credential when the variable is not in the environment', () => {
    const creds = mkdtempSync(join(tmpdir(), 'fm-creds-'));
    writeFileSync(join(creds, 'UPLINK_PASSWORD'), 's3cret\n');
    expect(processConfigEnv({ CREDENTIALS_DIRECTORY: creds }).get('UPLINK_PASSWORD')).toBe('s3cret');
    expect(processConfigEnv({ CREDENTIALS_DIRECTORY: creds, UPLINK_PASSWORD: 'env wins' }).get('UPLINK_PASSWORD')).toBe('env wins');
    expect(processConfigEnv({ CREDENTIALS_DIRECTORY: creds }).get('OTHER')).toBeUndefined();
  });
});

describe('the gateway config loader substitutes every value', () => {
  it('fills ports as numbers, quoted values as strings, list items and nested keys', () => {
    const env = envOf({ PORT: '18830', PW: '123456', GW: 'gw-env', SEED: '10.0.0.2:7946' });
    const c = loadGatewayConfig(
      file('id: ${GW}\nbroker:\n  port: ${PORT}\nmesh:\n  seeds: ["${SEED}"]\nuplink:\n  url: mqtt://cloud:1884\n  password: "${PW}"\n'),
      env,
    );
    expect(c.id).toBe('gw-env');
    expect(c.broker.port).toBe(18830);
    expect(c.mesh.seeds).toEqual(['10.0.0.2:7946']);
    expect(c.uplink?.password).toBe('123456');
  });

  it('a missing variable is an error naming the key path and the variable', () => {
    const f = file('uplink:\n  url: mqtt://cloud:1884\n  password: ${FM_TEST_UPLINK_PW}\n');
    const e = thrown(() => loadGatewayConfig(f, envOf({})));
    expect(e.code).toBe('FM_ERR_CONFIG_ENV');
    expect(e.message).toMatch(/^uplink\.password: .*FM_TEST_UPLINK_PW is not set/s);
    const g = file('serial:\n  - { path: "${TTY:?which serial port}", profile: nmea0183, device: gps1 }\n');
    expect(() => loadGatewayConfig(g, envOf({}))).toThrow(/serial\[0\]\.path.*TTY is not set: which serial port/s);
  });

  it('an expansion never becomes YAML structure', () => {
    const c = loadGatewayConfig(file('id: gw-x\nuplink:\n  url: mqtt://cloud:1884\n  password: ${PW}\n'), envOf({ PW: 'a: b\nc: [d]' }));
    expect(c.uplink?.password).toBe('a: b\nc: [d]');
  });
});

describe('the cloud config loader substitutes too', () => {
  it('fills values and names the key and variable when one is missing', () => {
    const c = loadCloudConfig(file('broker:\n  port: ${CLOUD_PORT:-0}\nstore: ${PG_URL}\n'), envOf({ PG_URL: 'postgres://u:p@db:5432/fm' }));
    expect(c.broker.port).toBe(0);
    expect(c.store).toBe('postgres://u:p@db:5432/fm');
    const e = thrown(() => loadCloudConfig(file('store: ${PG_URL}\n'), envOf({})));
    expect(e.code).toBe('FM_ERR_CLOUD_CONFIG_ENV');
    expect(e.message).toMatch(/store: .*PG_URL is not set/s);
  });
});
