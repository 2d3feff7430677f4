import { codedMessage } from '@fieldmesh/device-sdk/coded-error';
import type { Check } from './checks.js';
import { ConfigError } from './errors.js';
import { ROLLUP_DEFAULTS, validateRollupsConfig, type RollupsConfig } from '../rollups/config.js';
import { RollupError } from '../rollups/errors.js';

/**
 * The `rollups:` section: per-tier retention and flush cadence of the 1-minute and
 * 1-hour rollups, validated by the rollups component's own schema (gateway/src/rollups/config.ts,
 * where every field's unit and default is documented):
 *
 * ```yaml
 * rollups: { minute: { retention: 14d }, hour: { retention: 400d }, flushInterval: 5s }
 * ```
 */
export type { RollupsConfig };

export const rollupsDefaults: Readonly<RollupsConfig> = ROLLUP_DEFAULTS;

export const checkRollups: Check<RollupsConfig> = (v, path) => {
  try {
    return validateRollupsConfig(v, path || 'rollups') as RollupsConfig;
  } catch (err) {
    if (!(err instanceof RollupError)) throw err;
    const code = err.code === 'FM_ERR_ROLLUP_UNKNOWN_KEY' ? 'FM_ERR_CONFIG_UNKNOWN_KEY' : err.code === 'FM_ERR_ROLLUP_NOT_AN_OBJECT' ? 'FM_ERR_CONFIG_TYPE' : 'FM_ERR_CONFIG_RANGE';
    throw new ConfigError(code, err.key, codedMessage(err.code, err.detail, err.how));
  }
};
