import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, idFromHostname, loadGatewayConfig, parseGatewayConfig } from '#gateway/config/index';

const dir = mkdtempSync(join(tmpdir(), 'fm-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fails(input: unknown): ConfigError {
  try {
    parseGatewayConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('gateway config', () => {
  it('runs on embedded defaults with no config at all', () => {
    const c = loadGatewayConfig();
    expect(c.broker).toMatchObject({ port: 1883, auth: 'credentials', maxConnections: 1000, connectTimeoutMs: 10_000 });
    expect(c.http.port).toBe(8081);
    expect(c.uplink).toBeNull();
    expect(c.id).toBe(idFromHostname());
    expect(c.dataDir).toBe(join(process.cwd(), 'data'));
    expect(Object.isFrozen(c) && Object.isFrozen(c.broker) && Object.isFrozen(c.broker.devices)).toBe(true);
  });

  it('loads the documented example, anchoring dataDir at the file', () => {
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `id: gw-a
dataDir: ./data
broker: { port: 1883, auth: credentials }
http: { port: 8081 }
mesh: { port: 7946, mdns: true, seeds: ["10.0.0.2:7946"], key: ${Buffer.alloc(32, 7).toString('base64')} }
serial: [{ path: /dev/ttyUSB0, baud: 9600, profile: nmea0183, device: gps1 }]
uplink: { url: "mqtt://cloud.example:1884", username: gw-a, password: secret }
rules: []
`,
    );
    const c = loadGatewayConfig(file);
    expect(c.id).toBe('gw-a');
    expect(c.dataDir).toBe(join(dir, 'data'));
    expect(c.serial[0]).toEqual({ path: '/dev/ttyUSB0', baud: 9600, profile: 'nmea0183', device: 'gps1' });
    expect(c.uplink).toMatchObject({ url: 'mqtt://cloud.example:1884', username: 'gw-a', password: 'secret' });
    expect(c.mesh.seeds).toEqual(['10.0.0.2:7946']);
    expect(c.broker.maxPacketBytes).toBe(256 * 1024 + 1024);
  });

  it.each([
    [{ brokr: {} }, 'FM_ERR_CONFIG_UNKNOWN_KEY', 'brokr', 'did you mean "broker"'],
    [{ broker: { prot: 1 } }, 'FM_ERR_CONFIG_UNKNOWN_KEY', 'broker.prot', 'did you mean "port"'],
    [{ broker: { port: '1883' } }, 'FM_ERR_CONFIG_TYPE', 'broker.port', 'expected an integer'],
    [{ broker: { port: 70000 } }, 'FM_ERR_CONFIG_RANGE', 'broker.port', '0 to 65535'],
    [{ broker: { auth: 'open' } }, 'FM_ERR_CONFIG_RANGE', 'broker.auth', 'credentials, none'],
    [{ broker: { devices: ['ok', 'not ok'] } }, 'FM_ERR_CONFIG_RANGE', 'broker.devices[1]', 'device id'],
    [{ http: [] }, 'FM_ERR_CONFIG_TYPE', 'http', 'mapping'],
    [{ mesh: { key: 'c2hvcnQ=' } }, 'FM_ERR_CONFIG_RANGE', 'mesh.key', '32 bytes'],
    [{ mesh: { seeds: ['nohost'] } }, 'FM_ERR_CONFIG_RANGE', 'mesh.seeds[0]', 'host:port'],
    [{ serial: [{ path: '/dev/ttyS0', profile: 'nmea0183' }] }, 'FM_ERR_CONFIG_TYPE', 'serial[0].device', 'required'],
    [{ serial: [{ path: '/dev/ttyS0', profile: 'x', device: 'd', baud: 'fast' }] }, 'FM_ERR_CONFIG_TYPE', 'serial[0].baud', 'integer'],
    [{ uplink: { url: 'http://x' } }, 'FM_ERR_CONFIG_RANGE', 'uplink.url', 'MQTT URL'],
    [{ uplink: { url: 'mqtt://x:1', pasword: 'p' } }, 'FM_ERR_CONFIG_UNKNOWN_KEY', 'uplink.pasword', 'did you mean "password"'],
    [{ rules: [{}] }, 'FM_ERR_CONFIG_TYPE', 'rules[0].kind', 'rule kind'],
    [{ id: 'has space' }, 'FM_ERR_CONFIG_RANGE', 'id', 'gateway id'],
    [[1], 'FM_ERR_CONFIG_TYPE', '', 'mapping'],
  ])('refuses %j with %s at %s', (input, code, path, text) => {
    const err = fails(input);
    expect(err.code).toBe(code);
    expect(err.path).toBe(path);
    expect(err.message).toContain(text);
  });

  it('bounds the relay\'s in-memory cache of fresh readings by relay.recentReadings', () => {
    expect(parseGatewayConfig({}).relay.recentReadings).toBe(50_000);
    expect(parseGatewayConfig({ relay: { recentReadings: 0 } }).relay.recentReadings).toBe(0);
    expect(fails({ relay: { recentReadings: -1 } }).message).toContain('relay.recentReadings');
  });

  it('names the line of a YAML syntax error and refuses duplicate keys', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'id: a\nbroker: { port: 1\n');
    expect(() => loadGatewayConfig(bad)).toThrow(expect.objectContaining({ code: 'FM_ERR_CONFIG_YAML' }));
    writeFileSync(bad, 'id: a\nid: b\n');
    expect(() => loadGatewayConfig(bad)).toThrow(expect.objectContaining({ code: 'FM_ERR_CONFIG_YAML' }));
  });

  it('refuses an alias bomb and a missing file with coded errors', () => {
    const bomb = join(dir, 'bomb.yaml');
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`);
    writeFileSync(bomb, lines.join('\n') + '\n');
    expect(() => loadGatewayConfig(bomb)).toThrow(ConfigError);
    expect(() => loadGatewayConfig(join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: 'FM_ERR_CONFIG_FILE' }));
  });

  it('checks id and fleet.tags against the gateway id grammar, naming the key and the rule', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const file = join(dir, 'tags.yaml');
    writeFileSync(file, `id: gw-a\nfleet:\n  releaseKeys: ["${key}"]\n  tags: [north, site.east_2, ".south"]\n`);
    const err = (() => {
      try {
        loadGatewayConfig(file);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('config was accepted');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.path).toBe('fleet.tags[2]');
    expect(err.message).toMatch(/^fleet\.tags\[2\]: the string "\.south" is not a group tag \(1-64 of letters, digits, \. _ -, starting with a letter or digit\)/);
    writeFileSync(file, `id: gw-a\nfleet:\n  releaseKeys: ["${key}"]\n  tags: [north, site.east_2]\n`);
    expect(loadGatewayConfig(file).fleet?.tags).toEqual(['north', 'site.east_2']);
    for (const id of ['-gw', '.gw', '_gw', 'gw/a', 'gw+', 'a'.repeat(65)]) {
      const e = fails({ id });
      expect([e.path, e.message], id).toEqual(['id', expect.stringMatching(/is not a gateway id \(1-64 of letters, digits, \. _ -, starting with a letter or digit\)|expected 1 to 1024/)]);
    }
  });

  it('derives a valid id from any host name', () => {
    expect(idFromHostname('Pi 4 (Kitchen)')).toBe('pi-4-kitchen-');
    expect(idFromHostname('---')).toBe('gateway');
  });
});
