import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A Pi's limits imitated on a bigger Linux machine, for the footprint benchmark: one core
 * (`taskset`), a memory ceiling (a cgroup of our own: `systemd-run --scope` needs systemd as
 * PID 1 and a bus, which containers often lack, while a cgroup directory works on v1 and v2),
 * and an SD card's slow fsync (a loop-device file system with its writes throttled by the
 * cgroup's block I/O limit; device-mapper's dm-delay is used by nobody here because kernels in
 * containers rarely have device-mapper). Each part says why when it cannot be had; the bench
 * prints that instead of a figure.
 */
export interface Cage {
  /** The command to run in place of `argv`, entering the cgroup before exec. */
  wrap(argv: string[]): string[];
  /** OOM kills inside the cage so far, and the peak memory charged (bytes; NaN if unknown). */
  report(): { oomKills: number; peakBytes: number };
  /** What this cage is, for the table: "1 core, MemoryMax 128 MiB, SD-like fsync". */
  describe(): string;
  /** Why a requested part is missing ("" when all are there). */
  missing(): string;
  close(): void;
}

export interface CageOptions {
  cpus?: string;
  memoryMaxBytes?: number;
  /** Data directory on a throttled block device: write IOPS and bytes/s of a slow SD card. */
  throttledDisk?: { dir: string; writeIops: number; writeBps: number; sizeMb: number };
}

const V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

function v1Dir(controller: string): string | undefined {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) return undefined;
  return join('/sys/fs/cgroup', controller, line.split(':')[2]!);
}

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function makeCage(name: string, opts: CageOptions): Cage {
  const made: string[] = [];
  const gaps: string[] = [];
  const parts: string[] = [];
  let memDir: string | undefined;
  let ioDir: string | undefined;
  let loop: string | undefined;
  let mounted: string | undefined;
  let image: string | undefined;
  let closed = false;
  const cpus = opts.cpus !== undefined && has('taskset') ? opts.cpus : undefined;
  if (opts.cpus !== undefined) {
    if (cpus === undefined) gaps.push('taskset missing (Debian util-linux)');
    else parts.push(`CPU ${cpus} only`);
  }
  const mkcg = (parent: string | undefined): string | undefined => {
    if (parent === undefined) return undefined;
    const dir = join(parent, `fm-bench-${name}-${process.pid}`);
    try {
      mkdirSync(dir);
      made.push(dir);
      return dir;
    } catch (err) {
      gaps.push(`cannot make a cgroup under ${parent}: ${(err as Error).message}`);
      return undefined;
    }
  };
  if (opts.memoryMaxBytes !== undefined) {
    memDir = mkcg(V2 ? '/sys/fs/cgroup' : v1Dir('memory'));
    if (memDir) {
      if (V2) {
        writeFileSync(join(memDir, 'memory.max'), String(opts.memoryMaxBytes));
        if (existsSync(join(memDir, 'memory.swap.max'))) writeFileSync(join(memDir, 'memory.swap.max'), '0');
      } else {
        writeFileSync(join(memDir, 'memory.limit_in_bytes'), String(opts.memoryMaxBytes));
        // No swap to hide behind: a Pi with an SD card has none worth the name.
        if (existsSync(join(memDir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(memDir, 'memory.memsw.limit_in_bytes'), String(opts.memoryMaxBytes));
      }
      parts.push(`MemoryMax ${opts.memoryMaxBytes / 2 ** 20} MiB`);
    }
  }
  const disk = opts.throttledDisk;
  if (disk) {
    try {
      if (!has('losetup') || !has('mkfs.ext4')) throw new Error('losetup or mkfs.ext4 missing (Debian mount, e2fsprogs)');
      image = `${disk.dir}.img`;
      execFileSync('truncate', ['-s', `${disk.sizeMb}M`, image]);
      execFileSync('mkfs.ext4', ['-q', '-F', image]);
      loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
      mkdirSync(disk.dir, { recursive: true });
      execFileSync('mount', [loop, disk.dir]);
      mounted = disk.dir;
      const devno = readFileSync(`/sys/block/${loop.replace('/dev/', '')}/dev`, 'utf8').trim();
      ioDir = V2 ? memDir : mkcg(v1Dir('blkio'));
      if (!ioDir) throw new Error('no cgroup for the block I/O limit');
      if (V2) {
        writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+io');
        writeFileSync(join(ioDir, 'io.max'), `${devno} wiops=${disk.writeIops} wbps=${disk.writeBps}`);
      } else {
        writeFileSync(join(ioDir, 'blkio.throttle.write_iops_device'), `${devno} ${disk.writeIops}`);
        writeFileSync(join(ioDir, 'blkio.throttle.write_bps_device'), `${devno} ${disk.writeBps}`);
      }
      parts.push(`data on ext4/loop, writes ≤ ${disk.writeIops} IOPS and ${(disk.writeBps / 2 ** 20).toFixed(0)} MiB/s`);
    } catch (err) {
      gaps.push(`no throttled disk: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const procsFiles = [...new Set([memDir, ioDir].filter((d): d is string => d !== undefined))].map((d) => join(d, 'cgroup.procs'));
  return {
    wrap(argv) {
      const enter = procsFiles.map((f) => `echo $$ > ${f}`).join(' && ');
      const cmd = [...(cpus !== undefined ? ['taskset', '-c', cpus] : []), ...argv];
      if (!enter) return cmd;
      return ['sh', '-c', `${enter} && exec "$@"`, 'cage', ...cmd];
    },
    report() {
      if (!memDir) return { oomKills: 0, peakBytes: NaN };
      if (V2) {
        const events = readFileSync(join(memDir, 'memory.events'), 'utf8');
        const peak = existsSync(join(memDir, 'memory.peak')) ? Number(readFileSync(join(memDir, 'memory.peak'), 'utf8')) : NaN;
        return { oomKills: Number(/oom_kill (\d+)/u.exec(events)?.[1] ?? 0), peakBytes: peak };
      }
      const oom = readFileSync(join(memDir, 'memory.oom_control'), 'utf8');
      return { oomKills: Number(/oom_kill (\d+)/u.exec(oom)?.[1] ?? 0), peakBytes: Number(readFileSync(join(memDir, 'memory.max_usage_in_bytes'), 'utf8')) };
    },
    describe: () => parts.join(', ') || 'unconstrained',
    missing: () => gaps.join('; '),
    close() {
      if (closed) return;
      closed = true;
      if (mounted) {
        try {
          execFileSync('umount', [mounted]);
        } catch {
          execFileSync('umount', ['-l', mounted]);
        }
      }
      if (loop) execFileSync('losetup', ['-d', loop]);
      if (image) rmSync(image, { force: true });
      for (const dir of made.reverse()) {
        try {
          rmdirSync(dir);
        } catch {
          // Still has a process (a child that outlived its kill): the kernel frees it later.
        }
      }
    },
  };
}
