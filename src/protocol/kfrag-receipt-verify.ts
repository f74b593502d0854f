// Checking a node's kfrag receipt (./kfrag-receipt): the client verifies every receipt before it
// counts a kfrag as delivered, with the node's registered stamp key; whether that key was the
// node's stamp key in the receipt's period is the escrow's call (`isStampKey`), made by the caller.
// Public data only (libsecp256k1, variable time is fine).
import secp256k1 from "secp256k1";
import { kfragReceiptDigest, type KfragReceiptContext } from "./kfrag-receipt";
import { verifyStampDigest } from "./stamp-verify";

/** A receipt as the node returns it: the period it is dated with and 64-byte r‖s by its stamp key. */
export interface KfragReceipt {
  period: number;
  /** 0x-hex, 64 bytes r‖s. */
  signature: string;
}

/** Whether `signature` (64 bytes r‖s, high-S accepted like stamps) is `stampKey`'s receipt for `ctx`. */
export function verifyKfragReceipt(stampKey: Uint8Array, ctx: KfragReceiptContext, signature: Uint8Array): boolean {
  let digest: Uint8Array;
  try {
    digest = kfragReceiptDigest(ctx);
  } catch {
    return false; // a field out of range: not a receipt message
  }
  return verifyStampDigest(stampKey, digest, signature);
}

/**
 * The low-S form (r, min(s, n − s)) of a 64-byte r‖s receipt signature, or undefined when it does
 * not parse. The same signature mathematically, and the only form the LeakAdjudicator accepts
 * (OpenZeppelin's ECDSA refuses high-S): a receipt kept in its high-S form could never be revealed,
 * so a node answering (r, n − s) would make itself unchallengeable (review of issue #14).
 */
export function lowSReceiptSignature(signature: Uint8Array): Uint8Array | undefined {
  if (signature.length !== 64) return undefined;
  try {
    return secp256k1.signatureNormalize(Uint8Array.from(signature));
  } catch {
    return undefined;
  }
}
