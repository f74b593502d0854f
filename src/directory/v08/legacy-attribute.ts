// VECTORS ONLY: attribute decryption as the specification's test-vector generator
// (vectorgen/src/DeterministicVersion1.php) did it, which differs from the specification text and
// from pkd-crypto's Version1 (our attribute-encryption.ts): XSalsa20 with a 24-byte nonce (56 bytes
// of HKDF output), the commitment salt is the FIRST 16 bytes of the SHA-512, and the tag is the
// LEFTMOST 32 bytes of the HMAC. The conformance runner uses it only to replay those vectors
// (replay.ts, and directory-replay.ts through the directory's vectors-only seam); nothing else may
// import it.
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { xsalsa20 } from "@noble/ciphers/salsa.js";
import { ATTRIBUTE_OVERHEAD, ATTRIBUTE_VERSION, AttributeDecryptionError, OpenedAttribute, argon2Commitment, commitmentSaltInput } from "../attribute-encryption";
import { concatBytes, lengthPrefixed } from "../pae";

const ENC_INFO = "FediE2EE-v1-Compliance-Encryption-Key";
const AUTH_INFO = "FediE2EE-v1-Compliance-Message-Auth-Key";
const utf8 = new TextEncoder();

function hkdf512(ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha512", ikm, new Uint8Array(0), info, length));
}

/**
 * The cheap half (tag, XSalsa20) of the legacy vector variant, with the Argon2id commitment
 * deferred as in attribute-encryption.ts's openAttribute (the directory replay plugs it in there).
 */
export function openLegacyVectorAttribute(name: string, ciphertext: Uint8Array, key: Uint8Array, recentMerkleRoot: string): OpenedAttribute {
  if (key.length !== 32) throw new AttributeDecryptionError("bad_key", "attribute keys are 32 bytes");
  if (ciphertext.length < ATTRIBUTE_OVERHEAD) throw new AttributeDecryptionError("truncated", "attribute ciphertext is too short");
  if (ciphertext[0] !== ATTRIBUTE_VERSION) throw new AttributeDecryptionError("bad_version", `unsupported attribute version ${ciphertext[0]}`);
  const h = ciphertext.subarray(0, 1);
  const r = ciphertext.subarray(1, 33);
  const q = ciphertext.subarray(33, 65);
  const t = ciphertext.subarray(65, 97);
  const c = ciphertext.subarray(97);
  const a = utf8.encode(name);
  const m = utf8.encode(recentMerkleRoot);
  const suffix = concatBytes(h, r, lengthPrefixed(a));
  const encAndNonce = hkdf512(key, concatBytes(utf8.encode(ENC_INFO), suffix), 56);
  const ak = hkdf512(key, concatBytes(utf8.encode(AUTH_INFO), suffix), 32);
  const mac = createHmac("sha512", ak).update(h).update(r).update(lengthPrefixed(a)).update(lengthPrefixed(c)).update(lengthPrefixed(q)).digest();
  if (!timingSafeEqual(mac.subarray(0, 32), t)) throw new AttributeDecryptionError("bad_tag", "attribute MAC does not verify");
  const plaintext = xsalsa20(encAndNonce.subarray(0, 32), encAndNonce.subarray(32, 56), c);
  return {
    plaintext,
    async verifyCommitment() {
      const expected = await argon2Commitment(m, a, plaintext, commitmentSaltInput(r, m, a).subarray(0, 16));
      if (!timingSafeEqual(expected, q)) throw new AttributeDecryptionError("bad_commitment", "plaintext commitment does not match");
    },
  };
}

/** Decrypts one attribute of the legacy vector variant, checking its tag and Argon2id commitment. */
export async function decryptLegacyVectorAttribute(name: string, ciphertext: Uint8Array, key: Uint8Array, recentMerkleRoot: string): Promise<Uint8Array> {
  const opened = openLegacyVectorAttribute(name, ciphertext, key, recentMerkleRoot);
  await opened.verifyCommitment();
  return opened.plaintext;
}
