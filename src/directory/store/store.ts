// The directory's storage interface. Two backends implement it: SQLite (the embedded default,
// synchronous underneath, one process) and PostgreSQL (production: several server processes may
// share one database). The directory speaks SQL that both dialects accept (`?` placeholders,
// `ON CONFLICT`), so a backend is a connection, a serialized write transaction and a Merkle log.

/** A value bound to a `?` placeholder. Blobs are Buffers in and out. */
export type SqlValue = string | number | bigint | Buffer | Uint8Array | null;

/** Queries in the common dialect; rows come back with the column names as keys. */
export interface Queryable {
  get<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row | undefined>;
  all<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** Read access to the append-only RFC 9162 log (the tree as last committed). */
export interface LogReader {
  size(): Promise<number>;
  /** RFC 9162 MTH of the first `size` leaves (default: all). */
  rootAt(size?: number): Promise<Uint8Array>;
  /** The largest tree size whose root was `root`, if any. */
  sizeOfRoot(root: Uint8Array): Promise<number | undefined>;
  leafHashAt(index: number): Promise<Uint8Array>;
  inclusionProof(index: number, size?: number): Promise<Uint8Array[]>;
  consistencyProof(size1: number, size2?: number): Promise<Uint8Array[]>;
}

/** The log inside a write transaction: reads see the transaction's own appends. */
export interface LogWriter extends LogReader {
  /**
   * Appends a leaf hash at the next index. Indices are gapless and unique across every writer of
   * the database: write transactions are serialized, and (level, index) is a primary key besides.
   */
  append(leafHash: Uint8Array): Promise<{ index: number; root: Uint8Array }>;
}

export interface StoreTransaction extends Queryable {
  readonly log: LogWriter;
}

export type StoreKind = "sqlite" | "postgres";

export interface DirectoryStore extends Queryable {
  readonly kind: StoreKind;
  readonly log: LogReader;
  /**
   * Runs `fn` as one write transaction, committed if it resolves and rolled back if it throws. At
   * most one write transaction runs at a time across all processes sharing the database, so a
   * read-validate-write sequence inside `fn` sees no concurrent change. `fn` should await only
   * this transaction's queries (no network, no timers): writers queue behind it.
   */
  write<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** After an erasure: make the overwritten bytes leave the disk now where the backend can. */
  flushErased(): Promise<void>;
  close(): Promise<void>;
}

export class MerkleLogError extends Error {
  constructor(
    readonly code: "leaf_out_of_range" | "size_out_of_range" | "invalid_range",
    message: string,
  ) {
    super(message);
    this.name = "MerkleLogError";
  }
}

/**
 * A table an add-on keeps beside the directory's own: `ensure()` creates it once (the first
 * caller's write; a failed attempt is retried by the next caller).
 */
export function sideTable(store: DirectoryStore, schema: string): { ensure(): Promise<void> } {
  let ready: Promise<void> | undefined;
  return {
    ensure(): Promise<void> {
      ready ??= store
        .write(async (tx) => {
          await tx.run(schema);
        })
        .catch((err: unknown) => {
          ready = undefined;
          throw err;
        });
      return ready;
    },
  };
}
