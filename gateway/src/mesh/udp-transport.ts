import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { systemClock, type Clock, type Logger, silentLogger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { formatAddress, parseAddress } from './address.js';
import { MAX_DATAGRAM } from './codec.js';
import { MeshError } from './errors.js';
import type { Transport } from './transport.js';

export interface UdpTransportOptions {
  /** Address to bind, e.g. "0.0.0.0" or "127.0.0.1"; default "0.0.0.0". */
  bindHost?: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  /** Address peers should use, "host:port"; default the bound address (required when binding 0.0.0.0 on a multi-homed host). */
  advertise?: string;
  logger?: Logger;
  /** Paces the socket-error log line; default the real clock. */
  clock?: Clock;
}

/**
 * The host to advertise when the socket is bound to the wildcard (0.0.0.0 or ::): the first
 * private IPv4 address of a non-internal interface, else any non-internal IPv4, else loopback
 * (as memberlist's GetPrivateIP). Advertising the wildcard itself would tell peers on other
 * hosts to send to their own 0.0.0.0, and show `0.0.0.0` in every member list.
 */
export function wildcardAdvertiseHost(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  const v4 = Object.values(interfaces)
    .flat()
    .filter((i): i is NetworkInterfaceInfo => i !== undefined && i.family === 'IPv4' && !i.internal);
  const isPrivate = (a: string) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/.test(a);
  return (v4.find((i) => isPrivate(i.address)) ?? v4[0])?.address ?? '127.0.0.1';
}

/** The real transport: one UDP socket (node:dgram), datagrams of at most 1400 bytes. */
export class UdpTransport implements Transport {
  private receiver?: (packet: Buffer, from: string) => void;
  private closed = false;
  private inFlight = 0;
  private drained?: () => void;
  /** Socket errors (ICMP unreachable surfaces here on some systems); counted, never thrown. */
  sendErrors = 0;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    private readonly ipv6: boolean,
    private readonly limited: RateLimitedLog,
  ) {}

  static async create(opts: UdpTransportOptions): Promise<UdpTransport> {
    const bindHost = opts.bindHost ?? '0.0.0.0';
    const logger = opts.logger ?? silentLogger;
    const socket = createSocket({ type: isIPv6(bindHost) ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(new MeshError('FM_ERR_MESH_TRANSPORT', `cannot bind UDP ${bindHost}:${opts.port}: ${err.message}`));
      socket.once('error', fail);
      socket.bind(opts.port, bindHost, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    const bound = socket.address();
    const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
    const advertise = opts.advertise ?? formatAddress({ host: wildcard ? wildcardAdvertiseHost() : bound.address, port: bound.port });
    parseAddress(advertise);
    // A flapping interface must not flood the log: one line per 10 s, with the count in between.
    const limited = new RateLimitedLog(logger, opts.clock ?? systemClock, { intervalMs: 10_000, countZero: false });
    const t = new UdpTransport(socket, advertise, isIPv6(bindHost), limited);
    socket.on('error', (err) => {
      t.sendErrors++;
      limited.warn('socket', { component: 'mesh', err: err.message }, 'UDP socket error');
    });
    socket.on('message', (msg, rinfo) => {
      if (t.closed) return;
      t.receiver?.(msg, formatAddress({ host: rinfo.address.replace(/^::ffff:/, ''), port: rinfo.port }));
    });
    return t;
  }

  send(to: string, packet: Buffer): void {
    if (packet.length > MAX_DATAGRAM) {
      throw new MeshError('FM_ERR_MESH_MESSAGE_TOO_LARGE', `datagram of ${packet.length} bytes exceeds ${MAX_DATAGRAM}`);
    }
    if (this.closed) return;
    let hp;
    try {
      hp = parseAddress(to);
    } catch {
      this.sendErrors++;
      return;
    }
    let host = hp.host;
    if (this.ipv6 && !host.includes(':')) {
      // An IPv6 socket reaches IPv4 peers only by their mapped address (dual stack); given the
      // plain IPv4 form, send(2) fails with EINVAL and the peer (a seed) is never contacted.
      host = `::ffff:${host}`;
    } else if (!this.ipv6 && host.includes(':')) {
      this.sendErrors++;
      this.limited.warn('family', { component: 'mesh', to }, 'mesh peer has an IPv6 address but mesh.bind is IPv4: it cannot be reached (bind "::" to reach both)');
      return;
    }
    this.inFlight++;
    this.socket.send(packet, hp.port, host, (err) => {
      if (err) {
        this.sendErrors++;
        // Counted and logged: a peer that is silently never sent to looks like a dead network.
        this.limited.warn('send', { component: 'mesh', to, err: err.message }, 'mesh datagram not sent');
      }
      if (--this.inFlight === 0) this.drained?.();
    });
  }

  onPacket(receiver: (packet: Buffer, from: string) => void): void {
    this.receiver = receiver;
  }

  /** Waits (up to 1 s) for queued datagrams to leave, so a goodbye sent just before close is not lost. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
