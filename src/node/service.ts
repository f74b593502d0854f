import type { Logger } from "pino";
import { getBytes, keccak256 } from "ethers";
import { KeyFrag, PublicKey } from "../umbral";
import { bytesEqual, parseHex, toHex } from "./bytes";
import type { NodeChain, ReceiptDomain } from "./chain-types";
import { DEFAULT_CHAIN_TIMEOUT_MS, TimedChain } from "./chain-timeout";
import { evaluateCondition, parseCondition, type Condition } from "./conditions";
import { NodeError, badRequest, forbidden, gone, notFound, unprocessable } from "./errors";
import type { NodeKeys } from "./keys";
import { FreshCoalescer } from "./live-check";
import { NonceLedger } from "./nonce-ledger";
import {
  POLICY_ID_BYTES,
  PROTOCOL_VERSION,
  kfragPackageDigest,
  reencryptDigest,
  revocationDigest,
  type KFragAccepted,
  type KFragUpload,
  type ReaderSpec,
  type ReencryptRequest,
  type ReencryptResponse,
  type RevokeRequest,
} from "./protocol";
import { recoverEthSigner, verifyUmbralSignature } from "./signatures";
import { kfragAcceptable } from "../protocol/acceptance";
import { kfragReceiptDigest } from "../protocol/kfrag-receipt";
import { contactDigest } from "../protocol/health-contact";
import type { KfragReceipt } from "../protocol/kfrag-receipt-verify";
import { KFragTransportError, openKFrag } from "../protocol/kfrag-transport";
import type { HealthResult, NodeStore, PolicyMeta } from "./store";
import type { ReencryptPool } from "./worker-pool";

export const NODE_VERSION = "0.1.0";

/**
 * A kfrag is destroyed only when a second chain read, at least this many blocks after the first
 * "not active" read (or revocation event), still says so: one read from a flaky or lying RPC
 * endpoint (or a block later reorganised away) must not destroy what the owner paid for.
 */
export const REVOCATION_CONFIRM_BLOCKS = 2;

/** Policies whose arrangement status is kept for the current block. */
const ARRANGEMENT_CACHE_SIZE = 4096;

export interface ServiceOptions {
  /** Accepted distance between a request's timestamp and the node's clock, seconds. */
  maxClockSkewSeconds: number;
  maxBatch: number;
  /** Bound on each chain read; past it the request gets 503 CHAIN_UNAVAILABLE (default 5 s). */
  chainTimeoutMs?: number;
  now?: () => number;
  /**
   * Proof of contact for health-check probes (issue #16): the HealthCheck this node answers for
   * and its current round by the chain's clock. Without it, `healthContact` requests are served
   * without a proof.
   */
  healthContact?: { healthCheck: string; currentRound: () => Promise<bigint> };
}

export interface NodeStatus {
  version: string;
  protocol: string;
  operator: string;
  staker: string;
  endpoint: string;
  encryptingKey: string;
  verifyingKey: string;
  stake: string;
  uptimeSeconds: number;
  policies: { active: number; revoked: number; expired: number };
  reencryptions: number;
  workers: number;
  queueDepth: number;
  healthChecks: HealthResult[];
}

/** Everything the HTTP layer delegates to: kfrag intake, re-encryption, revocation, status. */
export class NodeService {
  private readonly startedAt = Date.now();
  private readonly nonces: NonceLedger;
  private readonly head: FreshCoalescer<number>;
  /** Arrangement status by policy, for one block (a promise, so concurrent look-ups share one call). */
  private readonly activeAt = new Map<string, { block: number; active: Promise<boolean> }>();
  /** Policies a chain read found not active (not yet confirmed): not served, kfrag kept. Key: policy id hex. */
  private readonly suspended = new Map<string, { policyId: Uint8Array; block: number }>();
  private confirming?: Promise<number>;
  /** The escrow period at the last head block seen (stamps are dated with it). */
  private periodAt?: { block: number; period: Promise<number> };
  private readonly now: () => number;
  /** The chain binding with every read bounded in time. */
  private readonly chain: NodeChain;
  stake = "0";

