// HPKE for protocol messages (spec "HPKE Rules for Encrypted Protocol Messages"): X-Wing
// (ML-KEM-768 + X25519), HKDF-SHA256, ChaCha20-Poly1305 from @hpke/*; info is the fixed string
// below, aad the Server Encapsulation Key Identifier, HMAC-SHA256(encapsulation key,
// "fedi-e2ee/public-key-directory:v1:key-id"); the wire form is "hpke:" + base64url(enc ‖ ct).
import { createHmac } from "node:crypto";
import { CipherSuite, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { XWing } from "@hpke/hybridkem-x-wing";

export const HPKE_PREFIX = "hpke:";
export const HPKE_CIPHERSUITE = "X-Wing, HKDF-SHA256, ChaCha20Poly1305";
const INFO = new TextEncoder().encode("fedi-e2ee/public-key-directory:v1:protocol-message");
const KEY_ID_MESSAGE = "fedi-e2ee/public-key-directory:v1:key-id";
const X_WING_ENC_SIZE = 1120;

const suite = (): CipherSuite => new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });

const buffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** The Server Encapsulation Key Identifier (the HPKE aad). */
export function encapsulationKeyId(encapsulationKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", encapsulationKey).update(KEY_ID_MESSAGE).digest());
}

export class HpkeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HpkeError";
  }
}

/** Encrypts a protocol message's JSON to the directory's encapsulation key. */
export async function sealProtocolMessage(json: string, encapsulationKey: Uint8Array): Promise<string> {
  const s = suite();
  const recipientPublicKey = await s.kem.deserializePublicKey(buffer(encapsulationKey));
  const sealed = await s.seal({ recipientPublicKey, info: buffer(INFO) }, buffer(new TextEncoder().encode(json)), buffer(encapsulationKeyId(encapsulationKey)));
  const out = new Uint8Array(sealed.enc.byteLength + sealed.ct.byteLength);
  out.set(new Uint8Array(sealed.enc), 0);
  out.set(new Uint8Array(sealed.ct), sealed.enc.byteLength);
  return HPKE_PREFIX + Buffer.from(out).toString("base64url");
}

/** Decrypts `hpke:…` with the directory's 32-byte X-Wing decapsulation key (seed); returns the JSON text. */
export async function openProtocolMessage(wrapped: string, decapsulationKey: Uint8Array, encapsulationKey: Uint8Array): Promise<string> {
  if (typeof wrapped !== "string" || !wrapped.startsWith(HPKE_PREFIX)) throw new HpkeError("encrypted messages start with hpke:");
  const bytes = new Uint8Array(Buffer.from(wrapped.slice(HPKE_PREFIX.length), "base64url"));
  if (bytes.length <= X_WING_ENC_SIZE) throw new HpkeError("ciphertext too short");
  const s = suite();
  const recipientKey = await s.kem.deserializePrivateKey(buffer(decapsulationKey));
  try {
    const pt = await s.open(
      { recipientKey, enc: buffer(bytes.subarray(0, X_WING_ENC_SIZE)), info: buffer(INFO) },
      buffer(bytes.subarray(X_WING_ENC_SIZE)),
      buffer(encapsulationKeyId(encapsulationKey)),
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(pt);
  } catch (err) {
    throw new HpkeError(`does not decrypt: ${(err as Error).message}`);
  }
}
