// The directory: validates protocol messages, appends them to the Merkle log, maintains the
// actor/key/aux index, and shreds an actor's attribute keys on an authenticated request.
//
// Storage (a DirectoryStore: SQLite embedded, PostgreSQL for production) split: `records` (the logged envelopes, ciphertext only) is permanent; everything that
// can identify a person in the clear — attribute keys and plaintexts, the actor/key/aux index —
// lives in tables that erasure deletes (with secure_delete, so the bytes are overwritten).
import { sha256 } from "@noble/hashes/sha2.js";
import { actorOrigin, canonicalActorId } from "./actor-keys";
import { AttributeDecryptionError, CommitmentHasher, OpenedAttribute, openAttribute } from "./attribute-encryption";
import {
  MERKLE_ROOT_PREFIX,
  decodeMerkleRoot,
  decodePublicKey,
  encodeMerkleRoot,
  encodePublicKey,
  fromB64url,
  isKeyId,
  randomKeyId,
  toB64url,
} from "./encoding";
import { DirectoryError } from "./errors";
import { LOG_ENTRY_BYTES, buildLogEntry, directoryKeyPair, logEntryOf, messageHash } from "./log-entry";
import { EMPTY_TREE_HASH, bytesEqual, leafHash } from "./merkle";
import { MLDSA44_SIGNATURE_BYTES, MlDsaKeyPair, mlDsaVerify } from "./mldsa";
import {
  ACTIONS,
  Action,
  ErasureRequest,
  MESSAGE_FIELDS,
  PKD_CONTEXT,
  SignedMessage,
  SubmittedMessage,
  auxDataId,
  erasurePayload,
  leafData,
  parseRevocationToken,
  revocationMessage,
  revocationTokenKey,
  signaturePayload,
} from "./protocol";
import { SignedTreeHead, signTreeHead, signTreeHeadWith } from "./tree-head";
import type { DirectoryStore, LogReader, Queryable } from "./store/store";
import { TurnQueue } from "./turns";
import { WorkLimiter } from "./work-limiter";

export interface DirectoryOptions {
  /** This directory's name, e.g. its base URL; bound into tree heads and erasure requests. */
  name: string;
  /**
   * The directory's 32-byte secret: the seed of its ML-DSA-44 key, which signs log entries and
   * tree heads; the tlog note key and the HPKE key are derived from it separately.
   */
  signingKey: Uint8Array;
  /** Actor IDs allowed to send BurnDown (instance operators). */
  operators?: readonly string[];
  /** Public keys (`mldsa44:…`) of directories whose Checkpoint messages are accepted. */
  peers?: readonly string[];
  /** How far (seconds) an erasure request's time may be from now. Default 300. */
  erasureWindowSeconds?: number;
  /**
   * How far (seconds) a protocol message's `time` may be from now (spec "Handling Protocol
   * Messages": a window of at most 30 days). Default one day; RevokeKeyThirdParty has no time.
   */
  messageWindowSeconds?: number;
  /** Now, in Unix seconds, for the time windows (the conformance replay runs at the vectors' date). */
  clock?: () => number;
  /**
   * TEST/DEVELOPMENT ONLY: keep http:// actor IDs (loopback instances) instead of rewriting them
   * to https:// as the specification's canonicalization does.
   */
  allowInsecureActors?: boolean;
  /** Argon2id commitment checks run at once (default 1) and queued (default 16); beyond: 503. */
  commitmentConcurrency?: number;
  commitmentQueue?: number;
  /** Where commitments are computed (a CommitmentPool's worker threads); default: this thread. */
  commitmentHasher?: CommitmentHasher;
  /**
   * Signs with `signingKey`'s ML-DSA-44 key elsewhere (a CommitmentPool's worker threads); default:
   * this thread. With it, the current tree head is also re-signed ahead of time (see treeHead).
   */
  signer?: (message: Uint8Array, deterministic: boolean) => Promise<Uint8Array>;
  /**
   * Active keys an actor may hold at once (default 16). Every signature without a `key-id` hint,
   * and every erasure request (unauthenticated), is tried under each of them at ~1.5 ms apiece.
   */
  maxActiveKeys?: number;
  /**
   * Tree heads of past sizes not already cached that may be signed per second (default 16; each is
   * ~5 ms of ML-DSA-44 signing for an unauthenticated read); beyond, reads get 503 + Retry-After.
   */
  pastHeadsPerSecond?: number;
  /** VECTORS ONLY: the conformance runner's seam (see VectorReplaySeam); never set in a server. */
  vectorReplay?: VectorReplaySeam;
}

/**
 * VECTORS ONLY (`src/directory/v08/directory-replay.ts`): where the specification's test vectors
 * depart from its text (docs/pkd-v0.8.md), the runner substitutes the vectors' variant so that
 * every rule is still this directory's. It opens the vectors' legacy attribute variant, and it
 * supplies the log entry of an accepted message: the file's own (hedged) entry, checked by the
 * runner, with the Merkle leaf hash the vectors' tree uses.
 */
export interface VectorReplaySeam {
  openAttribute(name: string, ciphertext: Uint8Array, key: Uint8Array, recentMerkleRoot: string): OpenedAttribute;
  logEntry(leafData: Uint8Array): { entry: Uint8Array; leafHash: Uint8Array };
}

/**
 * Who vouched for a submission at the HTTP layer: the actor whose instance signed the request
 * (RFC 9421), verified by the server before the message reaches the directory. Absent for
 * unsigned requests, which only RevokeKeyThirdParty and Checkpoint may be.
 */
export interface SubmissionAuth {
  actor: string;
}

const DEFAULT_MESSAGE_WINDOW_SECONDS = 24 * 3600;
/** Spec "Handling Protocol Messages": a window no greater than 30 days. */
export const MAX_MESSAGE_WINDOW_SECONDS = 30 * 24 * 3600;

/** Actions that need no instance signature: the token / the peer directory's key authenticates them. */
const SELF_AUTHENTICATING: ReadonlySet<Action> = new Set(["RevokeKeyThirdParty", "Checkpoint"]);

export interface KeyRecord {
  "key-id": string;
  "public-key": string;
  "leaf-index": number;
  "merkle-leaf": string;
  revoked: boolean;
  /** Merkle leaves of the MoveIdentity records (oldest first) that moved the key to this actor. */
  "moved-by": string[];
}

/** The spec's proof of one record: the root right after its leaf was appended, and the leaf's inclusion proof there. */
export interface RecordProof {
  /** `pkd-mr-v1:` root of the tree of size leaf-index + 1. */
  "merkle-root": string;
  /** base64url nodes proving the leaf in that tree. */
  "inclusion-proof": string[];
}

/** An entry of api/actor/:id/keys: ours plus the spec's fields. */
export interface KeyListing extends KeyRecord, RecordProof {
  /** When the directory logged the AddKey (spec "Timestamps": Unix seconds, decimal). */
  created: string;
}

/** api/actor/:id/key/:keyId: our fields, except that `revoked` is the spec's (time of revocation, or null). */
export interface KeyInfo extends Omit<KeyListing, "revoked"> {
  "actor-id": string;
  revoked: string | null;
  /** Root right after the record that revoked the key (RevokeKey, its third-party form, or BurnDown). */
  "revoke-root": string | null;
}

export interface AuxRecord {
  "aux-id": string;
  "aux-type": string;
  "aux-data": string;
  "leaf-index": number;
  "merkle-leaf": string;
  /** When the directory logged the AddAuxData (Unix seconds, decimal). */
  created: string;
}

