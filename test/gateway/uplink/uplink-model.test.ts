import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@fieldmesh/device-sdk';
import { MemoryReadingLog } from '#gateway/store/memory-reading-log';
import { decodeBatch, encodeAck } from '@fieldmesh/protocol';
import { MemoryUplinkLink, type LinkMessage } from '#gateway/uplink/memory-uplink-link';
import { Uplink } from '#gateway/uplink/uplink';

/**
 * Model test of the core promise: whatever happens on the link (acks late, out of order, from an
 * older session, lost; refusals; cuts; outages), the AckWatermark never passes a reading the cloud
 * has not committed, and once the link behaves, everything arrives.
 */
const T0 = Date.UTC(2026, 0, 1);

async function flush(): Promise<void> {
  for (let i = 0; i < 6; i++) await new Promise((r) => setImmediate(r));
}

type Action =
  | { kind: 'flush' }
  | { kind: 'mode'; mode: 'ack' | 'hold' | 'silent' | 'nack' | 'mixed' }
  | { kind: 'release'; pick: number[] }
  | { kind: 'drop-held' }
  | { kind: 'cut' }
  | { kind: 'outage'; on: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'append'; n: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.constant({ kind: 'flush' as const }),
  fc.constantFrom('ack', 'hold', 'silent', 'nack', 'mixed', 'mixed').map((mode) => ({ kind: 'mode' as const, mode: mode as 'ack' | 'hold' | 'silent' | 'nack' | 'mixed' })),
  fc.array(fc.nat(50), { maxLength: 6 }).map((pick) => ({ kind: 'release' as const, pick })),
  fc.constant({ kind: 'drop-held' as const }),
  fc.constant({ kind: 'cut' as const }),
  fc.boolean().map((on) => ({ kind: 'outage' as const, on })),
  fc.integer({ min: 1, max: 40_000 }).map((ms) => ({ kind: 'advance' as const, ms })),
  fc.integer({ min: 1, max: 400 }).map((n) => ({ kind: 'append' as const, n })),
);

describe('uplink model', () => {
  it('never moves the watermark past an uncommitted reading, and delivers everything once the link behaves', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1500 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(action, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        async (initial, batchReadings, maxInFlight, actions, seed) => {
          // In 'mixed' mode each batch meets a random fate, so late, lost and refused answers interleave.
          let rnd = seed;
          const random = () => ((rnd = (rnd * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
          const clock = new ManualClock(T0);
          const log = new MemoryReadingLog();
          const committed = new Set<number>();
          let mode: 'ack' | 'hold' | 'silent' | 'nack' | 'mixed' = 'mixed';
          const held: Buffer[] = [];
          const farEnd = (msg: LinkMessage): Buffer | null => {
            if (!msg.topic.endsWith('/batch')) return null;
            const b = decodeBatch(msg.payload);
            const fate = mode === 'mixed' ? (['ack', 'hold', 'hold', 'silent', 'nack'] as const)[Math.floor(random() * 5)]! : mode;
            if (fate === 'silent') return null;
            if (fate === 'nack') return encodeAck({ v: 1, ok: false, epoch: b.epoch, firstSeq: b.firstSeq, lastSeq: b.lastSeq, code: 'FM_ERR_TEST', reason: 'model' });
            for (const r of b.readings) committed.add(r.seq);
            const ack = encodeAck({ v: 1, ok: true, epoch: b.epoch, firstSeq: b.firstSeq, lastSeq: b.lastSeq, stored: b.readings.length, duplicates: 0 });
            if (fate === 'hold') {
              held.push(ack);
              return null;
            }
            return ack;
          };
          const link = new MemoryUplinkLink(farEnd);
          // maxRefusals is high: quarantine (a legitimate way past uncommitted readings) is tested elsewhere.
          const uplink = new Uplink({ gatewayId: 'gw', log, url: 'mqtt://m:1', clock, link, batchReadings, maxInFlight, maxRefusals: 1_000_000, ackTimeoutMs: 10_000, backoffMinMs: 100, backoffMaxMs: 2000, random: () => 0.5 });
          const live = () => (link as unknown as { live: { events: { ack(p: Buffer): void }; alive: boolean } | null }).live;
          const watermarkIsSafe = () => {
            const w = log.ackWatermark();
            for (let s = 1; s <= w; s++) if (!committed.has(s)) return false;
            return true;
          };
          const append = (n: number) => {
            const from = log.lastSeq();
            log.append(Array.from({ length: n }, (_, i) => ({ series: 'd/t', ts: T0 + (from + i) * 1000, value: from + i })));
            uplink.notify();
          };
          append(initial);
          uplink.start();
          await flush();
          for (const a of actions) {
            switch (a.kind) {
              case 'mode':
                mode = a.mode;
                break;
              case 'release':
                for (const p of a.pick) {
                  if (held.length === 0) break;
                  const [ack] = held.splice(p % held.length, 1);
                  const s = live();
                  if (s?.alive) s.events.ack(ack!);
                }
                break;
              case 'drop-held':
                held.length = 0;
                break;
              case 'cut':
                link.cut();
                break;
              case 'outage':
                link.reachable = !a.on;
                break;
              case 'advance':
                clock.advance(a.ms);
                break;
              case 'append':
                append(a.n);
                break;
              case 'flush':
                break;
            }
            await flush();
            if (!watermarkIsSafe()) throw new Error(`watermark ${log.ackWatermark()} passes an uncommitted reading after ${JSON.stringify(a)}`);
          }
          // The link behaves from now on: everything must arrive.
          mode = 'ack';
          link.reachable = true;
          for (const ack of held.splice(0)) live()?.alive && live()!.events.ack(ack);
          for (let i = 0; i < 30 && log.ackWatermark() < log.lastSeq(); i++) {
            clock.advance(10_000);
            await flush();
          }
          expect(log.ackWatermark()).toBe(log.lastSeq());
          expect(watermarkIsSafe()).toBe(true);
          expect(uplink.stats().readingsQuarantined).toBe(0);
          await uplink.stop();
        },
      ),
      { numRuns: 150 },
    );
  });
});
