import { describe, expect, it } from 'vitest';
import type { NetworkInterfaceInfo } from 'node:os';
import { UdpTransport, wildcardAdvertiseHost } from '#gateway/mesh/udp-transport';

const nic = (address: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4') => ({ address, internal, family, netmask: '', mac: '', cidr: null }) as unknown as NetworkInterfaceInfo;

describe('the address a gateway bound to 0.0.0.0 advertises', () => {
  it('is a private IPv4 of a real interface, else any real IPv4, else loopback', () => {
    expect(wildcardAdvertiseHost({ lo: [nic('127.0.0.1', true)], eth0: [nic('fe80::1', false, 'IPv6'), nic('203.0.113.5')], wlan0: [nic('192.168.1.20')] })).toBe('192.168.1.20');
    expect(wildcardAdvertiseHost({ lo: [nic('127.0.0.1', true)], eth0: [nic('203.0.113.5')] })).toBe('203.0.113.5');
    expect(wildcardAdvertiseHost({ lo: [nic('127.0.0.1', true)] })).toBe('127.0.0.1');
  });

  it('is never the wildcard itself on a real socket, and an explicit advertise wins', async () => {
    const t = await UdpTransport.create({ bindHost: '0.0.0.0', port: 0 });
    const a = await UdpTransport.create({ bindHost: '0.0.0.0', port: 0, advertise: '10.9.8.7:7946' });
    try {
      expect(t.address).not.toMatch(/^0\.0\.0\.0:/);
      expect(t.address).toMatch(new RegExp(`^${wildcardAdvertiseHost().replace(/\./g, '\\.')}:\\d+$`));
      expect(a.address).toBe('10.9.8.7:7946');
    } finally {
      await t.close();
      await a.close();
    }
  });
});
