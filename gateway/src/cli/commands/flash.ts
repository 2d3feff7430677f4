import { flashImage, type FlashProgress } from '@fieldmesh/hardware/image/flash';
import { parseFlags, UsageError, type Command } from '../command.js';

const help = `usage: fieldmesh flash --image FILE --device PATH

Writes an image (e.g. from \`fieldmesh image\`) to an SD card or a file, then reads the target
back and compares SHA-256 hashes. Refuses a device that is mounted (any partition, or under LVM or
LUKS) and the disk the running system is on. Writing a block device needs root.

options:
  --image FILE   the image to write
  --device PATH  the target: a whole-disk block device (/dev/sdX, /dev/mmcblk0) or a file path
`;

const MiB = 2 ** 20;

function progressPrinter(out: NodeJS.WriteStream): (p: FlashProgress) => void {
  let last = 0;
  let lastPhase = '';
  return (p) => {
    const now = performance.now();
    const end = p.done === p.total;
    if (!end && p.phase === lastPhase && now - last < 1000) return;
    last = now;
    lastPhase = p.phase;
    const pct = p.total === 0 ? 100 : Math.floor((p.done / p.total) * 100);
    const line = `${p.phase === 'write' ? 'writing  ' : 'verifying'} ${String(pct).padStart(3)}%  ${(p.done / MiB).toFixed(1)} / ${(p.total / MiB).toFixed(1)} MiB  ${(p.bytesPerSecond / MiB).toFixed(1)} MiB/s`;
    out.write(out.isTTY ? `\r${line}${end ? '\n' : ''}` : `${line}\n`);
  };
}

export const command: Command = {
  name: 'flash',
  summary: 'write an image to an SD card (or file) and verify it by reading back',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { image: 'string', device: 'string' });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (typeof flags.image !== 'string') throw new UsageError('--image is required');
    if (typeof flags.device !== 'string') throw new UsageError('--device is required');
    const r = await flashImage({ image: flags.image, device: flags.device, onProgress: progressPrinter(process.stderr) });
    process.stdout.write(
      `flashed ${flags.image} to ${flags.device} (${r.kind}): ${(r.bytes / MiB).toFixed(1)} MiB, verified sha256 ${r.sha256}\n` +
        `write ${r.writeSeconds.toFixed(1)} s, verify ${r.verifySeconds.toFixed(1)} s\n`,
    );
    return 0;
  },
};

export default command;
