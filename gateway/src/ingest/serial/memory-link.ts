/**
 * In-memory serial ports for deterministic tests and the simulator: plug and unplug a port,
 * make it busy, feed it bytes, read what the gateway wrote. Everything is synchronous.
 */
import type { SerialLink, SerialLinkEvents, SerialLinkOpener } from './serial-link.js';

interface MemoryPort {
  busy: boolean;
  link?: MemoryLink;
  written: Uint8Array[];
  /** RTS levels set, in order (RS-485 direction control). */
  rts: boolean[];
}

class MemoryLink implements SerialLink {
  paused = false;
  open = true;

  constructor(
    readonly path: string,
    readonly baud: number,
    private readonly port: MemoryPort,
    readonly events: SerialLinkEvents,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.open) throw new Error(`write to closed port ${this.path}`);
    this.port.written.push(bytes.slice());
  }
  async setRts(on: boolean): Promise<void> {
    this.port.rts.push(on);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  async close(): Promise<void> {
    this.open = false;
    if (this.port.link === this) this.port.link = undefined;
  }
}

export class MemorySerialLinks implements SerialLinkOpener {
  private readonly ports = new Map<string, MemoryPort>();
  opens = 0;

  async open(path: string, baud: number, events: SerialLinkEvents): Promise<SerialLink> {
    const port = this.ports.get(path);
    if (!port) throw Object.assign(new Error(`No such file or directory, cannot open ${path}`), { code: 'ENOENT' });
    if (port.busy || port.link) throw Object.assign(new Error(`Resource temporarily unavailable, cannot lock port ${path}`), { code: 'EBUSY' });
    port.link = new MemoryLink(path, baud, port, events);
    this.opens++;
    return port.link;
  }

  plug(path: string): void {
    if (!this.ports.has(path)) this.ports.set(path, { busy: false, written: [], rts: [] });
  }

  /** Removes the port; an open link sees an I/O error, as with a pulled USB adapter. */
  unplug(path: string): void {
    const port = this.ports.get(path);
    this.ports.delete(path);
    const link = port?.link;
    if (link) {
      link.open = false;
      link.events.closed(Object.assign(new Error(`EIO: i/o error, read ${path}`), { code: 'EIO' }));
    }
  }

  setBusy(path: string, busy: boolean): void {
    const port = this.ports.get(path);
    if (port) port.busy = busy;
  }

  /** Delivers bytes as if the device sent them; returns false when the port is not open. */
  emit(path: string, bytes: Uint8Array): boolean {
    const link = this.ports.get(path)?.link;
    if (!link?.open) return false;
    link.events.data(bytes);
    return true;
  }

  isOpen(path: string): boolean {
    return this.ports.get(path)?.link?.open ?? false;
  }

  isPaused(path: string): boolean {
    return this.ports.get(path)?.link?.paused ?? false;
  }

  rtsLevels(path: string): boolean[] {
    return this.ports.get(path)?.rts ?? [];
  }

  written(path: string): Uint8Array[] {
    return this.ports.get(path)?.written ?? [];
  }
}
