// The node's stamp over a cfrag: the ONE definition shared by the node agent (which signs it,
// src/node/reencrypt-worker.ts), the client (which checks it and saves it as evidence,
// src/client/evidence.ts) and the on-chain Adjudicator (contracts/Adjudicator.sol, which rebuilds
// the same bytes from calldata). Pure (no key material) so every side imports it as is.
//
// Stamp = ECDSA/secp256k1 by the node's registered Umbral verifying key (StakingEscrow
// registerNode `verifyingKey`) over the 32-byte ROOT of a batch of cfrags (`signDigest(root)`,
// no further hashing). Each cfrag is one leaf:
//
//   leaf_i = SHA-256(cfragStampMessage(context, capsule_i, cfrag_i))          664-byte preimage
//   root   = sorted-pair keccak256 Merkle root of leaf_0..leaf_{n-1}          (src/protocol/merkle.ts)
//
// and comes with its proof (the siblings up to the root, OpenZeppelin MerkleProof form). A batch
// of one has root = leaf and an empty proof: its stamp is exactly ECDSA over SHA-256(message),
// i.e. `Signer.sign(message)`, byte-identical to the per-cfrag stamps before batching. A leaf is
// SHA-256 of 664 bytes and an inner node keccak256 of 64, so no inner node passes as a leaf.
// The message (version 2):
//
//   offset  len  field
//        0   19  "NKMS-CFRAG-STAMP-V2"          domain tag (the stamp key signs nothing else in this form)
//       19   20  staker address                 the node's identity in policies and in the escrow
//       39    4  stamp period (uint32, BE)      the escrow's currentPeriod when the node signed
//       43   20  policy creator address         \ the policy's name: ids are namespaced by creator
//       63   16  policyId                       / (bytes16, as in PolicyManager)
//       79   33  delegatingKey (pk_A)           \
//      112   33  receivingKey  (pk_B)            } the keys the node verified the kfrag with at upload
//      145   33  verifyingKey  (publisher's)    /
//      178  105  Capsule.toBytes()              MessagePack form
//      283  381  CapsuleFrag.toBytes()          MessagePack form, exactly as returned
//
// The period dates the stamp: the escrow counts it only if the signing key's validity window
// contains the period (a key retired in period R counts through R) and the period is at most G
// periods old and not in the future (StakingEscrow `isStampKey`), and the escrow slashes a staker
// at most MAX_SLASHES_PER_PERIOD times per period. So a leaked key stops counting once the staker
// rotates or retires it, and cannot drain a stake at once by forging many distinct stamps. The policy creator
// is here because a policy id alone does not name a policy once ids are namespaced by creator
// (today PolicyManager's `owner`, the address the node and the client both read on-chain).
//
// Because the keys are stamped, the node answers for the kfrag signature its cfrag carries: a
// cfrag whose `signature_for_receiver` does not verify under the stamped keys is as incorrect
// (and as slashable) as one whose re-encryption proof fails. 64-byte r‖s; high-S is accepted on
// every side (Umbral and ecrecover both accept it).

import { createHash } from "node:crypto";
import { buildMerkleTree, processMerkleProof } from "./merkle";

export const CFRAG_STAMP_DOMAIN = new TextEncoder().encode("NKMS-CFRAG-STAMP-V2");
export const CFRAG_STAMP_MESSAGE_LENGTH = 664;
export const STAMP_CAPSULE_LENGTH = 105;
export const STAMP_CFRAG_LENGTH = 381;

/** Everything a stamp binds besides the capsule and the cfrag. */
export interface CFragStampContext {
  /** The node's staker address, 0x-prefixed. */
  staker: string;
  /** The escrow period the node signed in (uint32): dates the stamp. */
  stampPeriod: number;
  /** The policy's creator (PolicyManager owner), 0x-prefixed: (policyCreator, policyId) names the policy. */
  policyCreator: string;
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
  if (!/^0x[0-9a-fA-F]{40}$/.test(ctx.policyCreator)) throw new StampFormatError("policyCreator must be a 0x-prefixed address");
  if (!Number.isSafeInteger(ctx.stampPeriod) || ctx.stampPeriod < 0 || ctx.stampPeriod > 0xffffffff) {
    throw new StampFormatError("stampPeriod must be a uint32");
  }
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
  new DataView(out.buffer).setUint32(39, ctx.stampPeriod); // big-endian, as the Adjudicator's shl(224, period)
  out.set(Buffer.from(ctx.policyCreator.slice(2), "hex"), 43);
  let at = 63;
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
