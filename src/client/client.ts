/**
 * The NKMS client SDK: Alice (owner) writes, shares, renews and revokes; Bob (reader) reads;
 * Enrico (a data source) encrypts to a label's public key without any of Alice's secrets.
 *
 *   const client = await connect({ rpcUrl, deploymentFile, home, keys: await loadUserKeys(file, pw) });
 *   const { id } = await client.write(bytes, { label: "medical" });
 *   const { grant } = await client.share({ label: "medical", reader: bobKeys, threshold: 3, shares: 5, periods: 4 });
 *   const plaintext = await bob.read(id, grant);
 */
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Readable, Transform, Writable, pipeline as pipe } from "node:stream";
import { pipeline } from "node:stream/promises";
import { getBytes, hexlify, keccak256, type Provider, type Wallet } from "ethers";
import { Capsule, PublicKey, generateKFrags } from "../umbral";
import { openKFrag, sealKFrag } from "../protocol/kfrag-transport";
import { lowSReceiptSignature, verifyKfragReceipt, type KfragReceipt } from "../protocol/kfrag-receipt-verify";
import { StreamDecryptor, StreamEncryptor, StreamHeader, createOriginalDecryptor, readStreamHeader, splitHeader } from "../umbral/stream";
import { sealKFragUpload, signRevocation, type KFragPackage, type ReaderSpec } from "../node/protocol";
import type { Condition } from "../node/conditions";
import { buildKfragTree, kfragHash } from "./kfrag-commitment";
import { orderForPolicy, readCandidates, selectNodes, NodeSelectionError } from "./node-selection";
import { LocalDirectoryStorage, StorageError, type ObjectStorage } from "./storage";
import { openObjectRef, type ObjectRef } from "./object-ref";
import { AtomicFile } from "./atomic-file";
import { ClientError, PartialDeliveryError, type DeliveryResult } from "./errors";
import { chainError, connectContracts, formatNkms, makeProvider, permitDeadline, send, signPermit, type Contracts } from "./chain";
import { deploymentFile, loadDeployment, requireAddresses, type NetworkAddresses } from "./deployment";
import { GRANT_FORMAT, GRANT_VERSION, type Grant } from "./grant";
import { hex, parseReaderKeys, type ReaderKeys, type UserKeys } from "./identity";
import { ReaderDirectory } from "./directory";
import { connectCheckpointContract } from "../directory/checkpoint-contract";
import { PolicyStore, type PendingKFrag, type PolicyRecord, type PolicyUpdate } from "./policy-store";
import { DEFAULT_NODE_TIMEOUT_MS, retrieveCFrags, stampDateCheck, type RetrievalNode, type RetrievalResult } from "./retrieval";
import { policyKeyBytes } from "../protocol/policy-key";

export interface ConnectOptions {
  /** JSON-RPC endpoint (used unless `provider` is given). */
  rpcUrl?: string;
  /** An already connected provider (e.g. a test's). */
  provider?: Provider;
  /** Explicit addresses; override the deployment file's. */
  addresses?: Partial<NetworkAddresses>;
  /** An Ignition deployed_addresses.json; by default `<deploymentRoot>/ignition/deployments/chain-<id>/…`. */
  deploymentFile?: string;
  /** Where to look for ignition/deployments (default: the current directory). */
  deploymentRoot?: string;
  /** Encrypted objects: a backend, or a directory for LocalDirectoryStorage (default `<home>/objects`). */
  storage?: ObjectStorage | string;
  /** Local state: policy records, evidence (default NKMS_HOME or ~/.nkms). */
  home?: string;
  /** The user's identity; owner and reader operations need it. */
  keys?: UserKeys;
  /** Per-node deadline during retrieval and kfrag delivery, ms. */
  nodeTimeoutMs?: number;
}

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.NKMS_HOME ?? path.join(os.homedir(), ".nkms");
}

