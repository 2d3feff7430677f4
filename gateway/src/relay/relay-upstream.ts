import type { IClientOptions, MqttClient } from 'mqtt';
import { relayTopics, parseRelayTopic } from '@fieldmesh/protocol';
import { loadMqtt } from '../lazy-packages.js';

/**
 * The relay's path to the cloud for other gateways' batches. Its own MQTT session (client id
 * `<self>.relay`, same credentials as the gateway's uplink), separate from the gateway's own
 * uplink session, so relayed traffic has its own bounded window and never sits in the queue of
 * the relay's own data (RELAY.md §5).
 */
export interface RelayUpstream {
  readonly online: boolean;
  start(events: { ack: (originId: string, payload: Buffer) => void; state: (online: boolean) => void }): void;
  /** Publishes one origin batch at QoS 1; resolves on PUBACK (the ack comes later, on the ack topic). */
  publish(originId: string, batch: Buffer): Promise<void>;
  stop(): Promise<void>;
}

export interface MqttRelayUpstreamOptions {
  relayId: string;
  url: string;
  username?: string;
  password?: string;
  /** Reconnect period, ms. Default 2000. */
  reconnectMs?: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export class MqttRelayUpstream implements RelayUpstream {
  private client: MqttClient | null = null;
  private stopped = false;
  online = false;

  constructor(private readonly opts: MqttRelayUpstreamOptions) {}

  start(events: { ack: (originId: string, payload: Buffer) => void; state: (online: boolean) => void }): void {
    const o = this.opts;
    const options: IClientOptions = {
      clientId: `${o.relayId}.relay`,
      username: o.username ?? o.relayId,
      clean: true,
      reconnectPeriod: o.reconnectMs ?? 2000,
      connectTimeout: 10_000,
      keepalive: 30,
      protocolVersion: 4,
    };
    if (o.password !== undefined) options.password = o.password;
    if (/^(mqtts|tls|wss):/.test(o.url)) {
      options.rejectUnauthorized = true;
      if (o.tls?.ca) options.ca = o.tls.ca;
      if (o.tls?.cert) options.cert = o.tls.cert;
      if (o.tls?.key) options.key = o.tls.key;
    }
    // mqtt.js is loaded on start, not with the module: a gateway without an uplink (and so
    // without a relay upstream) never loads it. Online comes later in either case.
    void loadMqtt().then(({ connect }) => {
      if (!this.stopped) this.connect(connect(o.url, options), events);
    });
  }

  private connect(client: MqttClient, events: { ack: (originId: string, payload: Buffer) => void; state: (online: boolean) => void }): void {
    const o = this.opts;
    this.client = client;
    const setOnline = (v: boolean) => {
      if (this.online === v) return;
      this.online = v;
      events.state(v);
    };
    client.on('connect', () => {
      client.subscribe(relayTopics.ackFilter(o.relayId), { qos: 1 }, (err, granted) => {
        // A cloud that does not know relaying refuses the subscription: then we cannot relay.
        if (err || !granted || granted.some((g) => g.qos === 128)) return setOnline(false);
        setOnline(true);
      });
    });
    client.on('message', (topic, payload) => {
      const t = parseRelayTopic(topic);
      if (t && t.kind === 'ack' && t.relayId === o.relayId) events.ack(t.originId, payload);
    });
    client.on('close', () => setOnline(false));
    client.on('offline', () => setOnline(false));
    client.on('error', () => setOnline(false));
  }

  publish(originId: string, batch: Buffer): Promise<void> {
    const client = this.client;
    if (!client || !this.online) return Promise.reject(new Error('relay upstream offline'));
    return new Promise((resolve, reject) => client.publish(relayTopics.batch(this.opts.relayId, originId), batch, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.client;
    this.client = null;
    this.online = false;
    if (c) await new Promise<void>((r) => c.end(true, {}, () => r()));
  }
}
