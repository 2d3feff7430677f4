/**
 * RS-485 driver-enable for adapters without automatic direction control (README "RS-485
 * direction"). The transceiver must drive the bus only while the master sends: enabled before
 * the first bit, released after the last stop bit has left the UART, or the slave's answer
 * collides with our own driver. `write()` of a SerialLink resolves after tcdrain(), i.e. when the
 * kernel says the bytes are out.
 */
import { writeFile } from 'node:fs/promises';
import type { SerialLink } from '../serial/serial-link.js';

export interface DirectionControl {
  /** Before the request's first byte. */
  transmit(link: SerialLink): Promise<void>;
  /** After the request's last byte left the UART. */
  receive(link: SerialLink): Promise<void>;
}

/** The adapter (or the kernel's RS-485 mode set in the device tree) switches by itself. */
export const autoDirection: DirectionControl = {
  transmit: async () => {},
  receive: async () => {},
};

/** RTS as driver-enable, through the serial driver's modem-control lines (TIOCMSET). */
export function rtsDirection(activeHigh: boolean): DirectionControl {
  const set = async (link: SerialLink, on: boolean) => {
    if (!link.setRts) throw new Error(`${link.path}: this link has no RTS line`);
    await link.setRts(on === activeHigh);
  };
  return { transmit: (l) => set(l, true), receive: (l) => set(l, false) };
}

/**
 * A GPIO line as driver-enable, through its sysfs value file (`/sys/class/gpio/gpioN/value`,
 * exported beforehand: README). Writing the file is a syscall, not a timer: tens of µs.
 */
export function gpioDirection(valuePath: string, activeHigh: boolean, write: (path: string, data: string) => Promise<void> = (p, d) => writeFile(p, d)): DirectionControl {
  return {
    transmit: () => write(valuePath, activeHigh ? '1' : '0'),
    receive: () => write(valuePath, activeHigh ? '0' : '1'),
  };
}