export async function connect(options: ConnectOptions): Promise<NkmsClient> {
  const provider = options.provider ?? (options.rpcUrl ? makeProvider(options.rpcUrl) : undefined);
  if (!provider) throw new ClientError("BAD_INPUT", "give an RPC URL (--rpc-url or NKMS_RPC_URL)");
  let chainId: bigint;
  try {
    chainId = (await provider.getNetwork()).chainId;
  } catch (e) {
    if (!options.provider) (provider as { destroy?: () => void }).destroy?.();
    throw new ClientError("UNREACHABLE", `cannot reach the chain at ${options.rpcUrl}: ${(e as Error).message}`);
  }
  const file = options.deploymentFile ?? deploymentFile(options.deploymentRoot ?? process.cwd(), chainId);
  let fromFile: Partial<NetworkAddresses> = {};
  const explicit = options.addresses ?? {};
  const needFile = !(explicit.token && explicit.stakingEscrow && explicit.policyManager);
  if (needFile || options.deploymentFile) fromFile = loadDeployment(file);
  const addresses = requireAddresses({ ...fromFile, ...stripUndefined(explicit) });
  const home = options.home ?? defaultHome();
  const storage =
    typeof options.storage === "object" ? options.storage : new LocalDirectoryStorage(options.storage ?? path.join(home, "objects"));
  return new NkmsClient(provider, addresses, storage, home, options.keys, options.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS, !options.provider);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface WriteResult {
  /** Content id (hex SHA-256 of the stored ciphertext). */
  id: string;
  label: string;
  /** The key the data is encrypted to (0x-hex). */
  policyPublicKey: string;
}

export interface ShareOptions {
  label: string;
  /** The reader's public keys, or a directory actor whose keys are resolved and verified. */
  reader: ReaderKeys;
  threshold: number;
  shares: number;
  /** Periods of service after the current one (the policy ends at current + periods, inclusive). */
  periods: number;
  /** Fee per node per period, token units (default: the highest minimum among enrolled nodes). */
  feeRate?: bigint;
  /** Only these stakers may be chosen (default: every enrolled node). */
  candidates?: string[];
  conditions?: Condition | null;
  readerName?: string;
  directoryActor?: string;
}

export type { DeliveryResult } from "./errors";

export interface RedeliveryResult {
  policyId: string;
  /** One entry per node that still lacked a receipt before this call (empty: nothing to do). */
  delivery: DeliveryResult[];
  /** Nodes still without a receipt afterwards. */
  undelivered: string[];
}

export interface ShareResult {
  record: PolicyRecord;
  grant: Grant;
  delivery: DeliveryResult[];
  txHash: string;
}

export interface RevokeOptions {
  /** Revoke on-chain (refund of the unused periods). Default true. */
  onChain?: boolean;
  /** Send the owner-signed revocation to every node. Default true. */
  notifyNodes?: boolean;
}

export interface RevokeResult {
  policyId: string;
  txHash?: string;
  nodes: DeliveryResult[];
}

export interface ReadOptions {
  /** Where to save challenge evidence (default `<home>/evidence`). */
  evidenceDir?: string;
  onRetrieval?: (r: RetrievalResult) => void;
  /** Called as ciphertext is consumed: bytes so far, and the object's size when known up front. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Deadline for an HTTP object's response, and for each silence while its body streams, ms. */
  fetchTimeoutMs?: number;
}

/** What a read returns: the retrieval's outcome, and the ciphertext's size when it was known up front. */
export type ReadResult = RetrievalResult & { bytes?: number };

export class NkmsClient {
  readonly contracts: Contracts;
  readonly policies: PolicyStore;

  constructor(
    readonly provider: Provider,
    readonly addresses: NetworkAddresses,
    readonly storage: ObjectStorage,
    readonly home: string,
    readonly keys: UserKeys | undefined,
    readonly nodeTimeoutMs: number,
    private readonly ownsProvider: boolean,
  ) {
    this.contracts = connectContracts(addresses, provider);
    this.policies = new PolicyStore(home);
  }

  /** Releases the RPC connection (when the client created it). */
  close(): void {
    if (this.ownsProvider) (this.provider as { destroy?: () => void }).destroy?.();
  }

  private requireKeys(): UserKeys {
    if (!this.keys) throw new ClientError("KEYSTORE", "this operation needs a keystore (--keystore or NKMS_KEYSTORE)");
    return this.keys;
  }

  private wallet(): Wallet {
    return this.requireKeys().wallet.connect(this.provider);
  }

  // ---- data ---------------------------------------------------------------------------------

  /** Encrypts `data` (bytes or a byte stream) to `label`'s public key and stores it. */
  async write(data: Uint8Array | AsyncIterable<Uint8Array>, options: { label: string; chunkSize?: number }): Promise<WriteResult> {
    const policyKey = this.requireKeys().labelPublicKey(options.label);
    const id = await new Enrico(policyKey, this.storage).write(data, { chunkSize: options.chunkSize });
    return { id, label: options.label, policyPublicKey: hex(policyKey.toCompressedBytes()) };
  }

  /** An Enrico for one of this user's labels (the label's public key is all it holds). */
  enrico(label: string): Enrico {
    return new Enrico(this.requireKeys().labelPublicKey(label), this.storage);
  }

  /** The owner decrypts their own object with the label's key (no network involved). */
  async decrypt(id: string, label: string, out: Writable): Promise<void> {
    const sk = this.requireKeys().labelSecret(label);
    await pipeline(this.openObject(id), createOriginalDecryptor(sk), out).catch((e: unknown) => {
      throw dataError(e);
    });
  }

  /** The header (capsule + wrapped data key) of a stored object, read without fetching the payload. */
  async header(id: string): Promise<StreamHeader> {
    const { header, payload } = await readStreamHeader(this.openObject(id)).catch((e: unknown) => {
      throw dataError(e);
    });
    (payload as AsyncGenerator<Uint8Array>).return?.(undefined);
    return header;
  }

  /** Deletes an object; with `revokePolicies` (default true) also revokes the label's active policies. */
  async delete(id: string, options: { label?: string; revokePolicies?: boolean } = {}): Promise<{ deleted: boolean; revoked: RevokeResult[] }> {
    let deleted: boolean;
    try {
      deleted = await this.storage.delete(id);
    } catch (e) {
      throw dataError(e);
    }
    const revoked: RevokeResult[] = [];
    if (options.label !== undefined && options.revokePolicies !== false) {
      const owner = this.requireKeys().address;
      for (const p of this.policies.list({ owner, label: options.label, status: "active" })) {
        revoked.push(await this.revoke(p.policyId));
        this.policies.remove(p.policyId);
      }
    }
    return { deleted, revoked };
  }

  private openObject(id: string): Readable {
    try {
      return this.storage.get(id);
    } catch (e) {
      throw dataError(e);
    }
  }

  // ---- sharing ------------------------------------------------------------------------------

  /**
   * Grants `reader` m-of-n access to `label`: picks n nodes (stake-weighted, on-chain eligible),
   * makes kfrags, commits their hashes, pays the policy with one permit transaction, then hands
   * each node its kfrag. The record and the grant are saved locally; send the grant to the reader.
   */
  async share(options: ShareOptions): Promise<ShareResult> {
    const keys = this.requireKeys();
    const wallet = this.wallet();
    const reader = parseReaderKeys(options.reader);
    const { threshold, shares, periods } = options;
    if (!Number.isInteger(shares) || shares < 1 || shares > 32) throw new ClientError("BAD_INPUT", "shares must be 1..32");
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) throw new ClientError("BAD_INPUT", "threshold must be 1..shares");
    if (!Number.isInteger(periods) || periods < 0) throw new ClientError("BAD_INPUT", "periods must be a non-negative integer");
    const { policyManager: pm, escrow, token } = this.contracts;

    // Created under a random id of ours; named by its key (namespaced by us, the creator) from then on.
    const id = new Uint8Array(randomBytes(16));
    const policyId = policyKeyBytes(wallet.address, id);
    const policyIdHex = hexlify(policyId);
    const current = Number(await pm.currentPeriod().catch((e: unknown) => Promise.reject(chainError("reading the period", e))));
    const endPeriod = current + periods;
    const feeRate = options.feeRate ?? (await this.defaultFeeRate());

    const candidates = await readCandidates(pm, escrow, { endPeriod: BigInt(endPeriod), feeRate, stakers: options.candidates });
    let nodes: string[];
    try {
      nodes = orderForPolicy(selectNodes(candidates, { count: shares, policyId, seed: new Uint8Array(randomBytes(32)) }));
    } catch (e) {
      if (e instanceof NodeSelectionError) throw new ClientError("NOT_ENOUGH_NODES", e.message);
      throw e;
    }

    const delegatingSecret = keys.labelSecret(options.label);
    const delegatingKey = delegatingSecret.publicKey();
    const receivingKey = PublicKey.fromCompressedBytes(getBytes(reader.encryptingKey));
    const kfrags = generateKFrags(delegatingSecret, receivingKey, keys.signer, threshold, shares, true, true);
    const entries = nodes.map((node, i) => ({ node, kfragHash: kfragHash(kfrags[i].toBytes()) }));
    const tree = buildKfragTree(policyId, entries);

    const cost = await pm.policyCost(shares, feeRate, endPeriod);
    const balance = await token.balanceOf(wallet.address);
    if (balance < cost) throw new ClientError("CHAIN", `policy costs ${formatNkms(cost)}, ${wallet.address} holds ${formatNkms(balance)}`);
    const permit = await signPermit(token.connect(wallet), wallet, this.addresses.policyManager, cost, await permitDeadline(this.provider));
    // The permit is for today's price; if the transaction lands in the next period it costs one
    // period less and the contract takes only that (the difference stays an allowance).
    const txHash = await send("createPolicy", () =>
      pm
        .connect(wallet)
        .createPolicyWithPermit(hexlify(id), wallet.address, endPeriod, feeRate, nodes, hexlify(tree.root), cost, permit.deadline, permit.v, permit.r, permit.s),
    );

    const publisherVerifyingKey = hex(keys.verifyingKey.toCompressedBytes());
    // Saved before any delivery, with every kfrag pending (sealed to the owner's own key): the
    // policy is paid, so a crash or a node that is down must not lose what redelivery needs.
    const record: PolicyRecord = {
      policyId: policyIdHex,
      label: options.label,
      owner: wallet.address,
      reader: { ...reader, name: options.readerName, directoryActor: options.directoryActor },
      threshold,
      shares,
      nodes,
      delegatingKey: hex(delegatingKey.toCompressedBytes()),
      publisherVerifyingKey,
      endPeriod,
      feeRate: feeRate.toString(),
      paid: cost.toString(),
      createdAt: Math.floor(Date.now() / 1000),
      status: "active",
      undelivered: [...nodes],
      receipts: {},
      pending: Object.fromEntries(nodes.map((node, i) => [node.toLowerCase(), this.sealForLater(kfrags[i].toBytes(), tree.proofs[i].map((p) => hexlify(p)))])),
      conditions: options.conditions ?? null,
    };
    this.policies.put(record);

    const infos = await this.nodeInfos(nodes);
    const delivery = await Promise.all(
      nodes.map((staker, i) => this.deliverKFrag(record, staker, infos[i], kfrags[i].toBytes(), tree.proofs[i].map((p) => hexlify(p)))),
    );
    const saved = this.policies.get(policyIdHex);
    const grant = grantOf(saved);
    if (delivery.some((d) => !d.ok)) throw new PartialDeliveryError(policyIdHex, threshold, delivery);
    return { record: saved, grant, delivery, txHash };
  }

  /**
   * Completes delivery of an active policy: every node without a receipt gets its kfrag (kept,
   * sealed to the owner, since share) sealed to its current encrypting key, and its receipt is
   * stored. Idempotent: nodes that already acknowledged are skipped (a node that holds the kfrag
   * answers with a fresh receipt). Throws PartialDeliveryError while some node still lacks one.
   */
  async redeliver(policyId: string): Promise<RedeliveryResult> {
    this.requireKeys();
    const id = normalizePolicyId(policyId);
    const record = this.policies.get(id);
    if (record.owner.toLowerCase() !== this.wallet().address.toLowerCase()) throw new ClientError("DENIED", `${this.wallet().address} does not own policy ${id}`);
    if (record.status !== "active") throw new ClientError("DENIED", `policy ${id} is ${record.status}`);
    const missing = record.nodes.filter((n) => !record.receipts?.[n.toLowerCase()]);
    if (missing.length === 0) return { policyId: id, delivery: [], undelivered: [] };
    const info = await this.contracts.policyManager.getPolicy(id).catch((e: unknown) => Promise.reject(chainError("reading the policy", e)));
    if (info.revoked) {
      this.policies.update(id, (r) => {
        r.status = "revoked";
        delete r.pending;
      });
      throw new ClientError("DENIED", `policy ${id} was revoked on-chain`);
    }
    const infos = await this.nodeInfos(missing);
    const delivery = await Promise.all(
      missing.map(async (staker, i): Promise<DeliveryResult> => {
        const pending = record.pending?.[staker.toLowerCase()];
        if (!pending) return { staker, endpoint: infos[i].endpoint, ok: false, message: "no kfrag kept for this node (record from an older client)" };
        let kfrag: Uint8Array;
        try {
          kfrag = openKFrag(this.requireKeys().encryptingSecret, { capsule: getBytes(pending.sealed.capsule), ciphertext: getBytes(pending.sealed.ciphertext) });
        } catch (e) {
          throw new ClientError("INTEGRITY", `the kfrag kept for ${staker} does not open with this keystore: ${(e as Error).message}`);
        }
        return this.deliverKFrag(record, staker, infos[i], kfrag, pending.proof);
      }),
    );
    const undelivered = this.policies.get(id).undelivered;
    if (undelivered.length > 0) throw new PartialDeliveryError(id, record.threshold, delivery);
    return { policyId: id, delivery, undelivered };
  }

  /** Seals a kfrag to the owner's own encrypting key for the policy store. */
  private sealForLater(kfrag: Uint8Array, proof: string[]): PendingKFrag {
    const sealed = sealKFrag(this.requireKeys().encryptingKey, kfrag);
    return { sealed: { capsule: hexlify(sealed.capsule), ciphertext: hexlify(sealed.ciphertext) }, proof };
  }

  /**
   * Hands `staker` its kfrag sealed to its registered encrypting key, and checks the receipt it
   * answers with. Counts as delivered only with a valid receipt, which is then stored (and the
   * pending kfrag dropped) in the policy record.
   */
  private async deliverKFrag(
    record: PolicyRecord,
    staker: string,
    info: { endpoint: string; encryptingKey: string; verifyingKey: string },
    kfrag: Uint8Array,
    proof: string[],
  ): Promise<DeliveryResult> {
    const endpoint = info.endpoint;
    if (!endpoint) return { staker, endpoint, ok: false, message: "no endpoint registered" };
    let nodeKey: PublicKey;
    try {
      nodeKey = PublicKey.fromCompressedBytes(getBytes(info.encryptingKey));
    } catch {
      return { staker, endpoint, ok: false, message: "the node's registered encrypting key is not a curve point" };
    }
    const pkg: KFragPackage = {
      kfrag: hexlify(kfrag),
      publisherVerifyingKey: record.publisherVerifyingKey,
      delegatingKey: record.delegatingKey,
      receivingKey: record.reader.encryptingKey,
      proof,
      conditions: record.conditions ?? null,
      reader: { verifyingKey: record.reader.verifyingKey } satisfies ReaderSpec,
    };
    const body = await sealKFragUpload(this.wallet(), getBytes(record.policyId), staker, nodeKey, pkg);
    const answer = await this.postJson(endpoint, `/v1/policies/${record.policyId}/kfrag`, body);
    if (!answer.ok) return { staker, endpoint, ok: false, message: answer.message };
    const receipt = await this.checkReceipt(record, staker, info.verifyingKey, keccak256(kfrag), answer.json);
    if (typeof receipt === "string") return { staker, endpoint, ok: false, message: receipt };
    this.policies.update(record.policyId, (r) => {
      r.receipts = { ...r.receipts, [staker.toLowerCase()]: receipt };
      r.proofs = { ...r.proofs, [staker.toLowerCase()]: proof };
      if (r.pending) delete r.pending[staker.toLowerCase()];
      r.undelivered = r.undelivered.filter((n) => n.toLowerCase() !== staker.toLowerCase());
    });
    return { staker, endpoint, ok: true, receipt };
  }

  private chainIdCache?: Promise<bigint>;

  /**
   * The receipt in a node's answer if it is valid: signed by the node's registered stamp key over
   * exactly this (chain, PolicyManager, staker, period, creator, policy, kfragHash), and dated in a
   * period the escrow counts that key for (`isStampKey`, and not stale). Otherwise why not.
   */
  private async checkReceipt(record: PolicyRecord, staker: string, verifyingKey: string, kfragHash: string, json: unknown): Promise<KfragReceipt | string> {
    const r = (json as { receipt?: { period?: unknown; signature?: unknown } } | null)?.receipt;
    if (!r || typeof r.signature !== "string" || !/^0x[0-9a-fA-F]{128}$/.test(r.signature) || !Number.isSafeInteger(r.period)) {
      return "answered without a receipt";
    }
    const period = r.period as number;
    if (period < 0 || period > 0xffffffff) return "receipt period out of range";
    this.chainIdCache ??= this.provider.getNetwork().then((n) => n.chainId);
    const stampKey = getBytes(verifyingKey || "0x");
    const ctx = {
      chainId: await this.chainIdCache,
      policyManager: this.addresses.policyManager,
      staker,
      period,
      policyCreator: record.owner,
      policyId: getBytes(record.policyId),
      kfragHash: getBytes(kfragHash),
    };
    // Kept in low-S form: the only form the LeakAdjudicator accepts (a high-S receipt, though a
    // valid signature, could never be revealed against the node).
    const signature = lowSReceiptSignature(getBytes(r.signature));
    if (!signature || !verifyKfragReceipt(stampKey, ctx, signature)) return "receipt not signed by the node's stamp key for this kfrag";
    const counts = await stampDateCheck(this.contracts.escrow)(staker, stampKey, period).catch((e: unknown) => {
      throw chainError("checking a receipt's date", e);
    });
    if (!counts) return `receipt dated ${period}: not a period the escrow counts the node's stamp key for`;
    // The LeakAdjudicator refuses a receipt dated before the policy's first period; a node could
    // otherwise date it one period early (its stamp key still counts there) and never be challengeable.
    const info = await this.contracts.policyManager.getPolicy(record.policyId).catch((e: unknown) => {
      throw chainError("reading the policy's first period", e);
    });
    if (period < Number(info.startPeriod)) return `receipt dated ${period}: before the policy's first period ${info.startPeriod}`;
    return { period, signature: hexlify(signature) };
  }

  /** The highest minimum fee rate among enrolled nodes, so every node is eligible on price. */
  async defaultFeeRate(): Promise<bigint> {
    const pm = this.contracts.policyManager;
    const [params, count] = await Promise.all([pm.params(), pm.enrolledNodes()]);
    let rate = params.minFeeRate;
    const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
    const fees = await Promise.all(ids.map(async (id) => (await pm.nodeFees(await pm.nodeById(id))).effectiveMinFeeRate));
    for (const f of fees) if (f > rate) rate = f;
    return rate;
  }

  /** Pays for `periods` more periods of an active policy (approve + extendPolicy). */
  async renew(policyId: string, periods: number): Promise<{ endPeriod: number; paid: bigint; txHash: string }> {
    if (!Number.isInteger(periods) || periods < 1) throw new ClientError("BAD_INPUT", "periods must be a positive integer");
    const wallet = this.wallet();
    const { policyManager: pm, token } = this.contracts;
    const info = await pm.getPolicy(policyId).catch((e: unknown) => Promise.reject(chainError("reading the policy", e)));
    if (info.owner === "0x0000000000000000000000000000000000000000") throw new ClientError("NOT_FOUND", `no policy ${policyId} on-chain`);
    const endPeriod = Number(info.endPeriod) + periods;
    const cost = info.feeRate * BigInt(info.activeNodes) * BigInt(periods);
    await send("approve", () => token.connect(wallet).approve(this.addresses.policyManager, cost));
    const txHash = await send("extendPolicy", () => pm.connect(wallet).extendPolicy(policyId, endPeriod));
    try {
      this.policies.update(policyId, (r) => {
        r.endPeriod = endPeriod;
        r.paid = (BigInt(r.paid) + cost).toString();
      });
    } catch (e) {
      if (!(e instanceof ClientError && e.code === "NOT_FOUND")) throw e;
    }
    return { endPeriod, paid: cost, txHash };
  }

  /** Revokes on-chain (refund) and/or with an owner-signed message to every node. */
  async revoke(policyId: string, options: RevokeOptions = {}): Promise<RevokeResult> {
    const wallet = this.wallet();
    const id = normalizePolicyId(policyId);
    const pm = this.contracts.policyManager;
    let nodes: string[];
    try {
      nodes = [...(await pm.policyNodes(id))];
    } catch (e) {
      throw chainError("reading the policy", e);
    }
    if (nodes.length === 0) throw new ClientError("NOT_FOUND", `no policy ${id} on-chain`);
    let txHash: string | undefined;
    if (options.onChain !== false) {
      const info = await pm.getPolicy(id);
      if (info.owner.toLowerCase() !== wallet.address.toLowerCase()) throw new ClientError("DENIED", `${wallet.address} does not own policy ${id}`);
      if (!info.revoked) txHash = await send("revokePolicy", () => pm.connect(wallet).revokePolicy(id));
    }
    let results: DeliveryResult[] = [];
    if (options.notifyNodes !== false) {
      const body = await signRevocation(wallet, getBytes(id));
      const infos = await this.nodeInfos(nodes);
      results = await Promise.all(
        nodes.map((staker, i) =>
          infos[i].endpoint
            ? this.postToNode(staker, infos[i].endpoint, `/v1/policies/${id}/revoke`, body)
            : Promise.resolve({ staker, endpoint: "", ok: false, message: "no endpoint registered" }),
        ),
      );
    }
    try {
      this.policies.update(id, (r) => {
        r.status = "revoked";
        // Kfrags kept for redelivery are never needed again: keep no secret longer than its use.
        delete r.pending;
      });
    } catch (e) {
      if (!(e instanceof ClientError && e.code === "NOT_FOUND")) throw e;
    }
    return { policyId: id, txHash, nodes: results };
  }

  // ---- policy records -----------------------------------------------------------------------

  listPolicies(filter: { status?: "active" | "revoked"; label?: string } = {}): PolicyRecord[] {
    return this.policies.list({ ...filter, owner: this.keys?.address });
  }

  /** The local record refreshed from the chain (revoked / end period). */
  async getPolicy(policyId: string): Promise<PolicyRecord & { onChain: { revoked: boolean; endPeriod: number; activeNodes: number } }> {
    const record = this.policies.get(policyId);
    const info = await this.contracts.policyManager.getPolicy(record.policyId).catch((e: unknown) => Promise.reject(chainError("reading the policy", e)));
    const onChain = { revoked: info.revoked, endPeriod: Number(info.endPeriod), activeNodes: Number(info.activeNodes) };
    if (onChain.revoked && record.status !== "revoked") this.policies.update(record.policyId, (r) => void (r.status = "revoked"));
    return { ...record, status: onChain.revoked ? "revoked" : record.status, onChain };
  }

  updatePolicy(policyId: string, change: PolicyUpdate): PolicyRecord {
    return this.policies.update(policyId, change);
  }

  /** Revokes the policy if still active, then forgets the record. */
  async deletePolicy(policyId: string): Promise<{ revoked?: RevokeResult; removed: boolean }> {
    const record = this.policies.get(policyId);
    const revoked = record.status === "active" ? await this.revoke(record.policyId) : undefined;
    return { revoked, removed: this.policies.remove(record.policyId) };
  }

  /** The key directory at `url`, verified against this network's DirectoryCheckpoint contract. */
  readerDirectory(url: string): ReaderDirectory {
    if (!this.addresses.directoryCheckpoint) throw new ClientError("BAD_INPUT", "no DirectoryCheckpoint address in the deployment");
    return new ReaderDirectory(url, connectCheckpointContract(this.addresses.directoryCheckpoint, this.provider));
  }

  /** Shares with a reader named by their directory actor: their keys are resolved and verified first. */
  async shareWithActor(directoryUrl: string, actor: string, options: Omit<ShareOptions, "reader" | "directoryActor">): Promise<ShareResult> {
    const resolved = await this.readerDirectory(directoryUrl).resolve(actor);
    return this.share({ ...options, reader: resolved.keys, directoryActor: actor, readerName: options.readerName ?? actor });
  }

  /** The receipt `staker` signed for its kfrag of (`policyCreator`, `policyId`), from the policy store (what a leak challenge needs). */
  receiptFor(policyCreator: string, policyId: string, staker: string): KfragReceipt {
    return this.policies.receiptFor(policyCreator, policyId, staker);
  }

  grantFor(policyId: string): Grant {
    return grantOf(this.policies.get(policyId));
  }

  // ---- reading ------------------------------------------------------------------------------

  /**
   * Bob: streams the object `ref` names (a content id in this client's storage, an http(s) URL or
   * a ciphertext file: see object-ref.ts), gathers `threshold` verified cfrags from the grant's
   * nodes and decrypts into `out`, one authenticated chunk at a time (memory stays O(chunk size)).
   * Plaintext reaches `out` before the whole object is checked: give `out` an AtomicFile's stream
   * and commit only when this resolves, to never keep a partial or unauthenticated plaintext.
   */
  async readTo(ref: string | ObjectRef, grant: Grant, out: Writable, options: ReadOptions = {}): Promise<ReadResult> {
    const opened = await openObjectRef(ref, this.storage, { timeoutMs: options.fetchTimeoutMs }).catch((e: unknown) => {
      throw dataError(e);
    });
    const source = options.onProgress ? countBytes(opened.stream, opened.size, options.onProgress) : opened.stream;
    const { header, payload } = await readStreamHeader(source).catch((e: unknown) => {
      source.destroy();
      throw dataError(e);
    });
    let retrieval: RetrievalResult;
    let dataKey: Uint8Array;
    try {
      retrieval = await this.retrieve(grant, [header.capsule], options);
      dataKey = this.unwrap(header, grant, retrieval);
    } catch (e) {
      await (payload as AsyncGenerator<Uint8Array>).return?.(undefined);
      source.destroy();
      throw e;
    }
    await pipeline(Readable.from(payload), new StreamDecryptor(dataKey, header), out).catch((e: unknown) => {
      throw dataError(e);
    });
    return { ...retrieval, bytes: opened.size };
  }

  /**
   * Bob: reads into the file `outPath`, which appears only once the whole object decrypted and
   * checked out (a failure leaves nothing there, and an existing file untouched: see AtomicFile).
   */
  async readToFile(ref: string | ObjectRef, grant: Grant, outPath: string, options: ReadOptions = {}): Promise<ReadResult> {
    const file = openOutput(outPath);
    try {
      const result = await this.readTo(ref, grant, file.stream, options);
      await file.commit();
      return result;
    } catch (e) {
      await file.abort();
      throw e;
    }
  }

  /** Bob: read a whole (small) object into memory. */
  async read(id: string | ObjectRef, grant: Grant, options: ReadOptions = {}): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    await this.readTo(id, grant, sink, options);
    return new Uint8Array(Buffer.concat(chunks));
  }

  /** Bob: decrypt ciphertext bytes held in memory (header ‖ payload) through the grant's nodes. */
  async decryptWithGrant(ciphertext: Uint8Array, grant: Grant, options: ReadOptions = {}): Promise<Uint8Array> {
    const { header } = splitEdek(ciphertext);
    const retrieval = await this.retrieve(grant, [header.capsule], options);
    const dataKey = this.unwrap(header, grant, retrieval);
    const chunks: Buffer[] = [];
    await pipeline(Readable.from([Buffer.from(ciphertext)]), new StreamDecryptor(dataKey), new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    })).catch((e: unknown) => {
      throw dataError(e);
    });
    return new Uint8Array(Buffer.concat(chunks));
  }

  /** Threshold retrieval of cfrags for `capsules` from the grant's nodes (endpoints and stamp keys read on-chain). */
  async retrieve(grant: Grant, capsules: Capsule[], options: ReadOptions = {}): Promise<RetrievalResult> {
    const keys = this.requireKeys();
    if (hex(keys.encryptingKey.toCompressedBytes()) !== grant.receivingKey.toLowerCase()) {
      throw new ClientError("DENIED", "this grant is for another reader's key");
    }
    const infos = await this.nodeInfos(grant.nodes);
    const nodes: RetrievalNode[] = grant.nodes.map((staker, i) => ({
      staker,
      endpoint: infos[i].endpoint,
      stampKey: getBytes(infos[i].verifyingKey || "0x"),
    }));
    const checkDate = stampDateCheck(this.contracts.escrow);
    const result = await retrieveCFrags({
      policyId: getBytes(grant.policyId),
      policyCreator: grant.owner,
      checkStampDate: (staker, stampKey, stampPeriod) =>
        checkDate(staker, stampKey, stampPeriod).catch((e: unknown) => {
          throw chainError("checking a stamp's date", e);
        }),
      threshold: grant.threshold,
      capsules,
      delegatingKey: PublicKey.fromCompressedBytes(getBytes(grant.delegatingKey)),
      publisherVerifyingKey: PublicKey.fromCompressedBytes(getBytes(grant.publisherVerifyingKey)),
      receivingKey: keys.encryptingKey,
      signer: keys.signer,
      nodes,
      timeoutMs: this.nodeTimeoutMs,
      evidenceDir: options.evidenceDir ?? path.join(this.home, "evidence"),
    });
    options.onRetrieval?.(result);
    return result;
  }

  private unwrap(header: StreamHeader, grant: Grant, retrieval: RetrievalResult): Uint8Array {
    try {
      return header.unwrapKeyReencrypted(
        this.requireKeys().encryptingSecret,
        PublicKey.fromCompressedBytes(getBytes(grant.delegatingKey)),
        retrieval.cfrags[0],
      );
    } catch (e) {
      throw new ClientError("INTEGRITY", `cannot unwrap the data key: ${(e as Error).message}`);
    }
  }

  // ---- nodes --------------------------------------------------------------------------------

  async nodeInfos(stakers: string[]): Promise<{ endpoint: string; encryptingKey: string; verifyingKey: string }[]> {
    try {
      return await Promise.all(
        stakers.map(async (s) => {
          const [endpoint, encryptingKey, verifyingKey] = await this.contracts.escrow.nodeInfo(s);
          return { endpoint, encryptingKey, verifyingKey };
        }),
      );
    } catch (e) {
      throw chainError("reading node registrations", e);
    }
  }

  private async postToNode(staker: string, endpoint: string, route: string, body: unknown): Promise<DeliveryResult> {
    const answer = await this.postJson(endpoint, route, body);
    return answer.ok ? { staker, endpoint, ok: true } : { staker, endpoint, ok: false, message: answer.message };
  }

  /** POSTs JSON to a node; a 2xx answer's JSON body, or a one-line reason. */
  private async postJson(endpoint: string, route: string, body: unknown): Promise<{ ok: true; json: unknown } | { ok: false; message: string }> {
    try {
      const res = await fetch(endpoint.replace(/\/+$/, "") + route, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.nodeTimeoutMs),
      });
      const json = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
      if (res.ok) return { ok: true, json };
      return { ok: false, message: `${json?.error?.code ?? res.status}: ${json?.error?.message ?? res.statusText}` };
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      return { ok: false, message: (e as Error).name === "TimeoutError" ? "timeout" : cause?.code ?? (e as Error).message };
    }
  }
}

