import { keyedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the rules engine. Codes are stable: code branches on `code`, never on text.
 * Every entry says how to solve it, so the message printed at start-up is actionable.
 */
export const RULE_ERRORS = {
  FM_ERR_RULE_NOT_A_LIST: {
    meaning: '`rules:` is not a list.',
    howToSolve: 'Write `rules:` as a YAML list of rule objects (or `rules: []` for none).',
  },
  FM_ERR_RULE_NOT_AN_OBJECT: {
    meaning: 'An entry of the rule list is not a map.',
    howToSolve: 'Each rule is a map with at least `id`, `kind` and `series`.',
  },
  FM_ERR_RULE_UNKNOWN_KEY: {
    meaning: 'A rule holds a key its kind does not take.',
    howToSolve: 'Remove the key or fix its spelling; the message lists the keys this kind of rule accepts.',
  },
  FM_ERR_RULE_MISSING_KEY: {
    meaning: 'A rule lacks a key its kind requires.',
    howToSolve: 'Add the key named in the message; it is required for this kind of rule.',
  },
  FM_ERR_RULE_BAD_ID: {
    meaning: 'A rule id is empty, too long or uses characters outside A-Z a-z 0-9 _ . -.',
    howToSolve: 'Use an id of 1-64 characters from A-Z a-z 0-9 _ . - (it becomes an MQTT topic level).',
  },
  FM_ERR_RULE_DUPLICATE_ID: {
    meaning: 'Two rules share one id.',
    howToSolve: 'Give every rule its own id: alert state is kept by rule id across reloads.',
  },
  FM_ERR_RULE_BAD_KIND: {
    meaning: 'A rule names a kind the engine does not have.',
    howToSolve: 'Use one of the kinds listed in the message: threshold, rate, staleness, deadband.',
  },
  FM_ERR_RULE_BAD_PATTERN: {
    meaning: 'A rule\'s series pattern is not `device/sensor` with optional `*` parts.',
    howToSolve: 'Write the series as `device/sensor`, where either part may be `*` (any), e.g. `boiler/temperature`, `boiler/*`, `*/temperature`.',
  },
  FM_ERR_RULE_BAD_NUMBER: {
    meaning: 'A number of a rule is not finite or out of its range.',
    howToSolve: 'Give a finite number (the message says which range it must lie in).',
  },
  FM_ERR_RULE_BAD_DURATION: {
    meaning: 'A duration of a rule is not a positive duration.',
    howToSolve: 'Give a duration as milliseconds (a number) or a string like `500ms`, `30s`, `5m`, `2h`.',
  },
  FM_ERR_RULE_BAD_VALUE: {
    meaning: 'A key of a rule holds a value outside its accepted list.',
    howToSolve: 'Use one of the values listed in the message.',
  },
  FM_ERR_RULE_NO_LIMIT: {
    meaning: 'A threshold or rate rule gives no limit, so it could never fire.',
    howToSolve: 'Give at least one limit (`high`/`low` for threshold, `maxRise`/`maxFall` for rate).',
  },
} as const;

export type RuleErrorCode = keyof typeof RULE_ERRORS;

/** A rule list that cannot be used. `key` is the config path, e.g. `rules[2].hysteresis`. */
export class RuleError extends keyedErrorClass('RuleError', RULE_ERRORS) {}
