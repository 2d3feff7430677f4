import { ConfigError } from './errors.js';
import { isMapping, type Check } from './checks.js';

/**
 * One local rule (threshold, staleness, rate of change). DESIGN.md shows only `rules: []`, so
 * this checks the shape (a list of mappings with a `kind`); the rules engineer deepens it.
 */
export interface RuleConfig {
  kind: string;
  [key: string]: unknown;
}

export const checkRule: Check<RuleConfig> = (v, path) => {
  if (!isMapping(v)) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, 'expected a mapping with at least `kind`');
  if (typeof v.kind !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(v.kind)) {
    throw new ConfigError('FM_ERR_CONFIG_TYPE', `${path}.kind`, 'expected a rule kind such as threshold, staleness or rate');
  }
  return v as RuleConfig;
};
