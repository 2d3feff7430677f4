import type { Duplex } from 'node:stream';
import type { Clock, Timer } from '@fieldmesh/device-sdk';
import type { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
// The gateway's guard, shared: the same aedes gap (no max packet size, its issue #831) on both sides.
import { GuardedSocket } from '@fieldmesh/protocol';

/** Why a connection was refused or closed before it did anything useful (a metrics label). */
export type ConnectionRefusal = 'too_many_connections' | 'preauth_packet_too_large' | 'packet_too_large' | 'slow_packet' | 'connect_timeout';

export interface ConnectionLimits {
  /** Concurrent connections on this listener; one more is closed at once and counted. */
  maxConnections: number;
  /**
   * Largest packet, bytes, until CONNECT is authenticated. A CONNECT is a client id, a username,
   * a password and at most a small will: a few hundred bytes. Without this cap a stranger makes
   * the broker buffer `maxPacketBytes` per connection before any credential is checked.
   */
  preAuthMaxBytes: number;
  /** Largest packet once authenticated (a gateway's largest batch with margin). */
  maxPacketBytes: number;
  /** Ms from accept to an authenticated CONNECT; a connection slower than that is closed and counted. */
  connectTimeoutMs: number;
  /** Ms one packet may take from its first to its last byte (a trickled large packet). */
  packetTimeoutMs: number;
}

/**
 * What every MQTT listener of the cloud (TCP/TLS for gateways, `/mqtt` WebSocket for viewers)
 * does before aedes sees a byte: a connection cap, a small packet cap until the CONNECT is
 * authenticated, a connect deadline, a packet deadline; each refusal counted by reason and
 * logged at most once per interval per source address.
 */
export class ConnectionGuard {
  readonly refused: Record<ConnectionRefusal, number> = { too_many_connections: 0, preauth_packet_too_large: 0, packet_too_large: 0, slow_packet: 0, connect_timeout: 0 };
  private readonly open = new Map<GuardedSocket, { timer: Timer | null; authenticated: boolean }>();

  constructor(
    /** Names the listener in logs (`broker`, `mqtt-ws`). */
    private readonly listener: string,
    private readonly limits: ConnectionLimits,
    private readonly clock: Clock,
    private readonly log: RateLimitedLog,
  ) {}

  get connections(): number {
    return this.open.size;
  }

  /**
   * Wraps a new connection for aedes, or closes it (connection cap) and returns null.
   * `remote` is the peer address, for logs only.
   */
  admit(stream: Duplex, remote: string): GuardedSocket | null {
    const host = remote.replace(/:\d+$/, '');
    if (this.open.size >= this.limits.maxConnections) {
      this.count('too_many_connections', host, `at most ${this.limits.maxConnections} connections`);
      stream.destroy();
      return null;
    }
    const entry: { timer: Timer | null; authenticated: boolean } = { timer: null, authenticated: false };
    const conn = new GuardedSocket(
      stream,
      this.limits.preAuthMaxBytes,
      (why, kind) => this.count(kind === 'slow_packet' ? 'slow_packet' : entry.authenticated ? 'packet_too_large' : 'preauth_packet_too_large', host, why),
      { packetTimeoutMs: this.limits.packetTimeoutMs, clock: this.clock },
    );
    entry.timer = this.clock.setTimeout(() => {
      entry.timer = null;
      this.count('connect_timeout', host, `no authenticated CONNECT within ${this.limits.connectTimeoutMs} ms`);
      conn.destroy();
    }, this.limits.connectTimeoutMs);
    entry.timer.unref?.();
    this.open.set(conn, entry);
    conn.once('close', () => {
      if (entry.timer !== null) this.clock.clearTimeout(entry.timer);
      this.open.delete(conn);
    });
    return conn;
  }

  /**
   * The CONNECT on `conn` was authenticated: stop the connect deadline and allow packets up to
   * `maxBytes` (default the listener's `maxPacketBytes`; a viewer keeps a small cap).
   */
  authenticated(conn: unknown, maxBytes = this.limits.maxPacketBytes): void {
    if (!(conn instanceof GuardedSocket)) return;
    const entry = this.open.get(conn);
    if (!entry) return;
    if (entry.timer !== null) this.clock.clearTimeout(entry.timer);
    entry.timer = null;
    entry.authenticated = true;
    conn.setMaxPacketBytes(maxBytes);
  }

  private count(reason: ConnectionRefusal, host: string, detail: string): void {
    this.refused[reason]++;
    this.log.warn(`guard:${this.listener}:${reason}:${host}`, { listener: this.listener, reason, remote: host, detail }, 'connection refused');
  }
}
