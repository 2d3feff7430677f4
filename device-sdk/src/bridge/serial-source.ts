/**
 * The bridge's serial port, behind a small interface, so the bridge is tested without hardware: the real one opens a
 * port with node-serialport, loaded only when used (it is an optional dependency of the SDK, so
 * the DeviceClient installs on devices without a native build); tests pass an in-memory source.
 */
export interface ByteSourceEvents {
  data(chunk: Uint8Array): void;
  /** The port went away or was closed; called at most once per open. */
  closed(err?: Error): void;
}

export interface OpenByteSource {
  close(): Promise<void>;
}

export interface ByteSource {
  readonly name: string;
  /** Opens the source; rejects with the OS error when it cannot. */
  open(events: ByteSourceEvents): Promise<OpenByteSource>;
}

export function serialPortSource(path: string, baudRate: number): ByteSource {
  return {
    name: path,
    async open(events) {
      let mod: typeof import('serialport');
      try {
        mod = await import('serialport');
      } catch {
        throw new Error('the serialport package is not installed: npm install serialport (an optional dependency of @fieldmesh/device-sdk)');
      }
      const port = new mod.SerialPort({ path, baudRate, autoOpen: false, lock: true });
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
      let ended = false;
      const end = (err?: Error | null) => {
        if (ended) return;
        ended = true;
        if (port.isOpen) port.close(() => {});
        events.closed(err ?? undefined);
      };
      port.on('data', (chunk: Buffer) => events.data(chunk));
      port.on('error', end);
      port.on('close', end);
      return {
        close: () =>
          new Promise<void>((resolve) => {
            ended = true;
            if (!port.isOpen) return resolve();
            port.close(() => resolve());
          }),
      };
    },
  };
}
