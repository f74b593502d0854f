/** Machine-readable reason for every failure raised by the Umbral module. */
export type UmbralErrorCode =
  | "INVALID_ARGUMENT" // wrong JS type, e.g. a reference object where ours is expected
  | "INVALID_LENGTH" // byte string of the wrong size
  | "INVALID_POINT" // not a compressed point on secp256k1 (or the point at infinity)
  | "INVALID_SCALAR" // zero or >= the group order
  | "INVALID_SIGNATURE" // malformed signature encoding
  | "INVALID_ENCODING" // MessagePack layout differs from the canonical one
  | "INVALID_PARAMETERS" // a kfrag carries a parameter U other than ours
  | "INVALID_THRESHOLD" // threshold 0, threshold > shares, non-integers
  | "CAPSULE_VERIFICATION_FAILED" // sG != V + h·E
  | "KFRAG_COMMITMENT_MISMATCH"
  | "KFRAG_MISSING_DELEGATING_KEY"
  | "KFRAG_MISSING_RECEIVING_KEY"
  | "KFRAG_SIGNATURE_INVALID"
  | "CFRAG_SIGNATURE_INVALID"
  | "CFRAG_PROOF_INVALID"
  | "NO_CFRAGS"
  | "MISMATCHED_CFRAGS" // cfrags made from different kfrag sets (different precursors)
  | "DUPLICATE_CFRAGS"
  | "REENCRYPTION_VALIDATION_FAILED" // too few cfrags, wrong keys or wrong capsule
  | "DECRYPTION_FAILED" // AEAD tag mismatch: wrong key, capsule or ciphertext
  | "ARITHMETIC_FAILURE"; // a result was zero / infinity (negligible for honest input)

/** Every error thrown by src/umbral is an UmbralError; switch on `code`, not on the message. */
export class UmbralError extends Error {
  readonly code: UmbralErrorCode;

  constructor(code: UmbralErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "UmbralError";
    this.code = code;
  }
}
