// A node's receipt for a kfrag: the ONE definition shared by the node agent (which signs it when
// it accepts an upload), the client (which checks it and keeps it) and the on-chain
// LeakAdjudicator (which rebuilds the same bytes from calldata and requires the receipt before it
// punishes a leak). Pure (no key material), like ./stamp.
//
// Why: the policy's owner made every kfrag, so a revealed kfrag alone never proves that a node
// leaked it. A node can only be challenged for a kfrag it acknowledged holding; the receipt is that
// acknowledgement, signed by the node's stamp key (StakingEscrow `isStampKey`).
//
// Receipt = ECDSA/secp256k1 by the node's stamp key over SHA-256(message), 64-byte r‖s (the
// verifier tries both recovery parities, as for stamps). The message (version 1, 165 bytes):
//
//   offset  len  field
//        0   21  "NKMS-KFRAG-RECEIPT-V1"        domain tag (the stamp key signs nothing else in this form)
//       21   32  chainId (uint256, BE)          \ the deployment: a receipt from a testnet never
//       53   20  PolicyManager address          / counts on another chain or another deployment
//       73   20  staker address                 the node's identity in policies and in the escrow
//       93    4  receipt period (uint32, BE)    the escrow's currentPeriod when the node signed
//       97   20  policy creator address         \ the policy's name: ids are namespaced by creator
//      117   16  policyId                       /
//      133   32  kfragHash = keccak256(kfrag)   as in PolicyManager.kfragLeaf
//
// The period dates the receipt exactly as a stamp is dated: it counts only if the signing key was
// the staker's stamp key in that period (a leaked, since-retired key cannot sign new receipts that
// count).

import { createHash } from "node:crypto";

export const KFRAG_RECEIPT_DOMAIN = new TextEncoder().encode("NKMS-KFRAG-RECEIPT-V1");
export const KFRAG_RECEIPT_MESSAGE_LENGTH = 165;

/** Everything a receipt binds. */
export interface KfragReceiptContext {
  chainId: bigint;
  /** The PolicyManager the policy lives in, 0x-prefixed. */
  policyManager: string;
  /** The node's staker address, 0x-prefixed. */
  staker: string;
  /** The escrow period the node signed in (uint32). */
  period: number;
  /** The policy's creator, 0x-prefixed: (policyCreator, policyId) names the policy. */
  policyCreator: string;
  /** The policy id, 16 bytes. */
  policyId: Uint8Array;
  /** keccak256 of the kfrag bytes, 32 bytes. */
  kfragHash: Uint8Array;
}

export class ReceiptFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReceiptFormatError";
  }
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function address(name: string, value: string): Uint8Array {
  if (!ADDRESS.test(value)) throw new ReceiptFormatError(`${name} must be a 0x-prefixed address`);
  return Buffer.from(value.slice(2), "hex");
}

/** The exact bytes whose SHA-256 the node's receipt signs (see the table above). */
export function kfragReceiptMessage(ctx: KfragReceiptContext): Uint8Array {
  if (typeof ctx.chainId !== "bigint" || ctx.chainId < 0n || ctx.chainId >= 1n << 256n) {
    throw new ReceiptFormatError("chainId must be a uint256");
  }
  if (!Number.isSafeInteger(ctx.period) || ctx.period < 0 || ctx.period > 0xffffffff) {
    throw new ReceiptFormatError("period must be a uint32");
  }
  if (ctx.policyId.length !== 16) throw new ReceiptFormatError(`policyId must be 16 bytes, got ${ctx.policyId.length}`);
  if (ctx.kfragHash.length !== 32) throw new ReceiptFormatError(`kfragHash must be 32 bytes, got ${ctx.kfragHash.length}`);
  const out = new Uint8Array(KFRAG_RECEIPT_MESSAGE_LENGTH);
  out.set(KFRAG_RECEIPT_DOMAIN, 0);
  out.set(Buffer.from(ctx.chainId.toString(16).padStart(64, "0"), "hex"), 21);
  out.set(address("policyManager", ctx.policyManager), 53);
  out.set(address("staker", ctx.staker), 73);
  new DataView(out.buffer).setUint32(93, ctx.period); // big-endian, as Solidity's abi.encodePacked(uint32)
  out.set(address("policyCreator", ctx.policyCreator), 97);
  out.set(ctx.policyId, 117);
  out.set(ctx.kfragHash, 133);
  return out;
}

/** The 32-byte digest the stamp key signs: SHA-256 of the receipt message. */
export function kfragReceiptDigest(ctx: KfragReceiptContext): Uint8Array {
  return new Uint8Array(createHash("sha256").update(kfragReceiptMessage(ctx)).digest());
}
