// Signatures on the directory's HTTP responses (spec "JSON REST API": every response carries an
// RFC 9421 signature over its body; `api/info` publishes the key as `public-key`). The profile:
// one signature labelled `sig1` covering "@status" and "content-digest" (RFC 9530 sha-256 of the
// body bytes as sent), with `created`, `keyid` and `alg="ed25519"`.
//
// Ed25519, not ML-DSA-44 (both are allowed): every read, authenticated or not, is signed, so the
// cost is paid per unauthenticated request. node:crypto signs Ed25519 in ~30 µs; ML-DSA-44 with
// @noble/post-quantum takes ~3 ms, which would make each cheap read a 3 ms job for the server.
// The key is bound to the directory's ML-DSA-44 key (pinned on chain) by `certifyResponseKey`, so
// a client that trusts the one can check the other.
import { KeyObject, createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { concatBytes } from "@noble/hashes/utils.js";
import { contentDigest } from "./http-signature";
import { MlDsaKeyPair, mlDsaSign, mlDsaVerify } from "./mldsa";

export const RESPONSE_SIGNATURE_LABEL = "sig1";
export const RESPONSE_KEY_PREFIX = "ed25519:";
const CERTIFICATE_CONTEXT = new TextEncoder().encode("fedi-e2ee:v1/nkms/response-signing-key\n");

export class ResponseSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResponseSignatureError";
  }
}

/** The response-signing seed derived from the directory's secret (a restart keeps the key). */
export function deriveResponseKey(signingKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update("nkms pkd response-signing key v1\n").update(signingKey).digest());
}

/** The directory's Ed25519 response-signing key. */
export class ResponseSigner {
  readonly publicKey: Uint8Array;
  /** The RFC 9421 `keyid`: base64url SHA-256 of the public key. */
  readonly keyId: string;
  private readonly privateKey: KeyObject;
  // One signature per (status, digest) a second: a flood of identical reads signs once.
  private cache = new Map<string, Record<string, string>>();
  private cacheSecond = 0;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
    this.publicKey = ed25519.getPublicKey(seed);
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
    this.privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: b64(seed), x: b64(this.publicKey) }, format: "jwk" });
    this.keyId = responseKeyId(this.publicKey);
  }

  /** `ed25519:<base64url>`, as `api/info` publishes it. */
  get encodedPublicKey(): string {
    return RESPONSE_KEY_PREFIX + Buffer.from(this.publicKey).toString("base64url");
  }

  /** Content-Digest, Signature-Input and Signature headers for a response. */
  sign(status: number, body: Uint8Array, created: number = Math.floor(Date.now() / 1000)): Record<string, string> {
    const digest = contentDigest(body);
    if (created !== this.cacheSecond) {
      this.cache = new Map();
      this.cacheSecond = created;
    }
    const cacheKey = `${status} ${digest}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const params = responseParams(this.keyId, created);
    const signature = nodeSign(null, responseSignatureBase(status, digest, params), this.privateKey);
    const headers = {
      "content-digest": digest,
      "signature-input": `${RESPONSE_SIGNATURE_LABEL}=${params}`,
      signature: `${RESPONSE_SIGNATURE_LABEL}=:${signature.toString("base64")}:`,
    };
    if (this.cache.size < 1024) this.cache.set(cacheKey, headers);
    return headers;
  }
}

export function responseKeyId(publicKey: Uint8Array): string {
  return createHash("sha256").update(publicKey).digest("base64url");
}

function responseParams(keyId: string, created: number): string {
  return `("@status" "content-digest");created=${created};keyid="${keyId}";alg="ed25519"`;
}

function responseSignatureBase(status: number, digest: string, params: string): Buffer {
  return Buffer.from([`"@status": ${status}`, `"content-digest": ${digest}`, `"@signature-params": ${params}`].join("\n"), "utf8");
}

const INPUT = new RegExp(`^${RESPONSE_SIGNATURE_LABEL}=(\\("@status" "content-digest"\\);created=([0-9]{1,12});keyid="([A-Za-z0-9_-]{43})";alg="ed25519")$`);
const SIGNATURE = new RegExp(`^${RESPONSE_SIGNATURE_LABEL}=:([A-Za-z0-9+/]{86}==):$`);

/**
 * Checks a response's signature under the pinned Ed25519 `publicKey`: the Content-Digest of the
 * body received, the key id, the signature, and (with `maxAgeSeconds`) its age. Throws
 * ResponseSignatureError on any failure.
 */
export function verifyResponse(
  status: number,
  headers: Record<string, string | string[] | undefined> | Headers,
  body: Uint8Array,
  publicKey: Uint8Array,
  options: { now?: number; maxAgeSeconds?: number } = {},
): void {
  const get = (name: string): string => {
    const v = headers instanceof Headers ? headers.get(name) : headers[name];
    if (typeof v !== "string" || v.length === 0) throw new ResponseSignatureError(`the response has no ${name} header`);
    return v.trim();
  };
  const digest = get("content-digest");
  if (digest !== contentDigest(body)) throw new ResponseSignatureError("the response's content-digest does not match its body");
  const input = INPUT.exec(get("signature-input"));
  if (!input) throw new ResponseSignatureError('signature-input must be sig1=("@status" "content-digest");created=…;keyid="…";alg="ed25519"');
  if (input[3] !== responseKeyId(publicKey)) throw new ResponseSignatureError("the response is signed by another key");
  if (options.maxAgeSeconds !== undefined) {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(input[2])) > options.maxAgeSeconds) throw new ResponseSignatureError("the response signature is too old or dated in the future");
  }
  const sig = SIGNATURE.exec(get("signature"));
  if (!sig) throw new ResponseSignatureError("signature must be sig1=:<base64 of 64 bytes>:");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
  if (!nodeVerify(null, responseSignatureBase(status, digest, input[1]), key, Buffer.from(sig[1], "base64"))) {
    throw new ResponseSignatureError("the response signature does not verify");
  }
}

/** The directory's ML-DSA-44 signature binding its response-signing key to it (published in `api/info`). */
export function certifyResponseKey(responseKey: Uint8Array, directoryKey: MlDsaKeyPair): Uint8Array {
  return mlDsaSign(concatBytes(CERTIFICATE_CONTEXT, responseKey), directoryKey, true);
}

export function checkResponseKeyCertificate(responseKey: Uint8Array, certificate: Uint8Array, directoryPublicKey: Uint8Array): boolean {
  return mlDsaVerify(certificate, concatBytes(CERTIFICATE_CONTEXT, responseKey), directoryPublicKey);
}
