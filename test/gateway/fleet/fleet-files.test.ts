/**
 * The fleet agent's files on their own: the switch journal as the sh launcher reads and writes
 * it, release pruning that never touches what is not a release, and the room check before a
 * download.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeJournal, parseJournal, readJournal, writeJournal, type SwitchJournal } from '#gateway/fleet/switch-journal';
import { pruneReleases, roomProblem } from '#gateway/fleet/release-pruning';
import { tempRoot } from './fleet-fixture.js';

const dir = tempRoot('fm-fleet-files-');
const j: SwitchJournal = { kind: 'release', target: '1.2.0', previous: '1.1.0', step: 'switch', attempts: 0, maxAttempts: 2, deadlineSec: 120, uplinkWasUp: true, serial: 12 };

describe('switch journal', () => {
  it('round-trips, reason last on one line, written whole (no tmp left)', () => {
    const file = join(dir, 'switch.state');
    writeJournal(file, { ...j, step: 'rolled-back', reason: 'exited with code 1\nbefore confirming' });
    expect(readJournal(file)).toEqual({ ...j, step: 'rolled-back', reason: 'exited with code 1 before confirming' });
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(encodeJournal(j).split('\n').at(-2)).toBe('serial=12');
  });

  it('refuses values the launcher cannot read, and reads no torn or foreign file as a journal', () => {
    expect(() => encodeJournal({ ...j, target: '1.2.0 ; rm -rf /' })).toThrow(/cannot read/);
    expect(() => encodeJournal({ ...j, previous: '$(x)' })).toThrow(/cannot read/);
    for (const text of ['', 'kind=release\ntarget=1.2.0\n', 'kind=release\ntarget=1.2.0\nprevious=1.1.0\nstep=flying\nattempts=0\nmaxAttempts=2\ndeadlineSec=1\nserial=1\n', 'garbage', 'kind=release\ntarget=../x\nprevious=1\nstep=trial\nattempts=0\nmaxAttempts=2\ndeadlineSec=1\nserial=1\n']) {
      expect(parseJournal(text).ok, text).toBe(false);
    }
    const big = join(dir, 'big.state');
    writeFileSync(big, 'x'.repeat(10_000));
    expect(readJournal(big)).toMatchObject({ corrupt: expect.any(String) });
    expect(readJournal(join(dir, 'none.state'))).toBeNull();
  });
});

describe('release pruning', () => {
  it('keeps what runs and what can be rolled back to, and anything that is not a release', () => {
    const rel = join(dir, 'releases');
    for (const d of ['1.0.0', '1.1.0', '1.2.0', '1.3.0.partial', 'keep-me', '1.1.0.partial']) mkdirSync(join(rel, d), { recursive: true });
    writeFileSync(join(rel, 'current'), '');
    expect(pruneReleases(rel, ['1.2.0', '1.1.0']).sort()).toEqual(['1.0.0', '1.1.0.partial', '1.3.0.partial']);
    expect(readdirSync(rel).sort()).toEqual(['1.1.0', '1.2.0', 'current', 'keep-me']);
  });
});

describe('room for a bundle', () => {
  it('is refused when the disk cannot hold the bundle and its tree', () => {
    expect(roomProblem([dir], 1000)).toBeNull();
    expect(roomProblem([dir], 2 ** 50)).toMatch(/MiB free/);
  });
});
