import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { silentLogger, systemClock } from '@fieldmesh/device-sdk';
import { KeyRing } from '#gateway/mesh/keyring';
import { RelayNode } from '#gateway/relay/relay-node';
import type { RelayPeer } from '#gateway/relay/relay-peers';
import { StaticRelayPeers } from '#gateway/relay/relay-peers';
import { MqttRelayUpstream } from '#gateway/relay/relay-upstream';
import type { RelayCredentials } from '#gateway/relay/relay-channel';
import { SqliteReadingLog } from '#gateway/store/sqlite-reading-log';
import { Uplink } from '#gateway/uplink/uplink';

export const CLUSTER_KEY = Buffer.alloc(32, 7).toString('base64');

export function credentials(key = CLUSTER_KEY, label = 'test'): RelayCredentials {
  return { keyring: new KeyRing([key]), label, clock: systemClock, replayWindowMs: 60_000 };
}

/**
 * A TCP forwarder the test can cut: the gateway's uplink goes through it, so "the uplink is
 * blocked" is a real refused/reset TCP connection, not a flag.
 */
export class TcpGate {
  private server: Server | null = null;
  private readonly pairs = new Set<Socket>();
  private isOpen = true;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = createServer((inbound) => {
      if (!this.isOpen) return void inbound.destroy();
      const outbound = connect({ host: '127.0.0.1', port: this.targetPort });
      this.pairs.add(inbound);
      this.pairs.add(outbound);
      const end = () => {
        inbound.destroy();
        outbound.destroy();
        this.pairs.delete(inbound);
        this.pairs.delete(outbound);
      };
      inbound.on('error', end).on('close', end);
      outbound.on('error', end).on('close', end);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  cut(): void {
    this.isOpen = false;
    for (const s of this.pairs) s.destroy();
    this.pairs.clear();
  }

  open(): void {
    this.isOpen = true;
  }

  async stop(): Promise<void> {
    this.cut();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

export interface FixtureOptions {
  batchReadings?: number;
  relayWindow?: number;
  /** ms the uplink must be down before relaying (huge: relaying effectively off). */
  relayAfterMs?: number;
  replication?: { k?: number; deadAfterMs?: number };
}

/** One in-process gateway with the real parts of delivery: SQLite log, MQTT uplink, relay over TCP. */
export class RelayGateway {
  readonly log: SqliteReadingLog;
  readonly uplink: Uplink;
  readonly relay: RelayNode;
  relayPort = 0;
  private value = 0;

  private constructor(
    readonly id: string,
    dir: string,
    cloudPort: number,
    /** The uplink goes through this gate, so a test can cut it for real. */
    readonly gate: TcpGate,
    peers: () => RelayPeer[],
    over: FixtureOptions,
  ) {
    this.log = new SqliteReadingLog(join(dir, `${id}.db`));
    this.uplink = new Uplink({ gatewayId: id, log: this.log, url: `mqtt://127.0.0.1:${gate.port}`, backoffMinMs: 100, backoffMaxMs: 1000, ackTimeoutMs: 5000 });
    this.relay = new RelayNode({
      selfId: id,
      log: this.log,
      uplinkOnline: () => this.uplink.stats().state === 'online',
      peers: new StaticRelayPeers(peers),
      credentials: credentials(),
      upstream: new MqttRelayUpstream({ relayId: id, url: `mqtt://127.0.0.1:${cloudPort}`, reconnectMs: 300 }),
      port: 0,
      host: '127.0.0.1',
      clock: systemClock,
      logger: silentLogger,
      route: { afterMs: over.relayAfterMs ?? 300, tickMs: 50, ackTimeoutMs: 5000, peerBackoffMs: 1000, ...(over.batchReadings ? { batchReadings: over.batchReadings } : {}) },
      ...(over.relayWindow ? { serve: { window: over.relayWindow } } : {}),
      ...(over.replication
        ? { replication: { storeFile: join(dir, `${id}.replicas.db`), k: over.replication.k ?? 1, deadAfterMs: over.replication.deadAfterMs ?? 1000, tickMs: 50, ...(over.batchReadings ? { batchReadings: over.batchReadings } : {}) } }
        : {}),
    });
  }

  static async start(id: string, dir: string, cloudPort: number, peers: () => RelayPeer[], over: FixtureOptions = {}): Promise<RelayGateway> {
    const gate = new TcpGate(cloudPort);
    await gate.start();
    const gw = new RelayGateway(id, dir, cloudPort, gate, peers, over);
    gw.relayPort = await gw.relay.start();
    gw.uplink.start();
    return gw;
  }

  /** What the mesh would gossip about this gateway. */
  asPeer(): RelayPeer {
    return { id: this.id, host: '127.0.0.1', port: this.relayPort, uplink: this.uplink.stats().state === 'online' ? 'up' : 'down', backlog: this.log.backlog().readings };
  }

  /** Appends `n` readings with unique values (as the ingest would, after a device's message). */
  append(n: number): void {
    const rs = [];
    for (let i = 0; i < n; i++) rs.push({ series: 'dev1/count', ts: Date.now(), value: ++this.value });
    const { firstSeq, lastSeq } = this.log.append(rs);
    this.uplink.notify();
    this.relay.notify({ firstSeq, lastSeq, readings: rs });
  }

  async stop(): Promise<void> {
    await this.relay.stop();
    await this.uplink.stop();
    await this.gate.stop();
    await this.log.closeAsync();
  }
}
