/**
 * An offline buffer that survives a restart of the bridge: a journal of JSON lines next to the
 * in-memory copy. `{"s":seq,"p":payload}` adds a message, `{"g":seq}` says it is gone (acked or
 * dropped). On open the journal is replayed; a torn last line (crash mid-write) is skipped and
 * counted. The file is rewritten whole (durable-file.ts: the old journal or the new, never half)
 * once it holds far more gone lines than live ones, so it stays within about twice the live size.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { writeFileDurably } from '../durable-file.js';
import { DeviceClientError } from './errors.js';
import { MemoryOfflineBuffer, type BufferLimits, type BufferedMessage } from './offline-buffer.js';

export interface FileBufferOptions extends Partial<BufferLimits> {
  path: string;
  /**
   * fsync after every write. Default false: the journal then survives a crash or restart of the
   * bridge process (the OS has the data) but maybe not a power cut; true costs one flash write
   * per message, which wears SD cards.
   */
  fsync?: boolean;
}

export class FileOfflineBuffer extends MemoryOfflineBuffer {
  private fd: number;
  private lines = 0;
  private replaying = false;
  /** Torn or unreadable lines skipped while replaying the journal. */
  readonly corruptLines: number;

  constructor(private readonly opts: FileBufferOptions) {
    super(opts);
    let corrupt = 0;
    try {
      if (existsSync(opts.path)) corrupt = this.replay(readFileSync(opts.path, 'utf8'));
      this.fd = openSync(opts.path, 'a', 0o600);
    } catch (err) {
      throw new DeviceClientError('FM_ERR_CLIENT_BUFFER', `offline buffer ${opts.path}: ${(err as Error).message}`);
    }
    this.corruptLines = corrupt;
    this.compact();
  }

  override close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  protected override onPush(msg: BufferedMessage): void {
    this.write(`${JSON.stringify({ s: msg.seq, p: msg.payload })}\n`);
  }

  protected override onGone(seq: number): void {
    this.write(`{"g":${seq}}\n`);
    if (this.lines > 1000 && this.lines > 4 * (this.size + 1)) this.compact();
  }

  private write(line: string): void {
    if (this.replaying || this.fd < 0) return;
    writeSync(this.fd, line);
    if (this.opts.fsync) fsyncSync(this.fd);
    this.lines++;
  }

  private replay(text: string): number {
    this.replaying = true;
    let corrupt = 0;
    let seqFloor = -1;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let rec: { s?: unknown; p?: unknown; g?: unknown; h?: unknown };
      try {
        rec = JSON.parse(line);
      } catch {
        corrupt++;
        continue;
      }
      if (typeof rec.s === 'number' && typeof rec.p === 'string' && rec.s > this.highestSeq) this.push({ seq: rec.s, payload: rec.p });
      else if (typeof rec.g === 'number') this.ack(rec.g);
      else if (typeof rec.h === 'number') seqFloor = Math.max(seqFloor, rec.h);
      else corrupt++;
    }
    this.highest = Math.max(this.highest, seqFloor);
    this.replaying = false;
    return corrupt;
  }

  /** Rewrites the journal with the live messages and the highest seq (so numbering never repeats). */
  private compact(): void {
    const live = this.after(-1, Number.MAX_SAFE_INTEGER);
    const text = [`{"h":${this.highestSeq}}`, ...live.map((m) => JSON.stringify({ s: m.seq, p: m.payload }))].join('\n') + '\n';
    writeFileDurably(this.opts.path, text);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = openSync(this.opts.path, 'a', 0o600);
    this.lines = live.length + 1;
  }
}
