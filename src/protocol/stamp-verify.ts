// The one check of a node's cfrag stamps (src/protocol/stamp.ts), shared by the client's retrieval,
// its evidence builder and the health checkers' probe: each cfrag's leaf is led up its proof to a
// batch root, and the stamp signature must be the node's over that root. Signatures are verified
// once per distinct (root, signature) pair, so a batch of n cfrags costs one ECDSA verification.
// Public data only (libsecp256k1, variable time is fine).
import secp256k1 from "secp256k1";
import { cfragStampLeaf, stampRoot, type CFragStampContext } from "./stamp";

/** One cfrag as a node returns it, with its stamp. */
export interface StampedCFrag {
  capsule: Uint8Array;
  cfrag: Uint8Array;
  /** 64-byte r‖s over the batch root. */
  signature: Uint8Array;
  /** Siblings from the cfrag's leaf up to the root; empty for a batch of one. */
  proof: readonly Uint8Array[];
}

/** Whether `signature` (64-byte r‖s, high-S accepted like Umbral and ecrecover) is `stampKey`'s over `digest`. */
export function verifyStampDigest(stampKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || stampKey.length !== 33 || digest.length !== 32) return false;
  try {
    return secp256k1.ecdsaVerify(secp256k1.signatureNormalize(Uint8Array.from(signature)), digest, stampKey);
  } catch {
    return false;
  }
}

/**
 * verdicts[i]: whether items[i] is stamped by `stampKey` for `context`. A malformed item (wrong
 * lengths, a proof sibling that is not 32 bytes, a proof longer than MAX_STAMP_PROOF_LENGTH) is false.
 */
export function verifyCFragStamps(stampKey: Uint8Array, context: CFragStampContext, items: readonly StampedCFrag[]): boolean[] {
  const checked = new Map<string, boolean>();
  return items.map((item) => {
    let root: Uint8Array | null;
    try {
      root = stampRoot(cfragStampLeaf(context, item.capsule, item.cfrag), item.proof);
    } catch {
      return false; // a field of the wrong length: not a stamp message
    }
    if (!root) return false;
    const key = Buffer.from(root).toString("hex") + Buffer.from(item.signature).toString("hex");
    let ok = checked.get(key);
    if (ok === undefined) {
      ok = verifyStampDigest(stampKey, root, item.signature);
      checked.set(key, ok);
    }
    return ok;
  });
}

/** verifyCFragStamps for a single cfrag. */
export function verifyCFragStamp(stampKey: Uint8Array, context: CFragStampContext, item: StampedCFrag): boolean {
  return verifyCFragStamps(stampKey, context, [item])[0];
}
