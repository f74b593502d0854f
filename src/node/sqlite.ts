// better-sqlite3 ships no type declarations and @types/better-sqlite3 is not installed; this is
// the small typed surface the node store uses (declared locally, not as a global module, so it
// cannot clash with another area's declarations).
export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement<Row> {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
}

export interface Database {
  prepare<Row = unknown>(sql: string): Statement<Row>;
  exec(sql: string): Database;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction<Args extends unknown[], R>(fn: (...args: Args) => R): (...args: Args) => R;
  close(): void;
}

type DatabaseConstructor = new (path: string, options?: { timeout?: number }) => Database;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const BetterSqlite3 = require("better-sqlite3") as DatabaseConstructor;

export function openDatabase(path: string): Database {
  return new BetterSqlite3(path, { timeout: 5000 });
}
