import { DEVICE_ID } from '@fieldmesh/device-sdk';
import { int, section, str, type Check } from './checks.js';
import { ConfigError } from './errors.js';

/** One serial line and the device it stands for (gateway/src/ingest/serial/SERIAL.md). */
export interface SerialConfig {
  /** Device path, e.g. `/dev/ttyUSB0`. Required. */
  path: string;
  /** Line speed. Default 9600. (A pseudo-terminal ignores it.) */
  baud: number;
  /** Sensor profile name, e.g. `nmea0183`, `pms5003`, `mhz19`, `fm-frame`. Required. */
  profile: string;
  /** Device id its readings are stored under. Required. */
  device: string;
}

export const checkSerialLine: Check<SerialConfig> = section<SerialConfig>(
  {
    path: str({ max: 4096 }),
    baud: int(50, 4_000_000),
    profile: (v, path) => {
      const p = str({ pattern: /^[a-z0-9][a-z0-9_-]{0,63}$/, hint: 'a profile name (lowercase letters, digits, _ -)' })(v, path);
      // A Modbus line has slaves and register maps, which a serial entry has no keys for.
      if (p.startsWith('modbus')) throw new ConfigError('FM_ERR_CONFIG_RANGE', path, 'Modbus lines go in the modbus: section (modbus.rtu: [{ path, baud, slaves }], modbus.tcp for TCP), see gateway/src/ingest/modbus/README.md');
      return p;
    },
    device: str({ pattern: DEVICE_ID, hint: 'a device id (letters, digits, _ . -; up to 64)' }),
  },
  { baud: 9600 },
);
