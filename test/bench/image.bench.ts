import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle } from '#hardware/image/bundle/build';
import { customiseImageFile } from '@fieldmesh/hardware/image/customise';
import { flashImage } from '#hardware/image/flash/flash';
import { makePiImage } from '../hardware/image/synthetic-image.js';
import type { BenchRow } from './harness.js';

/**
 * Image tooling: how long `npm run bundle`, `fieldmesh image` and `fieldmesh flash` take here.
 * There are no numeric targets; the anchors are what a user meets (an SD card writes at
 * roughly 10-90 MB/s, so flashing is bound by the card, not by this code).
 */
export default async (): Promise<BenchRow[]> => {
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'fm-bench-image-'));
  const rows: BenchRow[] = [];
  try {
    let t = performance.now();
    const bundle = await buildBundle({ repoRoot: repo, outFile: join(dir, 'bundle.tgz') });
    rows.push({ name: 'npm run bundle (HEAD), wall time', value: (performance.now() - t) / 1000, unit: 's' });
    rows.push({ name: 'bundle size (gzip)', value: bundle.bytes / 2 ** 20, unit: 'MiB' });

    const src = makePiImage(dir, 'raspios.img', { bootMb: 256, rootMb: 16 });
    const req = {
      source: src,
      out: join(dir, 'gw.img'),
      bundle: readFileSync(bundle.outFile),
      devices: ['d1', 'd2', 'd3'],
      provisioning: { hostname: 'gw-bench', user: 'ops', sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKey bench'], bootMount: '/boot/firmware' },
    };
    t = performance.now();
    const first = await customiseImageFile(req);
    rows.push({ name: `fieldmesh image, 273 MiB image, first run (copy + ${first.written.length} files)`, value: (performance.now() - t) / 1000, unit: 's' });
    t = performance.now();
    const again = await customiseImageFile(req);
    rows.push({ name: `fieldmesh image, second run (${again.written.length} files written)`, value: (performance.now() - t) / 1000, unit: 's' });

    const img = join(dir, 'flash.img');
    writeFileSync(img, randomBytes(256 * 2 ** 20));
    const r = await flashImage({ image: img, device: join(dir, 'card.bin') });
    rows.push({ name: 'fieldmesh flash to a file: write + fsync', value: 256 / r.writeSeconds, unit: 'MiB/s', anchor: 'SD card ~10-90 MB/s' });
    rows.push({ name: 'fieldmesh flash to a file: read back + SHA-256', value: 256 / r.verifySeconds, unit: 'MiB/s' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
};
