import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the serial sensor profiles. */
export const sensorErrors = {
  FM_ERR_SENSOR_PROFILE: {
    meaning: 'The serial config names a sensor profile that does not exist.',
    howToSolve: 'use one of: line, senml-line, fm-frame, nmea0183, pms5003, mhz19 (hardware/src/sensors/profiles.ts)',
  },
  FM_ERR_SENSOR_DEVICE: {
    meaning: 'The device id given to a sensor parser is not a valid device id.',
    howToSolve: 'device ids match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}; fix the `device` key of the serial entry',
  },
  FM_ERR_SENSOR_PTY: {
    meaning: 'A simulated sensor could not create its pseudo-terminal pair.',
    howToSolve: 'install socat (`apt-get install socat`) and check that the directory for the pty links is writable',
  },
} as const;

export type SensorErrorCode = keyof typeof sensorErrors;

export class SensorProfileError extends codedErrorClass('SensorProfileError', sensorErrors) {}
