import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { ImageError } from '../errors.js';
import { REAL_HOST, blockDeviceBytes, checkBlockTarget, checkFileTarget, majMinOf, type HostPaths } from './host-disks.js';

/** Where the image bytes go. The real one is a file descriptor; tests wrap it to corrupt a write. */
export interface BlockSink {
  write(data: Buffer, position: number): Promise<void>;
  /** Durable on the medium (fsync), so the read-back is not of data still in flight. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export type TargetKind = 'file' | 'block';

export async function openSink(path: string, kind: TargetKind): Promise<BlockSink> {
  // O_EXCL on a block device (without O_CREAT) fails with EBUSY while anything has it mounted:
  // the kernel's own last line of defence after our checks (open(2)).
  const flags = kind === 'block' ? constants.O_WRONLY | constants.O_EXCL : constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
  const fh = await open(path, flags, 0o644);
  return {
    async write(data, position) {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
        if (bytesWritten <= 0) throw new ImageError('FM_ERR_FLASH_TARGET_TOO_SMALL', `${path}: write stopped at byte ${position + off}`);
        off += bytesWritten;
      }
    },
    sync: () => fh.sync(),
    close: () => fh.close(),
  };
}

/** Reads the first `size` bytes of the target back. */
export type ReadBack = (path: string, size: number, kind: TargetKind) => AsyncIterable<Buffer>;

/**
 * Plain files: an ordinary read. Block devices: `dd iflag=direct` (O_DIRECT, aligned buffers
 * node cannot allocate itself), so the bytes come from the card, not from the page cache that
 * still holds what we wrote.
 */
export const defaultReadBack: ReadBack = (path, size, kind) => {
  if (kind === 'file' || size % 512 !== 0) return createReadStream(path, { start: 0, end: size - 1, highWaterMark: 4 << 20 });
  const dd = spawn('dd', [`if=${path}`, 'iflag=direct,count_bytes', 'bs=4M', `count=${size}`, 'status=none'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return dd.stdout;
};

export interface FlashProgress {
  phase: 'write' | 'verify';
  done: number;
  total: number;
  /** Since the phase started. */
  bytesPerSecond: number;
}

export interface FlashOptions {
  image: string;
  device: string;
  host?: HostPaths;
  openSink?: (path: string, kind: TargetKind) => Promise<BlockSink>;
  readBack?: ReadBack;
  onProgress?: (p: FlashProgress) => void;
  /** Write size; 4 MiB suits SD cards (erase blocks are 4 MiB or smaller). */
  chunkBytes?: number;
}

export interface FlashResult {
  bytes: number;
  sha256: string;
  kind: TargetKind;
  writeSeconds: number;
  verifySeconds: number;
}

async function resolveTarget(device: string, imageDev: number, imageIno: number, host: HostPaths): Promise<{ path: string; kind: TargetKind; capacity?: number }> {
  let st;
  try {
    st = await stat(device);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path: device, kind: 'file' };
    throw new ImageError('FM_ERR_FLASH_TARGET_INVALID', `cannot stat ${device}: ${(err as Error).message}`);
  }
  if (st.dev === imageDev && st.ino === imageIno) throw new ImageError('FM_ERR_FLASH_SAME_FILE', `${device} is the image itself`);
  const real = await realpath(device);
  if (st.isBlockDevice()) {
    const mm = majMinOf(st.rdev);
    checkBlockTarget(mm, device, host);
    return { path: real, kind: 'block', capacity: blockDeviceBytes(mm, host) };
  }
  if (st.isFile()) {
    checkFileTarget(real, host);
    return { path: real, kind: 'file' };
  }
  throw new ImageError('FM_ERR_FLASH_TARGET_INVALID', `${device} is neither a block device nor a regular file`);
}

/** Writes the image to the target, then reads the target back and compares SHA-256. */
export async function flashImage(o: FlashOptions): Promise<FlashResult> {
  const host = o.host ?? REAL_HOST;
  const chunk = o.chunkBytes ?? 4 << 20;
  let img;
  try {
    img = await stat(o.image);
  } catch (err) {
    throw new ImageError('FM_ERR_IMAGE_NOT_FOUND', `cannot read ${o.image}: ${(err as Error).message}`);
  }
  if (!img.isFile()) throw new ImageError('FM_ERR_IMAGE_NOT_FOUND', `${o.image} is not a regular file`);
  const total = img.size;
  const target = await resolveTarget(o.device, img.dev, img.ino, host);
  if (target.capacity !== undefined && target.capacity < total) {
    throw new ImageError('FM_ERR_FLASH_TARGET_TOO_SMALL', `${o.device} has ${target.capacity} bytes, the image ${total}`);
  }

  const progress = (phase: FlashProgress['phase'], done: number, t0: number) =>
    o.onProgress?.({ phase, done, total, bytesPerSecond: done / Math.max(1e-3, (performance.now() - t0) / 1000) });

  const t0 = performance.now();
  const want = createHash('sha256');
  const src = await open(o.image, 'r');
  const sink = await (o.openSink ?? openSink)(target.path, target.kind);
  try {
    const buf = Buffer.allocUnsafe(chunk);
    let pos = 0;
    while (pos < total) {
      const { bytesRead } = await src.read(buf, 0, Math.min(chunk, total - pos), pos);
      if (bytesRead === 0) throw new ImageError('FM_ERR_IMAGE_NOT_FOUND', `${o.image} shrank while being read`);
      const part = buf.subarray(0, bytesRead);
      want.update(part);
      await sink.write(part, pos);
      pos += bytesRead;
      progress('write', pos, t0);
    }
    await sink.sync();
  } finally {
    await sink.close();
    await src.close();
  }
  const writeSeconds = (performance.now() - t0) / 1000;
  const expected = want.digest('hex');

  const t1 = performance.now();
  const got = createHash('sha256');
  let read = 0;
  for await (const part of (o.readBack ?? defaultReadBack)(target.path, total, target.kind)) {
    const b = part as Buffer;
    got.update(b);
    read += b.length;
    progress('verify', read, t1);
  }
  const actual = got.digest('hex');
  if (read !== total || actual !== expected) {
    throw new ImageError('FM_ERR_FLASH_VERIFY_FAILED', `read back ${read} of ${total} bytes from ${o.device}: SHA-256 ${actual}, image ${expected}`);
  }
  return { bytes: total, sha256: expected, kind: target.kind, writeSeconds, verifySeconds: (performance.now() - t1) / 1000 };
}
