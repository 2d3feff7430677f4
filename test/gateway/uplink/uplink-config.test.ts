import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';

describe('uplink config section', () => {
  it('takes TLS files (anchored at the config directory), a byte cap, a window ceiling and state series', () => {
    const c = parseGatewayConfig(
      { uplink: { url: 'mqtts://cloud.example:8883', ca: 'tls/ca.pem', cert: 'tls/gw.pem', key: '/etc/fm/gw.key', maxBytesPerSecond: 2000, maxInFlight: 8, stateSeries: ['*/state', 'relay1/*'] } },
      '/srv/fm',
    );
    expect(c.uplink).toMatchObject({ ca: '/srv/fm/tls/ca.pem', cert: '/srv/fm/tls/gw.pem', key: '/etc/fm/gw.key', maxBytesPerSecond: 2000, maxInFlight: 8, stateSeries: ['*/state', 'relay1/*'] });
  });

  it.each([
    [{ url: 'mqtt://x:1', ca: 'ca.pem' }, 'uplink.ca', /mqtts/],
    [{ url: 'mqtts://x:1', cert: 'c.pem' }, 'uplink.key', /both/],
    [{ url: 'mqtts://x:1', key: 'k.pem' }, 'uplink.cert', /both/],
    [{ url: 'mqtt://x:1', maxBytesPerSecond: -1 }, 'uplink.maxBytesPerSecond', /integer/],
    [{ url: 'mqtt://x:1', stateSeries: ['a/b/c'] }, 'uplink.stateSeries[0]', /device\/sensor/],
  ])('refuses %j naming %s', (uplink, path, why) => {
    let err: (Error & { path?: string }) | null = null;
    try {
      parseGatewayConfig({ uplink });
    } catch (e) {
      err = e as Error & { path?: string };
    }
    expect(err?.path).toBe(path);
    expect(err?.message).toMatch(why);
  });
});