/** Enrico: encrypts to a policy (label) public key and stores the result. Holds no secret. */
export class Enrico {
  constructor(
    readonly policyPublicKey: PublicKey,
    readonly storage?: ObjectStorage,
  ) {}

  /** A Transform: plaintext in, header ‖ chunks out. */
  encryptor(options: { chunkSize?: number } = {}): StreamEncryptor {
    return new StreamEncryptor(this.policyPublicKey, options);
  }

  /** Encrypts and stores; returns the content id. */
  async write(data: Uint8Array | AsyncIterable<Uint8Array>, options: { chunkSize?: number } = {}): Promise<string> {
    if (!this.storage) throw new ClientError("BAD_INPUT", "this Enrico has no storage");
    const encryptor = this.encryptor(options);
    const source = data instanceof Uint8Array ? Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]) : Readable.from(data);
    source.on("error", (e) => encryptor.destroy(e));
    return this.storage.put(source.pipe(encryptor));
  }
}

/** Separates the header (capsule + wrapped data key, the "EDEK") from the chunked payload. */
export function splitEdek(ciphertext: Uint8Array): { header: StreamHeader; capsule: Capsule; encryptedKey: Uint8Array; payload: Uint8Array } {
  try {
    const { header, payload } = splitHeader(ciphertext);
    return { header, capsule: header.capsule, encryptedKey: header.encryptedKey, payload };
  } catch (e) {
    throw new ClientError("INTEGRITY", `not an NKMS ciphertext: ${(e as Error).message}`);
  }
}

