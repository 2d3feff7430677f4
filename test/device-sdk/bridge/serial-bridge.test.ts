/** SerialBridge and the fieldmesh-bridge CLI on a REAL pseudo-terminal, publishing to real aedes. */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialBridge, serialPortSource } from '#device-sdk/bridge/index';
import { DeviceClient } from '#device-sdk/client/index';
import { encodeFrame } from '#device-sdk/frame/index';
import { haveSocat, PtyPair } from '../../gateway/serial/pty.js';
import { TestBroker } from '../client/test-broker.js';
import { waitFor } from '../../wait-for.js';

const bin = fileURLToPath(new URL('../../../device-sdk/bin/fieldmesh-bridge.js', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ pty: PtyPair; broker: TestBroker; send: (b: Uint8Array) => void }> {
  expect(haveSocat(), 'socat must be installed').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'fm-bridge-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pty = new PtyPair(join(dir, 'mcu'), join(dir, 'mcu-side'));
  await pty.start();
  cleanups.push(() => pty.stop());
  const broker = new TestBroker({ mcu1: 'pw' });
  await broker.start();
  cleanups.push(() => broker.stop());
  const send = (b: Uint8Array) => {
    const fd = openSync(pty.sensor, 'w');
    try {
      writeSync(fd, b);
    } finally {
      closeSync(fd);
    }
  };
  return { pty, broker, send };
}

describe('SerialBridge', () => {
  it('publishes fm-frame readings from a real serial port; drops foreign devices, counts gaps and bad frames', async () => {
    const { pty, broker, send } = await setup();
    const client = new DeviceClient({ device: 'mcu1', password: 'pw', gateway: broker.url() }).start();
    cleanups.push(() => client.close());
    const bridge = new SerialBridge({ source: serialPortSource(pty.device, 115200), client }).start();
    cleanups.push(() => bridge.stop());
    await waitFor(() => bridge.stats().open, 'port open');
    const bad = encodeFrame({ seq: 9, readings: [{ sensor: 'x', value: 1 }] });
    bad[4] ^= 0xff;
    send(
      Buffer.concat([
        encodeFrame({ seq: 1, readings: [{ sensor: 't', value: 21.5, type: 'i16', exp: -1 }, { sensor: 'h', value: 40 }] }),
        Buffer.from('boot: hello\r\n'),
        encodeFrame({ device: 'other', seq: 2, readings: [{ sensor: 't', value: 1 }] }),
        bad,
        encodeFrame({ device: 'mcu1', seq: 5, baseTime: Date.UTC(2026, 3, 1), readings: [{ sensor: 'ok', value: true, ageMs: 1000 }] }),
        encodeFrame({ seq: 6, baseTime: 123_456, readings: [{ sensor: 'uptime-as-time', value: 1 }] }),
      ]),
    );
    await waitFor(() => broker.received.length === 2, 'two messages');
    await client.flush(20_000);
    expect(broker.received.map((r) => r.values)).toEqual([[21.5, 40], [true]]);
    await waitFor(() => bridge.stats().unpublishable === 1, 'the frame dated 1970 refused');
    expect(bridge.stats()).toMatchObject({ published: 2, foreign: 1, gaps: 3, unpublishable: 1 });
    expect(bridge.stats().frames.rejected).toBe(2);
  });

  it('fieldmesh-bridge CLI: runs against a real port and gateway, stops cleanly on SIGTERM', async () => {
    const { pty, broker, send } = await setup();
    const proc = spawn(process.execPath, [bin, '--port', pty.device, '--gateway', broker.url(), '--device', 'mcu1', '--baud', '9600'], {
      env: { ...process.env, FIELDMESH_PASSWORD: 'pw' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    cleanups.push(() => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    });
    await waitFor(() => /serial port .* open/.test(stderr) && (broker.aedes?.connectedClients ?? 0) === 1, `bridge ready (stderr: ${stderr})`);
    send(encodeFrame({ seq: 1, readings: [{ sensor: 'co2', value: 612 }] }));
    await waitFor(() => broker.received.length === 1, 'published frame');
    expect(broker.received[0]!.values).toEqual([612]);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('bridge stopped');
  });

  it('fieldmesh-bridge CLI: --help and missing options', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        p.once('exit', (code) => resolve({ code, out, err }));
      });
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/usage: fieldmesh-bridge --port PATH --gateway/);
    const missing = await run(['--port', '/dev/null']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--gateway is required/);
    const badDevice = await run(['--port', '/dev/null', '--gateway', 'mqtt://127.0.0.1:1', '--device', 'no/slash']);
    expect(badDevice.code).toBe(2);
    expect(badDevice.err).toMatch(/option device/);
  });
});