/** api/actor/:id/auxiliary/:auxId. */
export interface AuxInfo extends AuxRecord, RecordProof {
  "actor-id": string;
  revoked: string | null;
  "revoke-root": string | null;
}

export interface SubmitResult {
  action: Action;
  /** For AddKey: the id the directory issued for the new key (256 random bits, base64url). */
  "key-id"?: string;
  "leaf-index": number;
  "merkle-leaf": string;
  "merkle-root": string;
  "tree-size": number;
}

export interface HistoryEntry {
  "leaf-index": number;
  "merkle-leaf": string;
  /** The logged entry (base64url): SHA-256(message) ‖ directory signature ‖ SHA-256(directory key). */
  "log-entry": string;
  action: Action;
  /** ISO 8601 time the directory logged the record. */
  created: string;
  envelope: SignedMessage;
}

/** An entry of api/history/since's `records` (the spec's shape). */
export interface HistoryRecord {
  /** Unix seconds, decimal. */
  created: string;
  /** The protocol message as committed (its attributes encrypted): the JSON the log entry hashes. */
  "encrypted-message": string;
  /** Root right after this record was appended. */
  "merkle-root": string;
}

export interface HistoryView extends HistoryEntry {
  /** Unix seconds, decimal (the spec's; `entries` of api/history keep ISO 8601). */
  created: string;
  "tree-size": number;
  /** The leaf's inclusion proof in the tree of `tree-size`, whose root is `merkle-root`. */
  "inclusion-proof": string[];
  "merkle-root": string;
  "tree-head": SignedTreeHead;
  /** Decrypted attributes, or null once the record's keys were shredded. */
  message: Record<string, string> | null;
  "symmetric-keys": Record<string, string> | null;
  /** The log entry split as the spec names its parts (null for an entry not of this directory's layout). */
  "dir-signature": string | null;
  "dir-publickeyhash": string | null;
  "encrypted-message": string;
  /** No Trusted Replicas: nothing is re-wrapped. */
  "rewrapped-keys": null;
}

/** ⌈2·log2(N)²⌉: how many entries old a client's recent Merkle root may be. */
export function freshnessWindow(treeSize: number): number {
  if (treeSize <= 1) return 0;
  return Math.ceil(2 * Math.log2(treeSize) ** 2);
}

interface KeyRow {
  key_id: string;
  actor: string;
  public_key: Buffer;
  added_leaf: number;
  revoked_leaf: number | null;
  /** JSON array of MoveIdentity leaf indices that carried this key to its current actor. */
  moves: string;
}

interface Effects {
  /** Actors this record concerns; erasure by any of them shreds its attribute keys. */
  actors: string[];
  /** AddKey: the id issued to the new key. */
  keyId?: string;
  apply(tx: Queryable, leafIndex: number): Promise<void>;
}

const TIME_PATTERN = /^[0-9]{1,12}$/;
const AUX_TYPE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_FIELD_LENGTH = 16 * 1024;

export class Directory {
  readonly log: LogReader;
  /** The directory's ML-DSA-44 public key (1312 bytes): log entries and tree heads verify under it. */
  readonly publicKey: Uint8Array;
  private readonly serverKey: MlDsaKeyPair;
  /** Signed heads of past sizes (their roots never change), so proofs do not re-sign each read. */
  private readonly pastHeads = new Map<number, SignedTreeHead>();
  private readonly operators: ReadonlySet<string>;
  private readonly messageWindow: number;
  private readonly peers: ReadonlySet<string>;
  private readonly commitments: WorkLimiter;
  /** Write requests' turns on the event loop, shared with the HTTP layer. */
  readonly turns: TurnQueue;
  private headCache?: { head: SignedTreeHead; at: number };
  /** The current head's re-signing on the `signer`'s threads, while one runs. */
  private headSigning?: Promise<void>;
  private readonly pastHeadBudget = { tokens: 0, at: 0 };

  constructor(
    readonly store: DirectoryStore,
    private readonly options: DirectoryOptions,
  ) {
    this.log = store.log;
    this.serverKey = directoryKeyPair(options.signingKey);
    this.publicKey = this.serverKey.publicKey;
    this.operators = new Set(options.operators ?? []);
    this.messageWindow = options.messageWindowSeconds ?? DEFAULT_MESSAGE_WINDOW_SECONDS;
    if (!(this.messageWindow > 0 && this.messageWindow <= MAX_MESSAGE_WINDOW_SECONDS)) {
      throw new RangeError(`messageWindowSeconds must be in (0, ${MAX_MESSAGE_WINDOW_SECONDS}] (the spec's 30 days)`);
    }
    this.peers = new Set(options.peers ?? []);
    this.pastHeadBudget = { tokens: options.pastHeadsPerSecond ?? 16, at: Date.now() };
    this.commitments = new WorkLimiter({
      concurrency: options.commitmentConcurrency ?? 1,
      queue: options.commitmentQueue ?? 16,
      retryAfterSeconds: 1,
    });
    this.turns = new TurnQueue();
  }

  get name(): string {
    return this.options.name;
  }

  /** Whether BurnDown is accepted at all: some operator is configured (`api/info`'s `burndown-enabled`). */
  get burnDownEnabled(): boolean {
    return this.operators.size > 0;
  }

  private now(): number {
    return this.options.clock ? this.options.clock() : Math.floor(Date.now() / 1000);
  }

  /** A message's `time` must be within the window of now (checked before any cryptography). */
  private checkMessageTime(time: string | undefined): void {
    if (time === undefined) throw new DirectoryError("invalid_request", "message.time is required");
    if (Math.abs(this.now() - Number(time)) > this.messageWindow) {
      throw new DirectoryError("invalid_request", `message.time is more than ${this.messageWindow} s from the directory's clock`);
    }
  }

  /** True when opened with the vectors-only replay seam: such a directory must never be served. */
  get replaysVectors(): boolean {
    return this.options.vectorReplay !== undefined;
  }

  // ---------------------------------------------------------------- tree heads and proofs

  /**
   * The signed head of the tree of `size` leaves. The current head is re-signed at most once a
   * second (its `time` may be that old): reads are what floods compete with, so they stay cheap.
   * With a `signer`, a read of a current head older than 0.8 s has it re-signed on the signer's
   * threads meanwhile, so reads rarely sign. No read waits for the signer: its threads may be busy
   * with Argon2id at low priority.
   */
  async treeHead(size?: number): Promise<SignedTreeHead> {
    const current = await this.log.size();
    const n = size ?? current;
    const now = Date.now();
    const cached = this.headCache;
    // A head once served as current stays valid for its size: readers verified it and ask for proofs there.
    if (cached && cached.head["tree-size"] === n && (n < current || now - cached.at < 1000)) {
      if (n === current && now - cached.at >= 800) this.refreshHead(n);
      return cached.head;
    }
    const past = n < current ? this.pastHeads.get(n) : undefined;
    if (past) return past;
    // Any past size can be asked for without authentication, more than the cache holds: bound the signing.
    if (n < current) this.spendPastHeadSignature(now);
    const root = await this.withRangeErrors(() => this.log.rootAt(n));
    const head = signTreeHead(this.name, n, encodeMerkleRoot(root), this.serverKey);
    if (n === current) this.cacheHead(head, now);
    else this.rememberPastHead(head);
    return head;
  }

