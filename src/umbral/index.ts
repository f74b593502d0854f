// Umbral threshold proxy re-encryption, byte-compatible with rust-umbral 0.10 / @nucypher/umbral-pre
// 0.10.0 and mirroring its JavaScript API (same names, argument order, synchronous). Differences:
// errors are UmbralError with a `code`; verify() does not consume objects; free() is a no-op;
// generateKFrags rejects threshold 0 and threshold > shares; KeyFrag.verify also checks the receiver
// signature when both keys are given. Additions: toFields() byte accessors on Capsule / KeyFrag /
// VerifiedKeyFrag / CapsuleFrag / VerifiedCapsuleFrag, Capsule/CapsuleFrag.fromBytesSimple,
// VerifiedKeyFrag.unverify, SecretKey.equals, Signature.recoveryByte, CurvePoint.toCompressedBytes.
// Bulk data: see ./stream. Constant-time notes: see ./curve.
export { UmbralError } from "./errors";
export type { UmbralErrorCode } from "./errors";
export { PublicKey, SecretKey, SecretKeyFactory, Signature, Signer } from "./keys";
export { Capsule } from "./capsule";
export type { CapsuleFields } from "./capsule";
export { KeyFrag, VerifiedKeyFrag, generateKFrags } from "./kfrag";
export type { KeyFragFields } from "./kfrag";
export { CapsuleFrag, VerifiedCapsuleFrag, reencrypt } from "./cfrag";
export type { CapsuleFragFields } from "./cfrag";
export { encrypt, decryptOriginal, decryptReencrypted } from "./pre";
export { RecoverableSignature } from "./keys";
export { CurvePoint, Parameters, ReencryptionEvidence } from "./evidence";
