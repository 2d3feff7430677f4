import type { IClientOptions, MqttClient } from 'mqtt';
import { loadMqtt } from '../lazy-packages.js';

/** What a link session reports back to the uplink. */
export interface LinkEvents {
  /** Connected and subscribed to the ack topic: batches may flow. */
  up(): void;
  /** A connection attempt or an error happened (logged by the uplink; `down` follows if fatal). */
  error(err: Error & { code?: string | number }): void;
  /** The session is over (failed to connect, lost, or closed). Called once per session. */
  down(): void;
  /** A message on the ack topic. */
  ack(payload: Buffer): void;
  /** A message on one of `topics` (LinkOpenOptions). */
  message?(topic: string, payload: Buffer): void;
  /** After `up`: every one of `topics` is subscribed too (their SUBACK came back granted). */
  subscribed?(): void;
}

export interface LinkOpenOptions {
  clientId: string;
  username?: string;
  password?: string;
  ackTopic: string;
  /**
   * Further topics to subscribe at QoS 1 once up (the fleet's desired state); their messages come
   * as `message`. A refused subscription is an `error`, not fatal: readings still flow.
   */
  topics?: readonly string[];
  /** The last will, published by the broker when the session dies uncleanly. */
  will: { topic: string; payload: Buffer; qos: 1; retain: boolean };
}

export interface LinkSession {
  readonly connected: boolean;
  /** Publishes; `done` runs on PUBACK (QoS 1) or on failure. PUBACK is not the cloud's ack. */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }, done?: () => void): void;
  /** Ends the session. `clean`: an orderly DISCONNECT, so the broker drops the will. */
  close(clean: boolean): Promise<void>;
  /** Bytes sent plus received on the wire so far in this link session (MQTT framing included). */
  wireBytes(): number;
}

/**
 * The uplink's I/O edge (a small interface with a real and an in-memory side): `MqttUplinkLink` speaks MQTT to a real broker; tests
 * and the simulator plug in `MemoryUplinkLink` (memory-uplink-link.ts).
 */
export interface UplinkLink {
  /** Starts one connection attempt; events arrive on `events` until `down`. */
  open(opts: LinkOpenOptions, events: LinkEvents): LinkSession;
}

/** TLS material for `mqtts://` (PEM contents, already read: a missing file fails at start, not per attempt). */
export interface LinkTls {
  /** CA(s) to verify the broker's certificate; default the system's. */
  ca?: Buffer;
  /** Client certificate and key (mTLS). */
  cert?: Buffer;
  key?: Buffer;
}


/** The real link: mqtt.js, one client per session, no automatic reconnect (the uplink owns that). */
export class MqttUplinkLink implements UplinkLink {
  constructor(
    private readonly url: string,
    private readonly tls: LinkTls = {},
  ) {}

  open(opts: LinkOpenOptions, events: LinkEvents): LinkSession {
    const options: IClientOptions = {
      clientId: opts.clientId,
      clean: true,
      // Reconnects are the uplink's (backoff with jitter on its clock), not mqtt.js's fixed period.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      protocolVersion: 4,
      will: opts.will,
    };
    if (opts.username !== undefined) options.username = opts.username;
    if (opts.password !== undefined) options.password = opts.password;
    if (/^(mqtts|tls|wss):/.test(this.url)) {
      // Never skip verification: a gateway that trusts any certificate hands its data to anyone
      // on the path. The broker's name must match its certificate (SAN), against `ca`.
      options.rejectUnauthorized = true;
      if (this.tls.ca) options.ca = this.tls.ca;
      if (this.tls.cert) options.cert = this.tls.cert;
      if (this.tls.key) options.key = this.tls.key;
    }
    let client: MqttClient | null = null;
    let over = false;
    const down = () => {
      if (over) return;
      over = true;
      client?.removeAllListeners('message');
      events.down();
    };
    const wire = (c: MqttClient) => {
      c.on('connect', () => {
        c.subscribe(opts.ackTopic, { qos: 1 }, (err, granted) => {
          if (over) return;
          if (err || !granted || granted.some((g) => g.qos === 128)) {
            events.error(Object.assign(new Error(`ack subscription refused: ${err?.message ?? 'SUBACK 0x80'}`), { code: 'SUBACK' }));
            c.end(true);
            return;
          }
          events.up();
          const topics = opts.topics ?? [];
          if (topics.length === 0) return events.subscribed?.();
          c.subscribe([...topics], { qos: 1 }, (e, g) => {
            if (over) return;
            if (!e && g?.every((s) => s.qos !== 128)) return events.subscribed?.();
            events.error(Object.assign(new Error(`subscription to ${topics.join(', ')} refused: ${e?.message ?? 'SUBACK 0x80'}`), { code: 'SUBACK' }));
          });
        });
      });
      c.on('message', (topic, payload) => {
        if (over) return;
        if (topic === opts.ackTopic) events.ack(payload);
        else events.message?.(topic, payload);
      });
      c.on('error', (err) => {
        if (!over) events.error(err as Error & { code?: string | number });
      });
      c.on('close', down);
    };
    // mqtt.js (with its stream and timer packages) is loaded at the first connection attempt, so
    // a gateway that stores and forwards with no uplink configured never loads it. An attempt
    // is asynchronous anyway: `up` or `down` come later either way.
    loadMqtt().then(
      ({ connect }) => {
        if (over) return;
        client = connect(this.url, options);
        wire(client);
      },
      (err: Error) => {
        if (over) return;
        events.error(err);
        down();
      },
    );
    return {
      get connected() {
        return client?.connected ?? false;
      },
      publish(topic, payload, o, done) {
        if (client === null) return void queueMicrotask(() => done?.());
        client.publish(topic, payload, { qos: o.qos, retain: o.retain ?? false }, () => done?.());
      },
      wireBytes() {
        const socket = client?.stream as { bytesRead?: number; bytesWritten?: number } | undefined;
        return (socket?.bytesRead ?? 0) + (socket?.bytesWritten ?? 0);
      },
      close(clean) {
        over = true;
        const c = client;
        if (c === null) return Promise.resolve();
        return new Promise<void>((resolve) => c.end(!clean || !c.connected, {}, () => resolve()));
      },
    };
  }
}
