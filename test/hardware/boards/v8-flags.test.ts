import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BOARD_PROFILES, memoryBudgetMb, PI_4B, PI_ZERO_2W, v8HeapFlags } from '#hardware/boards/index';

describe('v8HeapFlags', () => {
  it('sizes the young generation and old space from the budget', () => {
    expect(v8HeapFlags(memoryBudgetMb(PI_ZERO_2W, 512 * 2 ** 20))).toEqual(['--max-semi-space-size=1', '--max-old-space-size=64', '--lite-mode']);
    expect(v8HeapFlags(256)).toEqual(['--max-semi-space-size=2', '--max-old-space-size=128']);
    expect(v8HeapFlags(memoryBudgetMb(PI_4B, 4096 * 2 ** 20))).toEqual(['--max-semi-space-size=4', '--max-old-space-size=256']);
    expect(() => v8HeapFlags(16)).toThrow(/>= 32/u);
    expect(() => v8HeapFlags(Number.NaN)).toThrow(/>= 32/u);
  });

  it('gives flags this Node accepts on its command line, and the heap limit follows them', () => {
    for (const p of BOARD_PROFILES) {
      const flags = v8HeapFlags(memoryBudgetMb(p, Math.min(...p.ramMb) * 2 ** 20));
      const r = spawnSync(process.execPath, [...flags, '-p', "require('node:v8').getHeapStatistics().heap_size_limit"], { encoding: 'utf8' });
      expect(r.status, `${p.id}: ${r.stderr}`).toBe(0);
      const oldMb = Number(/--max-old-space-size=(\d+)/u.exec(flags.join(' '))![1]);
      const limitMb = Number(r.stdout) / 2 ** 20;
      expect(limitMb, p.id).toBeGreaterThanOrEqual(oldMb);
      expect(limitMb, p.id).toBeLessThan(oldMb + 16);
    }
  });
});
