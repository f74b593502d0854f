// Multikey public keys as ActivityPub actors publish them (FEP-521a `assertionMethod` entries of
// type "Multikey"): `publicKeyMultibase` is "z" + base58btc(multicodec varint ‖ raw key). Only the
// two key types the PKD spec allows for HTTP Message Signatures are decoded: ed25519-pub (0xed,
// varint ed 01; 32 bytes) and mldsa-44-pub (0x1210, varint 90 24; 1312 bytes, FIPS 204 pkEncode).
import { createPublicKey } from "node:crypto";
import { base58 } from "@scure/base";
import type { InstanceKey } from "./http-signature";
import { MLDSA44_PUBLIC_KEY_BYTES } from "./mldsa";

const ED25519_PUB = Uint8Array.of(0xed, 0x01);
const MLDSA44_PUB = Uint8Array.of(0x90, 0x24);

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** The key of a `publicKeyMultibase` value; undefined for anything malformed or of another type. */
export function decodeMultikey(multibase: string): InstanceKey | undefined {
  // 1312 bytes of key need ~1,800 base58 characters; refuse anything far longer before decoding.
  if (typeof multibase !== "string" || !multibase.startsWith("z") || multibase.length > 2048) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(multibase.slice(1));
  } catch {
    return undefined;
  }
  if (startsWith(bytes, ED25519_PUB) && bytes.length === 2 + 32) {
    const x = Buffer.from(bytes.subarray(2)).toString("base64url");
    return { alg: "ed25519", key: createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" }) };
  }
  if (startsWith(bytes, MLDSA44_PUB) && bytes.length === 2 + MLDSA44_PUBLIC_KEY_BYTES) {
    return { alg: "ml-dsa-44", key: bytes.slice(2) };
  }
  return undefined;
}

/** `publicKeyMultibase` of an ML-DSA-44 public key (1312 bytes). */
export function encodeMlDsa44Multikey(publicKey: Uint8Array): string {
  if (publicKey.length !== MLDSA44_PUBLIC_KEY_BYTES) throw new RangeError("an ML-DSA-44 public key is 1312 bytes");
  const bytes = new Uint8Array(2 + publicKey.length);
  bytes.set(MLDSA44_PUB);
  bytes.set(publicKey, 2);
  return "z" + base58.encode(bytes);
}
