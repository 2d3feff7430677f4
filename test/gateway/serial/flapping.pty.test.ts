/**
 * A serial port that keeps disappearing and coming back (a loose USB cable), on real ptys:
 * the reader re-opens every time, never crashes, and reads what is sent while it is open.
 * Short by default; FM_CHAOS=1 flaps 20 times.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SerialIngest } from '#gateway/ingest/serial/index';
import { RecordingSink, waitFor } from './fakes.js';
import { haveSocat, PtyPair } from './pty.js';

const FLAPS = process.env.FM_CHAOS ? 20 : 3;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('serial port flapping (real ptys)', () => {
  it(`re-opens through ${FLAPS} disappearances and reads every line sent while open`, async () => {
    expect(haveSocat(), 'socat must be installed').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'fm-flap-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const pty = new PtyPair(join(dir, 'usb-flaky-if00-port0'), join(dir, 'sensor'));
    await pty.start();
    cleanups.push(() => pty.stop());
    const sink = new RecordingSink();
    const ingest = new SerialIngest({ ports: [{ path: pty.device, baud: 9600, profile: 'line', device: 'flaky' }], sink, backoff: { initialMs: 20, maxMs: 100 } });
    cleanups.push(() => ingest.stop());
    ingest.start();
    for (let i = 0; i <= FLAPS; i++) {
      await waitFor(() => ingest.stats().ports[0]!.opens === i + 1 && ingest.stats().ports[0]!.state === 'open', `open #${i + 1}`);
      const fd = openSync(pty.sensor, 'w');
      writeSync(fd, `n=${i}\n`);
      closeSync(fd);
      await waitFor(() => sink.readings().length === i + 1, `reading ${i}`);
      if (i < FLAPS) {
        await pty.stop();
        await waitFor(() => ingest.stats().ports[0]!.lost === i + 1, `loss #${i + 1}`);
        await pty.start();
      }
    }
    expect(sink.readings().map((r) => r.value)).toEqual(Array.from({ length: FLAPS + 1 }, (_, i) => i));
    expect(ingest.stats().ports[0]).toMatchObject({ lost: FLAPS, opens: FLAPS + 1, submitFailed: 0 });
  });
});
