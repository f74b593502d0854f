// Directory client: trusts nothing the directory says until it is tied to the latest on-chain
// checkpoint. Every tree head must be signed by the ML-DSA-44 key whose SHA-256 is registered on
// chain and be consistent with the checkpoint (RFC 9162 consistency proof), and every key returned
// must be proven included (its log entry signed by that key, its leaf in the tree).
import { CheckpointContract, OnChainCheckpoint, readLatestCheckpoint } from "./checkpoint-contract";
import { decryptAttribute } from "./attribute-encryption";
import { decodeMerkleRoot, decodePublicKey, fromB64url } from "./encoding";
import type { AuxRecord, HistoryView, KeyRecord, SubmitResult } from "./directory";
import { ENCRYPTED_CONTEXT, ServerPublicKeyResponse, sealPadded } from "./hpke-wire";
import { parseErrorBody } from "./errors";
import { HttpSigner, contentDigest, signRequest } from "./http-signature";
import { checkLogEntry, directoryKeyHash } from "./log-entry";
import {
  DEFAULT_RESPONSE_MAX_AGE_SECONDS,
  RESPONSE_KEY_PREFIX,
  RequestBinding,
  ResponseKeyMismatch,
  ResponseSignatureError,
  checkResponseKeyCertificate,
  requestBinding,
  verifyResponse,
} from "./response-signature";
import { bytesEqual, leafHash, verifyConsistency, verifyInclusion } from "./merkle";
import {
  ErasureRequest,
  PLAINTEXT_CONTEXT,
  SubmittedMessage,
  buildAddKey,
  buildErasureRequest,
  buildRevokeKey,
  leafData,
  publicKeyOf,
} from "./protocol";
import { SignedTreeHead, verifyTreeHead } from "./tree-head";
import { HPKE_CIPHERSUITE } from "./v08/hpke";

/** The directory answered with an error (`code` is its machine-readable error code). */
export class DirectoryRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "DirectoryRequestError";
  }
}

export type VerificationFailure =
  | "bad_tree_head_signature"
  | "directory_behind_checkpoint"
  | "inconsistent_with_checkpoint"
  | "bad_inclusion_proof"
  | "record_mismatch"
  | "record_shredded"
  | "bad_response_key"
  | "bad_response_signature"
  | "stale_listing";

/** What the directory served cannot be reconciled with the chain or with itself. */
export class DirectoryVerificationError extends Error {
  constructor(
    readonly code: VerificationFailure,
    message: string,
  ) {
    super(message);
    this.name = "DirectoryVerificationError";
  }

  /** True when the failure shows the directory presenting a history other than the checkpointed one. */
  get splitView(): boolean {
    return this.code === "directory_behind_checkpoint" || this.code === "inconsistent_with_checkpoint";
  }
}

export interface VerifiedTreeHead {
  head: SignedTreeHead;
  /** The directory's ML-DSA-44 public key, checked against the on-chain SHA-256 of it. */
  directoryKey: Uint8Array;
  treeSize: number;
  root: Uint8Array;
  checkpoint: OnChainCheckpoint;
}

export interface VerifiedKey {
  keyId: string;
  publicKey: Uint8Array;
  leafIndex: number;
}

export interface LookupResult {
  actor: string;
  keys: VerifiedKey[];
  treeHead: VerifiedTreeHead;
}

/**
 * The actor's instance vouching for a submission: the actor ID and the key its instance publishes
 * in the actor document (RFC 9421 signer). In the Fediverse the instance holds this key and
 * forwards its users' messages; a self-hosted actor (or a test) holds it directly.
 */
export interface InstanceIdentity {
  actor: string;
  /** One signer, or an Ed25519 and an ML-DSA-44 one (both signatures sent, during migration). */
  signer: HttpSigner | readonly HttpSigner[];
}

export interface DirectoryClientOptions {
  /** Base URL of the directory, e.g. http://127.0.0.1:8080 */
  url: string;
  /** The DirectoryCheckpoint contract the directory checkpoints to (ethers v6). */
  contract: CheckpointContract;
  /**
   * HPKE-encrypt protocol messages to the directory (spec: client-side messages MUST be; default
   * true). BurnDown is always sent in the clear, as the spec requires.
   */
  encrypt?: boolean;
  /**
   * Check the directory's signature on every response (spec "JSON REST API"; default true). The
   * response key comes from `api/info`, certified by the directory key whose hash is on chain.
   */
  verifyResponses?: boolean;
  /** Answers signed longer ago (or later) than this are refused; default 300 s. */
  responseMaxAgeSeconds?: number;
}

