import type { Logger } from '@fieldmesh/device-sdk';
import type { HomeAssistantConfig } from '../../config/integrations.js';
import type { HaLink } from './home-assistant.js';
import { loadMqtt } from '../../lazy-packages.js';

/** The gateway's own broker: Home Assistant logs in there as an app (`fieldmesh gateway add-app`). */
export class LocalHaLink implements HaLink {
  private birth: () => void = () => {};

  constructor(private readonly publishLocal: (topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }) => void) {}

  publish(topic: string, payload: string, retain: boolean): void {
    this.publishLocal(topic, payload, { qos: retain ? 1 : 0, retain });
  }

  /** Fed by the broker when an app publishes Home Assistant's birth topic (the one publish an app may make). */
  birthMessage(payload: string): void {
    if (payload === 'online') this.birth();
  }

  onBirth(handler: () => void): void {
    this.birth = handler;
  }

  onConnect(): void {}

  async close(): Promise<void> {}
}

/**
 * Home Assistant's own broker (usually Mosquitto), through mqtt.js: availability is this
 * connection's last will, so Home Assistant marks every entity unavailable when the gateway dies.
 * QoS 0 state is not queued while offline (`queueQoSZero: false`): Home Assistant wants the
 * newest value, and a queue would grow the gateway's memory during a broker outage.
 */
export class MqttHaLink implements HaLink {
  private birth: () => void = () => {};
  private connected: () => void = () => {};
  private client: import('mqtt').MqttClient | null = null;

  private constructor(
    private readonly cfg: HomeAssistantConfig,
    private readonly availability: string,
    private readonly log: Logger,
  ) {}

  static async connect(cfg: HomeAssistantConfig, clientId: string, availability: string, log: Logger): Promise<MqttHaLink> {
    const link = new MqttHaLink(cfg, availability, log);
    const { connect } = await loadMqtt();
    const client = connect(cfg.url!, {
      clientId,
      ...(cfg.username !== null ? { username: cfg.username } : {}),
      ...(cfg.password !== null ? { password: cfg.password } : {}),
      protocolVersion: 4,
      reconnectPeriod: 5000,
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic: availability, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    link.client = client;
    const birthTopic = `${cfg.discoveryPrefix}/status`;
    client.on('connect', () => {
      client.publish(availability, 'online', { qos: 1, retain: true });
      client.subscribe(birthTopic, { qos: 1 });
      link.connected();
    });
    client.on('message', (topic, payload) => {
      if (topic === birthTopic && payload.toString() === 'online') link.birth();
    });
    client.on('error', (err) => link.log.warn({ err: err.message, url: cfg.url }, 'home assistant broker error'));
    return link;
  }

  publish(topic: string, payload: string, retain: boolean): void {
    this.client?.publish(topic, payload, { qos: retain ? 1 : 0, retain });
  }

  onBirth(handler: () => void): void {
    this.birth = handler;
  }

  onConnect(handler: () => void): void {
    this.connected = handler;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    // A clean stop says offline itself (the will is only for a crash).
    await new Promise<void>((resolve) => {
      if (!c.connected) return resolve();
      c.publish(this.availability, 'offline', { qos: 1, retain: true }, () => resolve());
    });
    await c.endAsync();
  }
}
