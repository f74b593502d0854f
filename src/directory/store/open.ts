import { PostgresStore } from "./postgres";
import { SqliteStore } from "./sqlite";
import type { DirectoryStore } from "./store";

/** True for a PostgreSQL connection URL (postgres:// or postgresql://). */
export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

/**
 * Opens the directory's storage: a postgres:// URL selects PostgreSQL (production: several server
 * processes may share it); anything else is a SQLite file, the embedded default.
 */
export async function openDirectoryStore(database: string): Promise<DirectoryStore> {
  return isPostgresUrl(database) ? PostgresStore.open(database) : SqliteStore.open(database);
}
