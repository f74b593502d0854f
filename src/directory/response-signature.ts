// Signatures on the directory's HTTP responses (spec "JSON REST API": every response carries an
// RFC 9421 signature over its body; `api/info` publishes the key as `public-key`). The profile:
// one signature labelled `sig1` covering "@status" and "content-digest" (RFC 9530 sha-256 of the
// body bytes as sent) and, bound to the request it answers (RFC 9421 §2.4, `;req`), the request's
// "@method", "@path", "@query" and, when it had one, its "content-digest"; with `created`, `keyid`
// and `alg="ed25519"`. Without the request binding a signed answer could be replayed as the answer
// to another request (a 404 for a read of an existing actor, an AddKey's 201 for a RevokeKey); the
// SDK also refuses answers older than a few minutes, so old answers cannot be replayed either.
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
const CERTIFICATE_CONTEXT = new TextEncoder().encode("fedi-e2ee:v1/nkms/response-signing-key/v2\n");
/** How long a response-key certificate is valid; the directory re-certifies at half of it. */
export const RESPONSE_KEY_CERTIFICATE_SECONDS = 14 * 86400;
/** Answers older (or newer) than this, by their `created`, are refused by the SDK by default. */
export const DEFAULT_RESPONSE_MAX_AGE_SECONDS = 300;

/** The request a response answers, as RFC 9421's `;req` components see it. */
export interface RequestBinding {
  method: string;
  /** The request target's path as sent (percent-encoding kept). */
  path: string;
  /** "?" followed by the query as sent ("?" when there is none). */
  query: string;
  /** The request's Content-Digest header, when it carried one. */
  contentDigest?: string;
}

/** The binding of a request to `target` (a path with an optional query, as sent). */
export function requestBinding(method: string, target: string, contentDigest?: string): RequestBinding {
  const at = target.indexOf("?");
  const path = at < 0 ? target : target.slice(0, at);
  const query = at < 0 ? "?" : target.slice(at);
  return { method: method.toUpperCase(), path, query, ...(contentDigest ? { contentDigest } : {}) };
}

export class ResponseSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResponseSignatureError";
  }
}

