import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/**
 * Error catalog of the Modbus master. Run-time faults on a bus (a silent
 * slave, a CRC error, an exception response) never throw out of the poller: they are counted per
 * slave and reason (`MODBUS_FAULTS` below), logged rate-limited and retried. A bad register map
 * or unknown template is a ConfigError at start (gateway/src/config/modbus.ts); refused writes throw these.
 */
export const modbusErrors = {
  FM_ERR_MODBUS_TIMEOUT: {
    meaning: 'A slave did not answer within its timeoutMs.',
    howToSolve: 'check wiring (A/B swapped?), unit id, baud rate, parity and RS-485 direction control; raise timeoutMs for slow devices',
  },
  FM_ERR_MODBUS_EXCEPTION: {
    meaning: 'The slave answered with a Modbus exception (illegal address, device busy, …).',
    howToSolve: 'an illegal-address exception names the first register of the refused request: fix that address in the register map (0-based, not the 4xxxx number)',
  },
  FM_ERR_MODBUS_FRAME: {
    meaning: 'A response frame was bad: CRC error, short or late frame, wrong unit id or function.',
    howToSolve: 'CRC errors and short frames point at line noise, a baud or parity mismatch, missing termination, or two masters on one bus',
  },
  FM_ERR_MODBUS_LINK: {
    meaning: 'The serial port or TCP connection is down (missing, refused, lost).',
    howToSolve: 'nothing if it comes back: the gateway re-opens it with backoff; otherwise check the cable, the adapter or the device address',
  },
  FM_ERR_MODBUS_DIRECTION: {
    meaning: 'RS-485 direction control failed: RTS cannot be set on this port, or the GPIO value file cannot be written',
    howToSolve: 'a pseudo-terminal or an adapter without an RTS line cannot do `direction: rts`: use `auto` (adapter with automatic direction, or the kernel RS-485 mode) or `gpio`; for `gpio`, export the pin and give the gateway user write access to its value file',
  },
  FM_ERR_MODBUS_WRITE_DENIED: {
    meaning: 'A write was refused: writes are off, or the register is not marked writable.',
    howToSolve: 'set `modbus.writes: true` and `writable: true` on that register in the map; only coils and holding registers can be written',
  },
  FM_ERR_MODBUS_WRITE_VALUE: {
    meaning: 'A write named an unknown device or sensor, or a value that does not fit the register type.',
    howToSolve: 'give a configured device and sensor and a value in the range of its type (after scale and offset)',
  },
  FM_ERR_MODBUS_WRITE_FAILED: {
    meaning: 'A permitted write did not reach the slave or was answered with an exception.',
    howToSolve: 'the message says which (timeout, exception code); the write was not retried',
  },
} as const;

export type ModbusErrorCode = keyof typeof modbusErrors;

export class ModbusError extends codedErrorClass('ModbusError', modbusErrors) {}

/**
 * Why a transaction failed, counted per slave (`fieldmesh_modbus_errors_total{reason}`). Stable:
 * dashboards rely on them. Exception codes per Modbus Application Protocol V1.1b3 §7.
 */
export const MODBUS_FAULTS = [
  'timeout',
  'crc',
  'short_frame',
  'late_frame',
  'wrong_unit',
  'wrong_function',
  'bad_length',
  'link_down',
  'direction_failed',
  'illegal_function',
  'illegal_address',
  'illegal_value',
  'device_failure',
  'acknowledge',
  'device_busy',
  'gateway_path',
  'gateway_target',
  'exception_other',
] as const;

export type ModbusFault = (typeof MODBUS_FAULTS)[number];

const EXCEPTIONS: Record<number, ModbusFault> = {
  1: 'illegal_function',
  2: 'illegal_address',
  3: 'illegal_value',
  4: 'device_failure',
  5: 'acknowledge',
  6: 'device_busy',
  0x0a: 'gateway_path',
  0x0b: 'gateway_target',
};

export function exceptionFault(code: number): ModbusFault {
  return EXCEPTIONS[code] ?? 'exception_other';
}

/** The catalog code a fault is logged under. */
export function faultCode(f: ModbusFault): ModbusErrorCode {
  if (f === 'timeout') return 'FM_ERR_MODBUS_TIMEOUT';
  if (f === 'link_down') return 'FM_ERR_MODBUS_LINK';
  if (f === 'direction_failed') return 'FM_ERR_MODBUS_DIRECTION';
  if (f === 'crc' || f === 'short_frame' || f === 'late_frame' || f === 'wrong_unit' || f === 'wrong_function' || f === 'bad_length') return 'FM_ERR_MODBUS_FRAME';
  return 'FM_ERR_MODBUS_EXCEPTION';
}

/** A failed transaction: the fault, and for an exception response its code. */
export class ModbusFaultError extends Error {
  constructor(
    readonly fault: ModbusFault,
    message: string,
    readonly exceptionCode?: number,
  ) {
    super(message);
    this.name = 'ModbusFaultError';
  }
}
