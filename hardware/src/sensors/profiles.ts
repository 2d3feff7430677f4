/**
 * The serial sensor profiles: data (what the sensor speaks, its usual baud rate) plus a parser
 * factory. The gateway's serial ingest looks a profile up by the `profile` key of a serial entry.
 */
import { isDeviceId } from '@fieldmesh/device-sdk';
import { SensorProfileError } from './errors.js';
import { FmFrameParser } from './fm-frame.js';
import { LineParser } from './line.js';
import { createMhz19Parser } from './mhz19.js';
import { Nmea0183Parser } from './nmea0183.js';
import type { SensorParser, SensorParserOptions } from './parser.js';
import { createPms5003Parser } from './pms5003.js';
import { SenmlLineParser } from './senml-line.js';

export type SensorProfileName = 'line' | 'senml-line' | 'fm-frame' | 'nmea0183' | 'pms5003' | 'mhz19';

export interface SensorProfile {
  name: SensorProfileName;
  description: string;
  /** The rate the sensor ships with; the serial config's `baud` overrides it. */
  defaultBaud: number;
  /** Text profiles end messages with LF; binary ones frame themselves. */
  encoding: 'text' | 'binary';
  create(opts: SensorParserOptions): SensorParser;
}

export const SENSOR_PROFILES: Readonly<Record<SensorProfileName, SensorProfile>> = Object.freeze({
  line: { name: 'line', description: 'key=value pairs per line, e.g. "t=21.5 h=40"', defaultBaud: 115200, encoding: 'text', create: (o) => new LineParser(o) },
  'senml-line': { name: 'senml-line', description: 'one SenML JSON pack or record per line (RFC 8428)', defaultBaud: 115200, encoding: 'text', create: (o) => new SenmlLineParser(o) },
  'fm-frame': { name: 'fm-frame', description: 'fieldmesh binary frames from a microcontroller (device-sdk/FORMAT.md)', defaultBaud: 115200, encoding: 'binary', create: (o) => new FmFrameParser(o) },
  nmea0183: { name: 'nmea0183', description: 'GPS: NMEA 0183 GGA, RMC, VTG, GSA', defaultBaud: 9600, encoding: 'text', create: (o) => new Nmea0183Parser(o) },
  pms5003: { name: 'pms5003', description: 'Plantower PMS5003 particulate matter, 32-byte frames', defaultBaud: 9600, encoding: 'binary', create: createPms5003Parser },
  mhz19: { name: 'mhz19', description: 'Winsen MH-Z19 CO2, polled 9-byte frames', defaultBaud: 9600, encoding: 'binary', create: createMhz19Parser },
});

export function isSensorProfileName(name: string): name is SensorProfileName {
  return Object.hasOwn(SENSOR_PROFILES, name);
}

/** Looks a profile up and builds its parser; throws a SensorProfileError naming the bad value. */
export function createSensorParser(profile: string, opts: SensorParserOptions): SensorParser {
  if (!isSensorProfileName(profile)) throw new SensorProfileError('FM_ERR_SENSOR_PROFILE', `unknown sensor profile ${JSON.stringify(profile)}`);
  if (!isDeviceId(opts.device)) throw new SensorProfileError('FM_ERR_SENSOR_DEVICE', `device id ${JSON.stringify(opts.device)} is not valid`);
  return SENSOR_PROFILES[profile].create(opts);
}
