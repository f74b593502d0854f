import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { Database, openDatabase } from "./sqlite";
import { concatBytes } from "./bytes";
import { conflict, gone } from "./errors";
import { canonicalJson } from "./protocol";

/** What the owner attached to a kfrag when uploading it (signed by the owner, stored verbatim). */
export interface PolicyMeta {
  publisherVerifyingKey: string;
  delegatingKey: string;
  receivingKey: string;
  conditions: unknown;
  reader: { verifyingKey?: string; address?: string } | null;
  ownerSignature: string;
}

export type PolicyState = "active" | "revoked" | "expired";

export interface StoredPolicy {
  policyId: Uint8Array;
  owner: string;
  endTime: number;
  state: PolicyState;
  /** Decrypted kfrag bytes; null once the policy is purged. */
  kfrag: Uint8Array | null;
  meta: PolicyMeta | null;
  receivedAt: number;
}

export interface NewKFrag {
  policyId: Uint8Array;
  owner: string;
  endTime: number;
  kfrag: Uint8Array;
  meta: PolicyMeta;
  receivedAt: number;
}

export interface HealthResult {
  at: number;
  round: string;
  target: string;
  verdict: string;
  detail: string;
}

interface PolicyRow {
  policy_id: Buffer;
  owner: string;
  end_time: number;
  state: number;
  kfrag_ct: Buffer | null;
  kfrag_iv: Buffer | null;
  meta: string | null;
  received_at: number;
}

