import { compilePattern, type SeriesPattern } from '../series/pattern.js';

/**
 * Local consumers (Node-RED, Home Assistant, a script on the Pi) log in to the gateway's broker
 * as `app:<id>` with a password made by `fieldmesh gateway add-app`. An app reads; it never
 * publishes, so it can neither pose as a device nor write into the reading log.
 *
 * What an app may subscribe to (INGEST.md §Apps):
 * - `fm/r/<series>` filters whose every match is a series its `--read` patterns cover;
 * - alerts (`fm/alerts/…`) and the gateway's availability (`fm/g/<gateway>/availability`).
 */
export const APP_USER_PREFIX = 'app:';
export const READING_TOPIC_PREFIX = 'fm/r/';
/** `fm/w/<device>/<sensor>`: an app's write of a writable Modbus coil or register (`--write`). */
export const WRITE_TOPIC_PREFIX = 'fm/w/';

/** Where an app hears how its writes went: `fm/a/<app id>/result`. */
export function appResultTopic(appId: string): string {
  return `fm/a/${appId}/result`;
}
export const APP_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function appTopic(series: string): string {
  return `${READING_TOPIC_PREFIX}${series}`;
}

function compileAll(kind: string, texts: readonly string[]): SeriesPattern[] {
  return texts.map((text) => {
    const p = compilePattern(text);
    if (typeof p === 'string') throw new Error(`${kind} pattern ${JSON.stringify(text)}: ${p}`);
    return p;
  });
}

export class AppGrant {
  readonly patterns: readonly SeriesPattern[];
  private readonly writes: readonly SeriesPattern[];

  constructor(
    readonly id: string,
    readonly read: readonly string[],
    /** Series (Modbus `<device>/<sensor>`) this app may write; none by default. */
    readonly write: readonly string[] = [],
  ) {
    this.patterns = compileAll('read', read);
    this.writes = compileAll('write', write);
  }

  /** Whether this app may write `series` (the register must also be writable in `modbus:`). */
  mayWrite(series: string): boolean {
    return this.writes.some((p) => p.matches(series));
  }

  /** Whether a SUBSCRIBE filter stays inside what this app may read. */
  allows(filter: string, gatewayId: string): boolean {
    if (filter === 'fm/alerts/#' || filter.startsWith('fm/alerts/')) return true;
    if (filter === availabilityTopic(gatewayId)) return true;
    if (filter === appResultTopic(this.id)) return true;
    if (!filter.startsWith(READING_TOPIC_PREFIX)) return false;
    const levels = filter.slice(READING_TOPIC_PREFIX.length).split('/');
    return this.patterns.some((p) => covers(p.text, levels));
  }
}

/**
 * Does series pattern `pattern` match every series an MQTT filter (levels after `fm/r/`) can
 * match? Conservative: `+` and `#` are allowed only where the pattern has `*` at that place.
 */
export function covers(pattern: string, filter: readonly string[]): boolean {
  const slash = pattern.indexOf('/');
  const pDevice = pattern.slice(0, slash);
  const pSensor = pattern.slice(slash + 1);
  const [fDevice, ...fSensor] = filter;
  if (fDevice === undefined || fDevice === '') return false;
  if (fDevice === '#') return pDevice === '*' && pSensor === '*';
  if (fDevice === '+') {
    if (pDevice !== '*') return false;
  } else if (pDevice !== '*' && pDevice !== fDevice) return false;
  if (fSensor.length === 0) return false;
  // `*` as the whole sensor part is any sensor at any depth: every filter below the device fits.
  if (pSensor === '*') return fSensor.every((l, i) => l !== '' && (l !== '#' || i === fSensor.length - 1));
  const pLevels = pSensor.split('/');
  if (fSensor.includes('#') || fSensor.length !== pLevels.length) return false;
  return fSensor.every((l, i) => pLevels[i] === '*' || (l !== '+' && l === pLevels[i]));
}

/** Retained `online` while the gateway's broker runs, `offline` on a clean stop. */
export function availabilityTopic(gatewayId: string): string {
  return `fm/g/${gatewayId}/availability`;
}
