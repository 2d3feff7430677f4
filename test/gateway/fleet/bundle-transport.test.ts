/** Which transport bundles come by (fleet.bundleTransport), and how a wrong value is refused at start. */
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { chooseTransport } from '#gateway/fleet/bundle-source';
import { KEY } from './fleet-fixture.js';

const config = (uplink: Record<string, unknown>, fleet: Record<string, unknown> = {}) =>
  parseGatewayConfig({ id: 'gw-a', dataDir: '/tmp/fm-unused', uplink: { url: 'mqtts://cloud.example:8883', ...uplink }, fleet: { releaseKeys: [KEY.publicKey], ...fleet } }, '/tmp');

describe('fleet.bundleTransport', () => {
  it('defaults to auto: http with an uplink password, the uplink connection without one', () => {
    expect(config({ password: 'pw' }).fleet!.bundleTransport).toBe('auto');
    expect(chooseTransport('auto', true)).toBe('http');
    expect(chooseTransport('auto', false)).toBe('mqtt');
    expect(chooseTransport('mqtt', true)).toBe('mqtt');
    expect(chooseTransport('http', false)).toBe('http');
    expect(config({ password: 'pw' }, { bundleTransport: 'mqtt' }).fleet!.bundleTransport).toBe('mqtt');
  });

  it('anything else is refused naming the key and the values it takes', () => {
    expect(() => config({}, { bundleTransport: 'ftp' })).toThrow(/fleet\.bundleTransport.*auto, http, mqtt/);
    expect(() => config({}, { bundleTransport: 1 })).toThrow(expect.objectContaining({ code: 'FM_ERR_CONFIG_TYPE' }));
  });
});
