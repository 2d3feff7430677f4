/**
 * DeviceClient: how a microcontroller bridge or a Linux device sends readings to a gateway.
 *
 *   const client = new DeviceClient({ device: 'th-7', password, gateway: 'mqtt://gw.local:1883' });
 *   client.start();
 *   client.publish([{ sensor: 't', value: 21.5, unit: 'Cel' }]);
 *   await client.flush();   // everything acknowledged by the gateway (durably stored)
 *   await client.close();
 *
 * Each publish() becomes one SenML pack on `fm/d/<device>/senml` with the next per-device
 * sequence number (`fm_seq`), QoS 1. It waits in the offline buffer until the gateway's PUBACK,
 * which the gateway sends only after a durable commit; after a reconnect every unacknowledged
 * message is sent again, and the gateway stores a resent number once. Sequence numbers start at
 * the wall clock in ms (or after the highest in a file buffer), so a restarted client never
 * reuses one (gateway INGEST.md, "Dedupe").
 */
import { connackRefusal } from './connack.js';
import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { systemClock, type Clock, type Timer } from '../clock.js';
import { silentLogger, type Logger } from '../logger.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { SENSOR_NAME, type Reading, type ReadingValue } from '../reading.js';
import { encodeSenml } from '../senml/index.js';
import { MdnsGatewayDiscovery, StaticGateway, type GatewayDiscovery } from './discovery.js';
import { DeviceClientError, type ClientErrorCode } from './errors.js';
import { FileOfflineBuffer } from './file-buffer.js';
import { MemoryOfflineBuffer, type OfflineBuffer } from './offline-buffer.js';
import { CLIENT_DEFAULTS, checkClientOptions, type DeviceClientOptions } from './options.js';

export interface DeviceReading {
  /** Sensor name, e.g. `t` or `room/t`; the series is `<device>/<sensor>`. */
  sensor: string;
  value: ReadingValue;
  /** ms since the epoch; default: now. */
  ts?: number;
  /** SenML unit (RFC 8428 §12.1), e.g. `Cel`, `%RH`, `ppm`. */
  unit?: string;
}

export interface RejectedNotice {
  reason: string;
  code: string;
  detail?: string;
  messageId?: number;
}

export interface DeviceClientStats {
  connected: boolean;
  /** The gateway URL of the current or last connection. */
  url?: string;
  connects: number;
  disconnects: number;
  /** Messages accepted by publish(). */
  published: number;
  /** Publishes sent on the wire, first sends and resends. */
  sent: number;
  /** Sends of a message that had been sent before (after a reconnect). */
  resent: number;
  /** Messages the gateway acknowledged. */
  acked: number;
  buffered: number;
  bufferedBytes: number;
  /** Messages dropped from a full offline buffer (oldest first). */
  dropped: number;
  inFlight: number;
  authFailures: number;
  connectFailures: number;
  /** Messages the gateway acknowledged but refused to store (fm/d/<device>/rejected). */
  gatewayRejected: number;
  /** The last failure; `connack` is the gateway's CONNACK return code when it refused the login. */
  lastError?: { code: ClientErrorCode; message: string; at: number; connack?: number };
}

/**
 * Events: `connect` (url), `disconnect` (error?), `dropped` (count), `rejected` (RejectedNotice),
 * `error` is never emitted: failures are in stats().lastError and the log.
 */
export class DeviceClient extends EventEmitter {
  readonly device: string;
  private readonly opts: DeviceClientOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** A device sending a bad reading every second must not flood its log: one line per reason per 10 s. */
  private readonly rejectLog: RateLimitedLog;
  private readonly discovery: GatewayDiscovery;
  private readonly buffer: OfflineBuffer;
  private readonly maxInFlight: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private client?: MqttClient;
  private isConnected = false;
  private started = false;
  private closed = false;
  private nextSeq: number;
  private cursor = -1;
  private highestSent = -1;
  private readonly inFlight = new Set<number>();
  private delayMs: number;
  private retryTimer?: Timer;
  private flushWaiters: (() => void)[] = [];
  private readonly s = { connects: 0, disconnects: 0, published: 0, sent: 0, resent: 0, acked: 0, authFailures: 0, connectFailures: 0, gatewayRejected: 0 };
  private lastError?: DeviceClientStats['lastError'];
  private url?: string;