  constructor(
    readonly keys: NodeKeys,
    /** The staker address this node acts for (its identity in policies). */
    readonly staker: string,
    public endpoint: string,
    private readonly store: NodeStore,
    private readonly pool: ReencryptPool,
    chain: NodeChain,
    private readonly log: Logger,
    private readonly options: ServiceOptions,
  ) {
    this.chain = new TimedChain(chain, options.chainTimeoutMs ?? DEFAULT_CHAIN_TIMEOUT_MS);
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.head = new FreshCoalescer(() => this.chain.latestBlockNumber());
    this.nonces = new NonceLedger(store);
  }

  // ---- kfrag intake ----------------------------------------------------------------------

  async acceptKFrag(policyIdHex: string, body: KFragUpload): Promise<KFragAccepted> {
    // No downgrade: a kfrag in clear has already been exposed to the path; storing it would let
    // its observers "prove a leak" against this node (issue #14).
    if (Object.prototype.hasOwnProperty.call(body, "kfrag")) throw cleartextRefused();
    const policyId = parseHex(policyIdHex, "policyId", POLICY_ID_BYTES);
    const kfragHash = parseHex(body.kfragHash, "kfragHash", 32);
    const sealed = {
      capsule: parseHex(body.encryptedKfrag.capsule, "encryptedKfrag.capsule"),
      ciphertext: parseHex(body.encryptedKfrag.ciphertext, "encryptedKfrag.ciphertext"),
    };
    const publisher = parseHex(body.publisherVerifyingKey, "publisherVerifyingKey", 33);
    const delegating = parseHex(body.delegatingKey, "delegatingKey", 33);
    const receiving = parseHex(body.receivingKey, "receivingKey", 33);
    const proof = body.proof.map((p, i) => parseHex(p, `proof[${i}]`, 32));
    const conditions = body.conditions === null ? null : parseCondition(body.conditions);
    const reader = parseReader(body.reader);
    const ownerSig = parseHex(body.ownerSignature, "ownerSignature", 65);

    const held = this.store.get(policyId);
    if (held?.state === "revoked") throw gone("POLICY_REVOKED", "policy was revoked");
    if (held?.state === "expired") throw gone("POLICY_EXPIRED", "policy has expired");
    // The receipt's date and domain are read alongside the policy checks below, so the receipt
    // costs no extra chain round trip (a period that turns meanwhile dates it one period early,
    // which still counts).
    const receiptDate = this.receiptDate();
    receiptDate.catch(() => undefined);

    // The signature covers the sealed bytes and the kfrag's hash, so a body altered on the way,
    // or sealed for another node, fails here, before the node's secret key touches it.
    const signer = recoverEthSigner(kfragPackageDigest(policyId, this.staker, body), ownerSig);
    if (!signer) throw forbidden("BAD_OWNER_SIGNATURE", "ownerSignature is malformed");
    [publisher, delegating, receiving].forEach((k, i) => {
      try {
        PublicKey.fromCompressedBytes(k);
      } catch {
        throw badRequest("BAD_KEY", `${["publisherVerifyingKey", "delegatingKey", "receivingKey"][i]} is not a curve point`);
      }
    });

    const policy = await this.chain.getPolicy(policyId);
    if (!policy) throw notFound("UNKNOWN_POLICY", "no paid policy with this id on-chain");
    if (signer !== policy.owner.toLowerCase()) throw forbidden("BAD_OWNER_SIGNATURE", "kfrag package is not signed by the policy owner");
    if (policy.revoked) {
      this.applyRevocation(policyId);
      throw gone("POLICY_REVOKED", "policy was revoked");
    }
    if (policy.endTime <= this.now()) throw gone("POLICY_EXPIRED", "policy has expired");
    if (!(await this.chain.isActiveArrangement(policyId, this.staker))) {
      throw forbidden("NOT_IN_POLICY", "the on-chain policy does not name this node (or its arrangement ended)");
    }
    if (!(await this.chain.verifyKFragCommitment(policyId, this.staker, kfragHash, proof))) {
      throw forbidden("KFRAG_COMMITMENT_MISMATCH", "kfragHash does not match the on-chain kfrag commitment");
    }

    let kfragBytes: Uint8Array;
    try {
      kfragBytes = openKFrag(this.keys.encryptingSecret, sealed);
    } catch (e) {
      throw unprocessable("KFRAG_UNDECRYPTABLE", e instanceof KFragTransportError ? e.message : "the sealed kfrag does not open");
    }
    if (!bytesEqual(getBytes(keccak256(kfragBytes)), kfragHash)) {
      throw unprocessable("KFRAG_HASH_MISMATCH", "the sealed kfrag's keccak256 is not the signed kfragHash");
    }
    try {
      KeyFrag.fromBytes(kfragBytes);
    } catch (e) {
      throw badRequest("BAD_KFRAG", `kfrag does not parse: ${(e as Error).message}`);
    }
    // The one acceptance rule (src/protocol/acceptance.ts): Umbral's checks plus kfrag
    // signatures that ecrecover verifies (x of the nonce point = r exactly, low-S), so the
    // Adjudicator judges every honest cfrag of this kfrag correct. What it cannot verify is
    // refused here instead.
    const accepted = kfragAcceptable(kfragBytes, { verifyingKey: publisher, delegatingKey: delegating, receivingKey: receiving });
    if (!accepted.ok) throw badRequest("KFRAG_VERIFICATION_FAILED", `kfrag is not acceptable with the given keys: ${accepted.reason}`);

    const meta: PolicyMeta = {
      publisherVerifyingKey: body.publisherVerifyingKey.toLowerCase(),
      delegatingKey: body.delegatingKey.toLowerCase(),
      receivingKey: body.receivingKey.toLowerCase(),
      conditions,
      reader,
      ownerSignature: body.ownerSignature,
    };
    const outcome = this.store.putKFrag({
      policyId,
      owner: policy.owner,
      endTime: policy.endTime,
      kfrag: kfragBytes,
      meta,
      receivedAt: this.now(),
    });
    // Signed only once the kfrag is durably held (and again, identically bound, on an idempotent
    // re-upload): the receipt is what lets a leak challenge name this node (issue #14).
    const receipt = this.signReceipt(await receiptDate, policy.owner, policyId, kfragHash);
    this.log.info({ policyId: policyIdHex, outcome, receiptPeriod: receipt.period }, "kfrag accepted");
    return { stored: outcome === "stored", receipt };
  }

