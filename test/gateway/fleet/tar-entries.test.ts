/**
 * The tar header check that runs before `tar` extracts a bundle: archives made by the real tar in
 * each of its formats (GNU long names, pax, ustar prefix) pass with deep paths and in-tree links;
 * hand-made hostile ones (pax or GNU long names smuggling `..`, devices, gzip bombs) do not.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { tarProblem } from '#gateway/fleet/tar-entries';
import { rawTarball, tempRoot } from './fleet-fixture.js';

const dir = tempRoot('fm-tar-');

function realTree(): string {
  const work = join(dir, `tree-${Math.random().toString(36).slice(2)}`);
  const deep = join(work, 'fieldmesh', 'node_modules', '@scope', 'a-package-with-a-rather-long-name', 'dist', 'esm', 'internal', 'deeply', 'nested', 'module-directory');
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'a-file-name-that-pushes-the-whole-path-well-over-one-hundred-characters.js'), 'x');
  mkdirSync(join(work, 'fieldmesh', 'gateway'), { recursive: true });
  symlinkSync('../gateway', join(work, 'fieldmesh', 'node_modules', 'gw'));
  return work;
}

describe('tar header check', () => {
  for (const format of ['gnu', 'pax', 'ustar', 'posix']) {
    it(`passes a real ${format} tarball with paths over 100 characters and in-tree symlinks`, async () => {
      const work = realTree();
      const file = join(dir, `real-${format}.tgz`);
      execFileSync('tar', [`--format=${format}`, '-czf', file, '-C', work, 'fieldmesh']);
      expect(await tarProblem(file, 'fieldmesh')).toBeNull();
    });
  }

  it('refuses names smuggled in pax and GNU long-name headers, devices, and unpacked sizes past the bound', async () => {
    const pax = (k: string, v: string) => {
      const rec = ` ${k}=${v}\n`;
      let len = rec.length + 2;
      if (String(len).length + rec.length !== len) len = String(len + 1).length + rec.length;
      return `${len}${rec}`;
    };
    const paxPath = rawTarball(dir, [{ name: 'PaxHeader', type: 'x', data: pax('path', 'fieldmesh/../../x') }, { name: 'fieldmesh/ok', data: 'x' }]);
    expect(await tarProblem(paxPath.file, 'fieldmesh')).toMatch(/not inside fieldmesh/);
    const paxLink = rawTarball(dir, [{ name: 'PaxHeader', type: 'x', data: pax('linkpath', '/etc/shadow') }, { name: 'fieldmesh/l', type: '2', link: 'ok' }]);
    expect(await tarProblem(paxLink.file, 'fieldmesh')).toMatch(/absolute/);
    const gnuLong = rawTarball(dir, [{ name: '././@LongLink', type: 'L', data: `fieldmesh/${'a/'.repeat(60)}../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../..\0` }, { name: 'fieldmesh/short', data: 'x' }]);
    expect(await tarProblem(gnuLong.file, 'fieldmesh')).toMatch(/not inside fieldmesh/);
    const device = rawTarball(dir, [{ name: 'fieldmesh/tty', type: '3' }]);
    expect(await tarProblem(device.file, 'fieldmesh')).toMatch(/tar type "3"/);
    const big = rawTarball(dir, [{ name: 'fieldmesh/a', data: 'x'.repeat(10_000) }, { name: 'fieldmesh/b', data: 'y'.repeat(10_000) }]);
    expect(await tarProblem(big.file, 'fieldmesh', { maxEntries: 100, maxUnpackedBytes: 15_000 })).toMatch(/unpacks to more than/);
    expect(await tarProblem(big.file, 'fieldmesh', { maxEntries: 1, maxUnpackedBytes: 1e9 })).toMatch(/more than 1 entries/);
    const notTar = join(dir, 'gz-not-tar.tgz');
    writeFileSync(notTar, gzipSync(Buffer.alloc(2048, 7)));
    expect(await tarProblem(notTar, 'fieldmesh')).toMatch(/checksum/);
  });
});
