// One agent per data dir. The lock is an exclusive SQLite transaction held on <dataDir>/agent.lock
// for the agent's lifetime: SQLite takes it with the kernel's file locks, so it is released when
// the process dies however it dies (no stale pid files to guess about), and a second agent's
// attempt fails at once with SQLITE_BUSY.
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";

export interface DataDirLock {
  readonly file: string;
  release(): void;
}

/** Takes the data dir's lock, or returns undefined when another agent holds it. */
export function lockDataDir(dataDir: string): DataDirLock | undefined {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, "agent.lock");
  closeSync(openSync(file, "a", 0o600));
  chmodSync(file, 0o600);
  const db = new BetterSqlite3(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code?.startsWith("SQLITE_BUSY")) return undefined;
    throw e;
  }
  let released = false;
  return {
    file,
    release: () => {
      if (released) return;
      released = true;
      db.close(); // rolls back the empty transaction and drops the lock
    },
  };
}
