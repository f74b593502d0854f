// HTTP Message Signatures (RFC 9421), the one profile the directory accepts: a single signature
// labelled `sig1`, alg "ed25519" or "ml-dsa-44" (C2SP httpsig-pq v1.0.0: FIPS 204 ML-DSA-44 over
// the signature base bytes as given, empty context, 2420-byte signature), covering "@method",
// "@target-uri" and "content-digest" (RFC 9530, sha-256), with `created` and `keyid` parameters.
// The alg must be the published key's own (the spec allows exactly these two). Ed25519 is
// node:crypto's, ML-DSA-44 @noble/post-quantum's (./mldsa).
//
// No RFC 9421 library is installed in this project; this module implements only the profile above
// against the RFC (strict grammar: anything else is refused) and should give way to one
// (`http-message-signatures`) when it is added. A request may carry one signature, or two of
// different algorithms (spec "JSON REST API": an Ed25519 and an ML-DSA-44 signature on the same
// message during migration, each verified against its own signature base); every signature a
// request carries must verify.
import { KeyObject, createHash, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { MLDSA44_SIGNATURE_BYTES, mlDsaSign, mlDsaVerify } from "./mldsa";

export const COVERED_COMPONENTS = ["@method", "@target-uri", "content-digest"] as const;
/** How far (seconds) a signature's `created` may be from the verifier's clock. */
export const DEFAULT_SIGNATURE_WINDOW_SECONDS = 300;

export interface HttpRequestParts {
  method: string;
  /** The absolute URI the request was sent to. */
  targetUri: string;
  body: Uint8Array;
}

/** The two algorithms the spec allows for HTTP Message Signatures. */
export type HttpSignatureAlg = "ed25519" | "ml-dsa-44";

export interface Ed25519HttpSigner {
  /** The key's id as the actor document publishes it, e.g. https://host/users/alice#main-key. */
  keyId: string;
  /** Ed25519 private key. */
  privateKey: KeyObject;
}

export interface MlDsa44HttpSigner {
  keyId: string;
  alg: "ml-dsa-44";
  /** The 32-byte ML-DSA-44 seed (httpsig-pq's signing key Ks). */
  seed: Uint8Array;
}

export type HttpSigner = Ed25519HttpSigner | MlDsa44HttpSigner;

/** A key an instance publishes for its actor, with the one algorithm it signs with. */
export type InstanceKey = { alg: "ed25519"; key: KeyObject } | { alg: "ml-dsa-44"; key: Uint8Array };

export interface ParsedSignature {
  /** The dictionary key it is carried under in Signature-Input and Signature. */
  label: string;
  alg: HttpSignatureAlg;
  keyId: string;
  created: number;
  signature: Uint8Array;
  /** The exact `@signature-params` value (the inner list and its parameters). */
  params: string;
}

export class HttpSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HttpSignatureError";
  }
}

/** RFC 9530 Content-Digest of a body: `sha-256=:<base64>:`. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
}

function signatureBase(parts: HttpRequestParts, digest: string, params: string): Buffer {
  const lines = [
    `"@method": ${parts.method.toUpperCase()}`,
    `"@target-uri": ${parts.targetUri}`,
    `"content-digest": ${digest}`,
    `"@signature-params": ${params}`,
  ];
  return Buffer.from(lines.join("\n"), "utf8");
}

// An sf-string keyid without escapes (`"` and `\` are refused rather than unescaped).
const KEYID = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,2048}$/;

function paramsFor(keyId: string, created: number, alg: HttpSignatureAlg): string {
  if (!KEYID.test(keyId)) throw new HttpSignatureError("keyid has characters this profile does not allow");
  const covered = COVERED_COMPONENTS.map((c) => `"${c}"`).join(" ");
  return `(${covered});created=${created};keyid="${keyId}";alg="${alg}"`;
}

/**
 * Headers that sign `parts` (Content-Digest, Signature-Input, Signature): one signature, or one per
 * signer (labelled sig1, sig2; the spec allows an Ed25519 and an ML-DSA-44 one together).
 */
export function signRequest(parts: HttpRequestParts, signers: HttpSigner | readonly HttpSigner[], created: number = Math.floor(Date.now() / 1000)): Record<string, string> {
  const list = Array.isArray(signers) ? (signers as readonly HttpSigner[]) : [signers as HttpSigner];
  if (list.length < 1 || list.length > MAX_SIGNATURES) throw new HttpSignatureError(`a request carries 1 to ${MAX_SIGNATURES} signatures`);
  const digest = contentDigest(parts.body);
  const inputs: string[] = [];
  const signatures: string[] = [];
  for (const [i, signer] of list.entries()) {
    const label = `sig${i + 1}`;
    const alg: HttpSignatureAlg = "alg" in signer ? signer.alg : "ed25519";
    const params = paramsFor(signer.keyId, created, alg);
    const base = signatureBase(parts, digest, params);
    // Hedged ML-DSA (httpsig-pq: SHOULD for production).
    const signature = "seed" in signer ? Buffer.from(mlDsaSign(base, signer.seed)) : nodeSign(null, base, signer.privateKey);
    inputs.push(`${label}=${params}`);
    signatures.push(`${label}=:${signature.toString("base64")}:`);
  }
  return { "content-digest": digest, "signature-input": inputs.join(", "), signature: signatures.join(", ") };
}

