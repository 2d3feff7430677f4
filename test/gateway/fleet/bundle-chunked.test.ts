/**
 * The chunked download (bundle-mqtt.ts) against an in-memory channel and a manual clock, with
 * real part files: the order chunks are written in, what the window holds, refusals, resends,
 * the idle timeout, and the HTTP download's idle timer on the injected clock. The real cloud
 * and uplink are in fleet-over-uplink.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@fieldmesh/device-sdk';
import { encodeChunk, encodeChunkRefusal, parseChunkRequest, type ChunkRequest } from '#protocol/index';
import { fetchBundleOverUplink, type ChunkChannel } from '#gateway/fleet/bundle-mqtt';
import { fetchBundle } from '#gateway/fleet/bundle-fetch';
import { RetrySchedule } from '#gateway/fleet/retry-schedule';
import { waitFor } from '../../wait-for.js';
import { tempRoot } from './fleet-fixture.js';

const dir = tempRoot('fm-chunked-');
const bundle = randomBytes(10 * 1000 + 7);
const sha256 = createHash('sha256').update(bundle).digest('hex');

/** The uplink as a test drives it: requests are recorded, chunks and new sessions delivered by hand. */
function memoryChannel() {
  const asked: ChunkRequest[] = [];
  let listener: Parameters<ChunkChannel['listen']>[0] | null = null;
  let up = true;
  const channel: ChunkChannel = {
    request: (p) => {
      const r = parseChunkRequest(p);
      if (r.ok && up) asked.push(r.value);
    },
    online: () => up,
    listen: (l) => {
      listener = l;
      return () => (listener = null);
    },
  };
  return {
    channel,
    asked,
    listening: () => listener !== null,
    answer(r: ChunkRequest, data: Buffer = bundle.subarray(r.offset, r.offset + r.length), total = bundle.length) {
      listener?.chunk(encodeChunk(r.version, r.offset, total, data));
    },
    refuse(r: ChunkRequest, reason: 'busy' | 'unknown-release') {
      listener?.chunk(encodeChunkRefusal(r.version, r.offset, reason, 'test'));
    },
    down: () => (up = false),
    reconnect: () => {
      up = true;
      listener?.online();
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

function target(name: string) {
  return { part: join(dir, `${name}.part`), final: join(dir, `${name}.tgz`), bytes: bundle.length, sha256, version: '1.2.0' };
}

describe('the chunked download over the uplink', () => {
  it('keeps `window` requests out, writes chunks in order whatever order they come in, renames only when complete and hash-checked', async () => {
    const m = memoryChannel();
    const clock = new ManualClock();
    const t = target('order');
    const done = fetchBundleOverUplink({ ...t, channel: m.channel, clock, chunkBytes: 1000, window: 3 });
    await waitFor(() => m.asked.length === 3, 'three requests');
    expect(m.asked.map((r) => r.offset)).toEqual([0, 1000, 2000]);
    // The third and second first: held in memory (the window counts them), not written.
    m.answer(m.asked[2]!);
    m.answer(m.asked[1]!);
    await settle();
    expect(m.asked).toHaveLength(3);
    expect(readFileSync(t.part).length).toBe(0);
    m.answer(m.asked[0]!);
    m.answer(m.asked[0]!); // a duplicate (asked twice after a reconnect): ignored
    for (let i = 3; i <= 10; i++) {
      await waitFor(() => m.asked.length > i, `request ${i}`);
      m.answer(m.asked[i]!);
    }
    const r = await done;
    expect(r).toEqual({ ok: true, moved: bundle.length, resumedFrom: 0 });
    expect(m.asked.at(-1)).toMatchObject({ offset: 10_000, length: 7 });
    expect(readFileSync(t.final).equals(bundle)).toBe(true);
    expect(existsSync(t.part)).toBe(false);
  });

  it('resumes from the part; a new session asks again for what was in flight; a busy refusal is asked again after resendMs', async () => {
    const m = memoryChannel();
    const clock = new ManualClock();
    const t = target('resume');
    writeFileSync(t.part, bundle.subarray(0, 4000));
    const done = fetchBundleOverUplink({ ...t, channel: m.channel, clock, chunkBytes: 2000, window: 2, resendMs: 5000 });
    await waitFor(() => m.asked.length === 2, 'two requests');
    expect(m.asked.map((r) => r.offset)).toEqual([4000, 6000]);
    m.down();
    m.reconnect();
    expect(m.asked.map((r) => r.offset)).toEqual([4000, 6000, 4000, 6000]);
    m.refuse(m.asked[2]!, 'busy');
    m.answer(m.asked[3]!);
    clock.advance(5000);
    expect(m.asked.at(-1)).toMatchObject({ offset: 4000 });
    m.answer(m.asked.at(-1)!);
    await waitFor(() => m.asked.length === 7, 'the rest asked for');
    expect(m.asked.slice(-2).map((r) => r.offset)).toEqual([8000, 10_000]);
    for (const r of m.asked.slice(-2)) m.answer(r);
    const r = await done;
    expect(r).toEqual({ ok: true, moved: bundle.length - 4000, resumedFrom: 4000 });
    expect(readFileSync(t.final).equals(bundle)).toBe(true);
  });

  it('a refusal, a chunk of the wrong size or total, or silence for idleTimeoutMs ends the attempt; the part stays', async () => {
    const cases: Array<[string, (m: ReturnType<typeof memoryChannel>, clock: ManualClock) => void, RegExp]> = [
      ['refused', (m) => m.refuse(m.asked[0]!, 'unknown-release'), /refused bytes 0\+ of 1\.2\.0: unknown-release/],
      ['short', (m) => m.answer(m.asked[0]!, bundle.subarray(0, 10)), /has 10 bytes, not the 1000 asked for/],
      ['total', (m) => m.answer(m.asked[0]!, undefined, bundle.length + 1), /is 10008 bytes, the signed one 10007/],
      ['idle', (_m, clock) => clock.advance(30_000), /no chunk for 30000 ms at byte 0/],
    ];
    for (const [name, act, why] of cases) {
      const m = memoryChannel();
      const clock = new ManualClock();
      const t = target(`fail-${name}`);
      const done = fetchBundleOverUplink({ ...t, channel: m.channel, clock, chunkBytes: 1000 });
      await waitFor(() => m.asked.length > 0, 'a request');
      act(m, clock);
      const r = await done;
      expect(r, name).toMatchObject({ ok: false, reason: 'fetch-failed' });
      expect(!r.ok && r.why, name).toMatch(why);
      expect(existsSync(t.part), name).toBe(true);
      expect(m.listening(), name).toBe(false);
    }
  });

  it('chunks that do not add up to the signed hash: the part is deleted, hash-mismatch', async () => {
    const m = memoryChannel();
    const t = target('tampered');
    const done = fetchBundleOverUplink({ ...t, channel: m.channel, clock: new ManualClock(), chunkBytes: 4000, window: 1 });
    for (let i = 0; i < 3; i++) {
      await waitFor(() => m.asked.length > i, `request ${i}`);
      const r = m.asked[i]!;
      const data = Buffer.from(bundle.subarray(r.offset, r.offset + r.length));
      if (i === 1) data[7] ^= 1;
      m.answer(r, data);
    }
    expect(await done).toMatchObject({ ok: false, reason: 'hash-mismatch' });
    expect(existsSync(t.part)).toBe(false);
    expect(existsSync(t.final)).toBe(false);
  });
});

describe('the HTTP download and retries on the injected clock', () => {
  it("the idle timer is the injected clock's: a response that stalls ends when that clock says so", async () => {
    const clock = new ManualClock();
    const t = target('http-idle');
    let started!: () => void;
    const begun = new Promise<void>((r) => (started = r));
    const done = fetchBundle({
      ...t,
      url: 'http://cloud.invalid/bundle',
      authorization: null,
      clock,
      // Longer than the test may take: only the manual clock can end it in time.
      idleTimeoutMs: 60_000,
      get: (_url, init) =>
        new Promise<Response>((_resolve, reject) => {
          started();
          init.signal.addEventListener('abort', () => reject(init.signal.reason as Error));
        }),
    });
    await begun;
    clock.advance(59_999);
    await settle();
    clock.advance(1);
    const r = await done;
    expect(r).toMatchObject({ ok: false, reason: 'fetch-failed' });
    expect(!r.ok && r.why).toMatch(/no data for 60000 ms/);
  });

  it('retry delays double up to 16× with half of each random, so gateways that failed together do not retry together', () => {
    const delays = (random: () => number) => {
      const clock = new ManualClock();
      const s = new RetrySchedule(clock, 1000, random);
      const at: number[] = [];
      for (let i = 0; i < 6; i++) {
        const from = clock.monotonic();
        s.schedule(() => at.push(clock.monotonic() - from));
        clock.advance(20_000);
      }
      return at;
    };
    expect(delays(() => 0)).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect(delays(() => 1)).toEqual([1000, 2000, 4000, 8000, 16000, 16000]);
    const a = delays(Math.random);
    const b = delays(Math.random);
    expect(a).not.toEqual(b);
  });
});
