// The node's on-chain registration (StakingEscrow.registerNode): the proof that the node holds
// its Umbral verifying (stamp) key, and finding which staker a not-yet-bonded operator serves.
//
// Proof of possession: the stamp key's ECDSA signature, exactly as Umbral's Signer makes it
// (SHA-256 of the message, 64-byte r‖s), over this 108-byte message:
//
//   offset  len  field
//        0   16  "NKMS-NODE-KEY-V1"   domain tag (the stamp key signs nothing else in this form)
//       16   32  chain id             big-endian uint256
//       48   20  StakingEscrow        the deployment
//       68   20  staker               the node's identity
//       88   20  operator             the registering hot key
//
// The escrow rebuilds it (`keyProofDigest`) and checks it with ecrecover, which also proves the
// key is a curve point whose holder agreed to answer for this staker: nobody can register a key
// it does not hold, nor a key whose stamps would not verify.
import { getAddress, getBytes } from "ethers";
import type { SecretKey } from "../umbral";
import { Signer } from "../umbral";

export const KEY_PROOF_DOMAIN = new TextEncoder().encode("NKMS-NODE-KEY-V1");
export const KEY_PROOF_MESSAGE_LENGTH = 108;

/** What a key proof binds. Addresses 0x-prefixed (any case). */
export interface KeyProofContext {
  chainId: bigint;
  escrow: string;
  staker: string;
  operator: string;
}

/** The 108-byte message the stamp key signs to prove possession. */
export function keyProofMessage(ctx: KeyProofContext): Uint8Array {
  if (ctx.chainId < 0n || ctx.chainId >= 1n << 256n) throw new RangeError("chainId out of range");
  const out = new Uint8Array(KEY_PROOF_MESSAGE_LENGTH);
  out.set(KEY_PROOF_DOMAIN, 0);
  out.set(getBytes("0x" + ctx.chainId.toString(16).padStart(64, "0")), 16);
  out.set(getBytes(getAddress(ctx.escrow)), 48);
  out.set(getBytes(getAddress(ctx.staker)), 68);
  out.set(getBytes(getAddress(ctx.operator)), 88);
  return out;
}

/** The 64-byte r‖s proof of possession of `stampSecret`'s public key, for `registerNode`. */
export function signKeyProof(stampSecret: SecretKey, ctx: KeyProofContext): Uint8Array {
  return new Signer(stampSecret).sign(keyProofMessage(ctx)).toBEBytes();
}
