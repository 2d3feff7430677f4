import { join } from 'node:path';
import { silentLogger, systemClock, type Clock, type Logger, type Reading } from '@fieldmesh/device-sdk';
import { detectBoard, readDeviceTreeModel, type BoardDetection, type ModelReader } from '@fieldmesh/hardware/boards';
import { commitPipeline } from './commit-pipeline.js';
import type { GatewayConfig } from './config/gateway-config.js';
import { IngestBroker } from './ingest/broker.js';
import { FileCredentialStore } from './ingest/credentials.js';
import { appMetrics } from './ingest/app-metrics.js';
import { homeAssistantFor } from './integrations/homeassistant/start.js';
import type { HomeAssistantDiscovery } from './integrations/homeassistant/home-assistant.js';
import { Ingest } from './ingest/ingest.js';
import { SerialIngest } from './ingest/serial/serial-ingest.js';
import { serialMetrics } from './ingest/serial/metrics.js';
import { startGatewayModbus } from './ingest/modbus/gateway-modbus.js';
import { HttpApi } from './http/server.js';
import { HttpError } from './http/errors.js';
import { gatewayMetrics, type UplinkStatsView } from './gateway-metrics.js';
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics/prometheus.js';
import { buildInfoMetric, processMetrics } from '@fieldmesh/device-sdk/metrics/process-metrics';
import { GATEWAY_VERSION } from './version.js';
import { LocalProcessing } from './local-processing.js';
import { SqliteReadingLog } from './store/sqlite-reading-log.js';
import { DataDirLock } from './store/data-dir-lock.js';
import { HeldReadings } from './rules/held-readings.js';
import { StorageKeeper } from './store/storage-keeper.js';
import { SystemClockHealth } from './store/clock-health.js';
import { openReadingLog } from './store/salvage.js';
import { createGatewayUplink } from './gateway-uplink.js';
import { uplinkDrainMetrics } from './uplink/uplink-metrics.js';
import type { MemberView, Mesh } from './mesh/mesh.js';
import { startGatewayMesh, uplinkMetaState } from './mesh/gateway-mesh.js';
import type { RelayNode } from './relay/relay-node.js';
import { startGatewayRelay } from './gateway-relay.js';
import { loadOriginKey, type OriginKey } from './uplink/origin-key.js';
import { prepareDataDir } from './config/data-dir.js';
import { relayMetricFamilies } from './relay/relay-metrics.js';
import { relayMetaTags } from './relay/relay-peers.js';
import { createGatewayFleet, type GatewayFleetDeps } from './gateway-fleet.js';
import type { FleetAgent } from './fleet/fleet-agent.js';

/** What the composition root needs of an uplink (gateway/src/uplink/uplink.ts `Uplink` fits). */
export interface GatewayUplink {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  /** Called after every group commit so draining starts at once. */
  notify(): void;
  /** Called after every group commit with what was committed (state-series compaction). */
  observeCommitted?(firstSeq: number, readings: readonly Reading[]): void;
  stats(): UplinkStatsView;
}

export interface GatewayDeps {
  logger?: Logger;
  clock?: Clock;
  /** Where the one-time credential lines go. Default: stdout. */
  print?: (line: string) => void;
  /** Reads the board model (hardware/src/boards). Default: /proc/device-tree/model. */
  readBoardModel?: ModelReader;
  /**
   * multicast-dns socket options for the mesh's mDNS (default: the default interface). Tests and
   * single-machine demos pass { interface: '127.0.0.1', bind: '0.0.0.0' } to stay on loopback.
   */
  mdnsSocket?: { interface?: string; bind?: string };
  /** How the command started it, for the fleet agent (gateway-fleet.ts); used only with `fleet:`. */
  fleet?: GatewayFleetDeps;
}

export interface StartedGateway {
  brokerPort: number;
  httpPort: number;
  /** Device credentials created by this start, with plain passwords (shown once). */
  newCredentials: Array<{ device: string; password: string }>;
}

/**
 * The gateway's composition root: wires the real parts (SQLite log, aedes broker, HTTP API,
 * uplink) from a validated config. Components below it only see interfaces.
 */
