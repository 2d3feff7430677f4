import { join } from 'node:path';
import { silentLogger, systemClock, type Clock, type Logger, type Reading } from '@fieldmesh/device-sdk';
import { detectBoard, readDeviceTreeModel, type BoardDetection, type ModelReader } from '@fieldmesh/hardware/boards';
import { commitPipeline } from './commit-pipeline.js';
import type { GatewayConfig } from './config/gateway-config.js';
import { Ingest } from './ingest/ingest.js';
import { HttpApi } from './http/server.js';
import { gatewayMetrics, type UplinkStatsView } from './gateway-metrics.js';
import { MetricsRegistry } from './metrics/prometheus.js';
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
import { loadOriginKey, type OriginKey } from './uplink/origin-key.js';
import { prepareDataDir } from './config/data-dir.js';
import { GatewayPeers } from './gateway-peers.js';
import { DeviceSide } from './gateway-devices.js';
import { registerGatewayRoutes } from './gateway-routes.js';
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
  private readonly heldReadings = new HeldReadings();
  private ingestPath: Ingest | null = null;
  /** Broker, apps, Home Assistant, serial and Modbus (gateway-devices.ts). */
  private readonly devices: DeviceSide;
  private uplink: GatewayUplink | null = null;
  private local: LocalProcessing | null = null;
  /** Mesh and relay (gateway-peers.ts). */
  private readonly peers: GatewayPeers;
  /** This gateway's batch signing key (gateway/src/uplink/origin-key.ts), loaded at start. */
  originKey: OriginKey | null = null;
  private storage: StorageKeeper | null = null;
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
    this.fleetDeps = deps.fleet ?? {};
    this.devices = new DeviceSide({ config, http: this.http, metrics: this.metrics, print: this.print, clock: this.clock, logger: this.log });
    this.peers = new GatewayPeers({
      config,
      metrics: this.metrics,
      uplinkState: () => (this.uplink ? this.uplink.stats().state : 'none'),
      backlog: () => this.readingLog?.backlog(),
      ...(deps.mdnsSocket ? { mdnsSocket: deps.mdnsSocket } : {}),
      clock: this.clock,
      logger: this.log,
    });
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
            relay: (batch) => this.peers.notifyRelay(batch),
            apps: (batch) => this.devices.onCommitted(batch.readings),
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
        publish: (topic, payload, opts) => this.devices.publishLocal(topic, payload, opts),
        clock: this.clock,
        logger: this.log,
      });
      // Storage budget: checked after commits and on a timer; losses in status/metrics.
      this.storage = new StorageKeeper(this.readingLog, cfg.storage, { dataDir: cfg.dataDir, clock: this.clock, logger: this.log, budgetFraction: this.board?.profile.defaults.storageBudgetFraction });
      this.metrics.register(() => this.storage?.metrics() ?? []);
      this.storage.start();

      const newCredentials = await this.devices.ensureCredentials();

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
        status: () => ({ ingest: this.ingestPath?.stats.snapshot() ?? null, storage: this.storage?.upstreamStatus() ?? null, members: this.peers.memberIds() }),
        clock: this.clock,
        logger: this.log,
      });
      this.uplink = uplink;
      if (uplink) this.metrics.register(uplinkDrainMetrics(() => uplink.stats()));
      // Fleet operations (fleet/FLEET-AGENT.md), when `fleet:` is configured: reads its desired topic on the uplink's session.
      this.fleet = createGatewayFleet({ config: cfg, uplink, fleet: this.fleetDeps, metrics: this.metrics, restart: (code) => this.requestExit(code), clock: this.clock, logger: this.log, probe: { readingLogOpen: () => this.readingLog?.lastSeq() !== undefined, uplinkOnline: () => uplink?.stats().state === 'online', ingestWorking: () => (this.ingestPath?.stats.ingested ?? 0) > 0 || (this.devices.brokerPort ?? 0) > 0 } });

      // ── Devices and local apps: the broker, Home Assistant, serial lines, Modbus ──────
      const brokerPort = await this.devices.start({ ingest: this.ingestPath, alerts: this.local.alerts, ruleIds: cfg.rules.map((r) => r.id), latest: () => this.local?.rollups.latest() ?? [] });

      this.metrics.register(
        gatewayMetrics({
          stats: this.ingestPath.stats,
          log: this.readingLog,
          uplink: this.uplink ? () => this.uplink!.stats() : undefined,
          now: () => this.clock.now(),
        }),
      );
      registerGatewayRoutes(this.http, this.metrics, { id: cfg.id, healthy: () => this.running && this.readingLog !== null, status: () => this.status() });
      this.metrics.register(() => this.local?.metrics() ?? []);
      this.local.registerRoutes(this.http);
      this.local.start();
      await this.http.listen(cfg.http.port, cfg.http.host, cfg.http.allowedHosts);
      await this.uplink?.start();
      // ── Relay and mesh among the site's gateways, GET /api/members ────────────────
      // Off unless mesh.key is set (every mesh packet is encrypted; there is no default key).
      await this.peers.start({ log: this.store, ...(this.originKey ? { sign: this.originKey.sign } : {}), mqttPort: brokerPort, http: this.http });

      this.startedAt = this.clock.monotonic();
      this.running = true;
      this.fleet?.start();
      this.log.info({ brokerPort, httpPort: this.http.port, epoch: this.readingLog.epoch }, 'gateway started');
      return { brokerPort, httpPort: this.http.port, newCredentials };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops in dependency order: no new input, commit what is queued, then outputs, then the store. */
  async stop(): Promise<void> {
    this.running = false;
    await this.devices.stop();
    await this.ingestPath?.stop();
    this.storage?.stop();
    this.storage = null;
    await this.peers.stop();
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
      broker: { port: this.devices.brokerPort, auth: this.config.broker.auth },
      http: { port: this.http.port },
      ingest: this.ingestPath?.stats.snapshot() ?? null,
      serial: this.devices.serialStats(),
      modbus: this.devices.modbusStats(),
      log: log ? { lastSeq: log.lastSeq(), ackWatermark: log.ackWatermark(), backlog: log.backlog(), quarantined: log.quarantined() } : null,
      storage: this.storage?.status() ?? null,
      uplink: this.uplink ? this.uplink.stats() : { state: 'none', configured: this.config.uplink !== null },
      relay: this.peers.relayStatus(),
      fleet: this.fleet?.status() ?? null,
    };
  }

  /**
   * Where the relay finds peers: the mesh's member list (gateway/src/mesh). Call once the mesh
   * is up; until then the relay knows no peers (and only delivers directly).
   */
  useMeshForRelay(members: () => MemberView[]): void {
    this.peers.useMeshForRelay(members);
  }

  /** Tags to merge into this gateway's mesh metadata so peers find its relay ({} when not serving). */
  relayMetaTags(): Record<string, string> {
    return this.peers.relayMetaTags();
  }

  /** The mesh, when mesh.key is configured and the gateway runs. */
  get mesh(): Mesh | null {
    return this.peers.mesh;
  }
}