  /** Throws DeviceClientError (FM_ERR_CLIENT_CONFIG) naming a bad option; FM_ERR_CLIENT_BUFFER for an unreadable buffer file. */
  constructor(opts: DeviceClientOptions) {
    super();
    checkClientOptions(opts);
    this.opts = opts;
    this.device = opts.device;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ component: 'device-client', device: opts.device });
    this.rejectLog = new RateLimitedLog(this.log, this.clock, { intervalMs: 10_000, maxKeys: 64, countZero: false });
    const g = opts.gateway;
    this.discovery = typeof g === 'string' ? (g === 'mdns' ? new MdnsGatewayDiscovery() : new StaticGateway(g)) : 'mdns' in g ? new MdnsGatewayDiscovery(g.mdns) : g;
    const b = opts.buffer;
    if (b && typeof (b as OfflineBuffer).push === 'function') this.buffer = b as OfflineBuffer;
    else {
      const cfg = (b ?? {}) as { file?: string; maxMessages?: number; maxBytes?: number; fsync?: boolean };
      const limits = { ...(cfg.maxMessages !== undefined && { maxMessages: cfg.maxMessages }), ...(cfg.maxBytes !== undefined && { maxBytes: cfg.maxBytes }) };
      this.buffer = cfg.file ? new FileOfflineBuffer({ path: cfg.file, fsync: cfg.fsync ?? false, ...limits }) : new MemoryOfflineBuffer(limits);
    }
    this.maxInFlight = opts.maxInFlight ?? CLIENT_DEFAULTS.maxInFlight;
    this.backoff = { ...CLIENT_DEFAULTS.reconnect, ...opts.reconnect };
    this.delayMs = this.backoff.initialMs;
    this.nextSeq = Math.max(Math.floor(this.clock.now()), this.buffer.highestSeq + 1);
  }

  /** Starts connecting in the background; publish() works before (and while not) connected. */
  start(): this {
    if (this.closed) throw new DeviceClientError('FM_ERR_CLIENT_CLOSED', 'start() after close()');
    if (!this.started) {
      this.started = true;
      void this.connect();
    }
    return this;
  }

  /**
   * Queues readings as one message; returns its sequence number. Throws DeviceClientError
   * (FM_ERR_CLIENT_READING) for a reading that cannot be sent — nothing is queued then.
   */
  publish(readings: readonly DeviceReading[]): number {
    if (this.closed) throw new DeviceClientError('FM_ERR_CLIENT_CLOSED', 'publish() after close()');
    if (readings.length === 0) throw new DeviceClientError('FM_ERR_CLIENT_READING', 'publish() needs at least one reading');
    const now = this.clock.now();
    const full: Reading[] = readings.map((r, i) => {
      if (typeof r?.sensor !== 'string' || !SENSOR_NAME.test(r.sensor)) throw new DeviceClientError('FM_ERR_CLIENT_READING', `reading ${i}: sensor ${JSON.stringify(r?.sensor)} is not a sensor name`);
      const out: Reading = { series: `${this.device}/${r.sensor}`, ts: r.ts ?? now, value: r.value };
      if (r.unit !== undefined) out.unit = r.unit;
      return out;
    });
    const seq = this.nextSeq;
    let payload: string;
    try {
      payload = encodeSenml(full, { deviceSeq: seq });
    } catch (err) {
      throw new DeviceClientError('FM_ERR_CLIENT_READING', (err as Error).message);
    }
    this.nextSeq++;
    this.s.published++;
    const dropped = this.buffer.push({ seq, payload });
    if (dropped > 0) {
      this.log.warn({ dropped, total: this.buffer.dropped }, 'offline buffer full: oldest messages dropped');
      this.emit('dropped', dropped);
    }
    this.pump();
    return seq;
  }

  /** Resolves once every published message is acknowledged; rejects after `timeoutMs` if given. */
  flush(timeoutMs?: number): Promise<void> {
    if (this.buffer.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: Timer | undefined;
      const done = () => {
        if (timer) this.clock.clearTimeout(timer);
        resolve();
      };
      this.flushWaiters.push(done);
      if (timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          this.flushWaiters = this.flushWaiters.filter((w) => w !== done);
          reject(new DeviceClientError('FM_ERR_CLIENT_CONNECT', `${this.buffer.size} messages still unacknowledged after ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  stats(): DeviceClientStats {
    const st: DeviceClientStats = {
      connected: this.isConnected,
      ...this.s,
      buffered: this.buffer.size,
      bufferedBytes: this.buffer.bytes,
      dropped: this.buffer.dropped,
      inFlight: this.inFlight.size,
    };
    if (this.url) st.url = this.url;
    if (this.lastError) st.lastError = { ...this.lastError };
    return st;
  }

  /** Disconnects and releases the buffer file. Unacknowledged messages stay in a file buffer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.discovery.close();
    const c = this.client;
    this.client = undefined;
    this.isConnected = false;
    // Forced: a graceful end waits for in-flight acks and can hang on a stalled gateway; nothing
    // is lost, unacknowledged messages stay in the buffer and are resent on the next start.
    if (c) await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
    this.buffer.close();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let url: string;
    try {
      url = await this.discovery.find();
    } catch (err) {
      this.fail('FM_ERR_CLIENT_DISCOVERY', err);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) return;
    this.url = url;
    const client = mqtt.connect(url, {
      clientId: this.device,
      username: this.device,
      ...(this.opts.password !== undefined && { password: this.opts.password }),
      protocolVersion: 4,
      clean: true,
      // We reconnect ourselves, with backoff on the injected clock and a fresh discovery.
      reconnectPeriod: 0,
      connectTimeout: this.opts.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
      keepalive: this.opts.keepaliveS ?? CLIENT_DEFAULTS.keepaliveS,
    });
    this.client = client;
    let wasUp = false;
    client.on('connect', () => {
      if (this.client !== client) return;
      wasUp = true;
      this.isConnected = true;
      this.s.connects++;
      this.delayMs = this.backoff.initialMs;
      this.inFlight.clear();
      this.cursor = -1;
      this.log.info({ url }, 'connected to gateway');
      client.subscribe(`fm/d/${this.device}/rejected`, { qos: 0 }, () => {});
      this.emit('connect', url);
      this.pump();
    });
    client.on('message', (topic, payload) => this.onNotice(payload));
    client.on('error', (err: Error & { code?: number | string }) => {
      if (this.client !== client) return;
      // mqtt.js puts a refused CONNACK's return code in `code`.
      const refusal = typeof err.code === 'number' ? connackRefusal(err.code, this.device) : undefined;
      if (refusal !== undefined && err.code !== 1 && err.code !== 3) {
        this.s.authFailures++;
        this.fail('FM_ERR_CLIENT_AUTH', new Error(refusal), err.code as number);
      } else this.fail('FM_ERR_CLIENT_CONNECT', refusal !== undefined ? new Error(refusal) : err, typeof err.code === 'number' ? err.code : undefined);
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.isConnected = false;
      this.inFlight.clear();
      client.end(true);
      if (wasUp) {
        this.s.disconnects++;
        this.emit('disconnect');
        this.log.warn({ url, buffered: this.buffer.size }, 'gateway connection lost; buffering and reconnecting');
      } else this.s.connectFailures++;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.backoff.maxMs, this.delayMs * 2);
    this.retryTimer = this.clock.setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref?.();
  }

  private pump(): void {
    const c = this.client;
    if (!c || !this.isConnected) return;
    const room = this.maxInFlight - this.inFlight.size;
    if (room <= 0) return;
    const topic = `fm/d/${this.device}/senml`;
    for (const m of this.buffer.after(this.cursor, room)) {
      this.cursor = m.seq;
      this.inFlight.add(m.seq);
      this.s.sent++;
      if (m.seq <= this.highestSent) this.s.resent++;
      else this.highestSent = m.seq;
      c.publish(topic, m.payload, { qos: 1 }, (err) => {
        // A callback from a connection already replaced: the message is resent on the new one.
        if (this.client !== c || err) return;
        this.inFlight.delete(m.seq);
        this.s.acked++;
        this.buffer.ack(m.seq);
        if (this.buffer.size === 0) for (const w of this.flushWaiters.splice(0)) w();
        this.pump();
      });
    }
  }

  private onNotice(payload: Buffer): void {
    this.s.gatewayRejected++;
    let notice: RejectedNotice;
    try {
      const n = JSON.parse(payload.toString('utf8')) as Partial<RejectedNotice>;
      notice = { reason: String(n.reason ?? 'unknown'), code: String(n.code ?? 'unknown') };
      if (typeof n.detail === 'string') notice.detail = n.detail.slice(0, 500);
      if (typeof n.messageId === 'number') notice.messageId = n.messageId;
    } catch {
      notice = { reason: 'unknown', code: 'unknown' };
    }
    this.rejectLog.warn(notice.reason.slice(0, 64), { ...notice, count: this.s.gatewayRejected }, 'gateway refused a message');
    this.emit('rejected', notice);
  }

  private fail(code: ClientErrorCode, err: unknown, connack?: number): void {
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = { code, message, at: this.clock.now(), ...(connack !== undefined ? { connack } : {}) };
    this.log.warn({ code, err: message, ...(connack !== undefined ? { connack } : {}), retryInMs: this.delayMs }, code === 'FM_ERR_CLIENT_AUTH' ? 'gateway refused the login' : 'gateway not reachable');
  }
}
