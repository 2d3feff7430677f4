import type Database from 'better-sqlite3';
import type { Clock } from '@fieldmesh/device-sdk';
import { addLoss } from './loss-ledger.js';
import { ROW_BYTES_SQL, type LogPosition } from './log-position.js';
import type { QuarantineStats } from './reading-log.js';
import type { ReadingLogMeta } from './reading-log-meta.js';
import type { SeriesCatalog } from './series-catalog.js';
import type { SqliteLossLedger } from './sqlite-loss-ledger.js';

/** Longest reason kept per quarantined batch: the cloud's refusal text is not ours to bound. */
const REASON_CHARS = 500;

/**
 * Batches given up on (the cloud keeps refusing them): recorded with their reason, their
 * readings counted as loss `quarantined`, and the watermark moved past them so delivery goes on.
 */
export class SqliteQuarantine {
  private readonly insertStmt: Database.Statement;
  private readonly statsStmt: Database.Statement;
  private readonly perSeriesStmt: Database.Statement;
  private readonly rangeStmt: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly position: LogPosition,
    private readonly parts: { meta: ReadingLogMeta; catalog: SeriesCatalog; losses: SqliteLossLedger; clock: Clock },
  ) {
    this.insertStmt = db.prepare('INSERT INTO quarantine (first_seq, last_seq, reason, at) VALUES (?, ?, ?, ?)');
    this.statsStmt = db.prepare('SELECT count(*) AS batches, coalesce(sum(last_seq - first_seq + 1), 0) AS readings FROM quarantine');
    this.perSeriesStmt = db.prepare(`SELECT sid, count(*), sum(${ROW_BYTES_SQL}) FROM readings WHERE seq > ? AND seq <= ? GROUP BY sid`).raw();
    this.rangeStmt = db.prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_BYTES_SQL}), 0) AS b FROM readings WHERE seq > ? AND seq <= ?`);
  }

  quarantine(firstSeq: number, lastSeq: number, reason: string): void {
    const p = this.position;
    const to = Math.min(lastSeq, p.last);
    let acked = { n: 0, b: 0 };
    this.db.transaction(() => {
      this.insertStmt.run(firstSeq, lastSeq, reason.slice(0, REASON_CHARS), this.parts.clock.now());
      const lost = new Map<string, number>();
      for (const [sid, n] of this.perSeriesStmt.all(Math.max(firstSeq - 1, p.watermark), lastSeq) as Array<[number, number, number]>) {
        addLoss(lost, this.parts.catalog.name(sid), 'quarantined', n);
      }
      this.parts.losses.write(lost);
      if (to > p.watermark) {
        acked = this.rangeStmt.get(p.watermark, to) as { n: number; b: number };
        this.parts.meta.set('ack_watermark', String(to));
      }
    })();
    if (to > p.watermark) p.acked(to, acked.n, acked.b);
  }

  stats(): QuarantineStats {
    return this.statsStmt.get() as QuarantineStats;
  }
}
