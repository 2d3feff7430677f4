import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of serial ingest. Port problems at run time never throw out
 * of SerialIngest: they are logged with the port path and one of these codes, shown in stats(),
 * and the port is retried with backoff. Only construction throws (FM_ERR_SERIAL_CONFIG).
 */
export const serialErrors = {
  FM_ERR_SERIAL_MISSING: {
    meaning: 'the serial port does not exist (yet)',
    howToSolve: 'plug the adapter in, or fix `path`; prefer the stable /dev/serial/by-id/… name over /dev/ttyUSB0, which can change between boots. The gateway keeps retrying',
  },
  FM_ERR_SERIAL_BUSY: {
    meaning: 'another process holds the serial port (exclusive lock)',
    howToSolve: 'stop the other program using it (ModemManager, a serial console, a second gateway: `fuser PATH` shows who). The gateway keeps retrying',
  },
  FM_ERR_SERIAL_ACCESS: {
    meaning: 'the gateway user may not open the serial port',
    howToSolve: 'add the gateway user to the `dialout` group (`usermod -aG dialout fieldmesh`), or fix the udev rule for the device',
  },
  FM_ERR_SERIAL_OPEN: {
    meaning: 'the serial port could not be opened for another reason (the message says which)',
    howToSolve: 'check that `path` is a serial device and that `baud` is a rate the adapter supports',
  },
  FM_ERR_SERIAL_LOST: {
    meaning: 'an open serial port went away (cable pulled, adapter reset, USB hub power)',
    howToSolve: 'nothing, if it comes back: the gateway re-opens it with backoff. If it flaps, check cabling and power',
  },
  FM_ERR_SERIAL_SUBMIT: {
    meaning: 'the store refused readings from a serial port',
    howToSolve: 'the error code from ingest says why (see gateway/src/ingest/errors.ts); the readings were not stored',
  },
  FM_ERR_SERIAL_CONFIG: {
    meaning: 'a serial config entry is invalid: unknown profile, bad device id, or the same path twice',
    howToSolve: 'fix the named `serial[i]` entry in the gateway config',
  },
} as const;

export type SerialErrorCode = keyof typeof serialErrors;

export class SerialIngestError extends codedErrorClass('SerialIngestError', serialErrors) {}

/**
 * Maps an open() failure to a code. node-serialport (bindings-cpp) gives no errno on open errors,
 * only the OS message ("No such file or directory, cannot open …", "Error Resource temporarily
 * unavailable Cannot lock port"): matching its text is the one place we do, isolated here.
 */
export function classifyOpenError(err: unknown): SerialErrorCode {
  const e = err as { code?: string; message?: string };
  const text = `${e?.code ?? ''} ${e?.message ?? String(err)}`;
  if (/ENOENT|No such file/i.test(text)) return 'FM_ERR_SERIAL_MISSING';
  if (/EBUSY|lock|busy|temporarily unavailable/i.test(text)) return 'FM_ERR_SERIAL_BUSY';
  if (/EACCES|EPERM|Permission denied/i.test(text)) return 'FM_ERR_SERIAL_ACCESS';
  return 'FM_ERR_SERIAL_OPEN';
}