  /** The deployment and the escrow's period at the latest block: what a receipt is bound to and dated with. */
  private async receiptDate(): Promise<ReceiptDomain & { period: number }> {
    const [domain, block] = await Promise.all([this.chain.receiptDomain(), this.head.get("latest")]);
    return { ...domain, period: await this.stampPeriodAt(block) };
  }

  /** The node's receipt (src/protocol/kfrag-receipt.ts) for the kfrag with keccak256 `kfragHash`, signed by the stamp key. */
  private signReceipt(date: ReceiptDomain & { period: number }, policyCreator: string, policyId: Uint8Array, kfragHash: Uint8Array): KfragReceipt {
    const digest = kfragReceiptDigest({ ...date, staker: this.staker, policyCreator, policyId, kfragHash });
    return { period: date.period, signature: toHex(this.keys.stamp.signDigest(digest).toBEBytes()) };
  }

  // ---- re-encryption ---------------------------------------------------------------------

  async reencrypt(policyIdHex: string, body: ReencryptRequest): Promise<ReencryptResponse> {
    const policyId = parseHex(policyIdHex, "policyId", POLICY_ID_BYTES);
    if (body.capsules.length === 0 || body.capsules.length > this.options.maxBatch) {
      throw badRequest("BAD_BATCH", `send 1 to ${this.options.maxBatch} capsules`);
    }
    const capsules = body.capsules.map((c, i) => parseHex(c, `capsules[${i}]`));
    const nonce = parseHex(body.nonce, "nonce", 16);
    const now = this.now();
    if (Math.abs(now - body.timestamp) > this.options.maxClockSkewSeconds) {
      throw new NodeError(401, "STALE_REQUEST", `timestamp is more than ${this.options.maxClockSkewSeconds}s from the node's clock`);
    }

    const policy = this.store.get(policyId);
    if (!policy) throw notFound("UNKNOWN_POLICY", "this node holds no kfrag for the policy");
    if (policy.state === "revoked") throw gone("POLICY_REVOKED", "policy was revoked");
    if (policy.state === "expired" || policy.endTime <= now) {
      this.store.purgeExpired(now);
      throw gone("POLICY_EXPIRED", "policy has expired");
    }
    const policyKey = toHex(policyId);
    if (this.suspended.has(policyKey)) {
      void this.confirmSuspended().catch(() => undefined);
      throw gone("POLICY_REVOKED", "the arrangement is not active on-chain (revocation being confirmed)");
    }
    const meta = policy.meta!;
    const kfrag = policy.kfrag!;

    const digest = reencryptDigest(this.staker, policyId, body.timestamp, nonce, capsules);
    const requester = this.authenticate(body, digest, meta.reader);
    const replayKey = requester + ":" + body.nonce.toLowerCase();
    if (!this.nonces.claim(replayKey, body.timestamp + this.options.maxClockSkewSeconds, now)) {
      throw new NodeError(409, "REPLAYED_REQUEST", "this nonce was already used");
    }
    // Committed alongside the work below; the answer waits for it (a replay after a restart is refused).
    const nonceDurable = this.nonces.durable();
    nonceDurable.catch(() => undefined);

    // The stamps are dated with the escrow's period at the head block read after the request
    // arrived (the same read the arrangement check uses), so a stamp is never dated before a
    // key rotation or retirement the node could have seen. Chain checks run alongside the
    // re-encryption; cfrags leave only if every check passed.
    const block = await this.head.get("latest");
    const stampPeriod = await this.stampPeriodAt(block);
    const stampKeys = {
      staker: this.staker,
      stampPeriod,
      policyCreator: policy.owner,
      delegatingKey: parseHex(meta.delegatingKey, "delegatingKey", 33),
      receivingKey: parseHex(meta.receivingKey, "receivingKey", 33),
      verifyingKey: parseHex(meta.publisherVerifyingKey, "publisherVerifyingKey", 33),
    };
    const work = this.pool.run({ policyId, kfrag, stampKeys, capsules });
    work.catch(() => undefined);
    await this.checkLive(policyId, policyIdHex, meta.conditions as Condition | null, body.requester.scheme === "eth" ? requester : undefined, block);
    const { cfrags, signatures, proofs } = await work;
    await nonceDurable;
    // Revoked (by signature, on-chain poll or another request's live check) while this request
    // was in a worker: the answer must not leave.
    const state = this.store.state(policyId);
    if (this.suspended.has(policyKey)) throw gone("POLICY_REVOKED", "the arrangement is not active on-chain");
    if (state !== "active") throw state === "expired" ? gone("POLICY_EXPIRED", "policy has expired") : gone("POLICY_REVOKED", "policy was revoked");
    // Only now, with the cfrags computed and every check passed: the proof of contact goes out
    // with served work only, never on its own (issue #16, blind voting).
    const healthContact = body.healthContact ? await this.signContact(body.healthContact) : undefined;
    return {
      node: this.staker,
      policyId: policyIdHex.toLowerCase(),
      stampPeriod,
      cfrags: cfrags.map((c, i) => ({ cfrag: toHex(c), signature: toHex(signatures[i]), stampProof: proofs[i].map(toHex) })),
      ...(healthContact ? { healthContact } : {}),
    };
  }