/** At most an Ed25519 and an ML-DSA-44 signature. */
const MAX_SIGNATURES = 2;
// One Signature-Input member (sf-dictionary key = the covered components and our parameters),
// matched from `lastIndex` (sticky); members are separated by a comma and optional spaces.
const INPUT_MEMBER = /([a-z][a-z0-9_-]{0,15})=(\("@method" "@target-uri" "content-digest"\);created=([0-9]{1,12});keyid="([^"\\]{1,2048})";alg="(ed25519|ml-dsa-44)")(?:, *|$)/y;
// Base64 of 64 (Ed25519) or 2420 (ML-DSA-44) bytes; the length is checked against the alg.
const SIGNATURE_MEMBER = /([a-z][a-z0-9_-]{0,15})=:([A-Za-z0-9+/]{86}==|[A-Za-z0-9+/]{3227}=):(?:, *|$)/y;
const SIGNATURE_BYTES: Record<HttpSignatureAlg, number> = { ed25519: 64, "ml-dsa-44": MLDSA44_SIGNATURE_BYTES };

/** Splits a header into sticky-regex matches covering all of it, or undefined. */
function members(text: string, pattern: RegExp): RegExpExecArray[] | undefined {
  const out: RegExpExecArray[] = [];
  pattern.lastIndex = 0;
  while (pattern.lastIndex < text.length) {
    const m = pattern.exec(text);
    if (!m || out.length === MAX_SIGNATURES) return undefined;
    out.push(m);
  }
  return out.length > 0 ? out : undefined;
}

/**
 * Parses the two signature headers: one or two signatures of the profile above, of different
 * algorithms, each with its own label. Anything else is refused.
 */
export function parseSignatureHeaders(headers: Record<string, string | string[] | undefined>): ParsedSignature[] {
  const one = (name: string): string => {
    const v = headers[name];
    if (typeof v !== "string" || v.length === 0) throw new HttpSignatureError(`missing ${name} header`);
    return v.trim();
  };
  const inputs = members(one("signature-input"), INPUT_MEMBER);
  if (!inputs) {
    throw new HttpSignatureError(
      'signature-input must be sig1=("@method" "@target-uri" "content-digest");created=…;keyid="…";alg="ed25519" (or "ml-dsa-44"), at most two such signatures',
    );
  }
  const signatures = members(one("signature"), SIGNATURE_MEMBER);
  if (!signatures) throw new HttpSignatureError("signature must be <label>=:<base64>: for each signature input");
  const byLabel = new Map(signatures.map((m) => [m[1], m[2]]));
  if (byLabel.size !== signatures.length || signatures.length !== inputs.length) throw new HttpSignatureError("signature and signature-input must name the same labels, once each");
  const parsed = inputs.map((input): ParsedSignature => {
    const label = input[1];
    const alg = input[5] as HttpSignatureAlg;
    const b64 = byLabel.get(label);
    const signature = b64 === undefined ? undefined : new Uint8Array(Buffer.from(b64, "base64"));
    if (!signature || signature.length !== SIGNATURE_BYTES[alg]) {
      throw new HttpSignatureError(`signature ${label} must be ${label}=:<base64 of ${SIGNATURE_BYTES[alg]} bytes>: for alg ${alg}`);
    }
    return { label, alg, params: input[2], created: Number(input[3]), keyId: input[4], signature };
  });
  if (parsed.length === 2 && parsed[0].alg === parsed[1].alg) throw new HttpSignatureError("two signatures must be of different algorithms (Ed25519 and ML-DSA-44)");
  return parsed;
}

/**
 * Checks the body's Content-Digest, the signature's age and the signature under `publicKey` (an
 * Ed25519 KeyObject, or an instance key with its algorithm), whose algorithm must be the one the
 * signature names. Throws HttpSignatureError on any failure.
 */
export function verifyRequest(
  parts: HttpRequestParts,
  headers: Record<string, string | string[] | undefined>,
  parsed: ParsedSignature,
  publicKey: KeyObject | InstanceKey,
  options: { now?: number; windowSeconds?: number } = {},
): void {
  const digest = headers["content-digest"];
  if (typeof digest !== "string" || digest.trim() !== contentDigest(parts.body)) {
    throw new HttpSignatureError("content-digest is missing or does not match the body");
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - parsed.created) > (options.windowSeconds ?? DEFAULT_SIGNATURE_WINDOW_SECONDS)) {
    throw new HttpSignatureError("signature is too old or dated in the future");
  }
  const key: InstanceKey = publicKey instanceof KeyObject ? { alg: "ed25519", key: publicKey } : publicKey;
  // The published key fixes the algorithm: a signature naming another one is refused unverified.
  if (parsed.alg !== key.alg) throw new HttpSignatureError(`the signature's alg is ${parsed.alg}, the published key is ${key.alg}`);
  const base = signatureBase(parts, digest.trim(), parsed.params);
  let ok: boolean;
  if (key.alg === "ml-dsa-44") ok = mlDsaVerify(parsed.signature, base, key.key);
  else {
    if (key.key.asymmetricKeyType !== "ed25519") throw new HttpSignatureError("the published key is not an Ed25519 key");
    ok = nodeVerify(null, base, key.key, parsed.signature);
  }
  if (!ok) throw new HttpSignatureError("HTTP message signature does not verify");
}
