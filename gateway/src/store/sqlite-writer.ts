import { Worker } from 'node:worker_threads';
import type { Reading } from '@fieldmesh/device-sdk';
import { StoreError } from './errors.js';
import type { DeviceSeqMark } from './reading-log.js';

/**
 * The main-thread side of the commit thread (sqlite-writer.worker.js). One message per group
 * commit, columnar (arrays of primitives clone much faster than arrays of objects):
 *   → { id, firstSeq, series[], units[], ts[], kinds[], values[], markDevices[], markSeqs[], markDigests[], window }
 *   ← { id, ok: true } after COMMIT returned (durable), or { id, ok: false, message }
 * Why a thread: with synchronous=FULL each commit waits for fsync (0.15 ms here, milliseconds on
 * an SD card); on the event loop that wait stops MQTT parsing, in a thread it overlaps with it.
 */
export class SqliteWriter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private readonly ready: Promise<void>;
  private failed: Error | null = null;

  constructor(file: string) {
    this.worker = new Worker(new URL('./sqlite-writer.worker.js', import.meta.url), { workerData: { file } });
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (m: { ready?: boolean; id?: number; ok?: boolean; message?: string }) => {
        if (m.ready) return resolve();
        const p = m.id === undefined ? undefined : this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id!);
        if (m.ok) p.resolve();
        else p.reject(new StoreError('FM_ERR_STORE_COMMIT', `commit failed: ${m.message}`));
      });
      this.worker.on('error', (err) => {
        this.failed = err;
        reject(err);
        for (const p of this.pending.values()) p.reject(new StoreError('FM_ERR_STORE_COMMIT', `commit thread died: ${err.message}`));
        this.pending.clear();
      });
    });
    this.ready.catch(() => {});
  }

  /** Resolves once the transaction holding these rows committed durably. */
  async commit(
    firstSeq: number,
    readings: readonly Reading[],
    marks: readonly DeviceSeqMark[],
    window: number,
    stamp: { boot: number; mono: number; wallOff: number } | null = null,
  ): Promise<void> {
    await this.ready;
    if (this.failed) throw new StoreError('FM_ERR_STORE_COMMIT', `commit thread died: ${this.failed.message}`);
    const n = readings.length;
    const series = new Array<string>(n);
    const units = new Array<string>(n);
    const ts = new Array<number>(n);
    const kinds = new Array<number>(n);
    const values = new Array<number | string>(n);
    for (let i = 0; i < n; i++) {
      const r = readings[i]!;
      series[i] = r.series;
      units[i] = r.unit ?? '';
      ts[i] = r.ts;
      const v = r.value;
      if (typeof v === 'number') {
        kinds[i] = 0;
        values[i] = v;
      } else if (typeof v === 'boolean') {
        kinds[i] = 1;
        values[i] = v ? 1 : 0;
      } else {
        kinds[i] = 2;
        values[i] = v;
      }
    }
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({
        id,
        firstSeq,
        series,
        units,
        ts,
        kinds,
        values,
        markDevices: marks.map((m) => m.device),
        markSeqs: marks.map((m) => m.seq),
        markDigests: marks.map((m) => m.digest ?? null),
        window,
        // Set while the wall clock is not known good (clock-health.ts): stored with every row.
        stamp,
      });
    });
  }

  /** Closes the thread's connection after the commits already sent. */
  async close(): Promise<void> {
    if (this.failed) return;
    try {
      await this.ready;
    } catch {
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (m: { closed?: boolean }) => {
        if (!m.closed) return;
        this.worker.off('message', done);
        resolve();
      };
      this.worker.on('message', done);
      this.worker.postMessage({ close: true });
    });
    await this.worker.terminate();
  }
}
