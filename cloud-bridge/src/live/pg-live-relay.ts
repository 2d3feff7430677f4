import pg from 'pg';
import { systemClock, type Clock, type Logger } from '@fieldmesh/device-sdk';
import { RateLimitedLog } from '@fieldmesh/device-sdk/rate-limited-log';
import { BATCH_CHANNEL, fromColumns, type BatchNotice } from '../store/postgres-cloud-store.js';
import type { LiveHub } from './live-hub.js';
import type { LiveReading } from './live-event.js';

/** A relayed range is read in one query; a batch is at most this many readings (the uplink's default is 5000). */
const MAX_RELAYED = 50_000;

/**
 * With several bridges behind one broker, each commits only its share of the batches. This relay
 * LISTENs on PostgreSQL for the others' commits and streams those readings to this bridge's live
 * subscribers too, so every dashboard sees the whole fleet. Notifications arrive only after the
 * other transaction committed, so nothing is streamed that could still be rolled back.
 */
export class PgLiveRelay {
  readonly stats = { relayedBatches: 0, relayedReadings: 0, errors: 0 };
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly listener: pg.Client,
    private readonly pool: pg.Pool,
    private readonly origin: string,
    private readonly hub: LiveHub,
    private readonly logger: Logger,
    /** A broken relay fails on every batch: one line per 10 s, with the count in between. */
    private readonly failures: RateLimitedLog,
  ) {}

  static async start(url: string, origin: string, hub: LiveHub, logger: Logger, clock: Clock = systemClock): Promise<PgLiveRelay> {
    const listener = new pg.Client({ connectionString: url });
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => {});
    listener.on('error', (err) => logger.warn({ err: err.message }, 'live relay: PostgreSQL listener failed; other bridges\' readings are no longer streamed here'));
    await listener.connect();
    const relay = new PgLiveRelay(listener, pool, origin, hub, logger, new RateLimitedLog(logger, clock, { intervalMs: 10_000, countZero: false }));
    listener.on('notification', (n) => {
      if (n.channel !== BATCH_CHANNEL || !n.payload) return;
      // One at a time, in notification order: a subscriber sees each gateway's batches in commit order.
      relay.chain = relay.chain.then(() => relay.relay(n.payload!));
    });
    await listener.query(`LISTEN ${BATCH_CHANNEL}`);
    return relay;
  }

  private async relay(payload: string): Promise<void> {
    if (this.closed) return;
    let notice: BatchNotice;
    try {
      notice = JSON.parse(payload) as BatchNotice;
      if (notice.origin === this.origin) return;
      if (typeof notice.gateway !== 'string' || typeof notice.epoch !== 'string' || !Number.isSafeInteger(notice.firstSeq) || !Number.isSafeInteger(notice.lastSeq)) return;
      const { rows } = await this.pool.query<{ series: string; unit: string; ts: string; kind: number; num: number | null; txt: string | null }>(
        'SELECT series, unit, ts, kind, num, txt FROM fm_readings WHERE gateway = $1 AND epoch = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq LIMIT $5',
        [notice.gateway, notice.epoch, notice.firstSeq, notice.lastSeq, MAX_RELAYED],
      );
      const readings: LiveReading[] = rows.map((r) => {
        const value = fromColumns(r.kind, r.num, r.txt);
        return r.unit === '' ? { series: r.series, ts: Number(r.ts), value } : { series: r.series, ts: Number(r.ts), value, unit: r.unit };
      });
      this.stats.relayedBatches++;
      this.stats.relayedReadings += readings.length;
      this.hub.readings(notice.gateway, readings);
    } catch (err) {
      this.stats.errors++;
      this.failures.warn('relay', { err: (err as Error).message, errors: this.stats.errors }, 'live relay: could not stream another bridge\'s batch');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener.end().catch(() => {});
    await this.pool.end().catch(() => {});
  }
}
