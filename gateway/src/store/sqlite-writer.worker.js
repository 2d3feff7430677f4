// The reading log's commit thread (plain JS: workers load without the tsx loader). It owns one
// better-sqlite3 connection and does nothing but group-commit transactions, so the gateway's
// event loop keeps parsing MQTT while SQLite fsyncs (synchronous=FULL). Protocol: see
// sqlite-writer.ts. The transaction is append-transaction.js, the same one the main thread runs.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openSqlite } from '@fieldmesh/device-sdk/sqlite';
import { prepareAppend } from './append-transaction.js';
import { SeriesCatalog } from './series-catalog.js';

const db = openSqlite(Database, workerData.file, { fileMustExist: true, fail: (_kind, message) => new Error(`commit thread: ${message}`) });
const commit = prepareAppend(db, new SeriesCatalog(db));

parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.postMessage({ closed: true });
    return;
  }
  try {
    commit(m.batch);
    parentPort.postMessage({ id: m.id, ok: true });
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, message: String(err && err.message) });
  }
});
parentPort.postMessage({ ready: true });
