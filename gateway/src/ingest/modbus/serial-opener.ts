/**
 * Real RTU lines through node-serialport, with the line's framing (parity, stop bits). Reuses
 * serial ingest's stream link (presence check of the path, pulled-adapter handling).
 */
import { SerialPort } from 'serialport';
import type { RtuLineConfig } from '../../config/modbus.js';
import type { SerialLinkOpener } from '../serial/serial-link.js';
import { StreamSerialLinkOpener } from '../serial/stream-link.js';

export function modbusSerialLinks(line: Readonly<RtuLineConfig>): SerialLinkOpener {
  return new StreamSerialLinkOpener(
    (path, baudRate) => new SerialPort({ path, baudRate, dataBits: 8, parity: line.parity, stopBits: line.stopBits, autoOpen: false, lock: true }),
    true,
  );
}
