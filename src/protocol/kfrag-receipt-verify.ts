// Checking a node's kfrag receipt (./kfrag-receipt): the client verifies every receipt before it
// counts a kfrag as delivered, with the node's registered stamp key; whether that key was the
// node's stamp key in the receipt's period is the escrow's call (`isStampKey`), made by the caller.
// Public data only (libsecp256k1, variable time is fine).
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
