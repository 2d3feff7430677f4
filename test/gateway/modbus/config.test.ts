/** The modbus: config section: templates, defaults, and refusals that name the key and the fix. */
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '#gateway/config/gateway-config';
import { listModbusTemplates } from '#hardware/modbus/index';

const slave = (registers: unknown[], extra: Record<string, unknown> = {}) => ({ modbus: { rtu: [{ path: '/dev/ttyUSB0', slaves: [{ unit: 1, device: 'd', registers, ...extra }] }] } });
const refusal = (input: unknown) => {
  try {
    parseGatewayConfig(input);
  } catch (err) {
    return err as Error & { code: string; path: string };
  }
  throw new Error('accepted');
};

describe('modbus config', () => {
  it('ships the three device templates, each valid', () => {
    expect(listModbusTemplates()).toEqual(expect.arrayContaining(['eastron-sdm120', 'plc-holding-block', 'xy-md02']));
    for (const template of listModbusTemplates()) {
      const cfg = parseGatewayConfig({ modbus: { tcp: [{ host: 'h', slaves: [{ unit: 1, device: 'd', template }] }] } }).modbus;
      expect(cfg.tcp[0]!.slaves[0]!.registers.length, template).toBeGreaterThan(0);
    }
  });

  it('fills defaults: holding uint16 ABCD, 1000 ms polls, 500 ms RTU timeout, one retry, 9600 8N1', () => {
    const cfg = parseGatewayConfig(slave([{ sensor: 'v', function: 'holding', address: 3 }])).modbus;
    const line = cfg.rtu[0]!;
    expect(line).toMatchObject({ baud: 9600, parity: 'none', stopBits: 1, direction: { mode: 'auto' } });
    expect(line.slaves[0]).toMatchObject({ pollMs: 1000, timeoutMs: 500, retries: 1, maxGap: 0 });
    expect(line.slaves[0]!.registers[0]).toMatchObject({ type: 'uint16', order: 'ABCD', length: 1, scale: 1, offset: 0, writable: false });
    expect(cfg.writes).toBe(false);
  });

  it('a TCP endpoint may be given as host:port', () => {
    const tcp = (host: string) => parseGatewayConfig({ modbus: { tcp: [{ host, slaves: [{ unit: 1, device: 'd', template: 'xy-md02' }] }] } }).modbus.tcp[0]!;
    expect(tcp('10.0.0.5:1502')).toMatchObject({ host: '10.0.0.5', port: 1502 });
    expect(tcp('[fd00::5]:503')).toMatchObject({ host: 'fd00::5', port: 503 });
    expect(tcp('plc.local')).toMatchObject({ host: 'plc.local', port: 502 });
    expect(() => tcp('plc.local:99999')).toThrow(/modbus\.tcp\[0\]\.port/);
  });

  it('a template and inline registers combine; the SDM template reads through its gaps', () => {
    const cfg = parseGatewayConfig({ modbus: { rtu: [{ path: '/dev/ttyUSB0', baud: 2400, slaves: [{ unit: 1, device: 'meter', template: 'eastron-sdm120', registers: [{ sensor: 'extra', function: 'holding', address: 12 }] }] }] } }).modbus;
    const s = cfg.rtu[0]!.slaves[0]!;
    expect(s.maxGap).toBe(40);
    expect(s.registers.find((r) => r.sensor === 'voltage')).toMatchObject({ function: 'input', address: 0, type: 'float32', unit: 'V' });
    expect(s.registers.at(-1)!.sensor).toBe('extra');
  });

  it.each([
    [slave([{ sensor: 'a', function: 'holding', address: 0, type: 'float32' }, { sensor: 'b', function: 'holding', address: 1 }]), 'modbus.rtu[0].slaves[0].registers[1].address', /overlaps a \(holding 0\.\.1, float32\)/],
    [slave([{ sensor: 'a', function: 'holding', address: 0, type: 'float' }]), 'modbus.rtu[0].slaves[0].registers[0].type', /expected one of bool, int16/],
    [slave([{ sensor: 'a', function: 'holding', address: 0, type: 'float32', length: 1 }]), 'modbus.rtu[0].slaves[0].registers[0].length', /float32 takes 2 registers, not 1.*int16, uint16/],
    [slave([{ sensor: 'a', function: 'coil', address: 0, type: 'int16' }]), 'modbus.rtu[0].slaves[0].registers[0].type', /use type bool/],
    [slave([{ sensor: 'a', function: 'input', address: 0, writable: true }]), 'modbus.rtu[0].slaves[0].registers[0].writable', /read-only/],
    [slave([{ sensor: 'a', function: 'holding', address: 65535, type: 'uint32' }]), 'modbus.rtu[0].slaves[0].registers[0].address', /past the last address/],
    [slave([{ sensor: 'a', function: 'holding', address: 0, type: 'string' }]), 'modbus.rtu[0].slaves[0].registers[0].length', /needs `length`/],
    [slave([], { template: 'no-such-meter' }), 'modbus.rtu[0].slaves[0].template', /known templates: .*eastron-sdm120/],
    [slave([]), 'modbus.rtu[0].slaves[0]', /needs registers/],
    [slave([{ sensor: 'a', function: 'holding', address: 0, adress: 1 }]), 'modbus.rtu[0].slaves[0].registers[0].adress', /did you mean "address"/],
    [{ modbus: { rtu: [{ path: '/dev/x', slaves: [{ unit: 1, device: 'a', registers: [{ sensor: 'v', function: 'coil', address: 0 }] }, { unit: 1, device: 'b', registers: [{ sensor: 'v', function: 'coil', address: 0 }] }] }] } }, 'modbus.rtu[0].slaves[1].unit', /own unit id/],
    [{ modbus: { rtu: [{ path: '/dev/x', slaves: [{ unit: 0, device: 'a', template: 'xy-md02' }] }] } }, 'modbus.rtu[0].slaves[0].unit', /1 to 247/],
    [{ modbus: { rtu: [{ path: '/dev/x', direction: { mode: 'gpio' }, slaves: [] }] } }, 'modbus.rtu[0].direction.gpioPath', /needs gpioPath/],
    [{ modbus: { tcp: [{ host: 'h', slaves: [{ unit: 1, device: 'p', template: 'plc-holding-block' }] }], actions: [{ rule: 'r', device: 'p', sensor: 'run', value: true }] } }, 'modbus.writes', /set writes: true/],
    [{ modbus: { writes: true, tcp: [{ host: 'h', slaves: [{ unit: 1, device: 'p', template: 'plc-holding-block' }] }], actions: [{ rule: 'r', device: 'p', sensor: 'fault', value: true }] } }, 'modbus.actions[0].sensor', /not writable/],
    [{ serial: [{ path: '/dev/ttyUSB0', profile: 'modbus-rtu', device: 'm' }] }, 'serial[0].profile', /modbus: section/],
  ])('refuses %#, naming the key and the fix', (input, path, message) => {
    const err = refusal(input);
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
  });
});
