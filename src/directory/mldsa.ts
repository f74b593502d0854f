// ML-DSA-44 (FIPS 204) as the Fedi-E2EE PKD v0.8 uses it: `mldsa44:` public keys, keys from a
// 32-byte seed, the protocol signature over PAE with field names interleaved, and verification
// that never throws. Shared by the directory, its clients and the v0.8 vector replay.
import { ml_dsa44 } from "@noble/post-quantum/ml-dsa.js";
import { MLDSA44_PUBLIC_KEY_BYTES, canonicalJson, JsonValue } from "./encoding";
import { pae } from "./pae";

export { MLDSA44_PREFIX, MLDSA44_PUBLIC_KEY_BYTES } from "./encoding";
export const MLDSA44_SIGNATURE_BYTES = 2420;
export const MLDSA44_SEED_BYTES = 32;

export interface MlDsaKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** The key pair of a 32-byte seed (FIPS 204 ML-DSA.KeyGen_internal); the seed is what keystores hold. */
export function mlDsaKeyPair(seed: Uint8Array): MlDsaKeyPair {
  if (seed.length !== MLDSA44_SEED_BYTES) throw new RangeError("an ML-DSA-44 seed is 32 bytes");
  return ml_dsa44.keygen(seed);
}

export function mlDsaPublicKey(seed: Uint8Array): Uint8Array {
  return mlDsaKeyPair(seed).publicKey;
}

/**
 * Signs with the seed's key. `deterministic` (FIPS 204's deterministic variant) is for the server's
 * log leaves, so one message always yields one leaf; everything else is hedged (the default).
 */
export function mlDsaSign(message: Uint8Array, seedOrPair: Uint8Array | MlDsaKeyPair, deterministic = false): Uint8Array {
  const pair = seedOrPair instanceof Uint8Array ? mlDsaKeyPair(seedOrPair) : seedOrPair;
  return ml_dsa44.sign(message, pair.secretKey, deterministic ? { extraEntropy: false } : undefined);
}

/** False (never a throw) for a wrong-sized or invalid signature or key. */
export function mlDsaVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== MLDSA44_SIGNATURE_BYTES || publicKey.length !== MLDSA44_PUBLIC_KEY_BYTES) return false;
  try {
    return ml_dsa44.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/**
 * Runs ML-DSA-44 signing and verification a few times, so that a server's first real ones run
 * optimized code: in a fresh process the first verify takes ~17 ms and the first sign ~20 ms
 * (warm: ~1.5 ms and 3-5 ms), on the event loop.
 */
export function warmUpMlDsa(rounds = 4): void {
  const pair = mlDsaKeyPair(new Uint8Array(MLDSA44_SEED_BYTES));
  for (let i = 0; i < rounds; i++) {
    const message = Uint8Array.of(i);
    mlDsaVerify(mlDsaSign(message, pair, i % 2 === 0), message, pair.publicKey);
  }
}

export { encodePublicKey as encodeMlDsaPublicKey, decodePublicKey as decodeMlDsaPublicKey } from "./encoding";

/** The fields of a protocol message that its signature covers. */
export interface SignedFields {
  "!pkd-context": string;
  action: string;
  message: unknown;
  "recent-merkle-root": string;
}

/** The spec's signed payload: PAE over the field names interleaved with their values. */
export function protocolSignaturePayload(msg: SignedFields): Uint8Array {
  return pae([
    "!pkd-context",
    msg["!pkd-context"],
    "action",
    msg.action,
    "message",
    canonicalJson(msg.message as JsonValue),
    "recent-merkle-root",
    msg["recent-merkle-root"],
  ]);
}
