import { Worker } from 'node:worker_threads';
import type { AppendBatch } from './append-transaction.js';
import { StoreError } from './errors.js';

/**
 * The main-thread side of the commit thread (sqlite-writer.worker.js). One message per group
 * commit, its batch columnar (append-transaction.js; primitives clone much faster than objects):
 *   → { id, batch: AppendBatch }
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
  async commit(batch: AppendBatch): Promise<void> {
    await this.ready;
    if (this.failed) throw new StoreError('FM_ERR_STORE_COMMIT', `commit thread died: ${this.failed.message}`);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch });
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