export class Gateway {
  readonly http: HttpApi;
  readonly metrics = new MetricsRegistry();
  private readingLog: SqliteReadingLog | null = null;
  private dirLock: DataDirLock | null = null;
  private readonly mdnsSocket: GatewayDeps['mdnsSocket'];
  private readonly heldReadings = new HeldReadings();
  private ingestPath: Ingest | null = null;
  private broker: IngestBroker | null = null;
  private serial: SerialIngest | null = null;
  private modbus: ReturnType<typeof startGatewayModbus> | null = null;
  private uplink: GatewayUplink | null = null;
  private local: LocalProcessing | null = null;
  private homeAssistant: HomeAssistantDiscovery | null = null;
  private relay: RelayNode | null = null;
  /** This gateway's batch signing key (gateway/src/uplink/origin-key.ts), loaded at start. */
  originKey: OriginKey | null = null;
  private relayPort = 0;
  private storage: StorageKeeper | null = null;
  private meshMembers: () => MemberView[] = () => [];
  private meshMember: Mesh | null = null;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly print: (line: string) => void;
  private startedAt = 0;
  private running = false;
  private fleet: FleetAgent | null = null;
  private readonly fleetDeps: GatewayFleetDeps;
  private requestExit: (code: number) => void = () => {};
  /** Resolves with an exit code when the gateway asks to be stopped and restarted (a fleet switch: 75). */
  readonly exitRequest = new Promise<number>((resolve) => (this.requestExit = resolve));

  constructor(
    readonly config: Readonly<GatewayConfig>,
    deps: GatewayDeps = {},
  ) {
    this.log = (deps.logger ?? silentLogger).child({ gateway: config.id });
    this.clock = deps.clock ?? systemClock;
    this.print = deps.print ?? ((line) => process.stdout.write(line + '\n'));
    this.http = new HttpApi(this.log);
    this.readBoardModel = deps.readBoardModel ?? readDeviceTreeModel;
    this.mdnsSocket = deps.mdnsSocket;
    this.fleetDeps = deps.fleet ?? {};
  }

  /** The board profile in use (hardware/src/boards), known once started. */
  board: BoardDetection | null = null;
  private readonly readBoardModel: ModelReader;

  /** Says once at start which board profile applies and why (an unknown board logs a warning too). */
  private logBoard(): void {
    const d = detectBoard(this.readBoardModel, { logger: this.log });
    const p = d.profile;
    this.board = d;
    this.log.info(
      { board: p.id, model: d.model ?? null, generic: d.generic, uart: p.uart.primary, storage: p.storage, memoryBudgetMb: d.memoryBudgetMb, boardGossipPreset: p.defaults.gossipPreset, meshPreset: this.config.mesh.preset },
      `board profile: ${p.name} (${d.reason})`,
    );
  }

  /** The reading log, once started (rules, rollups and the query API read it). */
  get store(): SqliteReadingLog {
    if (!this.readingLog) throw new Error('gateway not started');
    return this.readingLog;
  }

  /** Rules, alerts (and their upstream outbox), rollups and the query API, once started. */
  get localProcessing(): LocalProcessing {
    if (!this.local) throw new Error('gateway not started');
    return this.local;
  }

  /** Applies a new `rules:` section (e.g. on SIGHUP); throws and keeps the old rules when invalid. */
  reloadRules(rules: unknown): void {
    this.localProcessing.reloadRules(rules);
  }

  /** The ingest sink, once started (serial lines submit here). */
  get ingest(): Ingest {
    if (!this.ingestPath) throw new Error('gateway not started');
    return this.ingestPath;
  }

