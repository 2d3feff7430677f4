import pg from 'pg';
import type { WireReading } from '@fieldmesh/protocol';
import { CloudError } from '../errors.js';
import { GRAFANA_BACKFILL, GRAFANA_SCHEMA, MinuteRollupDelta } from './postgres-grafana.js';
import { conflictError, type CloudStore, type CommitResult, type GatewayRecord, type ReadingQuery, type SeriesInfo, type StoredReading } from './cloud-store.js';

// Values keep their JavaScript type exactly, as in the SQLite store: float8 holds NaN, ±Infinity
// and -0 itself; text cannot hold NUL, so such strings are stored JSON-encoded.
const KIND_NUMBER = 0;
const KIND_BOOLEAN = 1;
const KIND_STRING = 2;
const KIND_STRING_JSON = 3;

/**
 * `COLLATE "C"`: byte order, so the (ts, gateway, epoch, seq) paging order is the same as
 * SQLite's and the in-memory store's, whatever locale the cluster was created with.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS fm_gateways (
  id text COLLATE "C" PRIMARY KEY, online boolean NOT NULL DEFAULT false, last_contact bigint, epoch text,
  acked_seq bigint NOT NULL DEFAULT 0, reported_backlog bigint, readings bigint NOT NULL DEFAULT 0, status text);
-- The unique (gateway, epoch, seq) key (docs/ARCHITECTURE.md, glossary): it keeps exactly-once across bridge processes.
CREATE TABLE IF NOT EXISTS fm_readings (
  gateway text COLLATE "C" NOT NULL, epoch text COLLATE "C" NOT NULL, seq bigint NOT NULL,
  series text COLLATE "C" NOT NULL, unit text NOT NULL, ts bigint NOT NULL, kind smallint NOT NULL,
  num double precision, txt text, PRIMARY KEY (gateway, epoch, seq));
-- No index on the global (ts, gateway, epoch, seq) order: it cost a third of the ingest rate, and
-- reads filter by gateway and series (as the SQLite store's index does).
CREATE INDEX IF NOT EXISTS fm_readings_series ON fm_readings (gateway, series, ts);
CREATE TABLE IF NOT EXISTS fm_series (
  gateway text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL, unit text NOT NULL, count bigint NOT NULL,
  last_ts bigint NOT NULL, last_kind smallint NOT NULL, last_num double precision, last_txt text,
  PRIMARY KEY (gateway, name, unit));
`;

/** Deadlock / serialization failure: another bridge's transaction won; the batch is simply redone. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 5;

function toColumns(v: number | boolean | string): [number, number | null, string | null] {
  if (typeof v === 'number') return [KIND_NUMBER, v, null];
  if (typeof v === 'boolean') return [KIND_BOOLEAN, v ? 1 : 0, null];
  return v.includes('\u0000') ? [KIND_STRING_JSON, null, JSON.stringify(v)] : [KIND_STRING, null, v];
}

/** pg sends numbers as text: NaN/Infinity/-0 must be spelled the way PostgreSQL reads float8. */
const float8 = (n: number | null): string | null => (n === null ? null : Number.isNaN(n) ? 'NaN' : n === Infinity ? 'Infinity' : n === -Infinity ? '-Infinity' : Object.is(n, -0) ? '-0' : String(n));

/** A stored value back to its JavaScript type (also used by live/pg-live-relay.ts). */
export function fromColumns(kind: number, num: number | null, txt: string | null): number | boolean | string {
  switch (kind) {
    case KIND_BOOLEAN:
      return num === 1;
    case KIND_STRING:
      return txt ?? '';
    case KIND_STRING_JSON:
      return JSON.parse(txt ?? '""') as string;
    default:
      return Number(num);
  }
}

interface GatewayRow {
  id: string;
  online: boolean;
  last_contact: string | null;
  epoch: string | null;
  acked_seq: string;
  reported_backlog: string | null;
  readings: string;
  status: string | null;
}

export interface PostgresStoreOptions {
  /** Pool size: connections one bridge process holds. Default 4 (batches commit one at a time; reads share the rest). */
  maxConnections?: number;
  /**
   * This bridge's id: when set, each commit that stored readings also sends
   * `NOTIFY fm_batches, {"origin","gateway","epoch","firstSeq","lastSeq"}` (delivered at COMMIT),
   * so the other bridges can stream readings they did not commit themselves (live/pg-live-relay.ts).
   */
  notifyOrigin?: string;
}

