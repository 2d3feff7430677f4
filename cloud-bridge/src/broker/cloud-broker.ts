import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { GatewayAccess } from './gateway-access.js';
// The gateway's guard, shared: the same aedes gap (no max packet size, its issue #831) on both sides.
import { GuardedSocket } from '@fieldmesh/gateway/ingest/packet-guard';
import { CloudError } from '../errors.js';

export interface CloudBrokerOptions {
  port: number;
  host: string;
  maxPacketBytes: number;
  maxConnections: number;
  connectTimeoutMs: number;
  access: GatewayAccess;
  onOversize: (remote: string, reason: string) => void;
}

/** The embedded aedes broker gateways connect to, behind the packet-size guard. */
export class CloudBroker {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  oversizeDrops = 0;

  private constructor(
    readonly aedes: Aedes,
    private readonly opts: CloudBrokerOptions,
  ) {}

  static async start(opts: CloudBrokerOptions): Promise<CloudBroker> {
    const aedes = await Aedes.createBroker({
      connectTimeout: opts.connectTimeoutMs,
      authenticate: opts.access.authenticate,
      authorizePublish: opts.access.authorizePublish,
      authorizeSubscribe: opts.access.authorizeSubscribe,
    });
    const broker = new CloudBroker(aedes, opts);
    await broker.listen();
    return broker;
  }

  private async listen(): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      const conn = new GuardedSocket(socket, this.opts.maxPacketBytes, (reason) => {
        this.oversizeDrops++;
        this.opts.onOversize(remote, reason);
      });
      conn.on('error', () => {});
      this.aedes.handle(conn);
    });
    server.maxConnections = this.opts.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new CloudError('FM_ERR_CLOUD_LISTEN', `broker ${this.opts.host}:${this.opts.port}: ${err.message}`)));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
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
