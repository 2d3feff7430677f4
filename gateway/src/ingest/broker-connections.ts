import type { Socket } from 'node:net';
import type { Clock, Timer } from '@fieldmesh/device-sdk';
import { GuardedSocket } from '@fieldmesh/protocol';
import type { BrokerConfig } from '../config/broker.js';
import type { IngestStats } from './stats.js';
import type { RejectLog } from './reject-log.js';

export type ConnectionLimits = Pick<BrokerConfig, 'maxPacketBytes' | 'connectTimeoutMs' | 'maxConnections'> & { packetTimeoutMs?: number };

/**
 * What stands between a TCP connection and aedes: the connection cap, the packet guard (size cap,
 * slow packets) and a deadline for CONNECT. All of it applies before login, so a hostile client
 * costs a bounded amount of memory and time and is counted, never trusted.
 */
export class BrokerConnections {
  private readonly sockets = new Set<Socket>();
  private readonly connectTimers = new WeakMap<object, Timer>();

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly stats: () => IngestStats,
    private readonly rejects: RejectLog,
    private readonly clock: Clock,
  ) {}

  /** Guards `socket` and hands the guarded stream to `handle` (aedes), or refuses it past the cap. */
  accept(socket: Socket, handle: (conn: GuardedSocket) => void): void {
    const stats = this.stats();
    const cfg = this.limits;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.sockets.size >= cfg.maxConnections) {
      stats.reject('too_many_connections');
      this.rejects.note(`addr:${socket.remoteAddress}`, { reason: 'too_many_connections', max: cfg.maxConnections }, 'connection refused');
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    stats.connections = this.sockets.size;
    socket.setNoDelay(true);
    socket.on('error', () => {}); // reported through the guarded stream / aedes
    const guarded = new GuardedSocket(
      socket,
      cfg.maxPacketBytes,
      (why, kind) => {
        const reason = kind === 'slow_packet' ? 'slow_packet' : 'packet_too_large';
        stats.reject(reason);
        this.rejects.note(`addr:${socket.remoteAddress}`, { reason, detail: why, remote }, 'connection closed');
      },
      { packetTimeoutMs: cfg.packetTimeoutMs ?? 0, clock: this.clock },
    );
    const timer = this.clock.setTimeout(() => {
      stats.reject('connect_timeout');
      this.rejects.note(`addr:${socket.remoteAddress}`, { reason: 'connect_timeout', remote }, 'connection closed: no CONNECT in time');
      socket.destroy();
    }, cfg.connectTimeoutMs);
    timer.unref?.();
    this.connectTimers.set(guarded, timer);
    socket.once('close', () => {
      this.clock.clearTimeout(timer);
      this.sockets.delete(socket);
      stats.connections = this.sockets.size;
    });
    handle(guarded);
  }

  /** A CONNECT arrived on `conn` in time: its deadline no longer applies. */
  connected(conn: object): void {
    const t = this.connectTimers.get(conn);
    if (t) this.clock.clearTimeout(t);
  }

  /** Ends every connection (a server closes only once they have all ended). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
