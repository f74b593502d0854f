// The node's stamp over a cfrag: the ONE definition shared by the node agent (which signs it,
// src/node/reencrypt-worker.ts), the client (which checks it and saves it as evidence,
// src/client/evidence.ts) and the on-chain Adjudicator (contracts/Adjudicator.sol, which rebuilds
// the same bytes from calldata). Pure (no key material) so every side imports it as is.
//
// Stamp = ECDSA/secp256k1 by the node's registered Umbral verifying key (StakingEscrow
// registerNode `verifyingKey`) over the 32-byte ROOT of a batch of cfrags (`signDigest(root)`,
// no further hashing). Each cfrag is one leaf:
//
//   leaf_i = SHA-256(cfragStampMessage(context, capsule_i, cfrag_i))          640-byte preimage
//   root   = sorted-pair keccak256 Merkle root of leaf_0..leaf_{n-1}          (src/protocol/merkle.ts)
//
// and comes with its proof (the siblings up to the root, OpenZeppelin MerkleProof form). A batch
// of one has root = leaf and an empty proof: its stamp is exactly ECDSA over SHA-256(message),
// i.e. `Signer.sign(message)`, byte-identical to the per-cfrag stamps before batching. A leaf is
// SHA-256 of 640 bytes and an inner node keccak256 of 64, so no inner node passes as a leaf.
// The message:
//
//   offset  len  field
//        0   19  "NKMS-CFRAG-STAMP-V1"          domain tag (the stamp key signs nothing else in this form)
//       19   20  staker address                 the node's identity in policies and in the escrow
//       39   16  policyId                       bytes16, as in PolicyManager
//       55   33  delegatingKey (pk_A)           \
//       88   33  receivingKey  (pk_B)            } the keys the node verified the kfrag with at upload
//      121   33  verifyingKey  (publisher's)    /
//      154  105  Capsule.toBytes()              MessagePack form
//      259  381  CapsuleFrag.toBytes()          MessagePack form, exactly as returned
//
// Because the keys are stamped, the node answers for the kfrag signature its cfrag carries: a
// cfrag whose `signature_for_receiver` does not verify under the stamped keys is as incorrect
// (and as slashable) as one whose re-encryption proof fails. 64-byte r‖s; high-S is accepted on
// every side (Umbral and ecrecover both accept it).

import { createHash } from "node:crypto";
import { buildMerkleTree, processMerkleProof } from "./merkle";

export const CFRAG_STAMP_DOMAIN = new TextEncoder().encode("NKMS-CFRAG-STAMP-V1");
export const CFRAG_STAMP_MESSAGE_LENGTH = 640;
export const STAMP_CAPSULE_LENGTH = 105;
export const STAMP_CFRAG_LENGTH = 381;

/** Everything a stamp binds besides the capsule and the cfrag. */
export interface CFragStampContext {
  /** The node's staker address, 0x-prefixed. */
  staker: string;
  /** The policy id, 16 bytes. */
  policyId: Uint8Array;
  /** Compressed (33-byte) keys the kfrag was verified with: pk_A, pk_B and the kfrag signer's key. */
  delegatingKey: Uint8Array;
  receivingKey: Uint8Array;
  verifyingKey: Uint8Array;
}

export class StampFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StampFormatError";
  }
}

/** The exact bytes whose SHA-256 the node's stamp signs (see the table above). */
export function cfragStampMessage(ctx: CFragStampContext, capsule: Uint8Array, cfrag: Uint8Array): Uint8Array {
  if (!/^0x[0-9a-fA-F]{40}$/.test(ctx.staker)) throw new StampFormatError("staker must be a 0x-prefixed address");
  const fields: [string, Uint8Array, number][] = [
    ["policyId", ctx.policyId, 16],
    ["delegatingKey", ctx.delegatingKey, 33],
    ["receivingKey", ctx.receivingKey, 33],
    ["verifyingKey", ctx.verifyingKey, 33],
    ["capsule", capsule, STAMP_CAPSULE_LENGTH],
    ["cfrag", cfrag, STAMP_CFRAG_LENGTH],
  ];
  for (const [name, value, length] of fields) {
    if (value.length !== length) throw new StampFormatError(`${name} must be ${length} bytes, got ${value.length}`);
  }
  const out = new Uint8Array(CFRAG_STAMP_MESSAGE_LENGTH);
  out.set(CFRAG_STAMP_DOMAIN, 0);
  out.set(Buffer.from(ctx.staker.slice(2), "hex"), 19);
  let at = 39;
  for (const [, value] of fields) {
    out.set(value, at);
    at += value.length;
  }
  return out;
}

/** Longest stamp proof any side accepts (the Adjudicator's bound): batches of up to 2^32 cfrags. */
export const MAX_STAMP_PROOF_LENGTH = 32;

/** One cfrag's leaf in its batch: SHA-256 of its stamp message (the Adjudicator's evidence hash). */
export function cfragStampLeaf(ctx: CFragStampContext, capsule: Uint8Array, cfrag: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(cfragStampMessage(ctx, capsule, cfrag)).digest());
}

/** The batch root the node signs and each leaf's proof (proofs[i] proves leaves[i]). */
export function stampBatch(leaves: readonly Uint8Array[]): { root: Uint8Array; proofs: Uint8Array[][] } {
  if (leaves.length === 0) throw new StampFormatError("a stamp batch needs at least one cfrag");
  return buildMerkleTree(leaves);
}

/** The root a leaf's proof leads to: what the stamp signature must be over. Null for a malformed proof. */
export function stampRoot(leaf: Uint8Array, proof: readonly Uint8Array[]): Uint8Array | null {
  if (proof.length > MAX_STAMP_PROOF_LENGTH) return null;
  return processMerkleProof(leaf, proof);
}