  /** Re-signs the current head of size `n` on the signer's threads, once at a time; errors are left to the next read. */
  private refreshHead(n: number): void {
    const signer = this.options.signer;
    if (!signer || this.headSigning) return;
    const at = Date.now();
    this.headSigning = (async () => {
      const root = encodeMerkleRoot(await this.log.rootAt(n));
      const head = await signTreeHeadWith(this.name, n, root, this.publicKey, (payload) => signer(payload, false));
      // Only if it is still the cached size: a larger head may have been cached meanwhile.
      if (this.headCache?.head["tree-size"] === n) this.headCache = { head, at };
    })()
      .catch(() => undefined)
      .finally(() => (this.headSigning = undefined));
  }

  private cacheHead(head: SignedTreeHead, at: number): void {
    const cached = this.headCache;
    if (cached && cached.head["tree-size"] < head["tree-size"]) this.rememberPastHead(cached.head);
    this.headCache = { head, at };
  }

  private rememberPastHead(head: SignedTreeHead): void {
    if (this.pastHeads.has(head["tree-size"])) return;
    if (this.pastHeads.size >= 1024) this.pastHeads.delete(this.pastHeads.keys().next().value!);
    this.pastHeads.set(head["tree-size"], head);
  }

  /** Token bucket of `pastHeadsPerSecond` signatures of uncached past heads; `overloaded` (503) when empty. */
  private spendPastHeadSignature(now: number): void {
    const rate = this.options.pastHeadsPerSecond ?? 16;
    const budget = this.pastHeadBudget;
    budget.tokens = Math.min(rate, budget.tokens + (Math.max(0, now - budget.at) / 1000) * rate);
    budget.at = now;
    if (budget.tokens < 1) {
      throw new DirectoryError("overloaded", "too many tree heads of past sizes asked for; retry later", 1);
    }
    budget.tokens -= 1;
  }

  async currentRoot(): Promise<string> {
    return encodeMerkleRoot(await this.log.rootAt());
  }

  async consistencyProof(size1: number, size2: number): Promise<string[]> {
    return (await this.withRangeErrors(() => this.log.consistencyProof(size1, size2))).map(toB64url);
  }

  async inclusionProof(index: number, size: number): Promise<string[]> {
    return (await this.withRangeErrors(() => this.log.inclusionProof(index, size))).map(toB64url);
  }

