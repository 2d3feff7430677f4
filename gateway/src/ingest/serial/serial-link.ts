/**
 * The I/O edge of serial ingest, behind a small interface so tests run without hardware: a SerialLinkOpener opens a port and hands
 * back a SerialLink; bytes and the port's end arrive through SerialLinkEvents. The real opener
 * wraps node-serialport (stream-link.ts, also usable with its MockBinding); MemorySerialLinks
 * (memory-link.ts) is the in-memory twin for deterministic tests with a ManualClock.
 */
export interface SerialLinkEvents {
  data(chunk: Uint8Array): void;
  /** The port is gone (unplugged, I/O error) or was closed; called at most once per link. */
  closed(err?: Error): void;
}

export interface SerialLink {
  readonly path: string;
  /** Writes bytes (poll commands); resolves once the OS has them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Stops reading (backpressure when the store is behind); the OS buffers or drops meanwhile. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
  /** Sets the RTS modem-control line (RS-485 direction by RTS); absent where there is none. */
  setRts?(on: boolean): Promise<void>;
}

export interface SerialLinkOpener {
  /** Opens `path` at `baud`; rejects (with the OS error) when it cannot. */
  open(path: string, baud: number, events: SerialLinkEvents): Promise<SerialLink>;
}
