// Append-only RFC 9162 log in SQLite. Every leaf hash and every complete aligned subtree hash is
// stored once, when it becomes complete, so appends write at most log2(n)+1 rows and roots and
// proofs for any historical size read O(log n) rows instead of rehashing the tree.
import {
  EMPTY_TREE_HASH,
  PerfectNodeSource,
  consistencyPath,
  inclusionPath,
  leafHash,
  nodeHash,
  rangeHash,
} from "./merkle";
import type { SqliteDatabase, SqliteStatement } from "./sqlite";
import { MerkleLogError } from "./store/store";

export { MerkleLogError };

export class MerkleLog implements PerfectNodeSource {
  private readonly insertNode: SqliteStatement;
  private readonly selectNode: SqliteStatement<{ hash: Buffer }>;
  private readonly insertRoot: SqliteStatement;
  private readonly selectSizeByRoot: SqliteStatement<{ size: number }>;
  private readonly selectRootBySize: SqliteStatement<{ root: Buffer }>;
  private cachedSize: number;

  constructor(private readonly db: SqliteDatabase) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS merkle_nodes (
        level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS merkle_roots (
        size INTEGER PRIMARY KEY, root BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS merkle_roots_by_root ON merkle_roots(root);
    `);
    this.insertNode = db.prepare("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)");
    this.selectNode = db.prepare("SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?");
    this.insertRoot = db.prepare("INSERT INTO merkle_roots (size, root) VALUES (?, ?)");
    this.selectSizeByRoot = db.prepare("SELECT size FROM merkle_roots WHERE root = ? ORDER BY size DESC LIMIT 1");
    this.selectRootBySize = db.prepare("SELECT root FROM merkle_roots WHERE size = ?");
    const row = db.prepare("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM merkle_nodes WHERE level = 0").get() as { n: number };
    this.cachedSize = row.n;
  }

  /** Re-reads the size from the database, e.g. after an enclosing transaction rolled back. */
  reload(): void {
    const row = this.db.prepare("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM merkle_nodes WHERE level = 0").get() as { n: number };
    this.cachedSize = row.n;
  }

  get size(): number {
    return this.cachedSize;
  }

  perfectNode(level: number, index: number): Uint8Array {
    const row = this.selectNode.get(level, index);
    if (!row) throw new MerkleLogError("invalid_range", `no complete subtree at level ${level}, index ${index}`);
    return new Uint8Array(row.hash);
  }

  /**
   * Appends a leaf (its data is hashed here) and returns its index and hash. Runs inside the
   * caller's transaction if there is one, so a failed submission leaves no partial tree.
   */
  append(data: Uint8Array): { index: number; leafHash: Uint8Array; root: Uint8Array } {
    return this.appendLeafHash(leafHash(data));
  }

  appendLeafHash(hash: Uint8Array): { index: number; leafHash: Uint8Array; root: Uint8Array } {
    const index = this.cachedSize;
    const run = this.db.transaction(() => {
      this.insertNode.run(0, index, hash);
      // Climb while this node is a right child: its parent just became complete.
      let level = 0;
      let idx = index;
      let current = hash;
      while (idx % 2 === 1) {
        const left = this.perfectNode(level, idx - 1);
        current = nodeHash(left, current);
        level += 1;
        idx = Math.floor(idx / 2);
        this.insertNode.run(level, idx, current);
      }
      this.cachedSize = index + 1;
      const root = this.rootAt(index + 1);
      this.insertRoot.run(index + 1, root);
      return root;
    });
    try {
      const root = run();
      return { index, leafHash: hash, root };
    } catch (err) {
      this.cachedSize = index;
      throw err;
    }
  }

  /** RFC 9162 MTH of the first `size` leaves (the empty tree hashes to SHA-256 of nothing). */
  rootAt(size: number = this.cachedSize): Uint8Array {
    this.checkSize(size);
    if (size === 0) return EMPTY_TREE_HASH;
    return rangeHash(this, 0, size);
  }

  /** The root recorded when the tree had `size` leaves (one indexed read). */
  storedRoot(size: number): Uint8Array | undefined {
    if (size === 0) return EMPTY_TREE_HASH;
    const row = this.selectRootBySize.get(size);
    return row ? new Uint8Array(row.root) : undefined;
  }

  /** The largest tree size whose root was `root`, if any. */
  sizeOfRoot(root: Uint8Array): number | undefined {
    return this.selectSizeByRoot.get(root)?.size;
  }

  leafHashAt(index: number): Uint8Array {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.cachedSize) {
      throw new MerkleLogError("leaf_out_of_range", `leaf ${index} is not in a tree of ${this.cachedSize}`);
    }
    return this.perfectNode(0, index);
  }

  inclusionProof(index: number, size: number = this.cachedSize): Uint8Array[] {
    this.checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new MerkleLogError("leaf_out_of_range", `leaf ${index} is not in a tree of ${size}`);
    }
    return inclusionPath(this, index, 0, size);
  }

  consistencyProof(size1: number, size2: number = this.cachedSize): Uint8Array[] {
    this.checkSize(size2);
    if (!Number.isSafeInteger(size1) || size1 < 1 || size1 > size2) {
      throw new MerkleLogError("invalid_range", `no consistency proof from ${size1} to ${size2}`);
    }
    if (size1 === size2) return [];
    return consistencyPath(this, size1, 0, size2, true);
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.cachedSize) {
      throw new MerkleLogError("size_out_of_range", `tree size ${size} is outside 0..${this.cachedSize}`);
    }
  }
}
