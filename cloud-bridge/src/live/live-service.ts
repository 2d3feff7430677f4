import { join } from 'node:path';
import type { Aedes } from 'aedes';
import type { Clock, Logger } from '@fieldmesh/device-sdk';
import type { ConnectionGuard } from '../broker/connection-guard.js';
import type { CloudStore } from '../store/cloud-store.js';
import { LiveFeedStore } from './live-feed-store.js';
import { LiveHub } from './live-hub.js';
import { LiveMqtt } from './live-mqtt.js';
import { LiveMqttListener, type LiveMqttListenerConfig } from './live-mqtt-listener.js';
import { LiveServer, SERVER_DEFAULTS, type LiveServerLimits } from './live-server.js';
import { SUBSCRIBER_DEFAULTS, type SubscriberLimits } from './live-subscriber.js';
import { LiveTokens } from './live-tokens.js';

/** An alert payload is a few hundred bytes; anything past this is refused. */
const MAX_ALERT_BYTES = 16 * 1024;

export function liveTokensFile(dataDir: string): string {
  return join(dataDir, 'live-tokens.json');
}

/**
 * The live subscription component, wired: tokens, the hub, the WebSocket server and, once a broker
 * is attached, the read-only MQTT live topics. The bridge's composition root feeds it through
 * `feed(store)` and hands `upgrade` to its HTTP server.
 */
export class LiveService {
  readonly hub: LiveHub;
  readonly server: LiveServer;
  private mqtt: LiveMqtt | null = null;
  private listener: LiveMqttListener | null = null;

  private constructor(
    readonly tokens: LiveTokens,
    /** The token issued at this start (first start only), to be shown once; else null. */
    readonly issuedToken: string | null,
    clock: Clock,
    logger: Logger,
    limits: SubscriberLimits,
    server: LiveServerLimits,
  ) {
    this.hub = new LiveHub(clock);
    this.server = new LiveServer(this.hub, tokens, () => this.mqtt, limits, clock, logger, server);
  }

  static open(opts: { dataDir: string; clock: Clock; logger: Logger; limits?: Partial<SubscriberLimits>; server?: Partial<LiveServerLimits> }): LiveService {
    const { tokens, issued } = LiveTokens.open(liveTokensFile(opts.dataDir), opts.clock.now());
    const logger = opts.logger.child({ component: 'live' });
    if (issued !== null) {
      // The token itself is not logged (logs are kept and shipped); `fieldmesh cloud` prints it once on stdout.
      logger.warn({ file: liveTokensFile(opts.dataDir) }, 'live subscription token issued (only its hash is kept); the dashboard needs it as /?token=…');
    }
    return new LiveService(tokens, issued, opts.clock, logger, { ...SUBSCRIBER_DEFAULTS, ...opts.limits }, { ...SERVER_DEFAULTS, ...opts.server });
  }

  /** Wraps the store so committed readings and status changes are streamed. */
  feed(store: CloudStore): CloudStore {
    return new LiveFeedStore(store, this.hub);
  }

  /** Adds MQTT over WebSocket (`/mqtt`) and the `fm/live/…` topics on this broker. */
  attachBroker(aedes: Aedes, guard: ConnectionGuard): void {
    this.mqtt = new LiveMqtt(aedes, this.tokens, guard);
    this.hub.add(this.mqtt);
  }

  /**
   * Opens the plain-MQTT (TCP or TLS) live listener: its connections go through the same guard,
   * token check and read-only ACL as `/mqtt`. Returns the port. Needs `attachBroker` first.
   */
  async listenMqtt(cfg: LiveMqttListenerConfig): Promise<number> {
    const mqtt = this.mqtt;
    if (!mqtt) throw new Error('LiveService.listenMqtt before attachBroker');
    this.listener = await LiveMqttListener.start(cfg, (stream, remote) => mqtt.handle(stream, remote));
    return this.listener.port;
  }

  /** The plain-MQTT live listener's port, or null when none is configured. */
  get mqttPort(): number | null {
    return this.listener?.port ?? null;
  }

  /** Streams an alert event (gateway alert payload v1) to subscribers. */
  alert(gateway: string, alert: Record<string, unknown>): void {
    this.hub.alert(gateway, alert);
  }

  /** Alert payloads refused (not a JSON object, or too large). */
  alertsRefused = 0;

  /**
   * An alert as published by a gateway on `fm/g/<gateway>/alert` (payload v1, gateway/src/alerts/event.ts).
   * Hostile input: size-capped, must be a JSON object; its `gateway` is the topic's, whatever it says.
   */
  alertMessage(gateway: string, payload: Buffer): void {
    let alert: unknown;
    try {
      alert = payload.length <= MAX_ALERT_BYTES ? JSON.parse(payload.toString('utf8')) : null;
    } catch {
      alert = null;
    }
    if (typeof alert !== 'object' || alert === null || Array.isArray(alert)) {
      this.alertsRefused++;
      return;
    }
    this.hub.alert(gateway, { ...(alert as Record<string, unknown>), gateway });
  }

  metrics(): Record<string, unknown> {
    return { ...this.hub.stats, ...this.server.stats, alertsRefused: this.alertsRefused, mqtt: this.mqtt ? { ...this.mqtt.stats } : null };
  }

  close(): void {
    this.listener?.close();
    this.listener = null;
    this.server.close();
    this.hub.close();
  }
}
