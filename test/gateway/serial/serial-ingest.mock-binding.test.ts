/** SerialIngest through node-serialport's own stream core on its MockBinding (no OS port). */
import { SerialPortMock } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialIngest, StreamSerialLinkOpener } from '#gateway/ingest/serial/index';
import { mhz19Reply } from '#hardware/sensors/index';
import { RecordingSink, waitFor } from './fakes.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
  SerialPortMock.binding.reset();
});

describe('SerialIngest on MockBinding', () => {
  it('writes the MH-Z19 poll command through the stream and reads the reply', async () => {
    SerialPortMock.binding.createPort('/dev/ttyMOCK0', { record: true });
    const created: SerialPortMock[] = [];
    const opener = new StreamSerialLinkOpener((path, baudRate) => {
      const p = new SerialPortMock({ path, baudRate, autoOpen: false });
      created.push(p);
      return p;
    });
    const sink = new RecordingSink();
    const ingest = new SerialIngest({ ports: [{ path: '/dev/ttyMOCK0', baud: 9600, profile: 'mhz19', device: 'co2' }], sink, opener, pollIntervalMs: 50 });
    stops.push(() => ingest.stop());
    ingest.start();
    await waitFor(() => ingest.stats().ports[0]!.pollsSent >= 2, 'two polls');
    const binding = created[0]!.port!;
    await waitFor(() => binding.recording.length >= 18, 'polls recorded by the mock port');
    expect(binding.recording.subarray(0, 9).toString('hex')).toBe('ff0186000000000079');
    binding.emitData(Buffer.from(mhz19Reply(650, 22)));
    await waitFor(() => sink.readings().length === 2, 'reply readings');
    expect(sink.readings().map((r) => r.value)).toEqual([650, 22]);
  });

  it('a port the binding does not know is an open error, retried', async () => {
    const opener = new StreamSerialLinkOpener((path, baudRate) => new SerialPortMock({ path, baudRate, autoOpen: false }));
    const ingest = new SerialIngest({ ports: [{ path: '/dev/ttyNONE', baud: 9600, profile: 'line', device: 'x' }], sink: new RecordingSink(), opener, backoff: { initialMs: 10, maxMs: 20 } });
    stops.push(() => ingest.stop());
    ingest.start();
    await waitFor(() => ingest.stats().ports[0]!.openFailures >= 3, 'three failures');
    expect(ingest.stats().ports[0]!.lastError!.message).toMatch(/does not exist/);
  });
});
