// The reading log's commit thread (plain JS: workers load without the tsx loader). It owns one
// better-sqlite3 connection and does nothing but group-commit transactions, so the gateway's
// event loop keeps parsing MQTT while SQLite fsyncs (synchronous=FULL). Protocol: see
// sqlite-writer.ts. Sequence numbers are assigned by the main thread; this thread inserts them.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const SYNCHRONOUS_FULL = 2;
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
if (db.pragma('journal_mode', { simple: true }) !== 'wal' || db.pragma('synchronous', { simple: true }) !== SYNCHRONOUS_FULL) {
  throw new Error('commit thread could not set journal_mode=WAL, synchronous=FULL');
}
const insert = db.prepare('INSERT INTO readings (seq, sid, ts, kind, value) VALUES (?, ?, ?, ?, ?)');
// Rows per multi-row INSERT, as in sqlite-reading-log.ts.
const INSERT_ROWS = 32;
const insertMany = db.prepare(`INSERT INTO readings (seq, sid, ts, kind, value) VALUES ${Array(INSERT_ROWS).fill('(?, ?, ?, ?, ?)').join(', ')}`);
const insertUncertain = db.prepare('INSERT INTO readings (seq, sid, ts, kind, value, boot, mono, wall_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
const insertSeries = db.prepare('INSERT OR IGNORE INTO series (name, unit) VALUES (?, ?)');
const seriesByKey = db.prepare('SELECT id FROM series WHERE name = ? AND unit = ?').pluck();
const mark = db.prepare('INSERT OR REPLACE INTO device_seq (device, seq, digest) VALUES (?, ?, ?)');
const maxMark = db.prepare('SELECT max(seq) FROM device_seq WHERE device = ?').pluck();
const pruneMarks = db.prepare('DELETE FROM device_seq WHERE device = ? AND seq < ?');
const seriesId = new Map();

function intern(name, unit) {
  const key = name + '\u0000' + unit;
  let id = seriesId.get(key);
  if (id === undefined) {
    insertSeries.run(name, unit);
    id = seriesByKey.get(name, unit);
    seriesId.set(key, id);
  }
  return id;
}

const commit = db.transaction((m) => {
  let seq = m.firstSeq;
  const params = [];
  for (let i = 0; i < m.series.length; i++, seq++) {
    if (m.stamp) {
      insertUncertain.run(seq, intern(m.series[i], m.units[i]), m.ts[i], m.kinds[i], m.values[i], m.stamp.boot, m.stamp.mono, m.stamp.wallOff);
      continue;
    }
    params.push(seq, intern(m.series[i], m.units[i]), m.ts[i], m.kinds[i], m.values[i]);
    if (params.length === INSERT_ROWS * 5) {
      insertMany.run(params);
      params.length = 0;
    }
  }
  for (let i = 0; i < params.length; i += 5) insert.run(params[i], params[i + 1], params[i + 2], params[i + 3], params[i + 4]);
  const touched = new Set();
  for (let i = 0; i < m.markDevices.length; i++) {
    mark.run(m.markDevices[i], m.markSeqs[i], m.markDigests[i]);
    touched.add(m.markDevices[i]);
  }
  for (const device of touched) pruneMarks.run(device, maxMark.get(device) - m.window);
});

parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.postMessage({ closed: true });
    return;
  }
  try {
    commit(m);
    parentPort.postMessage({ id: m.id, ok: true });
  } catch (err) {
    // A rolled-back transaction also rolled back any series it interned.
    seriesId.clear();
    parentPort.postMessage({ id: m.id, ok: false, message: String(err && err.message) });
  }
});
parentPort.postMessage({ ready: true });
