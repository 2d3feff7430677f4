/**
 * A TCP connection as a SerialLink (the same I/O edge serial ingest uses), so Modbus TCP and RTU
 * share the link keeper and the in-memory twin. `address` is `host:port`.
 */
import { connect, type Socket } from 'node:net';
import type { SerialLink, SerialLinkEvents, SerialLinkOpener } from '../serial/serial-link.js';

/** A device that takes longer than this to accept is treated as down (and retried with backoff). */
const CONNECT_TIMEOUT_MS = 5000;

class TcpLink implements SerialLink {
  private ended = false;

  constructor(
    readonly path: string,
    private readonly socket: Socket,
    private readonly events: SerialLinkEvents,
  ) {
    socket.on('data', (b: Buffer) => events.data(b));
    socket.on('error', (err) => this.end(err));
    socket.on('close', () => this.end(new Error('connection closed by the device')));
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  async close(): Promise<void> {
    this.ended = true;
    this.socket.destroy();
  }
  private end(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.destroy();
    this.events.closed(err);
  }
}

export class TcpLinkOpener implements SerialLinkOpener {
  open(address: string, _baud: number, events: SerialLinkEvents): Promise<SerialLink> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => socket.destroy(new Error(`connect to ${address} timed out after ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setKeepAlive(true, 10_000);
        resolve(new TcpLink(address, socket, events));
      });
    });
  }
}
