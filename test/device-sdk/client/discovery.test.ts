/** Finding a gateway over real mDNS on loopback (bonjour-service publishing _fieldmesh._udp). */
import { Bonjour } from 'bonjour-service';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceClient, gatewayUrl, MdnsGatewayDiscovery } from '#device-sdk/client/index';
import { TestBroker } from './test-broker.js';

const LOOPBACK = { interface: '127.0.0.1', bind: '0.0.0.0' };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function announce(name: string, mqttPort: number): void {
  const bonjour = new Bonjour(LOOPBACK as Record<string, unknown>);
  bonjour.publish({ name, type: 'fieldmesh', protocol: 'udp', port: 7946, txt: { id: name, mqtt: String(mqttPort) }, disableIPv6: true });
  cleanups.push(() => new Promise<void>((r) => bonjour.unpublishAll(() => bonjour.destroy(() => r()))));
}

describe('gateway discovery', () => {
  it('gatewayUrl prefers the answer source, then IPv4, reads the mqtt TXT port, defaults to 1883', () => {
    expect(gatewayUrl({ addresses: ['192.0.2.2', '127.0.0.1'], referer: { address: '127.0.0.1', family: 'IPv4', port: 5353, size: 1 }, txt: { mqtt: '1' }, host: 'gw' })).toBe('mqtt://127.0.0.1:1');
    expect(gatewayUrl({ addresses: ['fe80::1', '10.0.0.7'], txt: { mqtt: '1884' }, host: 'gw' })).toBe('mqtt://10.0.0.7:1884');
    expect(gatewayUrl({ addresses: [], referer: { address: '::1', family: 'IPv6', port: 5353, size: 1 }, txt: {}, host: 'gw' })).toBe('mqtt://[::1]:1883');
    expect(gatewayUrl({ addresses: ['10.0.0.7'], txt: { mqtt: 'x' }, host: 'gw' })).toBeUndefined();
  });

  it('finds a gateway announced on loopback and a DeviceClient connects through it', async () => {
    const broker = new TestBroker({ 'th-9': 'pw' });
    await broker.start();
    cleanups.push(() => broker.stop());
    announce('gw-test-a', broker.port);
    const url = await new MdnsGatewayDiscovery({ ...LOOPBACK, timeoutMs: 15_000, name: 'gw-test-a' }).find();
    expect(url).toMatch(new RegExp(`^mqtt://127\\.0\\.0\\.1:${broker.port}$`));
    const client = new DeviceClient({ device: 'th-9', password: 'pw', gateway: { mdns: { ...LOOPBACK, timeoutMs: 15_000, gatewayId: 'gw-test-a' } } });
    cleanups.push(() => client.close());
    client.start();
    client.publish([{ sensor: 't', value: 3 }]);
    await client.flush(20_000);
    expect(broker.received.map((r) => r.values)).toEqual([[3]]);
  });

  it('rejects with FM_ERR_CLIENT_DISCOVERY when nobody answers', async () => {
    await expect(new MdnsGatewayDiscovery({ ...LOOPBACK, timeoutMs: 300, name: 'nobody-here' }).find()).rejects.toThrow(/FM_ERR_CLIENT_DISCOVERY/);
  });
});
