/**
 * Error catalog of the rules engine. Codes are stable: code branches on `code`, never on text.
 * Every entry says how to solve it, so the message printed at start-up is actionable.
 */
export const RULE_ERRORS = {
  FM_ERR_RULE_NOT_A_LIST: 'Write `rules:` as a YAML list of rule objects (or `rules: []` for none).',
  FM_ERR_RULE_NOT_AN_OBJECT: 'Each rule is a map with at least `id`, `kind` and `series`.',
  FM_ERR_RULE_UNKNOWN_KEY: 'Remove the key or fix its spelling; the message lists the keys this kind of rule accepts.',
  FM_ERR_RULE_MISSING_KEY: 'Add the key named in the message; it is required for this kind of rule.',
  FM_ERR_RULE_BAD_ID: 'Use an id of 1-64 characters from A-Z a-z 0-9 _ . - (it becomes an MQTT topic level).',
  FM_ERR_RULE_DUPLICATE_ID: 'Give every rule its own id: alert state is kept by rule id across reloads.',
  FM_ERR_RULE_BAD_KIND: 'Use one of the kinds listed in the message: threshold, rate, staleness, deadband.',
  FM_ERR_RULE_BAD_PATTERN:
    'Write the series as `device/sensor`, where either part may be `*` (any), e.g. `boiler/temperature`, `boiler/*`, `*/temperature`.',
  FM_ERR_RULE_BAD_NUMBER: 'Give a finite number (the message says which range it must lie in).',
  FM_ERR_RULE_BAD_DURATION: 'Give a duration as milliseconds (a number) or a string like `500ms`, `30s`, `5m`, `2h`.',
  FM_ERR_RULE_BAD_VALUE: 'Use one of the values listed in the message.',
  FM_ERR_RULE_NO_LIMIT: 'Give at least one limit (`high`/`low` for threshold, `maxRise`/`maxFall` for rate).',
} as const;

export type RuleErrorCode = keyof typeof RULE_ERRORS;

/** A rule list that cannot be used. `key` is the config path, e.g. `rules[2].hysteresis`. */
export class RuleError extends Error {
  override name = 'RuleError';
  readonly solve: string;
  constructor(
    readonly code: RuleErrorCode,
    readonly key: string,
    detail: string,
  ) {
    super(`${key}: ${detail}. ${RULE_ERRORS[code]}`);
    this.solve = RULE_ERRORS[code];
  }
}
