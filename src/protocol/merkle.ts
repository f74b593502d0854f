/**
 * The one sorted-pair keccak256 Merkle tree of the project, OpenZeppelin MerkleProof-compatible:
 * used by the kfrag commitment (src/client/kfrag-commitment.ts, PolicyManager) and by the node's
 * batched cfrag stamps (src/protocol/stamp.ts, Adjudicator).
 *
 *   parent = keccak256(min(a, b) ‖ max(a, b))        sorted pair of 32-byte words, 64-byte preimage
 *
 * Leaves are taken in the given order. Each level pairs elements (0,1), (2,3), …; an unpaired last
 * element moves up unchanged. The root of a single leaf is the leaf itself. A proof is the list of
 * siblings from the leaf upwards (levels where the element moved up unpaired contribute nothing);
 * with sorted-pair hashing it needs no left/right flags, which is exactly what OpenZeppelin's
 * MerkleProof.processProof(Calldata) computes. Callers must make their leaves' preimages differ
 * from 64 bytes of inner nodes, so no inner node passes as a leaf.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

export const MERKLE_WORD = 32;

export interface MerkleTree {
  root: Uint8Array;
  /** proofs[i] proves leaves[i]. */
  proofs: Uint8Array[][];
}

export class MerkleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MerkleError";
  }
}

/** Root and every leaf's proof. Throws on an empty list or a leaf that is not 32 bytes. */
export function buildMerkleTree(leaves: readonly Uint8Array[]): MerkleTree {
  if (leaves.length === 0) throw new MerkleError("a Merkle tree needs at least one leaf");
  for (const leaf of leaves) {
    if (leaf.length !== MERKLE_WORD) throw new MerkleError(`a leaf must be ${MERKLE_WORD} bytes, got ${leaf.length}`);
  }
  const proofs: Uint8Array[][] = leaves.map(() => []);
  // positions[i]: where leaf i's ancestor sits in the current level.
  const positions = leaves.map((_, i) => i);
  let level: readonly Uint8Array[] = leaves;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let j = 0; j < level.length; j += 2) {
      next.push(j + 1 < level.length ? hashPair(level[j], level[j + 1]) : level[j]);
    }
    for (let i = 0; i < leaves.length; i++) {
      const pos = positions[i];
      const sibling = pos ^ 1;
      if (sibling < level.length) proofs[i].push(level[sibling]);
      positions[i] = pos >> 1;
    }
    level = next;
  }
  return { root: level[0], proofs };
}

/** The root `proof` leads to from `leaf` (OpenZeppelin's processProof); null if a sibling is not 32 bytes. */
export function processMerkleProof(leaf: Uint8Array, proof: readonly Uint8Array[]): Uint8Array | null {
  let acc = leaf;
  for (const sibling of proof) {
    if (sibling.length !== MERKLE_WORD) return null;
    acc = hashPair(acc, sibling);
  }
  return acc;
}

/** Whether `proof` leads from `leaf` to `root`. */
export function verifyMerkleProof(root: Uint8Array, leaf: Uint8Array, proof: readonly Uint8Array[]): boolean {
  const computed = processMerkleProof(leaf, proof);
  return computed !== null && equalBytes(computed, root);
}

/** keccak256 of the two 32-byte words in ascending order (OpenZeppelin's commutativeKeccak256). */
export function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [lo, hi] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
  const buf = new Uint8Array(64);
  buf.set(lo, 0);
  buf.set(hi, 32);
  return keccak_256(buf);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}
