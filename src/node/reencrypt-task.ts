import { Capsule, reencrypt, type Signer, type VerifiedKeyFrag } from "../umbral";
import { cfragStampLeaf, stampBatch, type CFragStampContext } from "../protocol/stamp";

export type CapsuleBatchResult =
  | {
      ok: true;
      cfrags: Uint8Array[];
      /** The stamp: one signature over this batch's root, shared by all its cfrags. */
      signature: Uint8Array;
      /** proofs[i]: cfrags[i]'s leaf up to the signed root (empty for a batch of one). */
      proofs: Uint8Array[][];
    }
  | { ok: false; code: "BAD_CAPSULE"; message: string };

/**
 * The node's whole per-capsule work, in one place for the worker threads and the bench: parse and
 * self-check each capsule, re-encrypt it, and stamp the batch so the node answers for every cfrag
 * on-chain (src/protocol/stamp.ts): one signature over the Merkle root of the cfrags' stamp
 * leaves, plus each cfrag's proof. `offset` numbers the capsules in error messages.
 */
export function reencryptAndStamp(
  kfrag: VerifiedKeyFrag,
  stamp: Signer,
  context: CFragStampContext,
  capsules: readonly Uint8Array[],
  offset = 0,
): CapsuleBatchResult {
  const cfrags: Uint8Array[] = [];
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < capsules.length; i++) {
    let capsule: Capsule;
    try {
      capsule = Capsule.fromBytes(capsules[i]);
    } catch (e) {
      return { ok: false, code: "BAD_CAPSULE", message: `capsule ${offset + i}: ${(e as Error).message}` };
    }
    const cfragBytes = reencrypt(capsule, kfrag).toBytes();
    cfrags.push(cfragBytes);
    leaves.push(cfragStampLeaf(context, capsule.toBytes(), cfragBytes));
  }
  const { root, proofs } = stampBatch(leaves);
  // The root is already a digest: signed as is (for one cfrag, root = SHA-256(message), so this
  // is exactly stamp.sign(message)).
  return { ok: true, cfrags, signature: stamp.signDigest(root).toBEBytes(), proofs };
}
