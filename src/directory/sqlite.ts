// The part of better-sqlite3 the directory uses, typed here because the package ships no
// declarations (kept module-local so it cannot collide with another area's typings).
export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement<Row = unknown> {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
}

export interface SqliteDatabase {
  prepare<Row = unknown>(sql: string): SqliteStatement<Row>;
  exec(sql: string): void;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction<Args extends unknown[], R>(fn: (...args: Args) => R): (...args: Args) => R;
  close(): void;
}

type SqliteConstructor = new (file: string, options?: { timeout?: number }) => SqliteDatabase;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const BetterSqlite3 = require("better-sqlite3") as SqliteConstructor;

/**
 * Opens (creating if needed) a directory database: WAL for concurrent readers, and
 * secure_delete so shredded keys and plaintexts are overwritten, not left in free pages.
 */
export function openDirectoryDatabase(file: string): SqliteDatabase {
  const db = new BetterSqlite3(file, { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("secure_delete = ON");
  db.pragma("foreign_keys = ON");
  return db;
}
