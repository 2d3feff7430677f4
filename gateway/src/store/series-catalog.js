// Series interning: (name, unit) pairs stored once in `series`, rows carry the integer id.
// Plain JavaScript (typed by series-catalog.d.ts): the commit thread (sqlite-writer.worker.js)
// interns with the same code as the main thread, and workers load without the tsx loader.

const KEY_SEP = '\u0000';

export class SeriesCatalog {
  /** @param db a better-sqlite3 connection to the gateway database */
  constructor(db) {
    this.insertStmt = db.prepare('INSERT OR IGNORE INTO series (name, unit) VALUES (?, ?)');
    this.idStmt = db.prepare('SELECT id FROM series WHERE name = ? AND unit = ?').pluck();
    this.allStmt = db.prepare('SELECT id, name, unit FROM series');
    this.idByKey = new Map();
    this.byId = new Map();
    this.reload();
  }

  /** The id of (name, unit), inserting the pair on first sight (inside the caller's transaction). */
  intern(name, unit) {
    const key = name + KEY_SEP + unit;
    let id = this.idByKey.get(key);
    if (id === undefined) {
      this.insertStmt.run(name, unit);
      id = this.idStmt.get(name, unit);
      this.idByKey.set(key, id);
      this.byId.set(id, { name, unit });
    }
    return id;
  }

  /**
   * The series of `id`. The other connection (commit thread or main thread) may have interned it:
   * an unknown id reloads the table once.
   */
  get(id) {
    if (!this.byId.has(id)) this.reload();
    return this.byId.get(id);
  }

  /** The series name of `id`, or `?/<id>` if the table does not have it (a damaged database). */
  name(id) {
    return this.get(id)?.name ?? `?/${id}`;
  }

  /** How many pairs are known: a rolled-back transaction that interned some changed it. */
  get size() {
    return this.idByKey.size;
  }

  /** Distinct names (a name may appear with several units), sorted. */
  names() {
    return [...new Set([...this.byId.values()].map((s) => s.name))].sort();
  }

  /** Forgets what a rolled-back transaction interned, and learns the other connection's pairs. */
  reload() {
    this.idByKey.clear();
    this.byId.clear();
    for (const row of this.allStmt.all()) {
      this.byId.set(row.id, { name: row.name, unit: row.unit });
      this.idByKey.set(row.name + KEY_SEP + row.unit, row.id);
    }
  }
}