const STATE_CODES: Record<PolicyState, number> = { active: 0, revoked: 1, expired: 2 };
const STATE_NAMES: PolicyState[] = ["active", "revoked", "expired"];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS policies (
  policy_id   BLOB PRIMARY KEY,
  owner       TEXT NOT NULL,
  end_time    INTEGER NOT NULL,
  state       INTEGER NOT NULL,
  kfrag_ct    BLOB,
  kfrag_iv    BLOB,
  meta        TEXT,
  received_at INTEGER NOT NULL,
  changed_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS policies_end ON policies (state, end_time);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nonces (key TEXT PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires);
CREATE TABLE IF NOT EXISTS health_results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL, round TEXT NOT NULL, target TEXT NOT NULL,
  verdict TEXT NOT NULL, detail TEXT NOT NULL
);
`;

/** The first signed field in which two uploads' rules differ, or undefined when they agree. */
function metaDifference(held: PolicyMeta | null, next: PolicyMeta): string | undefined {
  if (!held) return "package";
  const fields: (keyof PolicyMeta)[] = ["publisherVerifyingKey", "delegatingKey", "receivingKey", "reader", "conditions"];
  return fields.find((f) => canonicalJson(held[f]).toLowerCase() !== canonicalJson(next[f]).toLowerCase());
}

/**
 * Makes the store's directory 0700 and its files 0600 whatever the umask (or an earlier version)
 * left: the kfrags are sealed, but tombstones, policy metadata and readers are not. SQLite creates
 * the -wal and -shm files with the main file's mode, so creating that file 0600 first covers them;
 * existing ones are tightened too.
 */
function restrictPermissions(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  closeSync(openSync(path, "a", 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/**
 * The node's durable state: kfrags (AES-256-GCM at rest, bound to policy id and node as AAD),
 * tombstones of revoked/expired policies, small key-value settings and health-check results.
 * Every write is committed with WAL + synchronous=FULL before the call returns, so whatever the
 * HTTP layer acknowledges survives `kill -9`.
 */
export class NodeStore {
  private readonly db: Database;

  private constructor(
    db: Database,
    private readonly atRestKey: Uint8Array,
    private readonly nodeId: Uint8Array,
  ) {
    this.db = db;
  }

  /**
   * @param atRestKey 32-byte AES key (see deriveNodeSecrets).
   * @param nodeId the node's 20-byte operator address, bound into every kfrag's AAD.
   */
  static open(path: string, atRestKey: Uint8Array, nodeId: Uint8Array): NodeStore {
    if (atRestKey.length !== 32) throw new Error("at-rest key must be 32 bytes");
    if (nodeId.length !== 20) throw new Error("node id must be 20 bytes");
    restrictPermissions(path);
    const db = openDatabase(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.exec(SCHEMA);
    return new NodeStore(db, atRestKey, nodeId);
  }

  close(): void {
    this.db.close();
  }

  private aad(policyId: Uint8Array): Uint8Array {
    return concatBytes(new TextEncoder().encode("NKMS-KFRAG-AT-REST-V1"), policyId, this.nodeId);
  }

  private seal(policyId: Uint8Array, plaintext: Uint8Array): { ct: Buffer; iv: Buffer } {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.atRestKey, iv);
    cipher.setAAD(this.aad(policyId));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { ct: Buffer.concat([body, cipher.getAuthTag()]), iv };
  }

  private unseal(policyId: Uint8Array, ct: Buffer, iv: Buffer): Uint8Array {
    const decipher = createDecipheriv("aes-256-gcm", this.atRestKey, iv);
    decipher.setAAD(this.aad(policyId));
    decipher.setAuthTag(ct.subarray(ct.length - 16));
    const out = Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]);
    return new Uint8Array(out);
  }

  /**
   * Durably stores a verified kfrag. Returns "duplicate" when exactly this kfrag is already held.
   * Throws 409 KFRAG_CONFLICT for a different kfrag under the same policy and 410 POLICY_REVOKED /
   * POLICY_EXPIRED for a tombstoned policy.
   */
  putKFrag(entry: NewKFrag): "stored" | "duplicate" {
    const tx = this.db.transaction((): "stored" | "duplicate" => {
      const existing = this.row(entry.policyId);
      if (existing) {
        const state = STATE_NAMES[existing.state];
        if (state === "revoked") throw gone("POLICY_REVOKED", "policy was revoked");
        if (state === "expired") throw gone("POLICY_EXPIRED", "policy has expired");
        const held = this.decode(existing);
        if (!held.kfrag || Buffer.compare(held.kfrag, entry.kfrag) !== 0) {
          throw conflict("KFRAG_CONFLICT", "a different kfrag is already held for this policy");
        }
        // Same kfrag, other rules: answering "duplicate" would let the owner believe a tighter
        // reader or conditions took effect while the first upload's still apply.
        const differs = metaDifference(held.meta, entry.meta);
        if (differs) throw conflict("KFRAG_CONFLICT", `this kfrag is already held with a different ${differs}; the held rules stay in force`);
        return "duplicate";
      }
      const { ct, iv } = this.seal(entry.policyId, entry.kfrag);
      this.db
        .prepare(
          `INSERT INTO policies (policy_id, owner, end_time, state, kfrag_ct, kfrag_iv, meta, received_at, changed_at)
           VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)`,
        )
        .run(
          Buffer.from(entry.policyId),
          entry.owner.toLowerCase(),
          entry.endTime,
          ct,
          iv,
          JSON.stringify(entry.meta),
          entry.receivedAt,
          entry.receivedAt,
        );
      return "stored";
    });
    return tx();
  }

  private row(policyId: Uint8Array): PolicyRow | undefined {
    return this.db
      .prepare<unknown[], PolicyRow>("SELECT * FROM policies WHERE policy_id = ?")
      .get(Buffer.from(policyId));
  }

  private decode(row: PolicyRow): StoredPolicy {
    return {
      policyId: new Uint8Array(row.policy_id),
      owner: row.owner,
      endTime: row.end_time,
      state: STATE_NAMES[row.state],
      kfrag: row.kfrag_ct && row.kfrag_iv ? this.unseal(row.policy_id, row.kfrag_ct, row.kfrag_iv) : null,
      meta: row.meta ? (JSON.parse(row.meta) as PolicyMeta) : null,
      receivedAt: row.received_at,
    };
  }

  /** The policy's state alone (no decryption): the last check before an answer leaves. */
  state(policyId: Uint8Array): PolicyState | undefined {
    const row = this.db.prepare<unknown[], { state: number }>("SELECT state FROM policies WHERE policy_id = ?").get(Buffer.from(policyId));
    return row ? STATE_NAMES[row.state] : undefined;
  }

  /** The policy record (any state), decrypting its kfrag; undefined when never seen. */
  get(policyId: Uint8Array): StoredPolicy | undefined {
    const row = this.row(policyId);
    return row ? this.decode(row) : undefined;
  }

  /**
   * Marks a policy revoked and destroys its kfrag, leaving a tombstone so it can never be
   * re-uploaded or used. Records a tombstone even for a policy this node never held.
   * @returns true when the node held an active kfrag for it.
   */
  markRevoked(policyId: Uint8Array, at: number): boolean {
    const tx = this.db.transaction((): boolean => {
      const existing = this.row(policyId);
      if (!existing) {
        this.db
          .prepare(
            `INSERT INTO policies (policy_id, owner, end_time, state, received_at, changed_at)
             VALUES (?, '', 0, 1, ?, ?)`,
          )
          .run(Buffer.from(policyId), at, at);
        return false;
      }
      this.db
        .prepare(
          `UPDATE policies SET state = 1, kfrag_ct = NULL, kfrag_iv = NULL, meta = NULL, changed_at = ?
           WHERE policy_id = ?`,
        )
        .run(at, Buffer.from(policyId));
      return existing.state === STATE_CODES.active;
    });
    return tx();
  }

  /** Purges the kfrags of every active policy whose end time is at or before `now`. */
  purgeExpired(now: number): number {
    return this.db
      .prepare(
        `UPDATE policies SET state = 2, kfrag_ct = NULL, kfrag_iv = NULL, meta = NULL, changed_at = ?
         WHERE state = 0 AND end_time <= ?`,
      )
      .run(now, now).changes;
  }

  /** Active policy ids (for event matching and status). */
  activePolicyIds(): Uint8Array[] {
    return this.db
      .prepare<unknown[], { policy_id: Buffer }>("SELECT policy_id FROM policies WHERE state = 0")
      .all()
      .map((r) => new Uint8Array(r.policy_id));
  }

  counts(): Record<PolicyState, number> {
    const out: Record<PolicyState, number> = { active: 0, revoked: 0, expired: 0 };
    for (const r of this.db
      .prepare<unknown[], { state: number; n: number }>("SELECT state, COUNT(*) AS n FROM policies GROUP BY state")
      .all()) {
      out[STATE_NAMES[r.state]] = r.n;
    }
    return out;
  }

  getSetting(key: string): string | undefined {
    return this.db.prepare<unknown[], { value: string }>("SELECT value FROM kv WHERE key = ?").get(key)?.value;
  }

  setSetting(key: string, value: string): void {
    this.db
      .prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .run(key, value);
  }

  /** Whether a request nonce (requester:nonce) was recorded and has not expired yet. */
  nonceUsed(key: string, now: number): boolean {
    return this.db.prepare("SELECT 1 FROM nonces WHERE key = ? AND expires >= ?").get(key, now) !== undefined;
  }

  /** Records used request nonces in one transaction (one WAL sync for the whole batch). */
  addNonces(entries: { key: string; expires: number }[]): void {
    if (entries.length === 0) return;
    const insert = this.db.prepare("INSERT INTO nonces (key, expires) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET expires = max(expires, excluded.expires)");
    this.db.transaction(() => {
      for (const e of entries) insert.run(e.key, e.expires);
    })();
  }

  /** Forgets nonces whose request window closed before `now` (a replay of them is refused as stale). */
  purgeNonces(now: number): number {
    return this.db.prepare("DELETE FROM nonces WHERE expires < ?").run(now).changes;
  }

  /** Appends a health-check result (written by the health-check duty). */
  addHealthResult(result: HealthResult): void {
    this.db
      .prepare("INSERT INTO health_results (at, round, target, verdict, detail) VALUES (?, ?, ?, ?, ?)")
      .run(result.at, result.round, result.target, result.verdict, result.detail);
  }

  recentHealthResults(limit = 20): HealthResult[] {
    return this.db
      .prepare<unknown[], HealthResult>(
        "SELECT at, round, target, verdict, detail FROM health_results ORDER BY id DESC LIMIT ?",
      )
      .all(limit);
  }
}