/** The answer names another response key than the one held (the directory may have rotated it). */
export class ResponseKeyMismatch extends ResponseSignatureError {}

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

  /** Content-Digest, Signature-Input and Signature headers for a response to `request`. */
  sign(status: number, body: Uint8Array, request: RequestBinding, created: number = Math.floor(Date.now() / 1000)): Record<string, string> {
    const digest = contentDigest(body);
    if (created !== this.cacheSecond) {
      this.cache = new Map();
      this.cacheSecond = created;
    }
    const cacheKey = `${status} ${digest} ${request.method} ${request.path}${request.query} ${request.contentDigest ?? ""}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const params = responseParams(this.keyId, created, request.contentDigest !== undefined);
    const signature = nodeSign(null, responseSignatureBase(status, digest, request, params), this.privateKey);
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

const COMPONENTS = '"@status" "content-digest" "@method";req "@path";req "@query";req';
const COMPONENTS_WITH_BODY = `${COMPONENTS} "content-digest";req`;

function responseParams(keyId: string, created: number, withRequestBody: boolean): string {
  return `(${withRequestBody ? COMPONENTS_WITH_BODY : COMPONENTS});created=${created};keyid="${keyId}";alg="ed25519"`;
}

function responseSignatureBase(status: number, digest: string, request: RequestBinding, params: string): Buffer {
  const lines = [
    `"@status": ${status}`,
    `"content-digest": ${digest}`,
    `"@method";req: ${request.method}`,
    `"@path";req: ${request.path}`,
    `"@query";req: ${request.query}`,
  ];
  if (request.contentDigest !== undefined) lines.push(`"content-digest";req: ${request.contentDigest}`);
  lines.push(`"@signature-params": ${params}`);
  return Buffer.from(lines.join("\n"), "utf8");
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\"]/g, "\\$&");
const INPUT = new RegExp(
  `^${RESPONSE_SIGNATURE_LABEL}=(\\((?:${escape(COMPONENTS_WITH_BODY)}|${escape(COMPONENTS)})\\);created=([0-9]{1,12});keyid="([A-Za-z0-9_-]{43})";alg="ed25519")$`,
);
const SIGNATURE = new RegExp(`^${RESPONSE_SIGNATURE_LABEL}=:([A-Za-z0-9+/]{86}==):$`);

/**
 * Checks a response's signature under the pinned Ed25519 `publicKey`: the Content-Digest of the
 * body received, that it answers `request` (a request that carried a Content-Digest must be
 * covered with it), the key id, the signature, and (with `maxAgeSeconds`) its age. Throws
 * ResponseSignatureError on any failure.
 */
export function verifyResponse(
  status: number,
  headers: Record<string, string | string[] | undefined> | Headers,
  body: Uint8Array,
  publicKey: Uint8Array,
  request: RequestBinding,
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
  if (!input) throw new ResponseSignatureError(`signature-input must be sig1=(${COMPONENTS}[ "content-digest";req]);created=…;keyid="…";alg="ed25519"`);
  const coversBody = input[1].includes('"content-digest";req');
  if (coversBody && request.contentDigest === undefined) throw new ResponseSignatureError("the response is bound to a request body this request did not have");
  // Only a refusal before the body is read (503) may leave a request's body out: replaying one is no worse than a drop.
  if (!coversBody && request.contentDigest !== undefined && status !== 503) throw new ResponseSignatureError("the response is not bound to this request's body");
  const bound: RequestBinding = coversBody ? request : { method: request.method, path: request.path, query: request.query };
  if (input[3] !== responseKeyId(publicKey)) throw new ResponseKeyMismatch("the response is signed by another key");
  if (options.maxAgeSeconds !== undefined) {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(input[2])) > options.maxAgeSeconds) throw new ResponseSignatureError("the response signature is too old or dated in the future");
  }
  const sig = SIGNATURE.exec(get("signature"));
  if (!sig) throw new ResponseSignatureError("signature must be sig1=:<base64 of 64 bytes>:");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
  if (!nodeVerify(null, responseSignatureBase(status, digest, bound, input[1]), key, Buffer.from(sig[1], "base64"))) {
    throw new ResponseSignatureError("the response signature does not verify (another request's answer, or altered)");
  }
}

/** What `api/info` publishes to bind the response key to the directory key, for a limited time. */
export interface ResponseKeyCertificate {
  /** Unix seconds after which the SDK refuses the response key. */
  validUntil: number;
  signature: Uint8Array;
}

function certificateMessage(responseKey: Uint8Array, validUntil: number): Uint8Array {
  return concatBytes(CERTIFICATE_CONTEXT, responseKey, new TextEncoder().encode(`\n${validUntil}`));
}

/**
 * The directory's ML-DSA-44 signature binding its response-signing key to it until `validUntil`:
 * a retired response key (rotated because it leaked, say) stops being accepted when its last
 * certificate expires, however long the directory key stays on chain.
 */
export function certifyResponseKey(responseKey: Uint8Array, directoryKey: MlDsaKeyPair, validUntil: number): ResponseKeyCertificate {
  return { validUntil, signature: mlDsaSign(certificateMessage(responseKey, validUntil), directoryKey, true) };
}

export function checkResponseKeyCertificate(
  responseKey: Uint8Array,
  certificate: ResponseKeyCertificate,
  directoryPublicKey: Uint8Array,
  now: number = Math.floor(Date.now() / 1000),
): boolean {
  if (!Number.isSafeInteger(certificate.validUntil) || certificate.validUntil < now) return false;
  return mlDsaVerify(certificate.signature, certificateMessage(responseKey, certificate.validUntil), directoryPublicKey);
}

/** Keeps a current certificate: signed anew once the one held has less than half its validity left. */
export class ResponseKeyCertifier {
  private current?: ResponseKeyCertificate;

  constructor(
    private readonly responseKey: Uint8Array,
    private readonly directoryKey: MlDsaKeyPair,
    private readonly validitySeconds: number = RESPONSE_KEY_CERTIFICATE_SECONDS,
  ) {}

  certificate(now: number = Math.floor(Date.now() / 1000)): ResponseKeyCertificate {
    // Anew at half its validity, and when the clock has gone back (a certificate from the future).
    const left = this.current ? this.current.validUntil - now : 0;
    if (!this.current || left < this.validitySeconds / 2 || left > this.validitySeconds) {
      this.current = certifyResponseKey(this.responseKey, this.directoryKey, now + this.validitySeconds);
    }
    return this.current;
  }
}
