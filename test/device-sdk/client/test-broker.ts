/**
 * A plain aedes broker on a loopback port, standing in for the gateway's broker in SDK tests:
 * credentials, a record of every publish, and a switch to withhold PUBACKs (as a gateway does
 * until its commit) so resends can be observed. It can stop and start again on the same port.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { decodeSenml } from '#device-sdk/senml/index';

export interface Received {
  topic: string;
  payload: string;
  seq?: number;
  values: unknown[];
}

export class TestBroker {
  aedes?: Aedes;
  server?: Server;
  port = 0;
  readonly received: Received[] = [];
  /** When true, publishes are recorded but not acknowledged (PUBACK withheld). */
  holdAcks = false;
  readonly held: (() => void)[] = [];
  private sockets = new Set<Socket>();

  constructor(private readonly users: Record<string, string> = {}) {}

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        const want = username === undefined ? undefined : this.users[username];
        if (want !== undefined && password?.toString() === want && client.id === username) return done(null, true);
        const err = new Error('bad credentials') as AuthenticateError;
        err.returnCode = 4;
        done(err, false);
      },
      authorizePublish: (client, packet, done) => {
        if (client && packet.topic.startsWith('fm/d/')) {
          const payload = packet.payload.toString();
          const r: Received = { topic: packet.topic, payload, values: [] };
          try {
            const pack = decodeSenml(payload, { device: client.id, now: Date.now() });
            r.seq = pack.deviceSeq;
            r.values = pack.readings.map((x) => x.value);
          } catch {
            /* recorded as is */
          }
          this.received.push(r);
          if (this.holdAcks) return void this.held.push(() => done(null));
        }
        done(null);
      },
    });
    this.aedes = aedes;
    const server = createServer((s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      aedes.handle(s);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
  }

  url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Drops every connection and stops listening: the gateway went down. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    const aedes = this.aedes;
    this.server = undefined;
    this.aedes = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    if (aedes) await new Promise<void>((r) => aedes.close(() => r()));
  }

  /** Publishes a gateway-side notice to a device (as the gateway's `rejected` topic). */
  notify(topic: string, payload: string): void {
    this.aedes?.publish({ cmd: 'publish', qos: 0, dup: false, retain: false, topic, payload: Buffer.from(payload) }, () => {});
  }

  seqs(): number[] {
    return this.received.map((r) => r.seq!).filter((s) => s !== undefined);
  }
}
