import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceClient } from '#device-sdk/client/index';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { Gateway } from '#gateway/gateway';

/**
 * A device finds the real gateway over mDNS: the gateway's `_fieldmesh._udp` record carries TXT
 * `mqtt=<broker port>` (gateway/src/mesh/mdns-discovery.ts), which DeviceClient turns into the
 * broker URL. Loopback only: multicast-dns bound to 127.0.0.1 (bonjour-service needs interface 127.0.0.1, bind 0.0.0.0 for that).
 */
describe('DeviceClient finds a real gateway over mDNS', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('connects to the broker port the gateway announces and its reading is stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-mdns-gw-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const id = `gw-mdns-${randomBytes(3).toString('hex')}`;
    const config = parseGatewayConfig({
      id,
      dataDir: dir,
      broker: { port: 0, host: '127.0.0.1', auth: 'none' },
      http: { port: 0, host: '127.0.0.1' },
      mesh: { port: 0, bind: '127.0.0.1', mdns: true, key: randomBytes(32).toString('base64'), label: `test-${id}` },
    });
    const gw = new Gateway(config, { print: () => {}, mdnsSocket: { interface: '127.0.0.1', bind: '0.0.0.0' } });
    cleanups.push(() => gw.stop());
    const started = await gw.start();

    const client = new DeviceClient({
      device: 'mdns-dev',
      gateway: { mdns: { interface: '127.0.0.1', bind: '0.0.0.0', gatewayId: id, timeoutMs: 10_000 } },
      reconnect: { initialMs: 100, maxMs: 1000 },
    }).start();
    cleanups.push(() => client.close());
    client.publish([{ sensor: 't', value: 21.5 }]);
    await client.flush(30_000);
    expect(client.stats().url).toBe(`mqtt://127.0.0.1:${started.brokerPort}`);
    expect(gw.store.readAfter(0, 10).map((r) => [r.series, r.value])).toEqual([['mdns-dev/t', 21.5]]);
  });
});
