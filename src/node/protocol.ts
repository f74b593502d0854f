import { createHash, randomBytes } from "node:crypto";
import { getBytes, hashMessage, keccak256 } from "ethers";
import { PublicKey } from "../umbral";
import { sealKFrag } from "../protocol/kfrag-transport";
import type { KfragReceipt } from "../protocol/kfrag-receipt-verify";
import { addressBytes, parseHex, toHex, u64be, utf8 } from "./bytes";
import type { Condition } from "./conditions";

/**
 * Wire formats of the node API and the exact bytes every signature covers. Clients (the SDK,
 * health checks, tests) build requests with the helpers here; the node verifies with the same
 * digests. All byte strings travel as 0x-prefixed hex.
 */

export const PROTOCOL_VERSION = "nkms-node/1";

/** Policy ids are bytes16, as in PolicyManager. */
export const POLICY_ID_BYTES = 16;

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** JSON with object keys sorted recursively, no whitespace — the signed form of conditions. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return "{" + entries.map(([k, v]) => JSON.stringify(k) + ":" + canonicalJson(v)).join(",") + "}";
}

export interface ReaderSpec {
  /** Bob's Umbral verifying key (33-byte hex); requests signed by it are accepted. */
  verifyingKey?: string;
  /** Bob's Ethereum address; requests signed by it are accepted. */
  address?: string;
}

/** A kfrag sealed to the node's encrypting key (src/protocol/kfrag-transport.ts), as 0x-hex. */
export interface EncryptedKFrag {
  /** Umbral capsule (105 bytes, as Capsule.toBytes). */
  capsule: string;
  /** DEM ciphertext of the kfrag bytes (authenticates the capsule too). */
  ciphertext: string;
}

/**
 * POST /v1/policies/{policyId}/kfrag body. The kfrag never travels in clear: only the node's
 * encrypting secret opens `encryptedKfrag`, so an observer of the body (plain http://) cannot
 * present it as a "leak" (issue #14). A body carrying a cleartext `kfrag` is refused.
 */
export interface KFragUpload {
  encryptedKfrag: EncryptedKFrag;
  /** keccak256 of the kfrag bytes (as in the on-chain commitment leaf): the owner's signature and
   * the commitment are checked with it before the node spends its secret key on the body. */
  kfragHash: string;
  publisherVerifyingKey: string;
  delegatingKey: string;
  receivingKey: string;
  /** Sorted-pair Merkle proof of this node's leaf in the policy's on-chain kfrag commitment
   * (leaf = PolicyManager.kfragLeaf(policyId, node, keccak256(kfrag))). */
  proof: string[];
  conditions: Condition | null;
  /** Who may request re-encryptions; null = anyone (the cfrags only help the holder of the receiving key). */
  reader: ReaderSpec | null;
  /** The policy owner's EIP-191 signature over kfragPackageDigest. */
  ownerSignature: string;
}

/** What the owner hands a node before sealing: the kfrag in clear (0x-hex) and its rules. */
export interface KFragPackage extends Omit<KFragUpload, "encryptedKfrag" | "kfragHash" | "ownerSignature"> {
  kfrag: string;
}

/** 201 / 200 answer to an upload: the node's receipt for the kfrag (src/protocol/kfrag-receipt.ts). */
export interface KFragAccepted {
  stored: boolean;
  receipt: KfragReceipt;
}

/**
 * The digest the owner signs (EIP-191 personal_sign) to hand a kfrag and its rules to `node`. It
 * binds the plaintext kfrag (by its keccak256, the commitment's hash) and the exact sealed bytes, so
 * nothing in the body can be swapped: a capsule or ciphertext changed on the way (or a body sealed
 * for another node) fails the signature, before any decryption.
 */
export function kfragPackageDigest(
  policyId: Uint8Array,
  node: string,
  body: Omit<KFragUpload, "ownerSignature" | "proof">,
): Uint8Array {
  return sha256(
    utf8("NKMS-KFRAG-PACKAGE-V2"),
    policyId,
    addressBytes(node),
    parseHex(body.kfragHash, "kfragHash", 32),
    sha256(parseHex(body.encryptedKfrag.capsule, "encryptedKfrag.capsule")),
    sha256(parseHex(body.encryptedKfrag.ciphertext, "encryptedKfrag.ciphertext")),
    parseHex(body.publisherVerifyingKey, "publisherVerifyingKey", 33),
    parseHex(body.delegatingKey, "delegatingKey", 33),
    parseHex(body.receivingKey, "receivingKey", 33),
    sha256(utf8(canonicalJson(body.conditions))),
    sha256(utf8(canonicalJson(body.reader))),
  );
}

export type RequesterAuth = { scheme: "umbral"; verifyingKey: string } | { scheme: "eth"; address: string };

/** POST /v1/policies/{policyId}/reencrypt body. */
export interface ReencryptRequest {
  capsules: string[];
  requester: RequesterAuth;
  /** Unix seconds; accepted within ±maxClockSkew of the node's clock. */
  timestamp: number;
  /** 16 random bytes; a (requester, nonce) pair is accepted once. */
  nonce: string;
  /** Umbral signature (64 bytes r‖s, ECDSA over SHA-256) or Ethereum EIP-191 signature (65 bytes) over reencryptDigest. */
  signature: string;
  /** A health-check probe (issue #16): ask for the node's proof of contact with the answer. */
  healthContact?: { round: number; checker: string };
}

