import { codedMessage } from '@fieldmesh/device-sdk/coded-error';
import type { Check } from './checks.js';
import { ConfigError, type ConfigErrorCode } from './errors.js';
import { RuleError, type RuleErrorCode } from '../rules/errors.js';
import { validateRules } from '../rules/schema.js';
import type { RuleSpec } from '../rules/spec.js';

/**
 * The `rules:` section: validated strictly by the rules engine's own schema
 * (gateway/src/rules/schema.ts, documented in gateway/src/rules/spec.ts), so the config and a
 * live reload accept exactly the same rules. A refusal is a ConfigError like every other key's,
 * naming the key path (e.g. `rules[2].hysteresis`); its message carries the FM_ERR_RULE_… code
 * and that code's fix.
 */
export type RuleConfig = RuleSpec;

/** Most rules a config may hold: the engine's cost per reading does not grow with them, start-up does. */
const MAX_RULES = 10_000;

const AS_CONFIG: Partial<Record<RuleErrorCode, ConfigErrorCode>> = {
  FM_ERR_RULE_NOT_A_LIST: 'FM_ERR_CONFIG_TYPE',
  FM_ERR_RULE_NOT_AN_OBJECT: 'FM_ERR_CONFIG_TYPE',
  FM_ERR_RULE_MISSING_KEY: 'FM_ERR_CONFIG_TYPE',
  FM_ERR_RULE_UNKNOWN_KEY: 'FM_ERR_CONFIG_UNKNOWN_KEY',
};

export const checkRules: Check<RuleConfig[]> = (v, path) => {
  if (Array.isArray(v) && v.length > MAX_RULES) {
    throw new ConfigError('FM_ERR_CONFIG_RANGE', path, `at most ${MAX_RULES} rules, got ${v.length}`);
  }
  if (v === null) throw new ConfigError('FM_ERR_CONFIG_TYPE', path, 'expected a list of rules, got null');
  try {
    return [...validateRules(v, path || 'rules')];
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    throw new ConfigError(AS_CONFIG[err.code] ?? 'FM_ERR_CONFIG_RANGE', err.key, codedMessage(err.code, err.detail, err.how));
  }
};
