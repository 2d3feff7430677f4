import { describe, expect, it } from 'vitest';
import type { Logger } from '@fieldmesh/device-sdk';
import {
  BOARD_PROFILES,
  GENERIC_BOARD,
  detectBoard,
  memoryBudgetMb,
  readDeviceTreeModel,
} from '#hardware/boards/index';

function recordingLogger(): Logger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const make = (): Logger => ({
    debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
    child: () => make(),
  });
  return Object.assign(make(), { lines });
}

// Strings as the firmware writes them, NUL terminator included.
const MODELS: Array<[string, string]> = [
  ['Raspberry Pi Zero 2 W Rev 1.0\0', 'pi-zero-2w'],
  ['Raspberry Pi 3 Model B Plus Rev 1.3\0', 'pi-3b-plus'],
  ['Raspberry Pi 4 Model B Rev 1.1\0', 'pi-4b'],
  ['Raspberry Pi 4 Model B Rev 1.5\0', 'pi-4b'],
  ['Raspberry Pi 5 Model B Rev 1.0\0', 'pi-5'],
  ['Raspberry Pi Compute Module 4 Rev 1.0\0', 'pi-cm4'],
];

describe('detectBoard', () => {
  it.each(MODELS)('recognises %j as %s', (model, id) => {
    const log = recordingLogger();
    const d = detectBoard(() => model, { totalMemoryBytes: 1024 * 2 ** 20, logger: log });
    expect(d.profile.id).toBe(id);
    expect(d.generic).toBe(false);
    expect(d.model).toBe(model.replace('\0', ''));
    expect(d.reason).toContain(d.profile.name);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(0);
  });

  it('gives UART paths per board: mini UART on Bluetooth boards, debug UART on the Pi 5', () => {
    const byId = Object.fromEntries(BOARD_PROFILES.map((p) => [p.id, p]));
    expect(byId['pi-3b-plus']!.uart.primaryTarget).toBe('/dev/ttyS0');
    expect(byId['pi-zero-2w']!.uart.primaryTarget).toBe('/dev/ttyS0');
    expect(byId['pi-5']!.uart.primaryTarget).toBe('/dev/ttyAMA10');
    for (const p of BOARD_PROFILES) {
      expect(p.uart.primary).toBe('/dev/serial0');
      expect(p.uart.devices).toContain(p.uart.primaryTarget);
    }
    expect(byId['pi-zero-2w']!.defaults.gossipPreset).toBe('wan');
    expect(byId['pi-4b']!.defaults.gossipPreset).toBe('lan');
  });

  it.each([
    ['an unknown board', 'Pine64 RockPro64\0', 'not in the catalog'],
    ['a CM4S (not a CM4)', 'Raspberry Pi Compute Module 4S Rev 1.0\0', 'not in the catalog'],
    ['no device tree', undefined, 'missing or empty'],
    ['an empty model', '\0', 'missing or empty'],
  ])('falls back to generic defaults for %s and says why (no warning: the gateway logs the profile once, at info)', (_what, model, why) => {
    const log = recordingLogger();
    const d = detectBoard(() => model, { totalMemoryBytes: 4096 * 2 ** 20, logger: log });
    expect(d.profile).toBe(GENERIC_BOARD);
    expect(d.generic).toBe(true);
    expect(d.reason).toContain(why);
    expect(d.reason).toContain('generic defaults');
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(0);
  });

  it('treats a reader that throws as no model', () => {
    const d = detectBoard(() => {
      throw new Error('EACCES');
    });
    expect(d.generic).toBe(true);
  });

  it('does not misread a hostile, huge model string', () => {
    const d = detectBoard(() => 'Raspberry Pi 4 Model B' + 'x'.repeat(1_000_000));
    expect(d.generic).toBe(true);
    expect(d.model!.length).toBeLessThanOrEqual(256);
  });

  it('sizes the memory budget from RAM, capped per board', () => {
    const pi4 = BOARD_PROFILES.find((p) => p.id === 'pi-4b')!;
    expect(memoryBudgetMb(pi4, 1024 * 2 ** 20)).toBe(256);
    expect(memoryBudgetMb(pi4, 8192 * 2 ** 20)).toBe(512);
    // Unknown RAM: assume the smallest variant.
    expect(memoryBudgetMb(pi4, undefined)).toBe(256);
    const zero = BOARD_PROFILES.find((p) => p.id === 'pi-zero-2w')!;
    expect(memoryBudgetMb(zero, 512 * 2 ** 20)).toBe(128);
  });

  it('reads the real device tree without throwing (absent on this x86 machine)', () => {
    const model = readDeviceTreeModel();
    expect(model === undefined || typeof model === 'string').toBe(true);
  });
});