/** Spec: cache the directory's encapsulation key for no more than 24 hours. */
const HPKE_KEY_TTL_MS = 24 * 3600 * 1000;

const utf8 = new TextDecoder();

export class DirectoryClient {
  private readonly base: string;
  private directoryKeyHash?: Uint8Array;
  private hpkeKey?: { key: Uint8Array; fetched: number };
  private responseKey?: Promise<Uint8Array>;

  constructor(private readonly options: DirectoryClientOptions) {
    this.base = options.url.replace(/\/+$/, "");
  }

  private async request<T>(method: "GET" | "POST", path: string, body?: unknown, instance?: InstanceIdentity): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = text === undefined ? {} : { "content-type": "application/json" };
    if (text !== undefined) {
      const bytes = Buffer.from(text, "utf8");
      // Every body is declared by its digest, so the signed answer is bound to it (signed requests cover it too).
      headers["content-digest"] = contentDigest(bytes);
      if (instance) Object.assign(headers, signRequest({ method, targetUri: this.base + path, body: bytes }, instance.signer));
    }
    const target = new URL(this.base + path);
    let res: Response;
    let bytes: Uint8Array;
    for (let attempt = 0; ; attempt++) {
      res = await fetch(target, { method, headers, body: text });
      bytes = new Uint8Array(await res.arrayBuffer());
      if (this.options.verifyResponses !== false) {
        await this.checkResponse(res, bytes, requestBinding(method, target.pathname + target.search, headers["content-digest"]));
      }
      // A read refused for load (429 read budget, 503 busy) names when to come back: twice, if soon.
      // Writes are not repeated: a one-time code (BurnDown's otp) may already have been spent.
      const retryAfter = Number(res.headers.get("retry-after"));
      if (method !== "GET" || (res.status !== 429 && res.status !== 503) || attempt >= 2 || !(retryAfter >= 0 && retryAfter <= 5)) break;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, retryAfter) * 1000));
    }
    let json: unknown = {};
    try {
      json = JSON.parse(utf8.decode(bytes)) as unknown;
    } catch {
      // an error body that is not JSON: reported by status below
    }
    if (!res.ok) {
      const error = parseErrorBody(json);
      throw new DirectoryRequestError(res.status, error.code ?? "http_error", error.message ?? res.statusText);
    }
    return json as T;
  }

  /**
   * Checks an answer's signature: by the certified response key, for this request, fresh. An answer
   * under another key makes the client read `api/info` again once (the directory may have rotated
   * its response key) before it refuses the answer.
   */
  private async checkResponse(res: Response, bytes: Uint8Array, request: RequestBinding, retried = false): Promise<void> {
    const key = await this.certifiedResponseKey();
    try {
      verifyResponse(res.status, res.headers, bytes, key, request, { maxAgeSeconds: this.options.responseMaxAgeSeconds ?? DEFAULT_RESPONSE_MAX_AGE_SECONDS });
    } catch (err) {
      if (err instanceof ResponseKeyMismatch && !retried) {
        this.responseKey = undefined;
        return this.checkResponse(res, bytes, request, true);
      }
      if (err instanceof ResponseSignatureError) throw new DirectoryVerificationError("bad_response_signature", err.message);
      throw err;
    }
  }

  /**
   * The directory's response-signing key from `api/info`, accepted only with an unexpired
   * certificate of the ML-DSA-44 directory key whose hash is on chain; read once per client (and
   * again when an answer names another key).
   */
  private certifiedResponseKey(): Promise<Uint8Array> {
    this.responseKey ??= (async () => {
      const target = new URL(this.base + "/api/info");
      const [keyHash, res] = await Promise.all([this.onChainDirectoryKeyHash(), fetch(target)]);
      const bytes = new Uint8Array(await res.arrayBuffer());
      let info: { "public-key"?: unknown; "directory-public-key"?: unknown; "public-key-certificate"?: unknown; "public-key-valid-until"?: unknown } = {};
      try {
        info = JSON.parse(utf8.decode(bytes)) as typeof info;
      } catch {
        // refused below
      }
      const text = typeof info["public-key"] === "string" ? info["public-key"] : "";
      const responseKey = text.startsWith(RESPONSE_KEY_PREFIX) ? fromB64url(text.slice(RESPONSE_KEY_PREFIX.length)) : undefined;
      const directoryKey = typeof info["directory-public-key"] === "string" ? decodePublicKey(info["directory-public-key"]) : undefined;
      const signature = typeof info["public-key-certificate"] === "string" ? fromB64url(info["public-key-certificate"]) : undefined;
      const validUntil = typeof info["public-key-valid-until"] === "string" && /^[0-9]{1,12}$/.test(info["public-key-valid-until"]) ? Number(info["public-key-valid-until"]) : NaN;
      if (
        !res.ok ||
        !responseKey ||
        responseKey.length !== 32 ||
        !directoryKey ||
        !signature ||
        !bytesEqual(directoryKeyHash(directoryKey), keyHash) ||
        !checkResponseKeyCertificate(responseKey, { validUntil, signature }, directoryKey)
      ) {
        throw new DirectoryVerificationError("bad_response_key", "the directory's response key is not certified (or no longer) by the on-chain directory key");
      }
      try {
        verifyResponse(res.status, res.headers, bytes, responseKey, requestBinding("GET", target.pathname + target.search), {
          maxAgeSeconds: this.options.responseMaxAgeSeconds ?? DEFAULT_RESPONSE_MAX_AGE_SECONDS,
        });
      } catch (err) {
        if (err instanceof ResponseSignatureError) throw new DirectoryVerificationError("bad_response_signature", err.message);
        throw err;
      }
      return responseKey;
    })();
    // A failed attempt is not cached: the next request tries again.
    this.responseKey.catch(() => (this.responseKey = undefined));
    return this.responseKey;
  }

  /** `directoryKey()` on chain: SHA-256 of the directory's ML-DSA-44 public key. */
  private async onChainDirectoryKeyHash(): Promise<Uint8Array> {
    if (!this.directoryKeyHash) {
      const hex = await this.options.contract.directoryKey();
      this.directoryKeyHash = new Uint8Array(Buffer.from(hex.slice(2), "hex"));
    }
    return this.directoryKeyHash;
  }

  /**
   * The directory's current signed tree head, verified against the on-chain key and proven
   * consistent with the latest on-chain checkpoint. A directory that forked its log, rolled it
   * back, or serves different trees to different clients fails here.
   */
  async verifiedTreeHead(): Promise<VerifiedTreeHead> {
    const [keyHash, head, checkpoint] = await Promise.all([
      this.onChainDirectoryKeyHash(),
      this.request<SignedTreeHead>("GET", "/api/tree-head"),
      readLatestCheckpoint(this.options.contract),
    ]);
    // The head names its key; only the one whose hash is on chain is the directory's.
    const key = decodePublicKey(head["public-key"]);
    if (!key || !bytesEqual(directoryKeyHash(key), keyHash) || !verifyTreeHead(head, key)) {
      throw new DirectoryVerificationError("bad_tree_head_signature", "tree head is not signed by the on-chain directory key");
    }
    const root = decodeMerkleRoot(head.root) as Uint8Array;
    const size = head["tree-size"];
    if (size < checkpoint.treeSize) {
      throw new DirectoryVerificationError(
        "directory_behind_checkpoint",
        `directory serves ${size} entries but ${checkpoint.treeSize} are checkpointed`,
      );
    }
    if (checkpoint.treeSize > 0) {
      const { proof } =
        size === checkpoint.treeSize
          ? { proof: [] as string[] }
          : await this.request<{ proof: string[] }>("GET", `/api/proof/consistency/${checkpoint.treeSize}/${size}`);
      const decoded = proof.map((p) => fromB64url(p) ?? new Uint8Array(0));
      if (!verifyConsistency(checkpoint.treeSize, size, checkpoint.root, root, decoded)) {
        throw new DirectoryVerificationError(
          "inconsistent_with_checkpoint",
          `served tree (${size}) is not an extension of the on-chain checkpoint (${checkpoint.treeSize})`,
        );
      }
    }
    return { head, directoryKey: key, treeSize: size, root, checkpoint };
  }

  /**
   * A record proven included in `tree` (its log entry is SHA-256 of the envelope signed by the
   * directory key, the entry hashes to `merkleLeaf`, and the inclusion proof verifies against the
   * tree's root), with its attributes decrypted by the served keys.
   */
  async provenRecord(merkleLeaf: string, tree: VerifiedTreeHead): Promise<{ view: HistoryView; attrs: Record<string, string> }> {
    const view = await this.request<HistoryView>(
      "GET",
      `/api/history/view/${encodeURIComponent(merkleLeaf)}?tree-size=${tree.treeSize}`,
    );
    const entry = fromB64url(view["log-entry"] ?? "");
    const bad = entry ? checkLogEntry(entry, tree.directoryKey, leafData(view.envelope)) : "no log entry";
    if (bad || !entry) throw new DirectoryVerificationError("record_mismatch", `served record's log entry: ${bad}`);
    const hash = leafHash(entry);
    const claimed = fromB64url(merkleLeaf);
    if (!claimed || !bytesEqual(hash, claimed)) {
      throw new DirectoryVerificationError("record_mismatch", "served record does not hash to its Merkle leaf");
    }
    const proof = view["inclusion-proof"].map((p) => fromB64url(p) ?? new Uint8Array(0));
    if (!verifyInclusion(hash, view["leaf-index"], tree.treeSize, proof, tree.root)) {
      throw new DirectoryVerificationError("bad_inclusion_proof", "record is not proven included in the checkpointed tree");
    }
    const keys = view["symmetric-keys"];
    if (!keys) throw new DirectoryVerificationError("record_shredded", "the record's attribute keys were erased");
    const attrs: Record<string, string> = { ...view.envelope.message };
    for (const [name, keyText] of Object.entries(keys)) {
      const key = fromB64url(keyText);
      const ct = fromB64url(view.envelope.message[name] ?? "");
      if (!key || !ct) throw new DirectoryVerificationError("record_mismatch", `attribute ${name} is malformed`);
      const pt = await decryptAttribute(name, ct, key, view.envelope["recent-merkle-root"]).catch(() => {
        throw new DirectoryVerificationError("record_mismatch", `attribute ${name} does not decrypt with the served key`);
      });
      attrs[name] = utf8.decode(pt);
    }
    return { view, attrs };
  }

  /**
   * The actor's active public keys, each proven: its AddKey record is included in a tree that
   * extends the latest on-chain checkpoint, and decrypts to this actor (following MoveIdentity
   * records) and this key. Non-revocation is the directory's claim; auditors check it from history.
   */
  async lookup(actor: string): Promise<LookupResult> {
    const tree = await this.verifiedTreeHead();
    const listing = await this.request<{ "public-keys": KeyRecord[]; "tree-head"?: SignedTreeHead }>("GET", `/api/actor/${encodeURIComponent(actor)}/keys`);
    // The listing is as of the head it names: signed by the directory and no older than the head
    // just verified, so a listing from before a revocation cannot be passed off as current.
    const listedAt = listing["tree-head"];
    if (!listedAt || !verifyTreeHead(listedAt, tree.directoryKey) || listedAt["tree-size"] < tree.treeSize) {
      throw new DirectoryVerificationError("stale_listing", "the key listing is not as of the current tree head");
    }
    const keys: VerifiedKey[] = [];
    for (const k of listing["public-keys"]) {
      const publicKey = decodePublicKey(k["public-key"]);
      if (!publicKey) throw new DirectoryVerificationError("record_mismatch", "served public key is malformed");
      const { view, attrs } = await this.provenRecord(k["merkle-leaf"], tree);
      // The envelope's action, which the log entry covers; the answer's own `action` is unauthenticated.
      if (view.envelope.action !== "AddKey" || attrs["public-key"] !== k["public-key"]) {
        throw new DirectoryVerificationError("record_mismatch", "the proven record does not add this key");
      }
      let holder = attrs.actor;
      for (const moveLeaf of k["moved-by"]) {
        const move = await this.provenRecord(moveLeaf, tree);
        if (move.view.envelope.action !== "MoveIdentity" || move.attrs["old-actor"] !== holder || move.view["leaf-index"] <= view["leaf-index"]) {
          throw new DirectoryVerificationError("record_mismatch", "served MoveIdentity chain does not connect");
        }
        holder = move.attrs["new-actor"];
      }
      if (holder !== actor) throw new DirectoryVerificationError("record_mismatch", "the proven record is for another actor");
      keys.push({ keyId: k["key-id"], publicKey, leafIndex: view["leaf-index"] });
    }
    return { actor, keys, treeHead: tree };
  }

  /** The actor's auxiliary-data records as the directory lists them (unproven: see provenRecord). */
  async auxiliary(actor: string): Promise<AuxRecord[]> {
    return (await this.request<{ auxiliary: AuxRecord[] }>("GET", `/api/actor/${encodeURIComponent(actor)}/auxiliary`)).auxiliary;
  }

  /**
   * Sends a protocol message. With `instance`, it travels in the spec's plaintext wire format,
   * signed (RFC 9421) by the instance key of `instance.actor`; without, as a bare message (only
   * RevokeKeyThirdParty and Checkpoint are accepted that way). BurnDown goes to api/burndown.
   */
  async submit(message: SubmittedMessage, instance?: InstanceIdentity): Promise<SubmitResult> {
    const path = message.action === "BurnDown" ? "/api/burndown" : "/api/message";
    if (!instance) return this.request<SubmitResult>("POST", path, message);
    if (this.options.encrypt !== false && message.action !== "BurnDown") {
      const envelope = {
        "!pkd-context": ENCRYPTED_CONTEXT,
        actor: instance.actor,
        "encrypted-message": await sealPadded(message, await this.encapsulationKey()),
      };
      return this.request<SubmitResult>("POST", path, envelope, instance);
    }
    const envelope = { "!pkd-context": PLAINTEXT_CONTEXT, actor: instance.actor, message: JSON.stringify(message) };
    return this.request<SubmitResult>("POST", path, envelope, instance);
  }

  /** The directory's HPKE encapsulation key (api/server-public-key), cached for at most 24 hours. */
  private async encapsulationKey(): Promise<Uint8Array> {
    if (this.hpkeKey && Date.now() - this.hpkeKey.fetched < HPKE_KEY_TTL_MS) return this.hpkeKey.key;
    const res = await this.request<Partial<ServerPublicKeyResponse>>("GET", "/api/server-public-key");
    const key = res["hpke-ciphersuite"] === HPKE_CIPHERSUITE ? fromB64url(res["hpke-public-key"] ?? "") : undefined;
    if (!key || key.length !== 1216) {
      throw new DirectoryRequestError(502, "unsupported_hpke", `the directory offers no ${HPKE_CIPHERSUITE} key`);
    }
    this.hpkeKey = { key, fetched: Date.now() };
    return key;
  }

  /**
   * AddKey: `signer` (a 32-byte ML-DSA-44 seed) is the new key's own for an actor's first key, else
   * an existing key's, named by `signerKeyId` if known. The result's `key-id` is the id the
   * directory issued for the new key.
   */
  async publish(actor: string, publicKey: Uint8Array, signer: Uint8Array, instance: InstanceIdentity, signerKeyId?: string): Promise<SubmitResult> {
    const tree = await this.verifiedTreeHead();
    return this.submit(await buildAddKey(actor, publicKey, tree.head.root, signer, signerKeyId), instance);
  }

  /** Convenience: register `seed`'s own public key as the actor's first key. */
  async publishFirstKey(actor: string, seed: Uint8Array, instance: InstanceIdentity): Promise<SubmitResult> {
    return this.publish(actor, publicKeyOf(seed), seed, instance);
  }

  /** RevokeKey, signed by another of the actor's keys (`signerKeyId`: its directory key id, if known). */
  async revoke(actor: string, publicKey: Uint8Array, signer: Uint8Array, instance: InstanceIdentity, signerKeyId?: string): Promise<SubmitResult> {
    const tree = await this.verifiedTreeHead();
    return this.submit(await buildRevokeKey(actor, publicKey, tree.head.root, signer, signerKeyId), instance);
  }

  /** RevokeKeyThirdParty with a token made by `buildRevocationToken`. */
  async revokeWithToken(token: string): Promise<SubmitResult> {
    return this.request<SubmitResult>("POST", "/api/revoke", { "revocation-token": token });
  }

  /** Crypto-shreds all of the actor's records; `signer` is one of the actor's active keys. */
  async erase(actor: string, signer: Uint8Array): Promise<{ actor: string; "records-shredded": number }> {
    const tree = await this.verifiedTreeHead();
    const request: ErasureRequest = buildErasureRequest(tree.head.directory, actor, signer);
    return this.request("POST", "/api/erase", request);
  }
}