  private async withRangeErrors<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Error && err.name === "MerkleLogError") throw new DirectoryError("invalid_range", err.message);
      throw err;
    }
  }

  // ---------------------------------------------------------------- submission

  /**
   * Validates and appends one protocol message; throws DirectoryError and changes nothing on
   * rejection. `auth` is the instance-signed actor the HTTP layer verified (see SubmissionAuth).
   *
   * Order matters (threat model rule 5): shape and freshness, then the cheap half of attribute
   * decryption (MAC + AES-CTR), the identity binding and the protocol signature; only a message
   * that passed all of these pays for the Argon2id commitments, through a bounded limiter.
   */
  async submit(input: unknown, auth?: SubmissionAuth): Promise<SubmitResult> {
    const msg = parseSubmitted(input);
    if (!SELF_AUTHENTICATING.has(msg.action) && !auth) {
      throw new DirectoryError("unauthorized", `${msg.action} needs an HTTP Message Signature from the actor's instance`);
    }
    if (msg.action !== "RevokeKeyThirdParty") this.checkMessageTime(msg.message.time);
    // Shed load before any crypto when the commitment queue is already full.
    if (MESSAGE_FIELDS[msg.action].encrypted.some((f) => f in msg.message)) this.commitments.assertCapacity();
    const data = leafData(msg);
    const msgHash = Buffer.from(messageHash(data));
    // Cheap checks first so stale or replayed messages cost no Argon2id work; repeated below
    // because another submission may land while the attributes decrypt.
    const cheapChecks = async (q: Queryable, log: LogReader): Promise<void> => {
      if (await q.get("SELECT 1 FROM records WHERE message_hash = ?", [msgHash])) {
        throw new DirectoryError("duplicate_message", "this message is already in the log");
      }
      await this.checkFreshness(log, msg["recent-merkle-root"]);
    };
    await cheapChecks(this.store, this.log);
    const { plain, opened } = this.openFields(msg);
    await this.validate(this.store, this.log, msg, plain, auth);
    await this.commitments.run(async () => {
      for (const [name, attr] of opened) {
        await attr.verifyCommitment(this.options.commitmentHasher).catch((err: unknown) => {
          const why = err instanceof AttributeDecryptionError ? err.code : String(err);
          throw new DirectoryError("attribute_decryption_failed", `message.${name} does not decrypt (${why})`);
        });
      }
    });
    // Back from the worker threads: several submissions can finish their commitments at once, and
    // each has an ML-DSA-44 signature and a transaction (with its checks) to do; one per loop turn.
    await this.turns.turn("continue");
    // The log may have grown while the commitments ran: a message that is now stale or a duplicate
    // is refused here, before it costs a signature (in the 500-submission burst, 17 of the 18 that
    // reached Argon2id were stale by then and each paid 3-14 ms of ML-DSA-44 signing for nothing).
    await cheapChecks(this.store, this.log);
    // Signed (3-16 ms) only now that the message is authenticated and valid; outside the write lock.
    const { entry, hash } = await this.logEntry(data);
    const result = await this.store.write(async (tx) => {
      await cheapChecks(tx, tx.log);
      // Again inside the transaction: another submission may have changed the actor's keys meanwhile.
      const effects = await this.validate(tx, tx.log, msg, plain, auth);
      const { index, root } = await tx.log.append(hash);
      await tx.run(
        "INSERT INTO records (leaf_index, leaf_hash, message_hash, action, envelope, entry, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [index, hash, msgHash, msg.action, new TextDecoder().decode(data), Buffer.from(entry), new Date().toISOString()],
      );
      for (const name of MESSAGE_FIELDS[msg.action].encrypted) {
        if (!(name in msg.message)) continue;
        await tx.run("INSERT INTO record_attributes (leaf_index, name, key, plaintext) VALUES (?, ?, ?, ?)", [
          index,
          name,
          Buffer.from(fromB64url(msg["symmetric-keys"][name])!),
          Buffer.from(plain[name], "utf8"),
        ]);
      }
      for (const actor of effects.actors) {
        await tx.run("INSERT INTO record_actors (actor, leaf_index) VALUES (?, ?) ON CONFLICT DO NOTHING", [actor, index]);
      }
      await effects.apply(tx, index);
      return {
        action: msg.action,
        ...(effects.keyId !== undefined ? { "key-id": effects.keyId } : {}),
        "leaf-index": index,
        "merkle-leaf": toB64url(hash),
        "merkle-root": encodeMerkleRoot(root),
        "tree-size": index + 1,
      };
    });
    // The next reads ask for this size's head: sign it in this write's turn rather than in a read's.
    if (this.options.signer) await this.treeHead().catch(() => undefined);
    return result;
  }

  private async logEntry(data: Uint8Array): Promise<{ entry: Uint8Array; hash: Buffer }> {
    const given = this.options.vectorReplay?.logEntry(data);
    if (given) return { entry: given.entry, hash: Buffer.from(given.leafHash) };
    const signer = this.options.signer;
    let entry: Uint8Array;
    if (signer) {
      const hash = messageHash(data);
      entry = logEntryOf(hash, await signer(hash, true), this.publicKey);
    } else entry = buildLogEntry(data, this.serverKey);
    return { entry, hash: leafHashOf(entry) };
  }

  /** Wraps a third-party revocation token in an envelope against the current root and submits it. */
  async submitRevocationToken(token: unknown): Promise<SubmitResult> {
    if (typeof token !== "string") throw new DirectoryError("invalid_request", "revocation-token must be a string");
    return this.submit(revocationMessage(token, await this.currentRoot()));
  }

  /** MAC-checks and decrypts the encrypted fields; their commitments are verified later. */
  private openFields(msg: SubmittedMessage): { plain: Record<string, string>; opened: Array<[string, OpenedAttribute]> } {
    const plain: Record<string, string> = { ...msg.message };
    const opened: Array<[string, OpenedAttribute]> = [];
    for (const name of MESSAGE_FIELDS[msg.action].encrypted) {
      if (!(name in msg.message)) continue;
      const keyText = msg["symmetric-keys"][name];
      const key = typeof keyText === "string" ? fromB64url(keyText) : undefined;
      if (!key || key.length !== 32) {
        throw new DirectoryError("missing_symmetric_key", `symmetric-keys.${name} must be a 32-byte base64url key`);
      }
      const ciphertext = fromB64url(msg.message[name]);
      if (!ciphertext) throw new DirectoryError("invalid_request", `message.${name} is not base64url`);
      try {
        const attr = (this.options.vectorReplay?.openAttribute ?? openAttribute)(name, ciphertext, key, msg["recent-merkle-root"]);
        plain[name] = new TextDecoder("utf-8", { fatal: true }).decode(attr.plaintext);
        opened.push([name, attr]);
      } catch (err) {
        const why = err instanceof AttributeDecryptionError ? err.code : "not UTF-8";
        throw new DirectoryError("attribute_decryption_failed", `message.${name} does not decrypt (${why})`);
      }
    }
    return { plain, opened };
  }

  /** The HTTP-signing actor must be the one the message speaks for (spec: "Verify the actor field"). */
  private requireBinding(auth: SubmissionAuth | undefined, actor: string, role: string): void {
    if (!auth) throw new DirectoryError("unauthorized", "an HTTP Message Signature from the actor's instance is required");
    if (auth.actor !== actor) {
      throw new DirectoryError("actor_mismatch", `the request is signed for ${auth.actor}, not for the message's ${role}`);
    }
  }

  private canonical(actor: string): string {
    const canonical = canonicalActorId(actor, this.options.allowInsecureActors ?? false);
    if (canonical !== actor) throw new DirectoryError("invalid_actor", `actor IDs are canonical https URLs (${canonical})`);
    return actor;
  }

  private async checkFreshness(log: LogReader, rootText: string): Promise<void> {
    const root = decodeMerkleRoot(rootText);
    if (!root) throw new DirectoryError("invalid_request", "recent-merkle-root is not a pkd-mr-v1 root");
    const current = await log.size();
    const size = bytesEqual(root, await log.rootAt(0)) ? 0 : await log.sizeOfRoot(root);
    if (size === undefined) throw new DirectoryError("merkle_root_unknown", "recent-merkle-root was never this directory's root");
    const window = freshnessWindow(current);
    if (current - size > window) {
      throw new DirectoryError(
        "merkle_root_stale",
        `recent-merkle-root is ${current - size} entries old; at most ${window} are accepted`,
      );
    }
  }

  // ---------------------------------------------------------------- validation rules

  private async validate(
    q: Queryable,
    log: LogReader,
    msg: SubmittedMessage,
    plain: Record<string, string>,
    auth: SubmissionAuth | undefined,
  ): Promise<Effects> {
    const payload = signaturePayload(msg);
    const signature = fromB64url(msg.signature);
    switch (msg.action) {
      case "AddKey": {
        const actor = this.canonical(plain.actor);
        this.requireBinding(auth, actor, "actor");
        const newKey = this.publicKeyField(plain["public-key"]);
        if (await q.get("SELECT 1 FROM keys WHERE public_key = ? AND revoked_leaf IS NULL", [Buffer.from(newKey)])) {
          throw new DirectoryError("key_in_use", "this public key is already registered");
        }
        const active = await this.activeKeys(q, actor);
        // Bounds what one signature without a key-id hint, or one forged erasure request, costs.
        const maxKeys = this.options.maxActiveKeys ?? 16;
        if (active.length >= maxKeys) {
          throw new DirectoryError("too_many_keys", `an actor holds at most ${maxKeys} active keys; revoke one first`);
        }
        if (active.length === 0) {
          // The first key proves possession of itself; the spec gives it no key-id to name.
          if (msg["key-id"] !== undefined) throw new DirectoryError("invalid_request", "the first AddKey of an actor carries no key-id");
          this.requireSignature([newKey], signature, payload);
        } else {
          // Later keys are vouched for by an existing one; a self-signature is never a vouching
          // (looked for only when no active key vouches: the accepted path verifies once).
          if (!this.verifiesUnder(this.signers(active, msg["key-id"]), signature, payload)) {
            if (this.verifiesUnder([newKey], signature, payload)) {
              throw new DirectoryError("invalid_signature", "a self-signed AddKey is refused while the actor has active keys");
            }
            throw new DirectoryError("invalid_signature", "signature does not verify under an authorized key");
          }
        }
        // Issued by the directory (spec "Key Identifiers"): random, so it says nothing about the key.
        const newKeyId = randomKeyId();
        return {
          actors: [actor],
          keyId: newKeyId,
          apply: async (tx, leaf) => {
            await tx.run("INSERT INTO actors (actor) VALUES (?) ON CONFLICT DO NOTHING", [actor]);
            await tx.run("INSERT INTO keys (actor, key_id, public_key, added_leaf) VALUES (?, ?, ?, ?)", [
              actor,
              newKeyId,
              Buffer.from(newKey),
              leaf,
            ]);
          },
        };
      }
      case "RevokeKey": {
        const actor = plain.actor;
        this.requireBinding(auth, actor, "actor");
        const target = this.publicKeyField(plain["public-key"]);
        const active = await this.activeKeys(q, actor);
        const targetRow = active.find((k) => bytesEqual(k.public_key, target));
        if (!targetRow) throw new DirectoryError("key_not_found", "the key is not an active key of this actor");
        const others = active.filter((k) => k !== targetRow);
        if (others.length === 0) throw new DirectoryError("last_key", "the last key can only be removed by BurnDown");
        const candidates = this.signers(active, msg["key-id"]);
        if (!this.verifiesUnder(candidates.filter((pk) => !bytesEqual(pk, target)), signature, payload)) {
          if (this.verifiesUnder([target], signature, payload)) {
            throw new DirectoryError("self_revocation", "a key may not sign its own revocation");
          }
          throw new DirectoryError("invalid_signature", "signature does not verify under the actor's other keys");
        }
        return {
          actors: [actor],
          apply: async (tx, leaf) => {
            await tx.run("UPDATE keys SET revoked_leaf = ? WHERE actor = ? AND key_id = ? AND added_leaf = ?", [
              leaf,
              actor,
              targetRow.key_id,
              targetRow.added_leaf,
            ]);
          },
        };
      }
      case "RevokeKeyThirdParty": {
        // Unauthenticated: look the named key up (cheap) before verifying its signature (~1.5 ms).
        const token = fromB64url(msg.message["revocation-token"]);
        const named = token ? revocationTokenKey(token) : undefined;
        if (!token || !named) throw new DirectoryError("invalid_signature", "revocation token is malformed or not signed by its key");
        const row = await q.get<KeyRow>("SELECT * FROM keys WHERE public_key = ? AND revoked_leaf IS NULL", [Buffer.from(named)]);
        if (!row) throw new DirectoryError("key_not_found", "no active key matches the revocation token");
        if (!parseRevocationToken(token)) throw new DirectoryError("invalid_signature", "revocation token is malformed or not signed by its key");
        const remaining = (await this.activeKeys(q, row.actor)).length;
        if (remaining === 1) {
          // Revoking the last key is a BurnDown, so Fireproof blocks it too.
          await this.requireNotFireproof(q, row.actor);
          return { actors: [row.actor], apply: (tx, leaf) => this.burnDown(tx, row.actor, leaf) };
        }
        return {
          actors: [row.actor],
          apply: async (tx, leaf) => {
            await tx.run("UPDATE keys SET revoked_leaf = ? WHERE actor = ? AND key_id = ? AND added_leaf = ?", [
              leaf,
              row.actor,
              row.key_id,
              row.added_leaf,
            ]);
          },
        };
      }
      case "MoveIdentity": {
        const from = plain["old-actor"];
        const to = this.canonical(plain["new-actor"]);
        // The new instance vouches for the move (the old key signs the message itself).
        this.requireBinding(auth, to, "new-actor");
        if (from === to) throw new DirectoryError("invalid_request", "old-actor and new-actor are the same");
        const active = await this.activeKeys(q, from);
        if (active.length === 0) throw new DirectoryError("not_found", "old-actor has no active keys");
        if ((await this.activeKeys(q, to)).length > 0) throw new DirectoryError("actor_exists", "new-actor already has keys");
        this.requireSignature(this.signers(active, msg["key-id"]), signature, payload);
        return {
          // Only the new name owns the move record: whoever later claims the vacated name must not reach it.
          actors: [to],
          apply: (tx, leaf) => this.moveIdentity(tx, from, to, leaf),
        };
      }
      case "BurnDown": {
        const actor = plain.actor;
        const operator = plain.operator;
        this.requireBinding(auth, operator, "operator");
        // Spec step 9: an operator burns down actors of its own instance only.
        if (actorOrigin(operator) !== actorOrigin(actor)) throw new DirectoryError("not_operator", "operator and actor are on different instances");
        if (!this.operators.has(operator)) throw new DirectoryError("not_operator", "operator is not an operator of this directory");
        this.requireSignature(this.signers(await this.activeKeys(q, operator), msg["key-id"]), signature, payload);
        if (!(await this.actorRow(q, actor))) throw new DirectoryError("not_found", "no such actor");
        await this.requireNotFireproof(q, actor);
        return { actors: [actor], apply: (tx, leaf) => this.burnDown(tx, actor, leaf) };
      }
      case "Fireproof":
      case "UndoFireproof": {
        const actor = plain.actor;
        this.requireBinding(auth, actor, "actor");
        await this.requireActorSignature(q, actor, signature, payload, msg["key-id"]);
        const fireproof = (await this.actorRow(q, actor))?.fireproof === 1;
        const want = msg.action === "Fireproof";
        if (fireproof === want) {
          throw new DirectoryError(want ? "already_fireproof" : "not_fireproof", `actor is ${want ? "already" : "not"} fireproof`);
        }
        return {
          actors: [actor],
          apply: async (tx) => {
            await tx.run("UPDATE actors SET fireproof = ? WHERE actor = ?", [want ? 1 : 0, actor]);
          },
        };
      }
      case "AddAuxData": {
        const actor = plain.actor;
        this.requireBinding(auth, actor, "actor");
        const auxType = plain["aux-type"];
        const auxData = plain["aux-data"];
        if (!AUX_TYPE_PATTERN.test(auxType)) throw new DirectoryError("invalid_request", "aux-type is not a valid type name");
        const id = auxDataId(auxType, auxData);
        if (plain["aux-id"] !== undefined && plain["aux-id"] !== id) {
          throw new DirectoryError("aux_id_mismatch", "aux-id does not match the auxiliary data");
        }
        await this.requireActorSignature(q, actor, signature, payload, msg["key-id"]);
        if (await q.get("SELECT 1 FROM aux WHERE actor = ? AND aux_id = ? AND revoked_leaf IS NULL", [actor, id])) {
          throw new DirectoryError("duplicate_aux_data", "this auxiliary data is already published");
        }
        return {
          actors: [actor],
          apply: async (tx, leaf) => {
            await tx.run("INSERT INTO aux (actor, aux_id, aux_type, aux_data, added_leaf) VALUES (?, ?, ?, ?, ?)", [
              actor,
              id,
              auxType,
              auxData,
              leaf,
            ]);
          },
        };
      }
      case "RevokeAuxData": {
        const actor = plain.actor;
        this.requireBinding(auth, actor, "actor");
        const auxType = plain["aux-type"];
        const id = plain["aux-data"] !== undefined ? auxDataId(auxType, plain["aux-data"]) : plain["aux-id"];
        if (id === undefined) throw new DirectoryError("invalid_request", "RevokeAuxData needs aux-data or aux-id");
        if (plain["aux-id"] !== undefined && plain["aux-id"] !== id) {
          throw new DirectoryError("aux_id_mismatch", "aux-id does not match the auxiliary data");
        }
        await this.requireActorSignature(q, actor, signature, payload, msg["key-id"]);
        const row = await q.get<{ added_leaf: number }>(
          "SELECT added_leaf FROM aux WHERE actor = ? AND aux_id = ? AND aux_type = ? AND revoked_leaf IS NULL",
          [actor, id, auxType],
        );
        if (!row) throw new DirectoryError("aux_data_not_found", "no such active auxiliary data");
        return {
          actors: [actor],
          apply: async (tx, leaf) => {
            await tx.run("UPDATE aux SET revoked_leaf = ? WHERE actor = ? AND aux_id = ? AND added_leaf = ?", [
              leaf,
              actor,
              id,
              row.added_leaf,
            ]);
          },
        };
      }
      case "Checkpoint": {
        const m = plain;
        if (m["to-directory"] !== this.name) throw new DirectoryError("wrong_directory", "to-directory is not this directory");
        if (!this.peers.has(m["from-public-key"])) throw new DirectoryError("untrusted_peer", "from-public-key is not a trusted peer");
        const peerKey = this.publicKeyField(m["from-public-key"]);
        this.requireSignature([peerKey], signature, payload);
        const validated = decodeMerkleRoot(m["to-validated-root"]);
        if (!validated || !decodeMerkleRoot(m["from-root"])) throw new DirectoryError("invalid_request", "roots must be pkd-mr-v1 roots");
        // The empty tree's root is every log's first (as in checkFreshness).
        if (!bytesEqual(validated, await log.rootAt(0)) && (await log.sizeOfRoot(validated)) === undefined) {
          throw new DirectoryError("merkle_root_unknown", "to-validated-root was never this directory's root");
        }
        return { actors: [], apply: async () => undefined };
      }
    }
  }

  private publicKeyField(text: string): Uint8Array {
    const pk = decodePublicKey(text);
    if (!pk) throw new DirectoryError("invalid_request", "public keys are written mldsa44:<base64url of 1312 bytes>");
    return pk;
  }

  private activeKeys(q: Queryable, actor: string): Promise<KeyRow[]> {
    return q.all<KeyRow>("SELECT * FROM keys WHERE actor = ? AND revoked_leaf IS NULL ORDER BY added_leaf", [actor]);
  }

  private actorRow(q: Queryable, actor: string): Promise<{ actor: string; fireproof: number } | undefined> {
    return q.get<{ actor: string; fireproof: number }>("SELECT * FROM actors WHERE actor = ?", [actor]);
  }

  private async requireNotFireproof(q: Queryable, actor: string): Promise<void> {
    if ((await this.actorRow(q, actor))?.fireproof === 1) throw new DirectoryError("fireproof", "the actor opted out of BurnDown");
  }

  /**
   * The keys a signature may be checked under: all of `active`, or with the spec's `key-id` hint
   * only that one, which must be among them.
   */
  private signers(active: KeyRow[], hint: string | undefined): Uint8Array[] {
    const rows = hint === undefined ? active : active.filter((k) => k.key_id === hint);
    if (rows.length === 0 && active.length > 0) throw new DirectoryError("key_not_found", "key-id names no active key of the signer");
    return rows.map((k) => new Uint8Array(k.public_key));
  }

  private verifiesUnder(keys: Uint8Array[], signature: Uint8Array | undefined, payload: Uint8Array): boolean {
    if (!signature) return false;
    return keys.some((pk) => mlDsaVerify(signature, payload, pk));
  }

  private requireSignature(keys: Uint8Array[], signature: Uint8Array | undefined, payload: Uint8Array): void {
    if (!this.verifiesUnder(keys, signature, payload)) {
      throw new DirectoryError("invalid_signature", "signature does not verify under an authorized key");
    }
  }

  private async requireActorSignature(
    q: Queryable,
    actor: string,
    signature: Uint8Array | undefined,
    payload: Uint8Array,
    keyIdHint?: string,
  ): Promise<void> {
    const active = await this.activeKeys(q, actor);
    if (active.length === 0) throw new DirectoryError("not_found", "actor has no active keys");
    this.requireSignature(this.signers(active, keyIdHint), signature, payload);
  }

  private async burnDown(tx: Queryable, actor: string, leaf: number): Promise<void> {
    await tx.run("UPDATE keys SET revoked_leaf = ? WHERE actor = ? AND revoked_leaf IS NULL", [leaf, actor]);
    await tx.run("UPDATE aux SET revoked_leaf = ? WHERE actor = ? AND revoked_leaf IS NULL", [leaf, actor]);
  }

  private async moveIdentity(tx: Queryable, from: string, to: string, leaf: number): Promise<void> {
    const fireproof = (await this.actorRow(tx, from))?.fireproof ?? 0;
    await tx.run("INSERT INTO actors (actor, fireproof) VALUES (?, ?) ON CONFLICT(actor) DO UPDATE SET fireproof = excluded.fireproof", [to, fireproof]);
    // new-actor has no active keys; its stale revoked rows give way to the moved history.
    await tx.run("DELETE FROM keys WHERE actor = ?", [to]);
    await tx.run("DELETE FROM aux WHERE actor = ?", [to]);
    // Each moved key remembers the move (its JSON list grows in code: the dialects' JSON functions differ).
    const moved = await tx.all<{ key_id: string; added_leaf: number; moves: string }>(
      "SELECT key_id, added_leaf, moves FROM keys WHERE actor = ?",
      [from],
    );
    for (const k of moved) {
      await tx.run("UPDATE keys SET actor = ?, moves = ? WHERE actor = ? AND key_id = ? AND added_leaf = ?", [
        to,
        JSON.stringify([...(JSON.parse(k.moves) as number[]), leaf]),
        from,
        k.key_id,
        k.added_leaf,
      ]);
    }
    await tx.run("UPDATE aux SET actor = ? WHERE actor = ?", [to, from]);
    await tx.run("DELETE FROM actors WHERE actor = ?", [from]);
    // The same person owns the old records, so erasure under the new name must reach them — and
    // only under the new name: the vacated name keeps no link, so a later holder of it cannot shred them.
    await tx.run(
      "INSERT INTO record_actors (actor, leaf_index) SELECT ?, leaf_index FROM record_actors WHERE actor = ? ON CONFLICT DO NOTHING",
      [to, from],
    );
    await tx.run("DELETE FROM record_actors WHERE actor = ?", [from]);
  }

  // ---------------------------------------------------------------- erasure

  /**
   * Crypto-shredding: deletes the attribute keys and plaintexts of every record that concerns
   * the actor, and the actor's index entries. The log, its ciphertexts and all proofs are untouched.
   */
  async erase(input: unknown): Promise<{ actor: string; "records-shredded": number }> {
    const req = parseErasure(input);
    const now = this.now();
    const window = this.options.erasureWindowSeconds ?? 300;
    if (Math.abs(now - Number(req.time)) > window) throw new DirectoryError("erasure_expired", "erasure request time is outside the accepted window");
    const signature = fromB64url(req.signature);
    const requestHash = Buffer.from(sha256(new TextEncoder().encode(`${req.actor}\n${req.time}\n${req.signature}`)));
    const duplicate = async (q: Queryable): Promise<void> => {
      if (await q.get("SELECT 1 FROM erasures WHERE request_hash = ?", [requestHash])) {
        throw new DirectoryError("duplicate_message", "this erasure request was already processed");
      }
    };
    await duplicate(this.store);
    // Anyone may send this request: its signature (one ML-DSA-44 verification per active key) is
    // checked before the write transaction, so a forged request never holds the lock writers queue on.
    const active = await this.activeKeys(this.store, req.actor);
    if (active.length === 0) throw new DirectoryError("not_found", "actor has no active keys");
    const signer = signature ? active.find((k) => mlDsaVerify(signature, erasurePayload(this.name, req.actor, req.time), new Uint8Array(k.public_key))) : undefined;
    if (!signer) throw new DirectoryError("invalid_signature", "signature does not verify under an authorized key");
    const shredded = await this.store.write(async (tx) => {
      await duplicate(tx);
      // Inside, only that the signing key is still this actor's and active (a write may have revoked or moved it).
      const still = await tx.get("SELECT 1 FROM keys WHERE actor = ? AND key_id = ? AND added_leaf = ? AND revoked_leaf IS NULL", [
        req.actor,
        signer.key_id,
        signer.added_leaf,
      ]);
      if (!still) throw new DirectoryError("invalid_signature", "the signing key is no longer an active key of this actor");
      const leaves = (await tx.all<{ leaf_index: number }>("SELECT leaf_index FROM record_actors WHERE actor = ?", [req.actor])).map(
        (r) => r.leaf_index,
      );
      for (const leaf of leaves) await tx.run("DELETE FROM record_attributes WHERE leaf_index = ?", [leaf]);
      await tx.run("DELETE FROM record_actors WHERE leaf_index IN (SELECT leaf_index FROM record_actors WHERE actor = ?)", [req.actor]);
      await tx.run("DELETE FROM keys WHERE actor = ?", [req.actor]);
      await tx.run("DELETE FROM aux WHERE actor = ?", [req.actor]);
      await tx.run("DELETE FROM actors WHERE actor = ?", [req.actor]);
      await tx.run("INSERT INTO erasures (request_hash, erased) VALUES (?, ?)", [requestHash, new Date().toISOString()]);
      return leaves.length;
    });
    await this.store.flushErased();
    return { actor: req.actor, "records-shredded": shredded };
  }

  // ---------------------------------------------------------------- reads

  /**
   * The stored form of an actor ID a reader names (spec "Actor ID Canonicalization", so an
   * http:// form finds the https:// actor); an ID that is no actor ID names nothing (`code`).
   */
  readActorId(actor: string, code: "not_found" | "key_not_found" | "aux_data_not_found" = "not_found"): string {
    try {
      return canonicalActorId(actor, this.options.allowInsecureActors ?? false);
    } catch {
      throw new DirectoryError(code, "no such actor");
    }
  }

  async actorInfo(id: string): Promise<{
    "actor-id": string;
    fireproof: boolean;
    "active-keys": number;
    "aux-data": number;
    "count-keys": number;
    "count-aux": number;
  }> {
    const actor = this.readActorId(id);
    const row = await this.actorRow(this.store, actor);
    if (!row) throw new DirectoryError("not_found", "no such actor");
    const keys = (await this.activeKeys(this.store, actor)).length;
    const aux = Number(
      (await this.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM aux WHERE actor = ? AND revoked_leaf IS NULL", [actor]))?.n ?? 0,
    );
    return { "actor-id": actor, fireproof: row.fireproof === 1, "active-keys": keys, "aux-data": aux, "count-keys": keys, "count-aux": aux };
  }

  /** The actor's active keys (at most `maxActiveKeys`), each with the spec's proof of its AddKey. */
  async keys(id: string): Promise<KeyListing[]> {
    const actor = this.readActorId(id);
    if (!(await this.actorRow(this.store, actor))) throw new DirectoryError("not_found", "no such actor");
    const rows = await this.store.all<KeyRow & { created: string }>(
      "SELECT k.*, r.created AS created FROM keys k JOIN records r ON r.leaf_index = k.added_leaf " +
        "WHERE k.actor = ? AND k.revoked_leaf IS NULL ORDER BY k.added_leaf",
      [actor],
    );
    return Promise.all(
      rows.map(async (k) => ({ ...(await this.keyRecord(k)), created: unixSeconds(k.created), ...(await this.recordProof(k.added_leaf)) })),
    );
  }

  /** One key of the actor, revoked or not (the latest added under this id). */
  async key(id: string, keyId: string): Promise<KeyInfo> {
    const actor = this.readActorId(id, "key_not_found");
    const row = await this.store.get<KeyRow & { created: string; revoked_at: string | null }>(
      "SELECT k.*, a.created AS created, v.created AS revoked_at FROM keys k JOIN records a ON a.leaf_index = k.added_leaf " +
        "LEFT JOIN records v ON v.leaf_index = k.revoked_leaf WHERE k.actor = ? AND k.key_id = ? ORDER BY k.added_leaf DESC LIMIT 1",
      [actor, keyId],
    );
    if (!row) throw new DirectoryError("key_not_found", "no such key for this actor");
    const { revoked: _active, ...record } = await this.keyRecord(row);
    return {
      "actor-id": actor,
      ...record,
      created: unixSeconds(row.created),
      ...(await this.recordProof(row.added_leaf)),
      ...(await this.revocation(row.revoked_leaf, row.revoked_at)),
    };
  }

  async auxiliary(id: string): Promise<AuxRecord[]> {
    const actor = this.readActorId(id);
    if (!(await this.actorRow(this.store, actor))) throw new DirectoryError("not_found", "no such actor");
    const rows = await this.store.all<AuxRow>(
      "SELECT x.*, r.created AS created FROM aux x JOIN records r ON r.leaf_index = x.added_leaf " +
        "WHERE x.actor = ? AND x.revoked_leaf IS NULL ORDER BY x.added_leaf",
      [actor],
    );
    return Promise.all(rows.map((r) => this.auxRecord(r)));
  }

  /** One auxiliary-data record of the actor, revoked or not (the latest added under this id). */
  async auxiliaryRecord(id: string, auxId: string): Promise<AuxInfo> {
    const actor = this.readActorId(id, "aux_data_not_found");
    const row = await this.store.get<AuxRow & { revoked_at: string | null }>(
      "SELECT x.*, a.created AS created, v.created AS revoked_at FROM aux x JOIN records a ON a.leaf_index = x.added_leaf " +
        "LEFT JOIN records v ON v.leaf_index = x.revoked_leaf WHERE x.actor = ? AND x.aux_id = ? ORDER BY x.added_leaf DESC LIMIT 1",
      [actor, auxId],
    );
    if (!row) throw new DirectoryError("aux_data_not_found", "no such auxiliary data for this actor");
    return {
      "actor-id": actor,
      ...(await this.auxRecord(row)),
      ...(await this.recordProof(row.added_leaf)),
      ...(await this.revocation(row.revoked_leaf, row.revoked_at)),
    };
  }

  private async auxRecord(r: AuxRow): Promise<AuxRecord> {
    return {
      "aux-id": r.aux_id,
      "aux-type": r.aux_type,
      "aux-data": r.aux_data,
      "leaf-index": r.added_leaf,
      "merkle-leaf": toB64url(await this.log.leafHashAt(r.added_leaf)),
      created: unixSeconds(r.created),
    };
  }

  private async keyRecord(k: KeyRow): Promise<KeyRecord> {
    const moves = JSON.parse(k.moves) as number[];
    return {
      "key-id": k.key_id,
      "public-key": encodePublicKey(new Uint8Array(k.public_key)),
      "leaf-index": k.added_leaf,
      "merkle-leaf": toB64url(await this.log.leafHashAt(k.added_leaf)),
      revoked: k.revoked_leaf !== null,
      "moved-by": await Promise.all(moves.map(async (leaf) => toB64url(await this.log.leafHashAt(leaf)))),
    };
  }

  /** The spec's proof fields of the record at `leaf`: O(log n) node reads. */
  private async recordProof(leaf: number): Promise<RecordProof> {
    const [root, proof] = await Promise.all([this.log.rootAt(leaf + 1), this.log.inclusionProof(leaf, leaf + 1)]);
    return { "merkle-root": encodeMerkleRoot(root), "inclusion-proof": proof.map(toB64url) };
  }

  private async revocation(leaf: number | null, created: string | null): Promise<{ revoked: string | null; "revoke-root": string | null }> {
    if (leaf === null || created === null) return { revoked: null, "revoke-root": null };
    return { revoked: unixSeconds(created), "revoke-root": encodeMerkleRoot(await this.log.rootAt(leaf + 1)) };
  }

  private recordRows(from: number, limit: number): Promise<RecordRow[]> {
    return this.store.all<RecordRow>("SELECT * FROM records WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?", [from, limit]);
  }

  /** Entries with leaf index in [from, from+limit). */
  async history(from: number, limit: number): Promise<HistoryEntry[]> {
    return (await this.recordRows(from, limit)).map(historyEntry);
  }

  /** Entries with leaf index in [from, from+limit), ours and in the spec's shape (one root read per record). */
  async historyPage(from: number, limit: number): Promise<{ entries: HistoryEntry[]; records: HistoryRecord[] }> {
    const rows = await this.recordRows(from, limit);
    const records = await Promise.all(
      rows.map(async (r) => ({
        created: unixSeconds(r.created),
        "encrypted-message": r.envelope,
        "merkle-root": encodeMerkleRoot(await this.log.rootAt(r.leaf_index + 1)),
      })),
    );
    return { entries: rows.map(historyEntry), records };
  }

  /** When the record at `leaf` was logged (Unix seconds), if there is one. */
  async createdAt(leaf: number): Promise<string | null> {
    const row = await this.store.get<{ created: string }>("SELECT created FROM records WHERE leaf_index = ?", [leaf]);
    return row ? unixSeconds(row.created) : null;
  }

  async leafIndexOf(merkleLeaf: string): Promise<number> {
    const hash = fromB64url(merkleLeaf);
    const row = hash ? await this.store.get<{ leaf_index: number }>("SELECT leaf_index FROM records WHERE leaf_hash = ?", [Buffer.from(hash)]) : undefined;
    if (!row) throw new DirectoryError("record_not_found", "no record has this Merkle leaf hash");
    return row.leaf_index;
  }

  /**
   * How many records there are up to and including the one `ref` names: a Merkle leaf hash
   * (base64url), or a `pkd-mr-v1:` root, naming the record whose appending produced it.
   */
  async recordsThrough(ref: string): Promise<number> {
    if (!ref.startsWith(MERKLE_ROOT_PREFIX)) return (await this.leafIndexOf(ref)) + 1;
    const root = decodeMerkleRoot(ref);
    const size = !root ? undefined : bytesEqual(root, EMPTY_TREE_HASH) ? 0 : await this.log.sizeOfRoot(root);
    if (size === undefined) throw new DirectoryError("record_not_found", "no tree of this directory had this Merkle root");
    return size;
  }

  /**
   * One record (named as in recordsThrough) with its inclusion proof in the tree of `treeSize`
   * (default: current), that tree's root and signed head.
   */
  async view(ref: string, treeSize?: number): Promise<HistoryView> {
    const index = (await this.recordsThrough(ref)) - 1;
    if (index < 0) throw new DirectoryError("record_not_found", "the empty tree has no record");
    const current = await this.log.size();
    const size = treeSize ?? current;
    if (!Number.isSafeInteger(size) || size <= index || size > current) {
      throw new DirectoryError("invalid_range", `tree size must be in ${index + 1}..${current}`);
    }
    const [row] = await this.recordRows(index, 1);
    const entry = historyEntry(row);
    const attrs = await this.store.all<{ name: string; key: Buffer; plaintext: Buffer }>(
      "SELECT * FROM record_attributes WHERE leaf_index = ?",
      [index],
    );
    const expected = MESSAGE_FIELDS[entry.action].encrypted.filter((n) => n in entry.envelope.message);
    const shredded = expected.length > 0 && attrs.length < expected.length;
    let message: Record<string, string> | null = null;
    let keys: Record<string, string> | null = null;
    if (!shredded) {
      message = { ...entry.envelope.message };
      keys = {};
      for (const a of attrs) {
        message[a.name] = a.plaintext.toString("utf8");
        keys[a.name] = toB64url(a.key);
      }
    }
    const head = await this.treeHead(size);
    const logEntry = new Uint8Array(row.entry);
    const split = logEntry.length === LOG_ENTRY_BYTES;
    return {
      ...entry,
      created: unixSeconds(row.created),
      "tree-size": size,
      "inclusion-proof": await this.inclusionProof(index, size),
      "merkle-root": head.root,
      "tree-head": head,
      message,
      "symmetric-keys": keys,
      "dir-signature": split ? toB64url(logEntry.subarray(32, 32 + MLDSA44_SIGNATURE_BYTES)) : null,
      "dir-publickeyhash": split ? toB64url(logEntry.subarray(32 + MLDSA44_SIGNATURE_BYTES)) : null,
      "encrypted-message": row.envelope,
      "rewrapped-keys": null,
    };
  }
}

