// SQLite backend: the embedded default. better-sqlite3 is synchronous, so every query resolves
// at once; the async interface costs a microtask per call. The Merkle log is the synchronous
// MerkleLog (cached subtrees, no re-hashing).
import { MerkleLog } from "../merkle-log";
import { openDirectoryDatabase, type SqliteDatabase, type SqliteStatement } from "../sqlite";
import type { DirectoryStore, LogReader, LogWriter, SqlValue, StoreTransaction } from "./store";

/** The directory's tables (the log's own tables are created by MerkleLog). */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS records (
    leaf_index INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL UNIQUE, message_hash BLOB NOT NULL UNIQUE,
    action TEXT NOT NULL, envelope TEXT NOT NULL, entry BLOB NOT NULL, created TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS record_attributes (
    leaf_index INTEGER NOT NULL, name TEXT NOT NULL, key BLOB NOT NULL, plaintext BLOB NOT NULL,
    PRIMARY KEY (leaf_index, name)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS record_actors (
    actor TEXT NOT NULL, leaf_index INTEGER NOT NULL, PRIMARY KEY (actor, leaf_index)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS actors (actor TEXT PRIMARY KEY, fireproof INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS keys (
    actor TEXT NOT NULL, key_id TEXT NOT NULL, public_key BLOB NOT NULL,
    added_leaf INTEGER NOT NULL, revoked_leaf INTEGER, moves TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (actor, key_id, added_leaf));
  CREATE INDEX IF NOT EXISTS keys_by_public_key ON keys(public_key) WHERE revoked_leaf IS NULL;
  CREATE TABLE IF NOT EXISTS aux (
    actor TEXT NOT NULL, aux_id TEXT NOT NULL, aux_type TEXT NOT NULL, aux_data TEXT NOT NULL,
    added_leaf INTEGER NOT NULL, revoked_leaf INTEGER, PRIMARY KEY (actor, aux_id, added_leaf));
  CREATE TABLE IF NOT EXISTS erasures (request_hash BLOB PRIMARY KEY, erased TEXT NOT NULL);
`;

function bind(params: readonly SqlValue[]): unknown[] {
  // better-sqlite3 binds Buffers as blobs but rejects plain Uint8Arrays.
  return params.map((p) => (p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));
}

/** The synchronous MerkleLog seen through the async log interface. */
function asyncLog(log: MerkleLog): LogWriter {
  return {
    size: async () => log.size,
    rootAt: async (size) => log.rootAt(size),
    sizeOfRoot: async (root) => log.sizeOfRoot(root),
    leafHashAt: async (index) => log.leafHashAt(index),
    inclusionProof: async (index, size) => log.inclusionProof(index, size),
    consistencyProof: async (size1, size2) => log.consistencyProof(size1, size2),
    append: async (hash) => {
      const { index, root } = log.appendLeafHash(hash);
      return { index, root };
    },
  };
}

export class SqliteStore implements DirectoryStore {
  readonly kind = "sqlite" as const;
  /** The synchronous log, for callers that want SQLite's speed without the async interface. */
  readonly merkleLog: MerkleLog;
  readonly log: LogReader;
  private readonly statements = new Map<string, SqliteStatement>();
  private readonly txn: StoreTransaction;
  /** Tail of the write queue; set while a write transaction is open on the shared connection. */
  private writing?: Promise<unknown>;

  constructor(readonly db: SqliteDatabase) {
    this.merkleLog = new MerkleLog(db);
    db.exec(SCHEMA);
    const log = asyncLog(this.merkleLog);
    const m = this.merkleLog;
    // Reads outside a write wait for it: they share the connection and must not see uncommitted rows.
    this.log = {
      size: () => this.read(() => m.size),
      rootAt: (size) => this.read(() => m.rootAt(size)),
      sizeOfRoot: (root) => this.read(() => m.sizeOfRoot(root)),
      leafHashAt: (index) => this.read(() => m.leafHashAt(index)),
      inclusionProof: (index, size) => this.read(() => m.inclusionProof(index, size)),
      consistencyProof: (size1, size2) => this.read(() => m.consistencyProof(size1, size2)),
    };
    this.txn = {
      log,
      get: async <Row>(sql: string, params: readonly SqlValue[] = []) => this.statement(sql).get(...bind(params)) as Row | undefined,
      all: async <Row>(sql: string, params: readonly SqlValue[] = []) => this.statement(sql).all(...bind(params)) as Row[],
      run: async (sql: string, params: readonly SqlValue[] = []) => this.statement(sql).run(...bind(params)).changes,
    };
  }

  /** Opens (creating if needed) a SQLite file; ":memory:" for a throwaway store. */
  static open(file: string): SqliteStore {
    return new SqliteStore(openDirectoryDatabase(file));
  }

  private statement(sql: string): SqliteStatement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /**
   * Runs a synchronous read once no write transaction is open. The check and the read happen in
   * the same turn (no await between them), so no write can begin in between.
   */
  private async read<T>(f: () => T): Promise<T> {
    while (this.writing) await this.writing.catch(() => undefined);
    return f();
  }

  get<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row | undefined> {
    return this.read(() => this.statement(sql).get(...bind(params)) as Row | undefined);
  }

  all<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.read(() => this.statement(sql).all(...bind(params)) as Row[]);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.read(() => this.statement(sql).run(...bind(params)).changes);
  }

  async write<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    // As in read(): the last check and BEGIN run in the same turn.
    while (this.writing) await this.writing.catch(() => undefined);
    const run = async (): Promise<T> => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.txn);
        this.db.exec("COMMIT");
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        this.merkleLog.reload();
        throw err;
      }
    };
    const p = run();
    this.writing = p;
    try {
      return await p;
    } finally {
      if (this.writing === p) this.writing = undefined;
    }
  }

  async flushErased(): Promise<void> {
    // Move the overwritten pages out of the WAL too, so the old bytes leave the disk now.
    await this.read(() => this.db.pragma("wal_checkpoint(TRUNCATE)"));
  }

  async close(): Promise<void> {
    await this.read(() => this.db.close());
  }
}
