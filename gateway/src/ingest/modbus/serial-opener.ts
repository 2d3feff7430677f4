/**
 * Real RTU lines through node-serialport, with the line's framing (parity, stop bits). Reuses
 * serial ingest's stream link (presence check of the path, pulled-adapter handling).
 * node-serialport is loaded at the first open, so a gateway without RTU lines never loads it.
 */
import type { RtuLineConfig } from '../../config/modbus.js';
import type { SerialLinkOpener } from '../serial/serial-link.js';
import { StreamSerialLinkOpener } from '../serial/stream-link.js';

export function modbusSerialLinks(line: Readonly<RtuLineConfig>): SerialLinkOpener {
  return new StreamSerialLinkOpener(
    async (path, baudRate) => new (await import('serialport')).SerialPort({ path, baudRate, dataBits: 8, parity: line.parity, stopBits: line.stopBits, autoOpen: false, lock: true }),
    true,
  );
}
