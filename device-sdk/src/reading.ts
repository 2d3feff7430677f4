/**
 * A reading is one value of one series at one time. Series are named `device/sensor`
 * (a name scripts rely on: keep it stable): the device id is the MQTT client id / frame device id, the sensor
 * name is chosen by the device.
 */
export type ReadingValue = number | boolean | string;

export interface Reading {
  /** `device/sensor`, see `isSeriesName`. */
  series: string;
  /** Milliseconds since the Unix epoch. */
  ts: number;
  value: ReadingValue;
  /** SenML unit symbol (RFC 8428 §12.1), when the device gave one. */
  unit?: string;
}

/** Device ids: what may stand in an MQTT topic level and a file name without escaping. */
export const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Sensor names: one or more `/`-separated levels of the same safe alphabet, at most 128 chars. */
export const SENSOR_NAME = /^(?=.{1,128}$)[A-Za-z0-9_.:-]+(\/[A-Za-z0-9_.:-]+)*$/;

export function isDeviceId(s: string): boolean {
  return DEVICE_ID.test(s);
}

export function isSeriesName(s: string): boolean {
  const slash = s.indexOf('/');
  return slash > 0 && isDeviceId(s.slice(0, slash)) && SENSOR_NAME.test(s.slice(slash + 1));
}
