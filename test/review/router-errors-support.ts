// The Ed25519 response key `api/info` publishes (`ed25519:<base64url>`), as bytes.
import { RESPONSE_KEY_PREFIX } from "../../src/directory/response-signature";

export function decodeResponseKeyForTest(text: string): Uint8Array {
  if (!text.startsWith(RESPONSE_KEY_PREFIX)) throw new Error(`not an ed25519: key: ${text}`);
  return new Uint8Array(Buffer.from(text.slice(RESPONSE_KEY_PREFIX.length), "base64url"));
}
