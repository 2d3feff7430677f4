import { int, oneOf, section, type Check } from './checks.js';
import type { StorageConfig } from '../store/storage-config.js';

/** The `storage:` section; its keys are documented where they act (store/storage-config.ts). */
export type { StorageConfig };

export const storageDefaults: StorageConfig = { budgetBytes: 0, policy: 'downsample', checkIntervalMs: 5000, lowWaterPercent: 90 };

export const checkStorage: Check<StorageConfig> = section<StorageConfig>(
  {
    budgetBytes: int(0, Number.MAX_SAFE_INTEGER),
    policy: oneOf('downsample', 'drop-oldest', 'reject-new'),
    checkIntervalMs: int(100, 3_600_000),
    lowWaterPercent: int(10, 99),
  },
  storageDefaults,
);
