import secp256k1 from "secp256k1";
import { keccak256 } from "ethers";
import { ethMessageHash, sha256 } from "./protocol";

// Signature checks on the request path use libsecp256k1 (native, ~0.1 ms) so that authenticating
// a request costs far less than the re-encryption it asks for. Verification handles public data
// only, so variable time is fine here.

/** Umbral signature check: ECDSA over SHA-256(message), 64-byte r‖s; high-S accepted like the reference. */
export function verifyUmbralSignature(verifyingKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || verifyingKey.length !== 33) return false;
  try {
    const normalized = secp256k1.signatureNormalize(Uint8Array.from(signature));
    return secp256k1.ecdsaVerify(normalized, sha256(message), verifyingKey);
  } catch {
    return false;
  }
}

/** Recovers the Ethereum address that EIP-191-signed a 32-byte digest; undefined when malformed. */
export function recoverEthSigner(digest: Uint8Array, signature: Uint8Array): string | undefined {
  if (signature.length !== 65) return undefined;
  const v = signature[64];
  const recid = v >= 27 ? v - 27 : v;
  if (recid !== 0 && recid !== 1) return undefined;
  try {
    const pub = secp256k1.ecdsaRecover(signature.subarray(0, 64), recid, ethMessageHash(digest), false);
    return "0x" + keccak256(pub.subarray(1)).slice(-40);
  } catch {
    return undefined;
  }
}