  async start(): Promise<StartedGateway> {
    const cfg = this.config;
    this.logBoard();
    try {
      prepareDataDir(cfg.dataDir);
      this.dirLock = DataDirLock.acquire(cfg.dataDir);
      // Readings stored while the wall clock is not known good are marked and corrected later.
      // A corrupt database is moved aside and salvaged, never recreated silently (salvage.ts).
      this.readingLog = openReadingLog(
        join(cfg.dataDir, 'gateway.db'),
        { commitThread: cfg.ingest.commitThread, clock: this.clock, clockHealth: (lastKnownGood) => new SystemClockHealth(lastKnownGood) },
        this.log.child({ component: 'store' }),
      ).log;
      this.ingestPath = new Ingest(this.readingLog, {
        commitIntervalMs: cfg.ingest.commitIntervalMs,
        maxBatchReadings: cfg.ingest.maxBatchReadings,
        clock: this.clock,
        logger: this.log.child({ component: 'ingest' }),
      });
      // Every commit goes through the parts below in one order (commit-pipeline.ts says why).
      this.ingestPath.onCommitted(
        commitPipeline(
          {
            rules: (readings) => this.local?.onCommitted(readings),
            hold: (firstSeq, forward) => this.heldReadings.record(firstSeq, forward),
            budget: () => this.storage?.onCommitted(),
            uplink: (batch) => {
              this.uplink?.observeCommitted?.(batch.firstSeq, batch.readings);
              this.uplink?.notify();
            },
            relay: (batch) => this.relay?.notify(batch),
            apps: (batch) => (this.broker?.feed.onCommitted(batch.readings), this.homeAssistant?.onCommitted(batch.readings)),
          },
          this.log,
        ),
      );

      // ── Local processing: rules, alerts, rollups, query API, tail ─────────────────
      // Fed every committed batch; alerts go out on the local broker at once (fm/alerts/…).
      this.local = new LocalProcessing({
        gatewayId: cfg.id,
        dbFile: join(cfg.dataDir, 'gateway.db'),
        rules: cfg.rules,
        rollups: cfg.rollups,
        publish: (topic, payload, opts) => (this.broker?.publish(topic, payload, opts), this.homeAssistant?.onAlert(String(payload))),
        clock: this.clock,
        logger: this.log,
      });
      // Storage budget: checked after commits and on a timer; losses in status/metrics.
      this.storage = new StorageKeeper(this.readingLog, cfg.storage, { dataDir: cfg.dataDir, clock: this.clock, logger: this.log, budgetFraction: this.board?.profile.defaults.storageBudgetFraction });
      this.metrics.register(() => this.storage?.metrics() ?? []);
      this.storage.start();

      let newCredentials: StartedGateway['newCredentials'] = [];
      let credentials: FileCredentialStore | undefined;
      if (cfg.broker.auth === 'credentials') {
        credentials = new FileCredentialStore(join(cfg.dataDir, 'devices.json'));
        newCredentials = await credentials.ensure(cfg.broker.devices);
        if (newCredentials.length > 0) {
          // Printed once, here, never logged and never stored in clear: note them now.
          this.print('new device credentials (shown only this once; username = device id):');
          for (const c of newCredentials) this.print(`  ${c.device}  ${c.password}`);
        }
      } else {
        this.log.warn({ auth: 'none' }, 'broker.auth is none: any client may publish as any device (lab only)');
      }

      // Every batch this gateway makes carries its origin signature (origin-key.ts), whichever
      // path it takes upstream: direct, through a relay, or uploaded by a buddy from a replica.
      // Its public half is printed by `fieldmesh gateway` (origin key: …) for add-gateway --public-key.
      this.originKey = loadOriginKey(cfg.dataDir, cfg.uplink?.signingKey ?? null);
      if (this.originKey.source === 'new') this.log.info({ publicKey: this.originKey.publicKey }, 'origin signing key made (register its public key at the cloud: fieldmesh cloud add-gateway ID --public-key KEY)');

      // ── Uplink ────────────────────────────────────────────────────────────────────────────
      // Constructed here when `uplink.url` is configured (gateway/src/uplink/uplink.ts); until
      // then readings are stored and forwarded later. The commit pipeline wakes it after each
      // commit, so the drain starts at once.
      const uplink = createGatewayUplink({
        config: cfg,
        // What deadband rules held back is left out of what the uplink reads (rules/held-readings.ts).
        log: this.heldReadings.upstreamView(this.store),
        alerts: this.localProcessing.alertOutbox,
        originKey: this.originKey,
        // The retained status carries what /api/status shows about ingest (uplink fields are its own).
        status: () => ({ ingest: this.ingestPath?.stats.snapshot() ?? null, storage: this.storage?.upstreamStatus() ?? null, members: this.memberIds() }),
        clock: this.clock,
        logger: this.log,
      });
      this.uplink = uplink;
      if (uplink) this.metrics.register(uplinkDrainMetrics(() => uplink.stats()));
      // Fleet operations (fleet/FLEET-AGENT.md), when `fleet:` is configured: reads its desired topic on the uplink's session.
      this.fleet = createGatewayFleet({ config: cfg, uplink, fleet: this.fleetDeps, metrics: this.metrics, restart: (code) => this.requestExit(code), clock: this.clock, logger: this.log, probe: { readingLogOpen: () => this.readingLog?.lastSeq() !== undefined, uplinkOnline: () => uplink?.stats().state === 'online', ingestWorking: () => (this.ingestPath?.stats.ingested ?? 0) > 0 || (this.broker?.port ?? 0) > 0 } });

      this.broker = new IngestBroker({
        config: cfg.broker,
        ingest: this.ingestPath,
        ...(credentials ? { credentials } : {}),
        clock: this.clock,
        logger: this.log,
        rejectLogIntervalMs: cfg.ingest.rejectLogIntervalMs,
        // Read-only local consumers (`fieldmesh gateway add-app`), in their own file and namespace.
        apps: new FileCredentialStore(join(cfg.dataDir, 'apps.json')),
        gatewayId: cfg.id,
        maxAppQueueBytes: cfg.broker.maxAppQueueBytes,
      });
      await this.broker.start();
      this.metrics.register(appMetrics(this.broker));
      // Home Assistant discovery, when integrations.homeassistant.enabled (integrations/homeassistant/).
      this.homeAssistant = await homeAssistantFor({ gatewayId: cfg.id, config: cfg.integrations.homeassistant, broker: this.broker, ruleIds: cfg.rules.map((r) => r.id), latest: () => this.local?.rollups.latest() ?? [], sw: GATEWAY_VERSION, clock: this.clock, logger: this.log });

      // ── Serial lines: one reader per `serial` entry, into the same ingest sink. A
      // missing or busy port is logged and retried by the reader; it never stops the gateway.
      this.serial = new SerialIngest({ ports: cfg.serial, sink: this.ingestPath, clock: this.clock, logger: this.log });
      this.serial.start();
      this.metrics.register(serialMetrics(this.serial));
      // Modbus RTU lines and TCP endpoints (ingest/modbus/README.md), into the same sink.
      this.modbus = startGatewayModbus({ config: cfg.modbus, sink: this.ingestPath, http: this.http, metrics: this.metrics, alerts: this.local.alerts, clock: this.clock, logger: this.log, broker: this.broker });

      this.metrics.register(
        gatewayMetrics({
          stats: this.ingestPath.stats,
          log: this.readingLog,
          uplink: this.uplink ? () => this.uplink!.stats() : undefined,
          now: () => this.clock.now(),
        }),
      );
      this.registerRoutes();
      this.metrics.register(() => this.local?.metrics() ?? []);
      this.local.registerRoutes(this.http);
      this.local.start();
      await this.http.listen(cfg.http.port, cfg.http.host, cfg.http.allowedHosts);
      await this.uplink?.start();
      await this.startRelay();
      // ── Mesh: membership among the site's gateways, GET /api/members ──────────────
      // Off unless mesh.key is set (every mesh packet is encrypted; there is no default key).
      this.meshMember = await startGatewayMesh({
        id: cfg.id,
        mqttPort: this.broker.port,
        config: cfg.mesh,
        http: this.http,
        metrics: this.metrics,
        meta: () => this.meshMeta(),
        clock: this.clock,
        logger: this.log,
        ...(this.mdnsSocket ? { mdnsSocket: this.mdnsSocket } : {}),
      });
      if (this.meshMember) {
        const mesh = this.meshMember;
        this.useMeshForRelay(() => mesh.members());
      }

      this.startedAt = this.clock.monotonic();
      this.running = true;
      this.fleet?.start();
      this.log.info({ brokerPort: this.broker.port, httpPort: this.http.port, epoch: this.readingLog.epoch }, 'gateway started');
      return { brokerPort: this.broker.port, httpPort: this.http.port, newCredentials };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops in dependency order: no new input, commit what is queued, then outputs, then the store. */
  async stop(): Promise<void> {
    this.running = false;
    await this.serial?.stop();
    this.serial = null;
    await this.modbus?.stop();
    this.modbus = null;
    await this.homeAssistant?.stop();
    this.homeAssistant = null;
    await this.broker?.stop();
    this.broker = null;
    await this.ingestPath?.stop();
    this.storage?.stop();
    this.storage = null;
    await this.meshMember?.stop();
    this.meshMember = null;
    await this.relay?.stop();
    this.relay = null;
    this.fleet?.stop();
    await this.uplink?.stop();
    this.uplink = null;
    await this.http.close();
    this.local?.stop();
    this.local = null;
    await this.readingLog?.closeAsync();
    this.readingLog = null;
    this.dirLock?.release();
    this.dirLock = null;
  }

  /** The status `/api/status` serves and the uplink may publish. */
  status(): Record<string, unknown> {
    const log = this.readingLog;
    return {
      id: this.config.id,
      running: this.running,
      uptimeS: this.running ? Math.round((this.clock.monotonic() - this.startedAt) / 1000) : 0,
      epoch: log?.epoch ?? null,
      broker: { port: this.broker?.port ?? null, auth: this.config.broker.auth },
      http: { port: this.http.port },
      ingest: this.ingestPath?.stats.snapshot() ?? null,
      serial: this.serial?.stats() ?? null,
      modbus: this.modbus?.stats() ?? null,
      log: log ? { lastSeq: log.lastSeq(), ackWatermark: log.ackWatermark(), backlog: log.backlog(), quarantined: log.quarantined() } : null,
      storage: this.storage?.status() ?? null,
      uplink: this.uplink ? this.uplink.stats() : { state: 'none', configured: this.config.uplink !== null },
      relay: this.relay?.status() ?? null,
      fleet: this.fleet?.status() ?? null,
    };
  }

  /**
   * Where the relay finds peers: the mesh's member list (gateway/src/mesh). Call once the mesh
   * is up; until then the relay knows no peers (and only delivers directly).
   */
  useMeshForRelay(members: () => MemberView[]): void {
    this.meshMembers = members;
  }

  /** Tags to merge into this gateway's mesh metadata so peers find its relay ({} when not serving). */
  relayMetaTags(): Record<string, string> {
    return this.relayPort > 0 ? relayMetaTags(this.relayPort) : {};
  }

  /** Relay (gateway-relay.ts): off without relay.enabled and mesh.key. */
  private async startRelay(): Promise<void> {
    const started = await startGatewayRelay({
      config: this.config,
      log: this.store,
      uplinkOnline: () => this.uplink?.stats().state === 'online',
      members: () => this.meshMembers(),
      ...(this.originKey ? { sign: this.originKey.sign } : {}),
      clock: this.clock,
      logger: this.log,
    });
    if (!started) return;
    this.relay = started.relay;
    this.relayPort = started.port;
    this.metrics.register(() => (this.relay ? relayMetricFamilies(this.relay.status()) : []));
  }

  /** The mesh, when mesh.key is configured and the gateway runs. */
  get mesh(): Mesh | null {
    return this.meshMember;
  }

  /** What peers learn about this gateway: the relay picks a peer whose uplink works. */
  private meshMeta() {
    const backlog = this.readingLog?.backlog();
    const oldest = backlog?.oldestUnsentTs ?? null;
    return {
      role: 'gateway',
      version: GATEWAY_VERSION,
      uplink: uplinkMetaState(this.uplink ? this.uplink.stats().state : 'none'),
      backlog: backlog?.readings ?? 0,
      oldestUnsentAgeS: oldest === null ? 0 : Math.max(0, Math.round((this.clock.now() - oldest) / 1000)),
      tags: this.relayMetaTags(),
    };
  }

  /**
   * Live mesh members for the retained status (the cloud's fleet view), at most 64 ids so the
   * status message stays small at a site with many gateways; null when the mesh is off.
   */
  private memberIds(): string[] | null {
    if (!this.meshMember) return null;
    return this.meshMembers()
      .filter((m) => m.state === 'alive' || m.state === 'suspect')
      .map((m) => m.id)
      .slice(0, 64);
  }

  private registerRoutes(): void {
    this.http.route('GET', '/healthz', () => {
      if (!this.running || !this.readingLog) throw new HttpError(503, 'FM_ERR_HTTP_INTERNAL', 'gateway not running');
      return { json: { ok: true, id: this.config.id } };
    });
    this.metrics.register(buildInfoMetric({ component: 'gateway', version: GATEWAY_VERSION }));
    this.metrics.register(processMetrics());
    this.metrics.register(() => [
      { name: 'fieldmesh_http_refused_total', help: 'HTTP requests refused before routing, by reason (host: a Host this gateway does not answer to).', type: 'counter', samples: [{ labels: { reason: 'host' }, value: this.http.refusedHost }] },
    ]);
    this.http.route('GET', '/metrics', () => ({ text: this.metrics.render(), contentType: PROMETHEUS_CONTENT_TYPE }));
    this.http.route('GET', '/api/status', () => ({ json: this.status() }));
  }
}
