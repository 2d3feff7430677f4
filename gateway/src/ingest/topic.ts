import { decodeSenml, isSenmlError, SENSOR_NAME, type Reading, type ReadingValue } from '@fieldmesh/device-sdk';
import { IngestError } from './errors.js';

/**
 * Device topics (INGEST.md):
 *   fm/d/<device>/senml      a SenML JSON pack (device-sdk/SENML.md), may carry fm_seq
 *   fm/d/<device>/<sensor>   one bare value, stamped with the gateway's time on arrival
 *   fm/d/<device>/rejected   written by the gateway only: why a publish was refused
 */
export const DEVICE_TOPIC_PREFIX = 'fm/d/';
export const SENML_LEVEL = 'senml';
export const REJECTED_LEVEL = 'rejected';

export function rejectedTopic(device: string): string {
  return `${DEVICE_TOPIC_PREFIX}${device}/${REJECTED_LEVEL}`;
}

/** Refused publishes are routed here, where no subscription can see them (the broker's authorizeForward). */
export const REFUSED_TOPIC_PREFIX = '$fm/refused/';

/** Longest bare string value (matches the SenML `vs` limit). */
const MAX_STRING_VALUE = 1024;

export interface DecodedPublish {
  readings: Reading[];
  deviceSeq?: number;
}

/**
 * Turns a device's publish into readings, or throws an IngestError. `device` is the identity
 * the broker authenticated; the topic must be under it.
 */
export function decodePublish(device: string, topic: string, payload: Buffer, now: number): DecodedPublish {
  const own = `${DEVICE_TOPIC_PREFIX}${device}/`;
  if (!topic.startsWith(own)) throw new IngestError('forbidden_topic', `${device} may not publish on ${topic.slice(0, 200)}`);
  const rest = topic.slice(own.length);
  if (rest === SENML_LEVEL) {
    try {
      return decodeSenml(payload, { device, now });
    } catch (err) {
      if (isSenmlError(err)) throw new IngestError('malformed_senml', err.message);
      throw err;
    }
  }
  if (rest === REJECTED_LEVEL || !SENSOR_NAME.test(rest)) throw new IngestError('bad_topic', `${topic.slice(0, 200)} is not a sensor topic`);
  return { readings: [{ series: `${device}/${rest}`, ts: now, value: parseBareValue(payload) }] };
}

/**
 * A bare value is a JSON scalar: a finite number (`21.5`), `true`/`false`, or a string in
 * quotes (`"open"`). Unquoted text such as `21.5C` is refused rather than stored as a string, so
 * a device bug shows up as a rejection, not as a series that silently turned textual.
 */
export function parseBareValue(payload: Buffer): ReadingValue {
  if (payload.length > MAX_STRING_VALUE + 64) throw new IngestError('bad_value', `bare value of ${payload.length} bytes is too long`);
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new IngestError('bad_value', `bare value ${JSON.stringify(payload.toString('utf8').slice(0, 40))} is not a number, true/false or a quoted string`);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && v.length <= MAX_STRING_VALUE) return v;
  throw new IngestError('bad_value', 'bare value is not a finite number, true/false or a string of at most 1024 characters');
}
