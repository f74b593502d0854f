import BetterSqlite3 from "better-sqlite3";

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement<Row = unknown> = BetterSqlite3.Statement<unknown[], Row>;

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
