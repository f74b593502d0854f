// PostgreSQL backend, for production directories: several server processes may share one
// database. Write transactions are serialized by a transaction-scoped advisory lock taken right
// after BEGIN, so read-validate-append sequences see no concurrent change and the log's leaf
// indices stay gapless and unique; the (level, idx) primary key is the backstop if anything
// bypassed the lock. Proofs and roots fetch the O(log n) subtree hashes they need in one query.
import pg from "pg";
import {
  EMPTY_TREE_HASH,
  PerfectNodeSource,
  consistencyPath,
  inclusionPath,
  nodeHash,
  rangeHash,
} from "../merkle";
import { MerkleLogError, type DirectoryStore, type LogWriter, type Queryable, type SqlValue, type StoreTransaction } from "./store";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS merkle_nodes (
    level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx));
  CREATE TABLE IF NOT EXISTS merkle_roots (size BIGINT PRIMARY KEY, root BYTEA NOT NULL);
  CREATE INDEX IF NOT EXISTS merkle_roots_by_root ON merkle_roots(root);
  CREATE TABLE IF NOT EXISTS records (
    leaf_index BIGINT PRIMARY KEY, leaf_hash BYTEA NOT NULL UNIQUE, message_hash BYTEA NOT NULL UNIQUE,
    action TEXT NOT NULL, envelope TEXT NOT NULL, entry BYTEA NOT NULL, created TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS record_attributes (
    leaf_index BIGINT NOT NULL, name TEXT NOT NULL, key BYTEA NOT NULL, plaintext BYTEA NOT NULL,
    PRIMARY KEY (leaf_index, name));
  CREATE TABLE IF NOT EXISTS record_actors (
    actor TEXT NOT NULL, leaf_index BIGINT NOT NULL, PRIMARY KEY (actor, leaf_index));
  CREATE TABLE IF NOT EXISTS actors (actor TEXT PRIMARY KEY, fireproof INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS keys (
    actor TEXT NOT NULL, key_id TEXT NOT NULL, public_key BYTEA NOT NULL,
    added_leaf BIGINT NOT NULL, revoked_leaf BIGINT, moves TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (actor, key_id, added_leaf));
  CREATE INDEX IF NOT EXISTS keys_by_public_key ON keys(public_key) WHERE revoked_leaf IS NULL;
  CREATE TABLE IF NOT EXISTS aux (
    actor TEXT NOT NULL, aux_id TEXT NOT NULL, aux_type TEXT NOT NULL, aux_data TEXT NOT NULL,
    added_leaf BIGINT NOT NULL, revoked_leaf BIGINT, PRIMARY KEY (actor, aux_id, added_leaf));
  CREATE TABLE IF NOT EXISTS erasures (request_hash BYTEA PRIMARY KEY, erased TEXT NOT NULL);
`;

/** One lock per schema, so directories in different schemas of one database do not queue on each other. */
const LOCK_SQL = "SELECT pg_advisory_xact_lock(1852534131, hashtext(current_schema()))";

// Leaf indices and sizes are BIGINT; they stay far below 2^53, so numbers are exact.
const BIGINT_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === BIGINT_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

type Client = pg.Pool | pg.PoolClient;

const placeholderCache = new Map<string, string>();
/** `?` placeholders (the common dialect) to PostgreSQL's `$n`. Our SQL has no `?` inside literals. */
function numbered(sql: string): string {
  let out = placeholderCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    placeholderCache.set(sql, out);
  }
  return out;
}

function bind(params: readonly SqlValue[]): unknown[] {
  return params.map((p) => (p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));
}

function queryable(client: Client): Queryable {
  return {
    get: async <Row>(sql: string, params: readonly SqlValue[] = []) =>
      (await client.query(numbered(sql), bind(params))).rows[0] as Row | undefined,
    all: async <Row>(sql: string, params: readonly SqlValue[] = []) => (await client.query(numbered(sql), bind(params))).rows as Row[],
    run: async (sql: string, params: readonly SqlValue[] = []) => (await client.query(numbered(sql), bind(params))).rowCount ?? 0,
  };
}

const ZERO = new Uint8Array(32);
const key = (level: number, index: number): string => `${level}:${index}`;

/**
 * Runs a Merkle computation over stored subtrees in two passes: the first, over placeholder
 * hashes, records which (level, index) nodes it reads (that depends on sizes only, never on
 * hash values); one query fetches them; the second pass computes the real result.
 */
async function withNodes<T>(client: Client, compute: (src: PerfectNodeSource) => T): Promise<T> {
  const wanted = new Map<string, [number, number]>();
  compute({
    perfectNode(level, index) {
      wanted.set(key(level, index), [level, index]);
      return ZERO;
    },
  });
  const found = new Map<string, Uint8Array>();
  if (wanted.size > 0) {
    const coords = [...wanted.values()];
    const { rows } = await client.query<{ level: number; idx: number; hash: Buffer }>(
      "SELECT n.level, n.idx, n.hash FROM merkle_nodes n JOIN unnest($1::int[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx",
      [coords.map((c) => c[0]), coords.map((c) => c[1])],
    );
    for (const r of rows) found.set(key(r.level, r.idx), new Uint8Array(r.hash));
  }
  return compute({
    perfectNode(level, index) {
      const hash = found.get(key(level, index));
      if (!hash) throw new MerkleLogError("invalid_range", `no complete subtree at level ${level}, index ${index}`);
      return hash;
    },
  });
}

class PostgresLog implements LogWriter {
  constructor(private readonly client: Client) {}

  async size(): Promise<number> {
    const { rows } = await this.client.query<{ n: number }>("SELECT COALESCE(MAX(idx) + 1, 0)::bigint AS n FROM merkle_nodes WHERE level = 0");
    return rows[0].n;
  }

  private async checkSize(size: number): Promise<number> {
    const current = await this.size();
    if (!Number.isSafeInteger(size) || size < 0 || size > current) {
      throw new MerkleLogError("size_out_of_range", `tree size ${size} is outside 0..${current}`);
    }
    return current;
  }

  async rootAt(size?: number): Promise<Uint8Array> {
    if (size === undefined) {
      const { rows } = await this.client.query<{ root: Buffer }>("SELECT root FROM merkle_roots ORDER BY size DESC LIMIT 1");
      return rows[0] ? new Uint8Array(rows[0].root) : EMPTY_TREE_HASH;
    }
    if (size === 0) return EMPTY_TREE_HASH;
    // Every committed size's root was recorded when it was appended: one indexed read.
    if (Number.isSafeInteger(size) && size > 0) {
      const { rows } = await this.client.query<{ root: Buffer }>("SELECT root FROM merkle_roots WHERE size = $1", [size]);
      if (rows[0]) return new Uint8Array(rows[0].root);
    }
    await this.checkSize(size);
    return withNodes(this.client, (src) => rangeHash(src, 0, size));
  }

  async sizeOfRoot(root: Uint8Array): Promise<number | undefined> {
    const { rows } = await this.client.query<{ size: number }>(
      "SELECT size FROM merkle_roots WHERE root = $1 ORDER BY size DESC LIMIT 1",
      [Buffer.from(root)],
    );
    return rows[0]?.size;
  }

  async leafHashAt(index: number): Promise<Uint8Array> {
    const { rows } = Number.isSafeInteger(index) && index >= 0
      ? await this.client.query<{ hash: Buffer }>("SELECT hash FROM merkle_nodes WHERE level = 0 AND idx = $1", [index])
      : { rows: [] as { hash: Buffer }[] };
    if (!rows[0]) throw new MerkleLogError("leaf_out_of_range", `leaf ${index} is not in the tree`);
    return new Uint8Array(rows[0].hash);
  }

  async inclusionProof(index: number, size?: number): Promise<Uint8Array[]> {
    const n = size ?? (await this.size());
    await this.checkSize(n);
    if (!Number.isSafeInteger(index) || index < 0 || index >= n) {
      throw new MerkleLogError("leaf_out_of_range", `leaf ${index} is not in a tree of ${n}`);
    }
    return withNodes(this.client, (src) => inclusionPath(src, index, 0, n));
  }

  async consistencyProof(size1: number, size2?: number): Promise<Uint8Array[]> {
    const n = size2 ?? (await this.size());
    await this.checkSize(n);
    if (!Number.isSafeInteger(size1) || size1 < 1 || size1 > n) {
      throw new MerkleLogError("invalid_range", `no consistency proof from ${size1} to ${n}`);
    }
    if (size1 === n) return [];
    return withNodes(this.client, (src) => consistencyPath(src, size1, 0, n, true));
  }

  /** Only inside a write transaction, which holds the append lock. */
  async append(leafHash: Uint8Array): Promise<{ index: number; root: Uint8Array }> {
    const index = await this.size();
    const { nodes, root } = await withNodes(this.client, (src) => {
      // Climb while the node is a right child: its parent just became complete.
      const made = new Map<string, [number, number, Uint8Array]>([[key(0, index), [0, index, leafHash]]]);
      let level = 0;
      let idx = index;
      let current = leafHash;
      while (idx % 2 === 1) {
        current = nodeHash(src.perfectNode(level, idx - 1), current);
        level += 1;
        idx = Math.floor(idx / 2);
        made.set(key(level, idx), [level, idx, current]);
      }
      const withNew: PerfectNodeSource = { perfectNode: (l, i) => made.get(key(l, i))?.[2] ?? src.perfectNode(l, i) };
      return { nodes: [...made.values()], root: rangeHash(withNew, 0, index + 1) };
    });
    await this.client.query(
      "INSERT INTO merkle_nodes (level, idx, hash) SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[])",
      [nodes.map((n) => n[0]), nodes.map((n) => n[1]), nodes.map((n) => Buffer.from(n[2]))],
    );
    await this.client.query("INSERT INTO merkle_roots (size, root) VALUES ($1, $2)", [index + 1, Buffer.from(root)]);
    return { index, root };
  }
}

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  connectionString: string;
  /** Schema for the directory's tables (created if missing); default: the server's search_path. */
  schema?: string;
  /** Pool size; default 10. */
  maxConnections?: number;
}

export class PostgresStore implements DirectoryStore {
  readonly kind = "postgres" as const;
  readonly log: PostgresLog;
  private readonly q: Queryable;

  private constructor(private readonly pool: pg.Pool) {
    this.log = new PostgresLog(pool);
    this.q = queryable(pool);
  }

  /** Connects and creates the schema (once, under the lock, so concurrent starters do not race). */
  static async open(options: PostgresStoreOptions | string): Promise<PostgresStore> {
    const o = typeof options === "string" ? { connectionString: options } : options;
    if (o.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(o.schema)) throw new Error(`invalid schema name ${o.schema}`);
    const pool = new pg.Pool({
      connectionString: o.connectionString,
      max: o.maxConnections ?? 10,
      types,
      ...(o.schema ? { options: `-c search_path=${o.schema}` } : {}),
    });
    // An idle client's connection error (e.g. the server restarting) must not crash the process.
    pool.on("error", () => undefined);
    const store = new PostgresStore(pool);
    try {
      const client = await pool.connect();
      try {
        if (o.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${o.schema}`).catch(async (err: unknown) => {
          // Two starters may race on CREATE SCHEMA IF NOT EXISTS; the loser sees a duplicate.
          if ((err as { code?: string }).code !== "23505") throw err;
        });
        await client.query("BEGIN");
        await client.query(LOCK_SQL);
        await client.query(SCHEMA);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      throw err;
    }
    return store;
  }

  get<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row | undefined> {
    return this.q.get<Row>(sql, params);
  }

  all<Row>(sql: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return this.q.all<Row>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.q.run(sql, params);
  }

  async write<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(LOCK_SQL);
      const result = await fn({ ...queryable(client), log: new PostgresLog(client) });
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async flushErased(): Promise<void> {
    // Deleted rows stay in their pages until VACUUM reclaims them (and the WAL until it is
    // recycled); vacuuming the shredded tables now marks that space for reuse.
    await this.pool.query("VACUUM record_attributes, record_actors, keys, aux, actors");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
