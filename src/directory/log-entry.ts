// The log's entries (spec "Tlog Integration"): SHA-256 of the protocol message (leafData) ‖ the
// directory's ML-DSA-44 signature of that hash ‖ SHA-256 of the directory's ML-DSA-44 public key.
// The Merkle tree hashes the entry's bytes as an RFC 9162 leaf.
import { createHash } from "node:crypto";
import { bytesEqual } from "./merkle";
import { MLDSA44_SIGNATURE_BYTES, MlDsaKeyPair, mlDsaKeyPair, mlDsaSign, mlDsaVerify } from "./mldsa";

export const LOG_ENTRY_BYTES = 32 + MLDSA44_SIGNATURE_BYTES + 32;

const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());

/**
 * The directory's ML-DSA-44 key: its configured 32-byte secret is the seed, so a restart keeps the
 * key. (The tlog note key and the HPKE key are hashed from the same secret under their own labels.)
 */
export function directoryKeyPair(secret: Uint8Array): MlDsaKeyPair {
  return mlDsaKeyPair(secret);
}

/** What the on-chain checkpoint contract's `directoryKey()` holds: SHA-256 of the ML-DSA-44 public key. */
export function directoryKeyHash(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey);
}

export function messageHash(leafData: Uint8Array): Uint8Array {
  return sha256(leafData);
}

/**
 * The entry for a protocol message. The signature is FIPS 204's deterministic variant, so a
 * message yields one entry (and one leaf hash) however often it is submitted.
 */
export function buildLogEntry(leafData: Uint8Array, server: MlDsaKeyPair): Uint8Array {
  const hash = messageHash(leafData);
  return logEntryOf(hash, mlDsaSign(hash, server, true), server.publicKey);
}

/** The entry from its parts: `signature` is the deterministic ML-DSA-44 signature of `hash` under `publicKey`. */
export function logEntryOf(hash: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return Buffer.concat([hash, signature, directoryKeyHash(publicKey)]);
}

/**
 * Checks an entry under `serverKey`: its length, the key hash, the signature of its hash, and,
 * when `leafData` is given, that the hash is SHA-256 of it. Returns a reason on failure.
 */
export function checkLogEntry(entry: Uint8Array, serverKey: Uint8Array, leafData?: Uint8Array): string | undefined {
  if (entry.length !== LOG_ENTRY_BYTES) return `a log entry is ${LOG_ENTRY_BYTES} bytes, not ${entry.length}`;
  const hash = entry.subarray(0, 32);
  if (!bytesEqual(entry.subarray(32 + MLDSA44_SIGNATURE_BYTES), directoryKeyHash(serverKey))) return "the entry's key hash is not SHA-256 of the directory key";
  if (leafData && !bytesEqual(hash, messageHash(leafData))) return "the entry's hash is not SHA-256 of the message";
  if (!mlDsaVerify(entry.subarray(32, 32 + MLDSA44_SIGNATURE_BYTES), hash, serverKey)) return "the entry's signature does not verify under the directory key";
  return undefined;
}
