import { join } from 'node:path';
import type { Clock, Logger, Reading } from '@fieldmesh/device-sdk';
import type { GatewayConfig } from './config/gateway-config.js';
import type { HttpApi } from './http/server.js';
import type { MetricsRegistry } from './metrics/prometheus.js';
import { IngestBroker } from './ingest/broker.js';
import { FileCredentialStore } from './ingest/credentials.js';
import { appMetrics } from './ingest/app-metrics.js';
import type { Ingest } from './ingest/ingest.js';
import { SerialIngest } from './ingest/serial/serial-ingest.js';
import { serialMetrics } from './ingest/serial/metrics.js';
import { startGatewayModbus, type GatewayModbusParts } from './ingest/modbus/gateway-modbus.js';
import { homeAssistantFor } from './integrations/homeassistant/start.js';
import type { HomeAssistantDiscovery } from './integrations/homeassistant/home-assistant.js';
import { GATEWAY_VERSION } from './version.js';

export interface DeviceSideDeps {
  config: Readonly<GatewayConfig>;
  http: HttpApi;
  metrics: MetricsRegistry;
  /** Where the one-time credential lines go. */
  print: (line: string) => void;
  clock: Clock;
  logger: Logger;
}

/**
 * The gateway's local side: device credentials, the MQTT broker devices and local apps use (with
 * Home Assistant discovery on it), serial lines and Modbus, all feeding the one ingest sink.
 * Each part is optional in config; a stop ends every input before the broker the outputs go to.
 */
export class DeviceSide {
  private credentials: FileCredentialStore | undefined;
  private broker: IngestBroker | null = null;
  private homeAssistant: HomeAssistantDiscovery | null = null;
  private serial: SerialIngest | null = null;
  private modbus: ReturnType<typeof startGatewayModbus> | null = null;

  constructor(private readonly d: DeviceSideDeps) {}

  /** Makes credentials for the configured devices that have none; returns those, with plain passwords. */
  async ensureCredentials(): Promise<Array<{ device: string; password: string }>> {
    const cfg = this.d.config;
    if (cfg.broker.auth !== 'credentials') {
      this.d.logger.warn({ auth: 'none' }, 'broker.auth is none: any client may publish as any device (lab only)');
      return [];
    }
    this.credentials = new FileCredentialStore(join(cfg.dataDir, 'devices.json'));
    const made = await this.credentials.ensure(cfg.broker.devices);
    if (made.length > 0) {
      // Printed once, here, never logged and never stored in clear: note them now.
      this.d.print('new device credentials (shown only this once; username = device id):');
      for (const c of made) this.d.print(`  ${c.device}  ${c.password}`);
    }
    return made;
  }

  /** Starts the broker, Home Assistant discovery, serial lines and Modbus; returns the broker's port. */
  async start(p: {
    ingest: Ingest;
    alerts: GatewayModbusParts['alerts'];
    ruleIds: readonly string[];
    latest: Parameters<typeof homeAssistantFor>[0]['latest'];
  }): Promise<number> {
    const { config: cfg, clock, logger: log, metrics } = this.d;
    const broker = new IngestBroker({
      config: cfg.broker,
      ingest: p.ingest,
      ...(this.credentials ? { credentials: this.credentials } : {}),
      clock,
      logger: log,
      rejectLogIntervalMs: cfg.ingest.rejectLogIntervalMs,
      // Read-only local consumers (`fieldmesh gateway add-app`), in their own file and namespace.
      apps: new FileCredentialStore(join(cfg.dataDir, 'apps.json')),
      gatewayId: cfg.id,
      maxAppQueueBytes: cfg.broker.maxAppQueueBytes,
    });
    this.broker = broker;
    await broker.start();
    metrics.register(appMetrics(broker));
    // Home Assistant discovery, when integrations.homeassistant.enabled (integrations/homeassistant/).
    this.homeAssistant = await homeAssistantFor({ gatewayId: cfg.id, config: cfg.integrations.homeassistant, broker, ruleIds: p.ruleIds, latest: p.latest, sw: GATEWAY_VERSION, clock, logger: log });

    // ── Serial lines: one reader per `serial` entry, into the same ingest sink. A
    // missing or busy port is logged and retried by the reader; it never stops the gateway.
    this.serial = new SerialIngest({ ports: cfg.serial, sink: p.ingest, clock, logger: log });
    this.serial.start();
    metrics.register(serialMetrics(this.serial));
    // Modbus RTU lines and TCP endpoints (ingest/modbus/README.md), into the same sink.
    this.modbus = startGatewayModbus({ config: cfg.modbus, sink: p.ingest, http: this.d.http, metrics, alerts: p.alerts, clock, logger: log, broker });
    return broker.port;
  }

  /** Inputs first, then what reads from and publishes to the broker, then the broker itself. */
  async stop(): Promise<void> {
    await this.serial?.stop();
    this.serial = null;
    await this.modbus?.stop();
    this.modbus = null;
    await this.homeAssistant?.stop();
    this.homeAssistant = null;
    await this.broker?.stop();
    this.broker = null;
  }

  /** A committed batch: to the apps subscribed to its series, and to Home Assistant's states. */
  onCommitted(readings: readonly Reading[]): void {
    this.broker?.feed.onCommitted(readings);
    this.homeAssistant?.onCommitted(readings);
  }

  /** An alert on the local broker (fm/alerts/…), and to Home Assistant. */
  publishLocal(topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }): void {
    this.broker?.publish(topic, payload, opts);
    this.homeAssistant?.onAlert(String(payload));
  }

  /** The broker's port while it runs; null otherwise. */
  get brokerPort(): number | null {
    return this.broker?.port ?? null;
  }

  serialStats(): ReturnType<SerialIngest['stats']> | null {
    return this.serial?.stats() ?? null;
  }

  modbusStats(): ReturnType<ReturnType<typeof startGatewayModbus>['stats']> | null {
    return this.modbus?.stats() ?? null;
  }
}
