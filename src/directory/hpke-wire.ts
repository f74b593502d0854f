// The directory's HPKE side of the v0.8 wire format (spec "Encryption of Protocol Messages",
// "HPKE-encrypted Protocol Message Format", "GET api/server-public-key"): the X-Wing key pair the
// directory publishes, the `fedi-e2ee:v1-encrypted-message` envelope, and the length-hiding
// `padding` field that rides outside the protocol signature. The primitives are @hpke/* via
// ./v08/hpke.ts; nothing here is cryptography of our own.
import { hkdfSync, randomBytes } from "node:crypto";
import { XWing } from "@hpke/hybridkem-x-wing";
import { HPKE_CIPHERSUITE, HpkeError, openProtocolMessage, sealProtocolMessage } from "./v08/hpke";

export const ENCRYPTED_CONTEXT = "fedi-e2ee:v1-encrypted-message";
export const SERVER_PUBLIC_KEY_CONTEXT = "fedi-e2ee:v1/api/server-public-key";
/** Spec: pad to a multiple of 1 KiB, never past 16 MiB. */
const PAD_BLOCK = 1024;
const MAX_PLAINTEXT = 16 * 1024 * 1024;

export interface ServerPublicKeyResponse {
  "!pkd-context": typeof SERVER_PUBLIC_KEY_CONTEXT;
  "current-time": string;
  "hpke-ciphersuite": string;
  "hpke-public-key": string;
}

/** The directory's X-Wing key pair: the 32-byte seed (decapsulation key) and the 1216-byte encapsulation key. */
export class DirectoryHpkeKey {
  private constructor(
    readonly decapsulationKey: Uint8Array,
    readonly encapsulationKey: Uint8Array,
  ) {}

  /**
   * From the 32-byte X-Wing decapsulation key (draft-connolly-cfrg-xwing-kem's seed form: the
   * secret key itself, expanded with SHAKE256; not HPKE's DeriveKeyPair, which would hash it
   * first). The specification's test vectors give the directory's `hpke-decaps-key` in this form.
   */
  static async fromSeed(seed: Uint8Array): Promise<DirectoryHpkeKey> {
    if (seed.length !== 32) throw new RangeError("an X-Wing seed is 32 bytes");
    const kem = new XWing();
    const pair = await kem.generateKeyPairDerand(seed.slice());
    const pk = new Uint8Array(await kem.serializePublicKey(pair.publicKey));
    const sk = new Uint8Array(await kem.serializePrivateKey(pair.privateKey));
    return new DirectoryHpkeKey(sk, pk);
  }

  /**
   * Derived from the directory's signing secret when no HPKE seed is configured, so a restart
   * keeps the published key (HKDF-SHA256 with a label of its own: the two keys never coincide).
   */
  static fromSigningKey(signingKey: Uint8Array): Promise<DirectoryHpkeKey> {
    const seed = new Uint8Array(hkdfSync("sha256", signingKey, new Uint8Array(0), "NKMS-PKD hpke x-wing seed v1", 32));
    return DirectoryHpkeKey.fromSeed(seed);
  }

  publicKeyResponse(now: Date = new Date()): ServerPublicKeyResponse {
    return {
      "!pkd-context": SERVER_PUBLIC_KEY_CONTEXT,
      "current-time": String(Math.floor(now.getTime() / 1000)),
      "hpke-ciphersuite": HPKE_CIPHERSUITE,
      "hpke-public-key": Buffer.from(this.encapsulationKey).toString("base64url"),
    };
  }

  /**
   * Opens an `hpke:` ciphertext to the protocol message it carries, with `padding` removed
   * (the spec: ignored, not covered by the signature). Throws HpkeError on anything malformed.
   */
  async open(wrapped: string): Promise<unknown> {
    const json = await openProtocolMessage(wrapped, this.decapsulationKey, this.encapsulationKey);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new HpkeError("the decrypted message is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HpkeError("the decrypted message is not a JSON object");
    const { padding: _padding, ...message } = parsed as Record<string, unknown>;
    return message;
  }
}

/**
 * Adds `padding` (random bytes, unpadded base64url) so the serialized JSON is a multiple of 1 KiB,
 * then seals it to the directory's encapsulation key; returns the `hpke:` string.
 */
export async function sealPadded(input: object, encapsulationKey: Uint8Array): Promise<string> {
  // A stale `padding` would not be last (the space below relies on that) and would skew the length.
  const { padding: _stale, ...message } = input as Record<string, unknown>;
  // `,"padding":""` costs 13 bytes; base64url of n bytes is ceil(4n/3) characters.
  const overhead = Buffer.byteLength(JSON.stringify(message), "utf8") + 13;
  const target = Math.ceil(overhead / PAD_BLOCK) * PAD_BLOCK;
  let chars = target - overhead;
  // Base64url without padding is never 1 (mod 4) characters long; then one insignificant JSON space
  // after the colon takes up the odd byte.
  const space = chars % 4 === 1;
  if (space) chars -= 1;
  const bytes = Math.floor((chars * 3) / 4);
  let padded = JSON.stringify({ ...message, padding: randomBytes(bytes).toString("base64url") });
  if (space) {
    // `padding` is the last key and its value has no quotes, so this is exactly its separator.
    const at = padded.lastIndexOf('"padding":"') + '"padding":'.length;
    padded = padded.slice(0, at) + " " + padded.slice(at);
  }
  if (Buffer.byteLength(padded, "utf8") > MAX_PLAINTEXT) throw new RangeError("protocol message too large to encrypt");
  return sealProtocolMessage(padded, encapsulationKey);
}

export { HpkeError };