interface RecordRow {
  leaf_index: number;
  leaf_hash: Buffer;
  action: Action;
  envelope: string;
  entry: Buffer;
  created: string;
}

interface AuxRow {
  aux_id: string;
  aux_type: string;
  aux_data: string;
  added_leaf: number;
  revoked_leaf: number | null;
  created: string;
}

function historyEntry(r: RecordRow): HistoryEntry {
  return {
    "leaf-index": r.leaf_index,
    "merkle-leaf": toB64url(r.leaf_hash),
    "log-entry": toB64url(r.entry),
    action: r.action,
    created: r.created,
    envelope: JSON.parse(r.envelope) as SignedMessage,
  };
}

/** Spec "Timestamps" (Unix seconds, decimal) from `records.created` (ISO 8601). */
function unixSeconds(iso: string): string {
  return String(Math.floor(Date.parse(iso) / 1000));
}

function leafHashOf(data: Uint8Array): Buffer {
  return Buffer.from(leafHash(data));
}

function isRecordOfStrings(x: unknown): x is Record<string, string> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && Object.values(x).every((v) => typeof v === "string");
}

/** Shape checks: every field a string of bounded size, exactly the action's fields, no extras. */
export function parseSubmitted(input: unknown): SubmittedMessage {
  const bad = (why: string): never => {
    throw new DirectoryError("invalid_request", why);
  };
  if (typeof input !== "object" || input === null) return bad("message must be a JSON object");
  const o = input as Record<string, unknown>;
  if (o["!pkd-context"] !== PKD_CONTEXT) bad(`!pkd-context must be ${PKD_CONTEXT}`);
  if (typeof o.action !== "string" || !(ACTIONS as readonly string[]).includes(o.action)) bad("unknown action");
  const action = o.action as Action;
  if (!isRecordOfStrings(o.message)) return bad("message must be an object of strings");
  if (typeof o["recent-merkle-root"] !== "string") bad("recent-merkle-root is required");
  if (typeof o.signature !== "string") bad("signature is required");
  const keys = o["symmetric-keys"] ?? {};
  if (!isRecordOfStrings(keys)) return bad("symmetric-keys must be an object of strings");
  // The spec's unsigned hint naming the signing key; ids are the directory's own 256-bit ones.
  if (o["key-id"] !== undefined && !isKeyId(o["key-id"])) bad("key-id must be a key id this directory issued (43 base64url characters)");
  const rules = MESSAGE_FIELDS[action];
  for (const f of rules.required) if (!(f in o.message)) bad(`message.${f} is required for ${action}`);
  for (const f of Object.keys(o.message)) {
    if (!rules.required.includes(f) && !rules.optional.includes(f)) bad(`message.${f} is not a field of ${action}`);
    if (o.message[f].length > MAX_FIELD_LENGTH) bad(`message.${f} is too long`);
  }
  if (o.message.time !== undefined && !TIME_PATTERN.test(o.message.time)) bad("time must be a Unix time in seconds");
  return {
    "!pkd-context": PKD_CONTEXT,
    action,
    message: { ...o.message },
    "recent-merkle-root": o["recent-merkle-root"] as string,
    signature: o.signature as string,
    "symmetric-keys": { ...keys },
    ...(o["key-id"] !== undefined ? { "key-id": o["key-id"] as string } : {}),
  };
}

function parseErasure(input: unknown): ErasureRequest {
  if (!isRecordOfStrings(input)) throw new DirectoryError("invalid_request", "erasure request must be an object of strings");
  const { actor, time, signature } = input;
  if (!actor || !signature || !time || !TIME_PATTERN.test(time)) {
    throw new DirectoryError("invalid_request", "erasure request needs actor, time (Unix seconds) and signature");
  }
  return { actor, time, signature };
}
