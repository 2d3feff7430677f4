// The append transaction of the reading log, written once for both connections that run it: the
// main thread (SqliteReadingLog.append) and the commit thread (sqlite-writer.worker.js). Plain
// JavaScript (typed by append-transaction.d.ts) because workers load without the tsx loader.
//
// An append is columnar (arrays of primitives clone to a worker much faster than objects):
//   { firstSeq, series[], units[], ts[], kinds[], values[], markDevices[], markSeqs[], markDigests[], window, stamp }
// Sequence numbers are assigned by the caller (firstSeq); the transaction only inserts them.

export const KIND_NUMBER = 0;
export const KIND_BOOLEAN = 1;
export const KIND_STRING = 2;
/** Rows per multi-row INSERT: one statement step per 32 rows halves the per-row cost. */
export const INSERT_ROWS = 32;
const COLUMNS = 5;

/** Readings and dedupe marks as one columnar append starting at `firstSeq`. */
export function toAppendBatch(firstSeq, readings, marks, window, stamp = null) {
  const n = readings.length;
  const series = new Array(n);
  const units = new Array(n);
  const ts = new Array(n);
  const kinds = new Array(n);
  const values = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = readings[i];
    series[i] = r.series;
    units[i] = r.unit ?? '';
    ts[i] = r.ts;
    const v = r.value;
    if (typeof v === 'number') {
      kinds[i] = KIND_NUMBER;
      values[i] = v;
    } else if (typeof v === 'boolean') {
      kinds[i] = KIND_BOOLEAN;
      values[i] = v ? 1 : 0;
    } else {
      kinds[i] = KIND_STRING;
      values[i] = v;
    }
  }
  return {
    firstSeq,
    series,
    units,
    ts,
    kinds,
    values,
    markDevices: marks.map((m) => m.device),
    markSeqs: marks.map((m) => m.seq),
    markDigests: marks.map((m) => m.digest ?? null),
    window,
    // Set while the wall clock is not known good (clock-health.ts): stored with every row.
    stamp,
  };
}

/**
 * Prepares the append on `db` and returns it: one transaction (a savepoint when called inside
 * another) that inserts the rows, writes the dedupe marks and prunes each touched device's marks
 * to its last `window` numbers. Returns the last seq written (firstSeq - 1 when no rows).
 * On failure the catalog forgets the series the rolled-back transaction interned.
 */
export function prepareAppend(db, catalog) {
  const insert = db.prepare('INSERT INTO readings (seq, sid, ts, kind, value) VALUES (?, ?, ?, ?, ?)');
  const insertMany = db.prepare(`INSERT INTO readings (seq, sid, ts, kind, value) VALUES ${Array(INSERT_ROWS).fill('(?, ?, ?, ?, ?)').join(', ')}`);
  const insertUncertain = db.prepare('INSERT INTO readings (seq, sid, ts, kind, value, boot, mono, wall_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  // REPLACE: the same number with new content (a restarted counter) takes over the mark.
  const mark = db.prepare('INSERT OR REPLACE INTO device_seq (device, seq, digest) VALUES (?, ?, ?)');
  const maxMark = db.prepare('SELECT max(seq) FROM device_seq WHERE device = ?').pluck();
  const pruneMarks = db.prepare('DELETE FROM device_seq WHERE device = ? AND seq < ?');

  const tx = db.transaction((b) => {
    let seq = b.firstSeq;
    const params = [];
    for (let i = 0; i < b.series.length; i++, seq++) {
      const sid = catalog.intern(b.series[i], b.units[i]);
      if (b.stamp) {
        // Rare (until the first clock sync): one row at a time is fine.
        insertUncertain.run(seq, sid, b.ts[i], b.kinds[i], b.values[i], b.stamp.boot, b.stamp.mono, b.stamp.wallOff);
        continue;
      }
      params.push(seq, sid, b.ts[i], b.kinds[i], b.values[i]);
      if (params.length === INSERT_ROWS * COLUMNS) {
        insertMany.run(params);
        params.length = 0;
      }
    }
    for (let i = 0; i < params.length; i += COLUMNS) insert.run(params[i], params[i + 1], params[i + 2], params[i + 3], params[i + 4]);
    const touched = new Set();
    for (let i = 0; i < b.markDevices.length; i++) {
      mark.run(b.markDevices[i], b.markSeqs[i], b.markDigests[i]);
      touched.add(b.markDevices[i]);
    }
    for (const device of touched) pruneMarks.run(device, maxMark.get(device) - b.window);
    return seq - 1;
  });

  return (batch) => {
    const known = catalog.size;
    try {
      return tx(batch);
    } catch (err) {
      if (catalog.size !== known) catalog.reload();
      throw err;
    }
  };
}
