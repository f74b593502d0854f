// Proof of contact (issue #16, blind voting): the ONE definition shared by the node agent (which
// signs it with its stamp key while serving a checker's probe re-encryption), the checker's probe
// (which collects it and reveals it) and contracts/HealthCheck.sol (`contactDigest`,
// `isContactValid`, checked in `reveal`).
//
//   digest = keccak256(abi.encode("NKMS-HEALTH-CONTACT-V1", chainId, healthCheck, round, checker, target))
//
// with `checker` and `target` staker addresses. The agent returns the 64-byte r‖s (low-S) of its
// stamp key over `digest`; the checker adds the recovery byte (27/28, found by recovering its
// target's registered verifying key) to get the 65-byte proof `reveal` takes.
import { AbiCoder, SigningKey, computeAddress, concat, getBytes, hexlify, keccak256, recoverAddress } from "ethers";

export const CONTACT_TAG = "NKMS-HEALTH-CONTACT-V1";

export interface ContactContext {
  chainId: bigint;
  healthCheck: string;
  round: bigint;
  checker: string;
  target: string;
}

/** The 32-byte digest the target's stamp key signs (HealthCheck.contactDigest). */
export function contactDigest(ctx: ContactContext): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["string", "uint256", "address", "uint32", "address", "address"],
      [CONTACT_TAG, ctx.chainId, ctx.healthCheck, ctx.round, ctx.checker, ctx.target],
    ),
  );
}

/**
 * The 65-byte proof (r ‖ s ‖ v) from the agent's 64-byte r‖s, when it was made by the key whose
 * compressed or uncompressed public key is `verifyingKey`; undefined otherwise (a high-S or foreign
 * signature never verifies on-chain either).
 */
export function contactProof(ctx: ContactContext, signature64: Uint8Array, verifyingKey: Uint8Array): string | undefined {
  if (signature64.length !== 64) return undefined;
  const s = BigInt(hexlify(signature64.subarray(32)));
  if (s === 0n || s > SECP256K1_HALF_N) return undefined;
  const expected = computeAddress(SigningKey.computePublicKey(verifyingKey)).toLowerCase();
  const digest = contactDigest(ctx);
  for (const v of [27, 28]) {
    const proof = concat([signature64, new Uint8Array([v])]);
    try {
      if (recoverAddress(digest, proof).toLowerCase() === expected) return proof;
    } catch {
      /* not a signature for this parity */
    }
  }
  return undefined;
}

/** The low-S bound (secp256k1 n / 2): OpenZeppelin's ECDSA refuses anything above. */
export const SECP256K1_HALF_N = BigInt("0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0");

export function parseSignature64(hex: string): Uint8Array | undefined {
  if (!/^0x[0-9a-fA-F]{128}$/.test(hex)) return undefined;
  return getBytes(hex);
}
