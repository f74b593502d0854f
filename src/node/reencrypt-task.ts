import { Capsule, reencrypt, type Signer, type VerifiedKeyFrag } from "../umbral";
import { cfragStampMessage, type CFragStampContext } from "../protocol/stamp";

export type CapsuleBatchResult =
  | { ok: true; cfrags: Uint8Array[]; signatures: Uint8Array[] }
  | { ok: false; code: "BAD_CAPSULE"; message: string };

/**
 * The node's whole per-capsule work, in one place for the worker threads and the bench: parse and
 * self-check each capsule, re-encrypt it, and stamp the cfrag so the node answers for it on-chain
 * (src/protocol/stamp.ts). `offset` numbers the capsules in error messages.
 */
export function reencryptAndStamp(
  kfrag: VerifiedKeyFrag,
  stamp: Signer,
  context: CFragStampContext,
  capsules: readonly Uint8Array[],
  offset = 0,
): CapsuleBatchResult {
  const cfrags: Uint8Array[] = [];
  const signatures: Uint8Array[] = [];
  for (let i = 0; i < capsules.length; i++) {
    let capsule: Capsule;
    try {
      capsule = Capsule.fromBytes(capsules[i]);
    } catch (e) {
      return { ok: false, code: "BAD_CAPSULE", message: `capsule ${offset + i}: ${(e as Error).message}` };
    }
    const cfragBytes = reencrypt(capsule, kfrag).toBytes();
    cfrags.push(cfragBytes);
    signatures.push(stamp.sign(cfragStampMessage(context, capsule.toBytes(), cfragBytes)).toBEBytes());
  }
  return { ok: true, cfrags, signatures };
}