export function reencryptDigest(
  node: string,
  policyId: Uint8Array,
  timestamp: number,
  nonce: Uint8Array,
  capsules: Uint8Array[],
): Uint8Array {
  return sha256(
    utf8("NKMS-REENCRYPT-V1"),
    addressBytes(node),
    policyId,
    u64be(timestamp),
    nonce,
    sha256(...capsules.map((c) => sha256(c))),
  );
}

/**
 * One cfrag of a response and the node's stamp (src/protocol/stamp.ts): the node signs once per
 * batch, over the Merkle root of the batch's stamp leaves (leaf = SHA-256(cfragStampMessage)),
 * and each cfrag carries the proof from its leaf to that root.
 */
export interface SignedCFrag {
  cfrag: string;
  /** 64 bytes r‖s by the node's stamp key over the batch root (as a digest); the same for every cfrag of a batch. */
  signature: string;
  /** Sibling hashes (32 bytes each) from this cfrag's leaf up to the signed root; empty for a batch of one. */
  stampProof: string[];
}

export interface ReencryptResponse {
  node: string;
  policyId: string;
  /** The escrow period every stamp of this response is dated with (part of each stamp message). */
  stampPeriod: number;
  cfrags: SignedCFrag[];
  /** Only when asked (`healthContact`) and the node runs with a HealthCheck: its stamp key's
   * 64-byte r‖s over HealthCheck.contactDigest(round, checker, node) (src/protocol/health-contact.ts). */
  healthContact?: { round: number; checker: string; signature: string };
}

// What the node's stamp signs for each cfrag is defined once, in src/protocol/stamp.ts (shared
// with the client's evidence and the on-chain Adjudicator); re-exported for API clients.
export { cfragStampMessage, cfragStampLeaf, stampRoot, type CFragStampContext } from "../protocol/stamp";
export { verifyCFragStamps, verifyCFragStamp, type StampedCFrag } from "../protocol/stamp-verify";
export { kfragReceiptMessage, kfragReceiptDigest, type KfragReceiptContext } from "../protocol/kfrag-receipt";
export { verifyKfragReceipt, type KfragReceipt } from "../protocol/kfrag-receipt-verify";

/** POST /v1/policies/{policyId}/revoke body: the owner's EIP-191 signature over revocationDigest. */
export interface RevokeRequest {
  signature: string;
}

/** Node-independent, so one owner signature revokes the policy at every node. */
export function revocationDigest(policyId: Uint8Array): Uint8Array {
  return sha256(utf8("NKMS-REVOKE-V1"), policyId);
}

// ---- client-side helpers -------------------------------------------------------------------

/**
 * Owner side: seals the package's kfrag to `node`'s encrypting key (its registered nodeInfo
 * `encryptingKey`) and signs the upload for `node`.
 */
export async function sealKFragUpload(
  owner: EthSigning,
  policyId: Uint8Array,
  node: string,
  nodeEncryptingKey: PublicKey | string,
  pkg: KFragPackage,
): Promise<KFragUpload> {
  const key = typeof nodeEncryptingKey === "string" ? PublicKey.fromCompressedBytes(parseHex(nodeEncryptingKey, "nodeEncryptingKey", 33)) : nodeEncryptingKey;
  const kfrag = parseHex(pkg.kfrag, "kfrag");
  const sealed = sealKFrag(key, kfrag);
  const { kfrag: _clear, ...rules } = pkg;
  const body = {
    ...rules,
    encryptedKfrag: { capsule: toHex(sealed.capsule), ciphertext: toHex(sealed.ciphertext) },
    kfragHash: keccak256(kfrag),
  };
  const ownerSignature = await owner.signMessage(kfragPackageDigest(policyId, node, body));
  return { ...body, ownerSignature };
}

export async function signRevocation(owner: EthSigning, policyId: Uint8Array): Promise<RevokeRequest> {
  return { signature: await owner.signMessage(revocationDigest(policyId)) };
}

/** Anything that signs like an Umbral Signer. */
export interface UmbralSigning {
  sign(message: Uint8Array): { toBEBytes(): Uint8Array };
  verifyingKey(): { toCompressedBytes(): Uint8Array };
}

/** Anything that signs like an ethers signer (Wallet, HDNodeWallet, HardhatEthersSigner...). */
export interface EthSigning {
  address: string;
  signMessage(message: Uint8Array): Promise<string>;
}

/** Reader side: builds a signed re-encryption request, with an Umbral signer or an Ethereum signer. */
export async function buildReencryptRequest(
  signer: UmbralSigning | EthSigning,
  node: string,
  policyId: Uint8Array,
  capsules: Uint8Array[],
  opts: { timestamp?: number; nonce?: Uint8Array; healthContact?: { round: number; checker: string } } = {},
): Promise<ReencryptRequest> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = opts.nonce ?? new Uint8Array(randomBytes(16));
  const digest = reencryptDigest(node, policyId, timestamp, nonce, capsules);
  const base = { capsules: capsules.map(toHex), timestamp, nonce: toHex(nonce), ...(opts.healthContact ? { healthContact: opts.healthContact } : {}) };
  if ("signMessage" in signer) {
    return { ...base, requester: { scheme: "eth", address: signer.address }, signature: await signer.signMessage(digest) };
  }
  return {
    ...base,
    requester: { scheme: "umbral", verifyingKey: toHex(signer.verifyingKey().toCompressedBytes()) },
    signature: toHex(signer.sign(digest).toBEBytes()),
  };
}

/** EIP-191 hash of a 32-byte digest (what personal_sign signs). */
export function ethMessageHash(digest: Uint8Array): Uint8Array {
  return getBytes(hashMessage(digest));
}
