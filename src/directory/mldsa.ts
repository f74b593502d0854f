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
 * Pays V8's one-time costs before the first request instead of in the first burst of submissions.
 * The first ArrayBuffer a thread detaches (the web streams of the first actor-document fetch do)
 * invalidates V8's ArrayBufferDetaching protector, which throws away all optimized code that
 * touches typed arrays, ML-DSA-44 and SHA-3 included: in the 500-submission burst the first
 * ML-DSA-44 verify then took 21-39 ms instead of ~1.5 ms, on the event loop, while V8's compiler
 * threads re-optimized on the same cores. So: detach one now, then sign and verify a few times
 * so that the code is optimized under the assumptions that hold from then on (~40-60 ms).
 */
export function warmUpJit(rounds = 4): void {
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
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
