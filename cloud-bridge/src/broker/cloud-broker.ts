import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { BrokerTls } from './broker-tls.js';
import type { ConnectionGuard } from './connection-guard.js';
import type { GatewayAccess } from './gateway-access.js';
import { CloudError } from '../errors.js';

export interface CloudBrokerOptions {
  port: number;
  host: string;
  connectTimeoutMs: number;
  access: GatewayAccess;
  /** Connection cap, pre-authentication packet cap, deadlines (connection-guard.ts). */
  guard: ConnectionGuard;
  /** TLS on the listener (broker-tls.ts); absent: plain TCP. */
  tls?: BrokerTls;
}

/** The embedded aedes broker gateways connect to, behind the connection guard. */
export class CloudBroker {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly aedes: Aedes,
    private readonly opts: CloudBrokerOptions,
  ) {}

  static async start(opts: CloudBrokerOptions): Promise<CloudBroker> {
    const aedes = await Aedes.createBroker({
      // The guard's deadline closes and counts a slow CONNECT; aedes' own is the backstop.
      connectTimeout: opts.connectTimeoutMs * 2,
      authenticate: (client, username, password, done) =>
        opts.access.authenticate(client, username, password, (err, ok) => {
          if (err === null && ok === true) opts.guard.authenticated(client.conn);
          done(err, ok);
        }),
      authorizePublish: opts.access.authorizePublish,
      authorizeSubscribe: opts.access.authorizeSubscribe,
    });
    const broker = new CloudBroker(aedes, opts);
    await broker.listen();
    return broker;
  }

  private async listen(): Promise<void> {
    const onSocket = (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      socket.on('error', () => {});
      const conn = this.opts.guard.admit(socket, `${socket.remoteAddress}:${socket.remotePort}`);
      if (conn === null) return;
      conn.on('error', () => {});
      this.aedes.handle(conn);
    };
    const tls = this.opts.tls;
    const server: Server = tls
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca ? { ca: tls.ca } : {}),
            // Ask for a client certificate only when there is a CA to verify it against; without
            // requireClientCert an absent or unverified one is allowed and proves nothing.
            requestCert: tls.ca !== undefined,
            rejectUnauthorized: tls.requireClientCert,
            // A handshake that never finishes holds a socket like a missing CONNECT would.
            handshakeTimeout: this.opts.connectTimeoutMs,
            minVersion: 'TLSv1.2',
          },
          onSocket,
        )
      : createServer(onSocket);
    // Failed handshakes (no or bad client certificate) are the client's problem, never fatal.
    server.on('tlsClientError', () => {});
    // No server.maxConnections: the guard refuses one over the cap itself, and counts it.
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new CloudError('FM_ERR_CLOUD_LISTEN', `broker ${this.opts.host}:${this.opts.port}: ${err.message}`)));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
  }

  get guard(): ConnectionGuard {
    return this.opts.guard;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}