export function grantOf(record: PolicyRecord): Grant {
  return {
    format: GRANT_FORMAT,
    version: GRANT_VERSION,
    policyId: record.policyId,
    label: record.label,
    owner: record.owner,
    threshold: record.threshold,
    nodes: record.nodes,
    delegatingKey: record.delegatingKey,
    publisherVerifyingKey: record.publisherVerifyingKey,
    receivingKey: record.reader.encryptingKey,
    endPeriod: record.endPeriod,
  };
}

function normalizePolicyId(id: string): string {
  if (!/^0x[0-9a-fA-F]{32}$/.test(id)) throw new ClientError("BAD_INPUT", `policy id must be 16 bytes of 0x-hex, got ${id}`);
  return id.toLowerCase();
}

/** An AtomicFile at `outPath`, its failures as ClientErrors. */
export function openOutput(outPath: string): AtomicFile {
  try {
    return AtomicFile.open(outPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ClientError(code === "ENOENT" ? "NOT_FOUND" : "BAD_INPUT", `cannot write ${outPath}: ${(e as Error).message}`);
  }
}

/** Passes `source` through, reporting the running byte count. */
function countBytes(source: Readable, total: number | undefined, report: (bytes: number, total: number | undefined) => void): Readable {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      report(bytes, total);
      done(null, chunk);
    },
  });
  return pipe(source, counter, () => undefined);
}

function dataError(e: unknown): ClientError {
  if (e instanceof ClientError) return e;
  if (e instanceof StorageError) return new ClientError(e.code === "not_found" ? "NOT_FOUND" : e.code === "corrupt" ? "INTEGRITY" : "BAD_INPUT", e.message);
  const code = (e as { code?: string }).code;
  if (typeof code === "string" && code.startsWith("STREAM_")) return new ClientError("INTEGRITY", (e as Error).message);
  if (typeof code === "string" && /DECRYPTION|CAPSULE|INVALID/.test(code)) return new ClientError("INTEGRITY", (e as Error).message);
  return new ClientError("INTEGRITY", (e as Error).message);
}
