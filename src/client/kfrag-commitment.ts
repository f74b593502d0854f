/**
 * The kfrag commitment a policy stores on-chain (PolicyManager.kfragRoot): one Merkle root binding
 * every hired node to the hash of the kfrag Alice gave it, so a leaked kfrag can later be proven to
 * be that node's (PolicyManager.verifyKfragCommitment).
 *
 *   kfragHash = keccak256(kfragBytes)                       kfragBytes: KeyFrag.toBytes(), 310 bytes
 *   leaf      = keccak256(policyId[16] ‖ node[20] ‖ kfragHash[32])          68-byte preimage
 *   parent    = keccak256(min(a, b) ‖ max(a, b))                            sorted pair, 64 bytes
 *
 * Leaves are taken in the order of the policy's `nodes[]`; the tree is src/protocol/merkle.ts: each
 * level pairs elements (0,1), (2,3), …; an unpaired last element moves up unchanged. The root of a single leaf is the leaf itself.
 * A proof is the list of siblings from the leaf upwards (levels where the element moved up
 * unpaired contribute nothing); with sorted-pair hashing it needs no left/right flags, which is
 * exactly what OpenZeppelin's MerkleProof.verify checks. Leaf and inner-node preimages differ in
 * length, so an inner node cannot be passed off as a leaf.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { buildMerkleTree, hashPair, verifyMerkleProof } from "../protocol/merkle";

// The tree itself is the project's one sorted-pair Merkle implementation (src/protocol/merkle.ts).
export { hashPair };

/** Size of an Umbral KeyFrag in its serialized form (@nucypher/umbral-pre `toBytes()`). */
export const KFRAG_BYTES = 310;

export class KfragCommitmentError extends Error {
  constructor(
    readonly code: "INVALID_POLICY_ID" | "INVALID_ADDRESS" | "INVALID_HASH" | "INVALID_KFRAG" | "EMPTY" | "UNKNOWN_NODE",
    message: string,
  ) {
    super(message);
    this.name = "KfragCommitmentError";
  }
}

/** One node's share: its staker address (0x…) and the hash of its kfrag. */
export interface KfragEntry {
  node: string;
  kfragHash: Uint8Array;
}

export interface KfragTree {
  root: Uint8Array;
  leaves: Uint8Array[];
  /** proofs[i] proves entries[i]. */
  proofs: Uint8Array[][];
}

/** keccak256 of the serialized kfrag (must be 310 bytes). */
export function kfragHash(kfragBytes: Uint8Array): Uint8Array {
  if (kfragBytes.length !== KFRAG_BYTES) {
    throw new KfragCommitmentError("INVALID_KFRAG", `a kfrag has ${KFRAG_BYTES} bytes, got ${kfragBytes.length}`);
  }
  return keccak_256(kfragBytes);
}

/** The leaf of `node`'s kfrag; equals PolicyManager.kfragLeaf. */
export function kfragLeaf(policyId: Uint8Array, node: string, hash: Uint8Array): Uint8Array {
  if (policyId.length !== 16) throw new KfragCommitmentError("INVALID_POLICY_ID", "policy id must be 16 bytes");
  if (hash.length !== 32) throw new KfragCommitmentError("INVALID_HASH", "kfrag hash must be 32 bytes");
  const preimage = new Uint8Array(68);
  preimage.set(policyId, 0);
  preimage.set(addressBytes(node), 16);
  preimage.set(hash, 36);
  return keccak_256(preimage);
}

/** Build the root and every node's proof, leaves in the order of `entries` (= the policy's nodes[]). */
export function buildKfragTree(policyId: Uint8Array, entries: readonly KfragEntry[]): KfragTree {
  if (entries.length === 0) throw new KfragCommitmentError("EMPTY", "a policy has at least one node");
  const leaves = entries.map((e) => kfragLeaf(policyId, e.node, e.kfragHash));
  const { root, proofs } = buildMerkleTree(leaves);
  return { root, leaves, proofs };
}

/** The root alone (what createPolicy takes). */
export function kfragRoot(policyId: Uint8Array, entries: readonly KfragEntry[]): Uint8Array {
  return buildKfragTree(policyId, entries).root;
}

/** The proof for `node` (throws if it is not among the entries). */
export function kfragProof(policyId: Uint8Array, entries: readonly KfragEntry[], node: string): Uint8Array[] {
  const index = entries.findIndex((e) => sameAddress(e.node, node));
  if (index < 0) throw new KfragCommitmentError("UNKNOWN_NODE", `${node} holds no kfrag of this policy`);
  return buildKfragTree(policyId, entries).proofs[index];
}

/** Off-chain twin of PolicyManager.verifyKfragCommitment's Merkle check. */
export function verifyKfragProof(
  root: Uint8Array,
  policyId: Uint8Array,
  node: string,
  hash: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  return verifyMerkleProof(root, kfragLeaf(policyId, node, hash), proof);
}

/** 0x-prefixed lowercase hex, the form ethers takes for bytes/bytes32 arguments. */
export function toHex(bytes: Uint8Array): string {
  return "0x" + Buffer.from(bytes).toString("hex");
}

/** Parse 0x-prefixed (or bare) hex into bytes. */
export function fromHex(hex: string): Uint8Array {
  const body = hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex;
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) {
    throw new KfragCommitmentError("INVALID_HASH", `not hex: ${hex}`);
  }
  return Uint8Array.from(Buffer.from(body, "hex"));
}

function addressBytes(address: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new KfragCommitmentError("INVALID_ADDRESS", `not an address: ${address}`);
  }
  return fromHex(address);
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