  /**
   * The stamp key's signature over HealthCheck.contactDigest(round, checker, this node), for the
   * HealthCheck's current round only: a proof for a later round would let a checker probe once
   * and vote blind afterwards. Undefined without a HealthCheck, for another round, or when the
   * chain cannot be read (the cfrags are served all the same).
   */
  private async signContact(req: { round: number; checker: string }): Promise<{ round: number; checker: string; signature: string } | undefined> {
    const hc = this.options.healthContact;
    if (!hc || !/^0x[0-9a-fA-F]{40}$/.test(req.checker)) return undefined;
    try {
      const [current, domain] = await Promise.all([hc.currentRound(), this.chain.receiptDomain()]);
      if (BigInt(req.round) !== current) return undefined;
      const digest = contactDigest({ chainId: domain.chainId, healthCheck: hc.healthCheck, round: current, checker: req.checker, target: this.staker });
      const signature = toHex(this.keys.stamp.signDigest(getBytes(digest)).toBEBytes());
      this.log.info({ round: req.round, checker: req.checker }, "health probe served; proof of contact signed");
      return { round: req.round, checker: req.checker, signature };
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "proof of contact not signed");
      return undefined;
    }
  }

  private authenticate(body: ReencryptRequest, digest: Uint8Array, reader: ReaderSpec | null): string {
    const signature = parseHex(body.signature, "signature");
    const r = body.requester;
    if (r.scheme === "umbral") {
      const vk = parseHex(r.verifyingKey, "requester.verifyingKey", 33);
      if (reader && (!reader.verifyingKey || !bytesEqual(parseHex(reader.verifyingKey, "reader"), vk))) {
        throw forbidden("READER_NOT_ALLOWED", "this key may not read the policy");
      }
      if (!verifyUmbralSignature(vk, digest, signature)) throw new NodeError(401, "BAD_SIGNATURE", "request signature does not verify");
      return r.verifyingKey.toLowerCase();
    }
    const claimed = parseHex(r.address, "requester.address", 20);
    const address = toHex(claimed);
    if (reader && (!reader.address || reader.address.toLowerCase() !== address)) {
      throw forbidden("READER_NOT_ALLOWED", "this address may not read the policy");
    }
    if (recoverEthSigner(digest, signature) !== address) throw new NodeError(401, "BAD_SIGNATURE", "request signature does not verify");
    return address;
  }

  /** The escrow period at `block`, fetched once per head block. */
  private stampPeriodAt(block: number): Promise<number> {
    if (this.periodAt?.block !== block) {
      const period = this.chain.currentPeriod(block);
      period.catch(() => {
        if (this.periodAt?.period === period) this.periodAt = undefined;
      });
      this.periodAt = { block, period };
    }
    return this.periodAt.period;
  }

  private async checkLive(policyId: Uint8Array, policyIdHex: string, conditions: Condition | null, requester: string | undefined, block: number): Promise<void> {
    const active = await this.isArrangementActive(policyId, policyIdHex.toLowerCase(), block);
    if (!active) {
      // Revoked or ended on-chain: find out which, and act on it so later requests stop early.
      const [policy, chainNow] = await Promise.all([this.chain.getPolicy(policyId), this.chain.latestTimestamp()]);
      const now = this.now();
      if (policy && !policy.revoked && policy.endTime <= Math.max(now, chainNow)) {
        this.store.purgeExpired(Math.max(now, policy.endTime));
        throw gone("POLICY_EXPIRED", "policy has expired");
      }
      // Stop serving at once; the kfrag goes only once a later read confirms (confirmSuspended).
      this.suspend(policyId, block);
      throw gone("POLICY_REVOKED", "policy was revoked on-chain");
    }
    if (conditions) {
      const ok = await evaluateCondition(conditions, {
        now: this.now(),
        requester,
        call: (to, data) => this.chain.call(to, data),
      });
      if (!ok) throw forbidden("CONDITIONS_NOT_MET", "the policy's access conditions are not satisfied");
    }
  }

  /**
   * Whether this node's arrangement is live as of `block`, the head block read after the
   * request arrived (FreshCoalescer): a request that comes after a revocation is mined never sees
   * the block before it. Chain state only changes from block to block, so the status is fetched
   * once per policy per block (with that block as the call's blockTag) instead of once per
   * request; asking for the block number costs the RPC endpoint far less than the eth_call.
   */
  private async isArrangementActive(policyId: Uint8Array, key: string, block: number): Promise<boolean> {
    const known = this.activeAt.get(key);
    if (known && known.block === block) return known.active;
    const active = this.chain.isActiveArrangement(policyId, this.staker, block);
    this.activeAt.delete(key); // re-inserted last: the map's order is least recently refreshed first
    this.activeAt.set(key, { block, active });
    active.catch(() => {
      if (this.activeAt.get(key)?.active === active) this.activeAt.delete(key);
    });
    if (this.activeAt.size > ARRANGEMENT_CACHE_SIZE) this.activeAt.delete(this.activeAt.keys().next().value as string);
    return active;
  }

  // ---- revocation ------------------------------------------------------------------------

  async revoke(policyIdHex: string, body: RevokeRequest): Promise<{ revoked: boolean }> {
    const policyId = parseHex(policyIdHex, "policyId", POLICY_ID_BYTES);
    const signature = parseHex(body.signature, "signature", 65);
    const signer = recoverEthSigner(revocationDigest(policyId), signature);
    if (!signer) throw forbidden("BAD_OWNER_SIGNATURE", "signature is malformed");
    const held = this.store.get(policyId);
    let owner = held?.state === "active" ? held.owner : undefined;
    if (!owner) {
      if (held) return { revoked: true };
      const policy = await this.chain.getPolicy(policyId);
      if (!policy) throw notFound("UNKNOWN_POLICY", "no such policy");
      owner = policy.owner.toLowerCase();
    }
    if (signer !== owner) throw forbidden("BAD_OWNER_SIGNATURE", "revocation is not signed by the policy owner");
    this.applyRevocation(policyId);
    this.log.info({ policyId: policyIdHex }, "policy revoked by owner signature");
    return { revoked: true };
  }

  /**
   * Tombstones the policy (its kfrag destroyed) and drops its queued re-encryptions; answers of
   * work already in a worker are refused by the state check in `reencrypt`. So once a revocation
   * is acknowledged, no cfrag for the policy leaves this node.
   */
  private applyRevocation(policyId: Uint8Array): boolean {
    this.suspended.delete(toHex(policyId));
    const held = this.store.markRevoked(policyId, this.now());
    const dropped = this.pool.cancel(policyId, gone("POLICY_REVOKED", "policy was revoked"));
    if (dropped) this.log.info({ policyId: toHex(policyId), dropped }, "dropped queued re-encryptions of a revoked policy");
    return held;
  }

  /**
   * Stops serving a policy a chain read (at `block`) found not active, and drops its queued work;
   * its kfrag is kept until confirmSuspended confirms.
   */
  private suspend(policyId: Uint8Array, block: number): void {
    const key = toHex(policyId);
    const known = this.suspended.get(key);
    if (known && known.block <= block) return;
    this.suspended.set(key, { policyId, block });
    this.pool.cancel(policyId, gone("POLICY_REVOKED", "the arrangement is not active on-chain"));
    this.log.info({ policyId: key, block }, "arrangement not active on-chain: serving stopped, revocation to be confirmed");
  }

  /**
   * Reads each suspended policy's arrangement again once the head is REVOCATION_CONFIRM_BLOCKS past
   * the read that suspended it: still not active, the kfrag is destroyed; active again, the
   * suspension is lifted. Returns the number of kfrags destroyed. Concurrent calls share one run.
   */
  confirmSuspended(): Promise<number> {
    this.confirming ??= this.runConfirmations().finally(() => (this.confirming = undefined));
    return this.confirming;
  }

  private async runConfirmations(): Promise<number> {
    if (this.suspended.size === 0) return 0;
    const head = await this.chain.latestBlockNumber();
    let destroyed = 0;
    for (const [key, s] of [...this.suspended]) {
      if (head < s.block + REVOCATION_CONFIRM_BLOCKS) continue;
      const active = await this.chain.isActiveArrangement(s.policyId, this.staker, head);
      if (this.suspended.get(key) !== s) continue;
      this.suspended.delete(key);
      if (active) {
        this.log.warn({ policyId: key, first: s.block, head }, "arrangement active again: a single 'not active' read was not confirmed; serving resumed");
        continue;
      }
      if (this.applyRevocation(s.policyId)) destroyed++;
      this.log.info({ policyId: key, first: s.block, head }, "revocation confirmed on-chain; kfrag destroyed");
    }
    return destroyed;
  }

  /**
   * Applies on-chain revocations: events seen since the last poll suspend their policies at once
   * (a revocation event counts as the first read), and suspensions old enough are confirmed or
   * lifted. Returns the number of kfrags destroyed by this poll.
   */
  async pollRevocations(): Promise<number> {
    const from = Number(this.store.getSetting("revocations.lastBlock") ?? "0");
    const { events, toBlock } = await this.chain.revocationsSince(from);
    for (const ev of events) {
      if (ev.node && ev.node.toLowerCase() !== this.staker.toLowerCase()) continue;
      if (this.store.state(ev.policyId) === "active") this.suspend(ev.policyId, ev.blockNumber);
    }
    this.store.setSetting("revocations.lastBlock", String(toBlock));
    const destroyed = await this.confirmSuspended();
    if (destroyed) this.log.info({ destroyed, toBlock }, "applied on-chain revocations");
    return destroyed;
  }

  /** Periodic housekeeping: purge expired kfrags, forget old nonces. */
  sweep(): number {
    const now = this.now();
    this.nonces.sweep(now);
    const purged = this.store.purgeExpired(now);
    if (purged) this.log.info({ purged }, "purged expired policies");
    return purged;
  }

  status(): NodeStatus {
    return {
      version: NODE_VERSION,
      protocol: PROTOCOL_VERSION,
      operator: this.keys.operatorAddress,
      staker: this.staker,
      endpoint: this.endpoint,
      encryptingKey: toHex(this.keys.encryptingKey.toCompressedBytes()),
      verifyingKey: toHex(this.keys.stampKey.toCompressedBytes()),
      stake: this.stake,
      uptimeSeconds: Math.floor((Date.now() - this.startedAt) / 1000),
      policies: this.store.counts(),
      reencryptions: this.pool.completed,
      workers: this.pool.size,
      queueDepth: this.pool.queueDepth,
      healthChecks: this.store.recentHealthResults(200),
    };
  }
}

function parseReader(reader: ReaderSpec | null): ReaderSpec | null {
  if (reader === null) return null;
  const out: ReaderSpec = {};
  if (reader.verifyingKey !== undefined) out.verifyingKey = toHex(parseHex(reader.verifyingKey, "reader.verifyingKey", 33));
  if (reader.address !== undefined) out.address = toHex(parseHex(reader.address, "reader.address", 20));
  if (!out.verifyingKey && !out.address) throw badRequest("BAD_READER", "reader needs a verifyingKey or an address");
  return out;
}

/** The answer to an upload that carries the kfrag in clear (the pre-encryption format). */
export function cleartextRefused(): NodeError {
  return unprocessable("CLEARTEXT_KFRAG", "kfrags are accepted only sealed to this node's encrypting key (encryptedKfrag); a kfrag sent in clear is refused");
}
