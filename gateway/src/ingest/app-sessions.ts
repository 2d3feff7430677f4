import mqttPacket from 'mqtt-packet';
import type { Client, PublishPacket } from 'aedes';
import type { Logger } from '@fieldmesh/device-sdk';
import type { GuardedSocket } from '@fieldmesh/protocol';
import type { IngestStats } from './stats.js';
import type { RejectLog } from './reject-log.js';
import { APP_USER_PREFIX, WRITE_TOPIC_PREFIX, type AppGrant } from './app-grant.js';
import { ReadingFeed } from './reading-feed.js';
import { handleAppWrite, type AppWriter } from './app-write.js';
import { REFUSED_TOPIC_PREFIX } from './topic.js';

type Done = (error?: Error | null) => void;

export interface AppSessionsOptions {
  stats: () => IngestStats;
  rejects: RejectLog;
  log: Logger;
  /** Bytes an app's connection may have waiting to be written before it is cut off as too slow. */
  maxAppQueueBytes?: number;
  /** The Modbus writer, when the gateway has one (read at each write). */
  writer: () => AppWriter | null;
  /** The gateway's own publish on the broker (write results). */
  publish: (topic: string, payload: string) => void;
}

/**
 * The local apps connected to the broker (INGEST.md §Apps): the reading feed they subscribe to,
 * cutting off an app that stopped reading, and the little an app may publish (Modbus writes with
 * `--write` rights, the topics the gateway listens on). Apps never store anything.
 */
export class AppSessions {
  private readonly clients = new Set<Client>();
  /** `fm/r/<series>` for apps; fed by the gateway's commit pipeline. */
  readonly feed: ReadingFeed;
  readonly stats = { connected: 0, cutSlow: 0 };
  /** Topics an app may publish on, and who hears it (Home Assistant's birth message): nothing else, and nothing stored. */
  private readonly publishTopics = new Map<string, (payload: string) => void>();

  constructor(private readonly o: AppSessionsOptions) {
    this.feed = new ReadingFeed(
      // One QoS 0 PUBLISH, encoded once, written whole to each app's connection: a QoS 0 packet
      // has no id or state in the session, so it may go beside aedes' own writes (each of them
      // is a whole packet too).
      (clients, topic, payload) => {
        const packet = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false });
        for (const c of clients) {
          const conn = (c as Client).conn as unknown as GuardedSocket;
          if (!conn.destroyed && conn.writable) conn.write(packet);
        }
      },
      () => this.cutSlow(),
    );
  }

  /** An app's session is up (its login made a grant). */
  ready(client: Client): void {
    this.clients.add(client);
    this.stats.connected = this.clients.size;
  }

  /** `granted`: the client logged in as an app (it may have left before its session was up). */
  forget(client: Client, granted: boolean): void {
    if (!this.clients.delete(client) && !granted) return;
    this.feed.drop(client);
    this.stats.connected = this.clients.size;
  }

  /** Lets apps publish on exactly `topic` (small payloads), handed to `handler`; never stored. */
  allowPublish(topic: string, handler: (payload: string) => void): void {
    this.publishTopics.set(topic, handler);
  }

  /** Decides an app's publish: a permitted write, a topic the gateway listens on, or a refusal. */
  authorizePublish(client: Client, grant: AppGrant, packet: PublishPacket, done: Done): void {
    if (packet.topic.startsWith(WRITE_TOPIC_PREFIX) && this.o.writer() && grant.mayWrite(packet.topic.slice(WRITE_TOPIC_PREFIX.length))) return this.write(grant, packet, done);
    const heard = this.publishTopics.get(packet.topic);
    if (heard && (packet.payload as Buffer).length <= 64) {
      packet.retain = false;
      try {
        heard((packet.payload as Buffer).toString('utf8'));
      } catch (err) {
        this.o.log.error({ err, topic: packet.topic }, 'app publish handler threw');
      }
      return done();
    }
    this.o.stats().reject('app_publish');
    this.o.rejects.note(`login:${client.id}`, { reason: 'app_publish', topic: packet.topic.slice(0, 200) }, 'publish refused: apps are read-only');
    return done(new Error('apps are read-only'));
  }

  /**
   * Writes a Modbus coil or register for an app with `--write` rights (INGEST.md §Apps): the
   * PUBACK comes after the slave answered; the outcome is published on `fm/a/<app>/result`.
   * Nothing is stored and nothing is forwarded (the publish goes to the refused topic).
   */
  private write(grant: AppGrant, packet: PublishPacket, done: Done): void {
    const refusedTopic = `${REFUSED_TOPIC_PREFIX}${APP_USER_PREFIX}${grant.id}`;
    handleAppWrite({ writer: this.o.writer()!, publish: this.o.publish, note: (key, detail, message) => this.o.rejects.note(key, detail, message), refusedTopic }, grant, packet, done);
  }

  /** Closes apps whose connection holds more than maxAppQueueBytes unwritten (they stopped reading). */
  private cutSlow(): void {
    const max = this.o.maxAppQueueBytes ?? 1024 * 1024;
    for (const client of this.clients) {
      const conn = client.conn as unknown as GuardedSocket;
      const queued = conn.writableLength + (conn.socket?.writableLength ?? 0);
      if (queued <= max) continue;
      this.o.stats().reject('slow_consumer');
      this.stats.cutSlow++;
      this.o.rejects.note(`login:${client.id}`, { reason: 'slow_consumer', queuedBytes: queued, max }, 'app cut off: not reading');
      this.forget(client, true);
      conn.socket?.destroy();
      conn.destroy();
    }
  }
}
