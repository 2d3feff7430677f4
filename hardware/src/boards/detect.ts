import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { silentLogger, type Logger } from '@fieldmesh/device-sdk';
import { BOARD_PROFILES, GENERIC_BOARD } from './catalog.js';
import type { BoardDetection, BoardProfile } from './profile.js';

/** Returns the device-tree model text, or undefined when there is none (not a DT board). */
export type ModelReader = () => string | undefined;

export const DEVICE_TREE_MODEL_PATH = '/proc/device-tree/model';

/** The real reader: the file is NUL-terminated on the board and absent on x86. */
export const readDeviceTreeModel: ModelReader = () => {
  try {
    return readFileSync(DEVICE_TREE_MODEL_PATH, 'latin1');
  } catch {
    return undefined;
  }
};

export interface DetectOptions {
  /** Physical RAM in bytes; default os.totalmem(). Tests pass a figure. */
  totalMemoryBytes?: number;
  logger?: Logger;
}

/** Strips the trailing NUL(s) and whitespace the firmware leaves, and caps hostile lengths. */
export function normaliseModel(raw: string): string {
  return raw.slice(0, 256).replace(/\0+$/u, '').replace(/\0/gu, ' ').trim();
}

export function findProfile(model: string): BoardProfile | undefined {
  return BOARD_PROFILES.find((p) => p.modelPattern.test(model));
}

export function memoryBudgetMb(profile: BoardProfile, totalMemoryBytes: number | undefined): number {
  const ramMb = totalMemoryBytes && totalMemoryBytes > 0 ? totalMemoryBytes / 2 ** 20 : Math.min(...profile.ramMb);
  return Math.max(32, Math.min(profile.defaults.memoryBudgetCapMb, Math.floor(ramMb * profile.defaults.memoryBudgetFraction)));
}

/**
 * Picks the board profile from the device-tree model. Never throws: an unreadable or unknown
 * model gives the generic profile, with `reason` saying so. It logs only at debug: the caller
 * says which profile applies, once (a generic board is a normal case on a PC, not a warning).
 */
export function detectBoard(readModel: ModelReader = readDeviceTreeModel, options: DetectOptions = {}): BoardDetection {
  const log = (options.logger ?? silentLogger).child({ component: 'board' });
  const total = options.totalMemoryBytes ?? totalmem();
  let raw: string | undefined;
  try {
    raw = readModel();
  } catch {
    raw = undefined;
  }
  const model = raw === undefined ? undefined : normaliseModel(raw);
  const profile = model ? findProfile(model) : undefined;
  if (profile) {
    return {
      profile,
      model,
      generic: false,
      reason: `${DEVICE_TREE_MODEL_PATH} says "${model}", which matches the ${profile.name} profile`,
      memoryBudgetMb: memoryBudgetMb(profile, total),
    };
  }
  const reason =
    model === undefined || model === ''
      ? `${DEVICE_TREE_MODEL_PATH} is missing or empty (not a device-tree board); using generic defaults`
      : `board "${model}" is not in the catalog; using generic defaults`;
  log.debug({ model, profile: GENERIC_BOARD.id }, reason);
  return { profile: GENERIC_BOARD, model, generic: true, reason, memoryBudgetMb: memoryBudgetMb(GENERIC_BOARD, total) };
}
