import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageError } from './errors.js';

/**
 * The FAT boot partition as a tiny file store. Paths are absolute inside the partition
 * ("/config.txt", "/fieldmesh/gateway.yaml"). The real one edits an image file from user space
 * with mtools (no root, no mount); the in-memory one is for fast logic tests.
 */
export interface BootPartition {
  /** The file's bytes, or undefined when it does not exist. */
  read(path: string): Promise<Buffer | undefined>;
  /** Creates or replaces the file, creating parent directories. */
  write(path: string, data: Buffer): Promise<void>;
  /** Names (not paths) of the entries in a directory; [] if it does not exist. */
  list(dir: string): Promise<string[]>;
}

function checkPath(path: string): void {
  // FAT names: keep to a safe subset so nothing is interpreted by mtools (wildcards, drive letters).
  if (!/^(\/[A-Za-z0-9._-]+)+$/u.test(path) || path.split('/').some((s) => s === '..' || s === '.')) {
    throw new Error(`boot partition path ${JSON.stringify(path)}: use /name/name with letters, digits, . _ -`);
  }
}

interface Run {
  stdout: Buffer;
  stderr: string;
  code: number;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { encoding: 'buffer', maxBuffer: 1 << 30, env: { ...process.env, MTOOLS_SKIP_CHECK: '1', MTOOLS_NO_VFAT: '0' } },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
        if (e && e.code === 'ENOENT') {
          reject(new ImageError('FM_ERR_IMAGE_TOOL_MISSING', `${cmd} not found`));
          return;
        }
        resolve({ stdout, stderr: stderr.toString('utf8'), code: e ? (typeof e.code === 'number' ? e.code : 1) : 0 });
      },
    );
  });
}

/** mtools on `image@@offset`: FAT12/16/32 read and write from user space. */
export class MtoolsBootPartition implements BootPartition {
  private readonly drive: string;

  constructor(imagePath: string, offsetBytes: number) {
    if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0) throw new Error(`offset ${offsetBytes} is not a byte offset`);
    this.drive = `${imagePath}@@${offsetBytes}`;
  }

  async read(path: string): Promise<Buffer | undefined> {
    checkPath(path);
    const r = await run('mcopy', ['-n', '-i', this.drive, `::${path}`, '-']);
    if (r.code !== 0) {
      if (/not found|No such file/iu.test(r.stderr)) return undefined;
      throw new ImageError('FM_ERR_IMAGE_FAT_IO', `mcopy ${path} failed: ${r.stderr.trim()}`);
    }
    return r.stdout;
  }

  async write(path: string, data: Buffer): Promise<void> {
    checkPath(path);
    const parts = path.split('/').slice(1, -1);
    for (let i = 1; i <= parts.length; i++) {
      const parent = '/' + parts.slice(0, i - 1).join('/');
      // mmd fails (exit 1, no message) on an existing directory, so look first.
      if ((await this.list(parent)).some((n) => n.toLowerCase() === parts[i - 1]!.toLowerCase())) continue;
      const dir = '/' + parts.slice(0, i).join('/');
      const r = await run('mmd', ['-i', this.drive, `::${dir}`]);
      if (r.code !== 0) throw new ImageError('FM_ERR_IMAGE_FAT_IO', `mmd ${dir} failed: ${r.stderr.trim()}`);
    }
    // mcopy takes a file, not stdin, for binary-safe copies.
    const tmp = await mkdtemp(join(tmpdir(), 'fm-fat-'));
    try {
      const local = join(tmp, 'f');
      await writeFile(local, data);
      const r = await run('mcopy', ['-o', '-n', '-i', this.drive, local, `::${path}`]);
      if (r.code !== 0) throw new ImageError('FM_ERR_IMAGE_FAT_IO', `mcopy to ${path} failed: ${r.stderr.trim()}`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async list(dir: string): Promise<string[]> {
    if (dir !== '/') checkPath(dir);
    const r = await run('mdir', ['-b', '-i', this.drive, `::${dir === '/' ? '/' : dir}`]);
    if (r.code !== 0) {
      if (/not found|No such file/iu.test(r.stderr)) return [];
      throw new ImageError('FM_ERR_IMAGE_FAT_IO', `mdir ${dir} failed: ${r.stderr.trim()}`);
    }
    return r.stdout
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => l.replace(/^::/u, '').split('/').filter(Boolean).at(-1)!)
      .filter((n) => n !== '.' && n !== '..');
  }
}

/** In-memory twin: a map from path to bytes. */
export class MemoryBootPartition implements BootPartition {
  readonly files = new Map<string, Buffer>();
  writes = 0;

  constructor(initial: Record<string, string | Buffer> = {}) {
    for (const [p, d] of Object.entries(initial)) this.files.set(p, Buffer.from(d));
  }

  async read(path: string): Promise<Buffer | undefined> {
    checkPath(path);
    const f = this.files.get(path);
    return f ? Buffer.from(f) : undefined;
  }

  async write(path: string, data: Buffer): Promise<void> {
    checkPath(path);
    this.writes++;
    this.files.set(path, Buffer.from(data));
  }

  async list(dir: string): Promise<string[]> {
    const prefix = dir === '/' ? '/' : `${dir}/`;
    const names = new Set<string>();
    for (const p of this.files.keys()) if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
    return [...names];
  }
}
