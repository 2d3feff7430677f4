import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoggedReading } from '#gateway/store/reading-log';
import type { CloudStore } from '#cloud-bridge/store/cloud-store';

/** The behaviour every CloudStore must have (one contract, every implementation): run with describe.each. */
export function cloudStoreContract(name: string, open: () => Promise<{ store: CloudStore; reopen?: () => Promise<CloudStore>; cleanup: () => void }>): void {
  describe(`CloudStore contract: ${name}`, () => {
    let store: CloudStore;
    let ctx: Awaited<ReturnType<typeof open>>;
    beforeEach(async () => {
      ctx = await open();
      store = ctx.store;
    });
    afterEach(async () => {
      await store.close();
      ctx.cleanup();
    });

    const batch = (first: number, n: number, series = 'dev1/temp'): LoggedReading[] =>
      Array.from({ length: n }, (_, i) => ({ seq: first + i, series, ts: 1000 * (first + i), value: 20 + (first + i) / 10, unit: 'Cel' }));

    it('stores a batch once even when it comes twice, and says how many were duplicates', async () => {
      expect(await store.commitBatch('gw-a', 'e1', batch(1, 10), 5)).toEqual({ stored: 10, duplicates: 0 });
      expect(await store.commitBatch('gw-a', 'e1', batch(1, 10), 6)).toEqual({ stored: 0, duplicates: 10 });
      expect(await store.commitBatch('gw-a', 'e1', batch(6, 10), 7)).toEqual({ stored: 5, duplicates: 5 });
      expect(await store.count()).toBe(15);
    });

    it('refuses a batch that would replace stored rows: nothing of it is stored, the stored rows and the record stay', async () => {
      await store.commitBatch('gw-a', 'e1', batch(1, 10), 5);
      const before = await store.readings({ gateway: 'gw-a', limit: 100 });
      const recordBefore = (await store.gateways()).find((g) => g.id === 'gw-a')!;
      // Seqs 9..12: 9 and 10 exist; 10 comes with another value, 11 and 12 are new.
      const forged = batch(9, 4).map((r) => (r.seq === 10 ? { ...r, value: 666 } : r));
      await expect(store.commitBatch('gw-a', 'e1', forged, 6)).rejects.toMatchObject({ code: 'FM_ERR_CLOUD_BATCH_CONFLICT' });
      for (const change of [{ ts: 1 }, { series: 'dev1/other' }, { unit: 'K' }, { value: 'x' }]) {
        await expect(store.commitBatch('gw-a', 'e1', [{ ...batch(3, 1)[0]!, ...change }], 7)).rejects.toMatchObject({ code: 'FM_ERR_CLOUD_BATCH_CONFLICT' });
      }
      expect(await store.readings({ gateway: 'gw-a', limit: 100 })).toEqual(before);
      const recordAfter = (await store.gateways()).find((g) => g.id === 'gw-a')!;
      expect({ epoch: recordAfter.epoch, ackedSeq: recordAfter.ackedSeq, readings: recordAfter.readings }).toEqual({ epoch: recordBefore.epoch, ackedSeq: recordBefore.ackedSeq, readings: recordBefore.readings });
      // The same readings again are duplicates, not conflicts (NaN and -0 included).
      const odd: LoggedReading[] = [{ seq: 20, series: 'dev1/x', ts: 1, value: NaN }, { seq: 21, series: 'dev1/x', ts: 2, value: -0 }];
      await store.commitBatch('gw-a', 'e1', odd, 8);
      expect(await store.commitBatch('gw-a', 'e1', odd, 9)).toEqual({ stored: 0, duplicates: 2 });
    });

    it("a batch of duplicates only (an old epoch's batch replayed) leaves the record's epoch and acked seq alone", async () => {
      await store.commitBatch('gw-a', 'e1', batch(1, 10), 1);
      await store.commitBatch('gw-a', 'e2', batch(1, 3), 2);
      expect(await store.commitBatch('gw-a', 'e1', batch(1, 10), 3)).toEqual({ stored: 0, duplicates: 10 });
      const g = (await store.gateways()).find((x) => x.id === 'gw-a')!;
      expect({ epoch: g.epoch, ackedSeq: g.ackedSeq, readings: g.readings }).toEqual({ epoch: 'e2', ackedSeq: 3, readings: 13 });
    });

    it('keys by (gateway, epoch, seq): the same seq in another epoch or gateway is another reading', async () => {
      await store.commitBatch('gw-a', 'e1', batch(1, 3), 1);
      await store.commitBatch('gw-a', 'e2', batch(1, 3), 2);
      await store.commitBatch('gw-b', 'e1', batch(1, 3), 3);
      expect(await store.count()).toBe(9);
    });

    it('keeps values exactly: NaN, ±Infinity, -0, booleans, strings, units', async () => {
      const values = [NaN, Infinity, -Infinity, -0, 0, 5e-324, 1.5, true, false, 'hé ✓', ''];
      const rs: LoggedReading[] = values.map((value, i) => ({ seq: i + 1, series: `dev/s${i}`, ts: i, value, ...(i % 2 ? { unit: 'V' } : {}) }));
      await store.commitBatch('gw', 'e', rs, 1);
      const back = await store.readings({ limit: 100 });
      expect(back.length).toBe(values.length);
      back.forEach((r, i) => {
        expect(Object.is(r.value, values[i])).toBe(true);
        expect(r.unit).toBe(i % 2 ? 'V' : undefined);
        expect(r).toMatchObject({ gateway: 'gw', epoch: 'e', seq: i + 1, series: `dev/s${i}`, ts: i });
      });
    });

    it('queries by gateway, series and [from, to), oldest first, limited', async () => {
      await store.commitBatch('gw-a', 'e', batch(1, 10, 'd/x'), 1);
      await store.commitBatch('gw-b', 'e', batch(1, 10, 'd/x'), 1);
      await store.commitBatch('gw-a', 'e', batch(11, 5, 'd/y'), 1);
      expect((await store.readings({ gateway: 'gw-a', limit: 100 })).length).toBe(15);
      expect((await store.readings({ series: 'd/x', limit: 100 })).length).toBe(20);
      const ranged = await store.readings({ gateway: 'gw-a', series: 'd/x', from: 3000, to: 6000, limit: 100 });
      expect(ranged.map((r) => r.seq)).toEqual([3, 4, 5]);
      expect((await store.readings({ limit: 4 })).map((r) => r.ts)).toEqual([1000, 1000, 2000, 2000]);
    });

    it('pages with an `after` cursor without losing or repeating readings at equal timestamps', async () => {
      await store.commitBatch('gw-a', 'e', batch(1, 7, 'd/x'), 1);
      await store.commitBatch('gw-b', 'e', batch(1, 7, 'd/x'), 1);
      const seen: string[] = [];
      let after: { ts: number; gateway: string; epoch: string; seq: number } | undefined;
      for (;;) {
        const page = await store.readings({ limit: 3, ...(after ? { after } : {}) });
        seen.push(...page.map((r) => `${r.gateway}/${r.seq}`));
        if (page.length < 3) break;
        const last = page.at(-1)!;
        after = { ts: last.ts, gateway: last.gateway, epoch: last.epoch, seq: last.seq };
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7].flatMap((s) => [`gw-a/${s}`, `gw-b/${s}`]));
    });

    it('tracks gateways: contact, acked seq per epoch, status and reported backlog', async () => {
      await store.commitBatch('gw-a', 'e1', batch(1, 10), 100);
      let [g] = await store.gateways();
      expect(g).toMatchObject({ id: 'gw-a', online: true, lastContact: 100, epoch: 'e1', ackedSeq: 10, readings: 10 });
      await store.commitBatch('gw-a', 'e1', batch(1, 5), 101);
      expect((await store.gateways())[0]!.ackedSeq).toBe(10);
      await store.recordStatus('gw-a', { online: false, at: 200, status: { v: 1, online: false }, reportedBacklog: 42 });
      [g] = await store.gateways();
      expect(g).toMatchObject({ online: false, lastContact: 200, reportedBacklog: 42, status: { v: 1, online: false } });
      await store.commitBatch('gw-a', 'e2', batch(1, 3), 300);
      [g] = await store.gateways();
      expect(g).toMatchObject({ epoch: 'e2', ackedSeq: 3, readings: 13, reportedBacklog: 42 });
      await store.recordStatus('gw-b', { online: true, at: 1 });
      expect((await store.gateways()).map((x) => x.id)).toEqual(['gw-a', 'gw-b']);
    });

    it('lists series with count and latest value', async () => {
      await store.commitBatch('gw-a', 'e', batch(1, 10, 'd/x'), 1);
      await store.commitBatch('gw-a', 'e', batch(1, 10, 'd/x'), 1);
      await store.commitBatch('gw-b', 'e', batch(5, 2, 'd/y'), 1);
      expect(await store.series()).toEqual([
        { gateway: 'gw-a', series: 'd/x', unit: 'Cel', count: 10, lastTs: 10_000, lastValue: 21 },
        { gateway: 'gw-b', series: 'd/y', unit: 'Cel', count: 2, lastTs: 6000, lastValue: 20.6 },
      ]);
      expect((await store.series('gw-b')).length).toBe(1);
    });

    it('keeps committed data across a reopen (when it is durable)', async () => {
      if (!ctx.reopen) return;
      await store.commitBatch('gw-a', 'e', batch(1, 10), 1);
      await store.close();
      store = await ctx.reopen();
      expect(await store.count()).toBe(10);
      expect(await store.commitBatch('gw-a', 'e', batch(1, 10), 2)).toEqual({ stored: 0, duplicates: 10 });
      expect((await store.gateways())[0]!.ackedSeq).toBe(10);
    });
  });
}
