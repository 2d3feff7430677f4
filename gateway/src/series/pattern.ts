import { isDeviceId, SENSOR_NAME } from '@fieldmesh/device-sdk';

/**
 * Series patterns. A pattern is `<device>/<sensor>` split at the first `/`, as series names are:
 * - the device part is a device id or `*` (any device);
 * - the sensor part is `*` (any sensor, at any depth: `boiler/*` matches `boiler/a/b` too),
 *   or `/`-separated levels each either a name or `*` (exactly one level).
 * So `boiler/temperature`, `boiler/*`, `*\/temperature`, `*\/*`, `rack1/*\/temp`.
 */
export interface SeriesPattern {
  readonly text: string;
  /** True when the pattern names exactly one series (no wildcard). */
  readonly exact: boolean;
  /** The device part when it is not `*`. */
  readonly device?: string;
  matches(series: string): boolean;
}

const LEVEL = /^[A-Za-z0-9_.:-]+$/;

/** Returns the compiled pattern, or a reason it is not one. */
export function compilePattern(text: string): SeriesPattern | string {
  if (typeof text !== 'string') return 'not a string';
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return `'${text}' is not of the form device/sensor`;
  const device = text.slice(0, slash);
  const sensor = text.slice(slash + 1);
  if (device !== '*' && !isDeviceId(device)) return `'${device}' is neither a device id nor *`;
  const levels = sensor.split('/');
  if (sensor !== '*' && !levels.every((l) => l === '*' || LEVEL.test(l))) {
    return `'${sensor}' has a level that is neither a name nor *`;
  }
  if (sensor !== '*' && !levels.includes('*') && !SENSOR_NAME.test(sensor)) return `'${sensor}' is not a sensor name`;
  const exact = device !== '*' && !levels.includes('*');
  if (exact) return { text, exact, device, matches: (s) => s === text };
  const anySensor = sensor === '*';
  // Fast paths for the common shapes, without allocating: `dev/*`, `*/sensor`, `*/*`.
  if (anySensor) {
    const prefix = `${device}/`;
    return {
      text,
      exact,
      ...(device === '*' ? {} : { device }),
      matches: device === '*' ? (s) => s.indexOf('/') > 0 : (s) => s.startsWith(prefix) && s.length > prefix.length,
    };
  }
  if (device === '*' && !levels.includes('*')) {
    const suffix = `/${sensor}`;
    return { text, exact, matches: (s) => s.endsWith(suffix) && s.indexOf('/') === s.length - suffix.length && s.length > suffix.length };
  }
  return {
    text,
    exact,
    ...(device === '*' ? {} : { device }),
    matches(series: string): boolean {
      const cut = series.indexOf('/');
      if (cut <= 0) return false;
      if (device !== '*' && series.slice(0, cut) !== device) return false;
      const got = series.slice(cut + 1).split('/');
      if (got.length !== levels.length) return false;
      for (let i = 0; i < levels.length; i++) if (levels[i] !== '*' && levels[i] !== got[i]) return false;
      return true;
    },
  };
}

/** The device id of a series name (the part before the first `/`). */
export function deviceOf(series: string): string {
  const cut = series.indexOf('/');
  return cut === -1 ? series : series.slice(0, cut);
}
