/**
 * SerialLinkOpener over node-serialport's stream (`SerialPortStream`), as its own packages do:
 * the same class runs on the real binding (`SerialPort`) or on `MockBinding` (`SerialPortMock`).
 */
import { realpath } from 'node:fs/promises';
import type { SerialPort, SerialPortMock } from 'serialport';
import type { SerialLink, SerialLinkEvents, SerialLinkOpener } from './serial-link.js';

// Both share node-serialport's SerialPortStream; naming the union avoids depending on @serialport/stream.
type SerialPortStream = SerialPort | SerialPortMock;
type PortFactory = (path: string, baud: number) => SerialPortStream | Promise<SerialPortStream>;

/**
 * node-serialport (its native binding and a dozen parser packages) is loaded at the first open, so
 * a gateway with no serial section never pays its start time and memory.
 */
const loadSerialport = () => import('serialport');

/**
 * ms between checks that the opened path still names the same device. The read error a pulled
 * adapter causes is the fast path; this catches what it misses: a read that is not in progress
 * when the device goes, and a /dev/serial/by-id link re-pointed at a new tty after a re-plug.
 */
export const PRESENCE_CHECK_MS = 1000;

class StreamSerialLink implements SerialLink {
  private ended = false;
  private readonly presence?: ReturnType<typeof setInterval>;

  constructor(
    private readonly port: SerialPortStream,
    private readonly events: SerialLinkEvents,
    openedDevice?: string,
  ) {
    if (openedDevice !== undefined) {
      this.presence = setInterval(() => {
        realpath(port.path).then(
          (now) => now !== openedDevice && this.end(new Error(`${port.path} now names ${now}, not ${openedDevice}`)),
          (err: Error) => this.end(err),
        );
      }, PRESENCE_CHECK_MS);
      this.presence.unref();
    }
    port.on('data', (chunk: Buffer) => events.data(chunk));
    // A pulled USB adapter shows as an 'error' (EIO), a 'close' with a DisconnectedError, or both.
    port.on('error', (err: Error) => this.end(err));
    port.on('close', (err?: Error) => this.end(err ?? undefined));
  }

  get path(): string {
    return this.port.path;
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(Buffer.from(bytes), (err) => (err ? reject(err) : this.port.drain((e) => (e ? reject(e) : resolve()))));
    });
  }

  setRts(on: boolean): Promise<void> {
    return new Promise((resolve, reject) => this.port.set({ rts: on }, (err) => (err ? reject(err) : resolve())));
  }

  pause(): void {
    this.port.pause();
  }

  resume(): void {
    this.port.resume();
  }

  close(): Promise<void> {
    this.ended = true;
    clearInterval(this.presence);
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }

  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.presence);
    if (this.port.isOpen) this.port.close(() => {});
    this.events.closed(err);
  }
}

export class StreamSerialLinkOpener implements SerialLinkOpener {
  /** `watchPath`: check the path's presence (real devices); off for MockBinding's virtual paths. */
  constructor(
    private readonly makePort: PortFactory,
    private readonly watchPath = false,
  ) {}

  async open(path: string, baud: number, events: SerialLinkEvents): Promise<SerialLink> {
    const port = await this.makePort(path, baud);
    const device = this.watchPath ? await realpath(path).catch(() => undefined) : undefined;
    return new Promise((resolve, reject) => {
      port.open((err) => {
        if (err) reject(err);
        else resolve(new StreamSerialLink(port, events, device));
      });
    });
  }
}

/** Real ports. `lock: true` takes the port exclusively, so a second gateway gets FM_ERR_SERIAL_BUSY. */
export function nodeSerialLinks(): SerialLinkOpener {
  return new StreamSerialLinkOpener(async (path, baudRate) => new (await loadSerialport()).SerialPort({ path, baudRate, autoOpen: false, lock: true }), true);
}

/** node-serialport's MockBinding; create ports first with `SerialPortMock.binding.createPort(path)`. */
export function mockBindingSerialLinks(): SerialLinkOpener {
  return new StreamSerialLinkOpener(async (path, baudRate) => new (await loadSerialport()).SerialPortMock({ path, baudRate, autoOpen: false }));
}