/** The channel of committed-batch notifications. */
export const BATCH_CHANNEL = 'fm_batches';

export interface BatchNotice {
  origin: string;
  gateway: string;
  epoch: string;
  firstSeq: number;
  lastSeq: number;
}

/**
 * The cloud store in PostgreSQL, for several bridge processes behind one MQTT 5 broker: each batch
 * is one transaction of `INSERT … ON CONFLICT DO NOTHING` under the unique (gateway, epoch, seq)
 * key, so a batch delivered to two bridges (a redelivery after one died) is stored once. The
 * commit returns only after PostgreSQL made it durable (synchronous_commit is checked at open).
 */
export class PostgresCloudStore implements CloudStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly notifyOrigin: string | undefined,
  ) {}

  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresCloudStore> {
    const pool = new pg.Pool({ connectionString: url, max: opts.maxConnections ?? 4 });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    try {
      const sync = (await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit;
      if (sync === 'off') throw new CloudError('FM_ERR_CLOUD_STORE_OPEN', `${redact(url)}: synchronous_commit=off would ack batches PostgreSQL can still lose; set it to on`);
      // Two bridges starting at once may race on CREATE … IF NOT EXISTS: serialize with an advisory lock.
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(718411)');
        const fresh = (await client.query<{ missing: boolean }>("SELECT to_regclass('fm_rollup_1m') IS NULL AS missing")).rows[0]?.missing === true;
        await client.query(SCHEMA);
        await client.query(GRAFANA_SCHEMA);
        // A database from before the rollup existed: sum what it already holds, once.
        if (fresh) await client.query(GRAFANA_BACKFILL);
      } finally {
        await client.query('SELECT pg_advisory_unlock(718411)').catch(() => {});
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof CloudError) throw err;
      throw new CloudError('FM_ERR_CLOUD_STORE_OPEN', `cannot open ${redact(url)}: ${(err as Error).message}`);
    }
    return new PostgresCloudStore(pool, opts.notifyOrigin);
  }

  async commitBatch(gateway: string, epoch: string, readings: readonly WireReading[], at: number): Promise<CommitResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.commitOnce(gateway, epoch, readings, at);
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has((err as { code?: string }).code ?? '')) throw err;
      }
    }
  }

  private async commitOnce(gateway: string, epoch: string, readings: readonly WireReading[], at: number): Promise<CommitResult> {
    const seqs: number[] = [];
    const series: string[] = [];
    const units: string[] = [];
    const tss: number[] = [];
    const kinds: number[] = [];
    const nums: Array<string | null> = [];
    const txts: Array<string | null> = [];
    let maxSeq = 0;
    // Seq order: two bridges inserting overlapping batches take row locks in the same order (no deadlock).
    const sorted = [...readings].sort((a, b) => a.seq - b.seq);
    for (const r of sorted) {
      const [kind, num, txt] = toColumns(r.value);
      seqs.push(r.seq);
      series.push(r.series);
      units.push(r.unit ?? '');
      tss.push(r.ts);
      kinds.push(kind);
      nums.push(float8(num));
      txts.push(txt);
      if (r.seq > maxSeq) maxSeq = r.seq;
    }
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const inserted = await client.query<{ seq: string }>(
        `INSERT INTO fm_readings (gateway, epoch, seq, series, unit, ts, kind, num, txt)
         SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::smallint[], $8::float8[], $9::text[])
         ON CONFLICT DO NOTHING
         RETURNING seq`,
        [gateway, epoch, seqs, series, units, tss, kinds, nums, txts],
      );
      const stored = inserted.rowCount ?? 0;
      // Series counts and latest values move by what this transaction really inserted.
      const fresh = stored === sorted.length ? null : new Set(inserted.rows.map((r) => Number(r.seq)));
      if (fresh !== null) {
        // Already stored: a resend must be the same reading; anything else is a replacement.
        const dupSeqs = seqs.filter((s) => !fresh.has(s));
        const old = await client.query<{ seq: string; series: string; unit: string; ts: string; kind: number; num: number | null; txt: string | null }>(
          'SELECT seq, series, unit, ts, kind, num, txt FROM fm_readings WHERE gateway = $1 AND epoch = $2 AND seq = ANY($3::bigint[])',
          [gateway, epoch, dupSeqs],
        );
        const bySeq = new Map(sorted.map((r, i) => [r.seq, i]));
        const conflicts: number[] = [];
        for (const o of old.rows) {
          const i = bySeq.get(Number(o.seq))!;
          const num = nums[i] === null ? null : Number(nums[i]);
          // float8 comes back as a number; Object.is also equates NaN with NaN.
          const sameNum = o.num === num || Object.is(o.num, num);
          if (o.series !== series[i] || o.unit !== units[i] || Number(o.ts) !== tss[i] || o.kind !== kinds[i] || !sameNum || o.txt !== txts[i]) conflicts.push(Number(o.seq));
        }
        // Thrown inside the transaction: the catch below rolls it back, so nothing is stored.
        if (conflicts.length > 0) throw conflictError(gateway, epoch, conflicts);
      }
      const maxStored = fresh === null ? maxSeq : Math.max(0, ...inserted.rows.map((r) => Number(r.seq)));
      const rollup = new MinuteRollupDelta();
      const touched = new Map<string, { name: string; unit: string; n: number; ts: number; kind: number; num: number | null; txt: string | null }>();
      for (let i = 0; i < sorted.length && stored > 0; i++) {
        if (fresh !== null && !fresh.has(seqs[i]!)) continue;
        const key = `${series[i]}\u0000${units[i]}`;
        const ts = tss[i]!;
        const t = touched.get(key);
        const latest = { ts, kind: kinds[i]!, num: nums[i] === null ? null : Number(nums[i]), txt: txts[i]! };
        if (latest.num !== null) rollup.add(series[i]!, units[i]!, ts, latest.num);
        if (!t) touched.set(key, { name: series[i]!, unit: units[i]!, n: 1, ...latest });
        else {
          t.n++;
          if (ts >= t.ts) Object.assign(t, latest);
        }
      }
      if (touched.size > 0) {
        const list = [...touched.values()].sort((a, b) => (a.name === b.name ? (a.unit < b.unit ? -1 : 1) : a.name < b.name ? -1 : 1));
        await client.query(
          `INSERT INTO fm_series AS s (gateway, name, unit, count, last_ts, last_kind, last_num, last_txt)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::smallint[], $7::float8[], $8::text[])
           ON CONFLICT (gateway, name, unit) DO UPDATE SET count = s.count + excluded.count,
             last_kind = CASE WHEN excluded.last_ts >= s.last_ts THEN excluded.last_kind ELSE s.last_kind END,
             last_num = CASE WHEN excluded.last_ts >= s.last_ts THEN excluded.last_num ELSE s.last_num END,
             last_txt = CASE WHEN excluded.last_ts >= s.last_ts THEN excluded.last_txt ELSE s.last_txt END,
             last_ts = GREATEST(s.last_ts, excluded.last_ts)`,
          [gateway, list.map((t) => t.name), list.map((t) => t.unit), list.map((t) => t.n), list.map((t) => t.ts), list.map((t) => t.kind), list.map((t) => float8(t.num)), list.map((t) => t.txt)],
        );
      }
      await rollup.write(client, gateway);
      // The acked seq is what this transaction makes durable; with another bridge committing the
      // same gateway at once, GREATEST keeps the higher of the two.
      // Epoch and acked seq move only by rows stored here: a batch of duplicates leaves them.
      if (stored > 0) {
        await client.query(
          `INSERT INTO fm_gateways AS g (id, online, last_contact, epoch, acked_seq, readings) VALUES ($1, true, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET online = true, last_contact = excluded.last_contact, epoch = excluded.epoch,
             acked_seq = CASE WHEN g.epoch = excluded.epoch THEN GREATEST(g.acked_seq, excluded.acked_seq) ELSE excluded.acked_seq END,
             readings = g.readings + excluded.readings`,
          [gateway, at, epoch, maxStored, stored],
        );
      } else {
        await client.query(
          `INSERT INTO fm_gateways AS g (id, online, last_contact) VALUES ($1, true, $2)
           ON CONFLICT (id) DO UPDATE SET online = true, last_contact = excluded.last_contact`,
          [gateway, at],
        );
      }
      if (this.notifyOrigin !== undefined && stored > 0) {
        const notice: BatchNotice = { origin: this.notifyOrigin, gateway, epoch, firstSeq: seqs[0]!, lastSeq: maxSeq };
        await client.query('SELECT pg_notify($1, $2)', [BATCH_CHANNEL, JSON.stringify(notice)]);
      }
      await client.query('COMMIT');
      return { stored, duplicates: readings.length - stored };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async recordStatus(gateway: string, u: { online: boolean; at: number; status?: Record<string, unknown>; reportedBacklog?: number | null }): Promise<void> {
    await this.pool.query(
      `INSERT INTO fm_gateways AS g (id, online, last_contact, status, reported_backlog) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET online = excluded.online, last_contact = excluded.last_contact,
         status = CASE WHEN $6 THEN excluded.status ELSE g.status END,
         reported_backlog = CASE WHEN $7 THEN excluded.reported_backlog ELSE g.reported_backlog END`,
      [gateway, u.online, u.at, u.status === undefined ? null : JSON.stringify(u.status), u.reportedBacklog ?? null, u.status !== undefined, u.reportedBacklog !== undefined],
    );
  }

  async gateways(): Promise<GatewayRecord[]> {
    const { rows } = await this.pool.query<GatewayRow>('SELECT * FROM fm_gateways ORDER BY id');
    return rows.map((r) => {
      let status: Record<string, unknown> | null = null;
      try {
        status = r.status === null ? null : (JSON.parse(r.status) as Record<string, unknown>);
      } catch {
        status = null;
      }
      return {
        id: r.id,
        online: r.online,
        lastContact: r.last_contact === null ? null : Number(r.last_contact),
        epoch: r.epoch,
        ackedSeq: Number(r.acked_seq),
        reportedBacklog: r.reported_backlog === null ? null : Number(r.reported_backlog),
        readings: Number(r.readings),
        status,
      };
    });
  }

  async series(gateway?: string): Promise<SeriesInfo[]> {
    const { rows } = await this.pool.query<{ gateway: string; name: string; unit: string; count: string; last_ts: string; last_kind: number; last_num: number | null; last_txt: string | null }>(
      `SELECT * FROM fm_series ${gateway === undefined ? '' : 'WHERE gateway = $1'} ORDER BY gateway, name, last_ts`,
      gateway === undefined ? [] : [gateway],
    );
    const by = new Map<string, SeriesInfo>();
    // A series seen with two units has two rows: one entry, with the total and the latest value.
    for (const r of rows) {
      const key = `${r.gateway}\u0000${r.name}`;
      const prev = by.get(key);
      const info: SeriesInfo = { gateway: r.gateway, series: r.name, count: Number(r.count) + (prev?.count ?? 0), lastTs: Number(r.last_ts), lastValue: fromColumns(r.last_kind, r.last_num, r.last_txt) };
      if (r.unit !== '') info.unit = r.unit;
      by.set(key, info);
    }
    return [...by.values()];
  }

  async readings(q: ReadingQuery): Promise<StoredReading[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const arg = (v: string | number) => `$${args.push(v)}`;
    if (q.gateway !== undefined) where.push(`gateway = ${arg(q.gateway)}`);
    if (q.series !== undefined) where.push(`series = ${arg(q.series)}`);
    if (q.from !== undefined) where.push(`ts >= ${arg(q.from)}`);
    if (q.to !== undefined) where.push(`ts < ${arg(q.to)}`);
    if (q.after !== undefined) where.push(`(ts, gateway, epoch, seq) > (${arg(q.after.ts)}, ${arg(q.after.gateway)}, ${arg(q.after.epoch)}, ${arg(q.after.seq)})`);
    const { rows } = await this.pool.query<{ gateway: string; epoch: string; seq: string; series: string; unit: string; ts: string; kind: number; num: number | null; txt: string | null }>(
      `SELECT gateway, epoch, seq, series, unit, ts, kind, num, txt FROM fm_readings
       ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ts, gateway, epoch, seq LIMIT ${arg(q.limit)}`,
      args,
    );
    return rows.map((r) => {
      const out: StoredReading = { gateway: r.gateway, epoch: r.epoch, seq: Number(r.seq), series: r.series, ts: Number(r.ts), value: fromColumns(r.kind, r.num, r.txt) };
      if (r.unit !== '') out.unit = r.unit;
      return out;
    });
  }

  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM fm_readings');
    return Number(rows[0]!.n);
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}

/** Never log a password from a connection URL. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}
