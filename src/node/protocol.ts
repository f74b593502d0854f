import { createHash, randomBytes } from "node:crypto";
import { getBytes, hashMessage } from "ethers";
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

/** POST /v1/policies/{policyId}/kfrag body. */
export interface KFragUpload {
  kfrag: string;
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

/** The digest the owner signs (EIP-191 personal_sign) to hand `kfrag` and its rules to `node`. */
export function kfragPackageDigest(
  policyId: Uint8Array,
  node: string,
  body: Omit<KFragUpload, "ownerSignature" | "proof">,
): Uint8Array {
  return sha256(
    utf8("NKMS-KFRAG-PACKAGE-V1"),
    policyId,
    addressBytes(node),
    sha256(parseHex(body.kfrag, "kfrag")),
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
}

// What the node's stamp signs for each cfrag is defined once, in src/protocol/stamp.ts (shared
// with the client's evidence and the on-chain Adjudicator); re-exported for API clients.
export { cfragStampMessage, cfragStampLeaf, stampRoot, type CFragStampContext } from "../protocol/stamp";
export { verifyCFragStamps, verifyCFragStamp, type StampedCFrag } from "../protocol/stamp-verify";

/** POST /v1/policies/{policyId}/revoke body: the owner's EIP-191 signature over revocationDigest. */
export interface RevokeRequest {
  signature: string;
}

/** Node-independent, so one owner signature revokes the policy at every node. */
export function revocationDigest(policyId: Uint8Array): Uint8Array {
  return sha256(utf8("NKMS-REVOKE-V1"), policyId);
}

// ---- client-side helpers -------------------------------------------------------------------

/** Owner side: signs a kfrag package for `node`. */
export async function signKFragUpload(
  owner: EthSigning,
  policyId: Uint8Array,
  node: string,
  body: Omit<KFragUpload, "ownerSignature">,
): Promise<KFragUpload> {
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
  opts: { timestamp?: number; nonce?: Uint8Array } = {},
): Promise<ReencryptRequest> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = opts.nonce ?? new Uint8Array(randomBytes(16));
  const digest = reencryptDigest(node, policyId, timestamp, nonce, capsules);
  const base = { capsules: capsules.map(toHex), timestamp, nonce: toHex(nonce) };
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
