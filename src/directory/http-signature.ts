// HTTP Message Signatures (RFC 9421), the one profile the directory accepts: a single signature
// labelled `sig1`, alg "ed25519", covering "@method", "@target-uri" and "content-digest" (RFC 9530,
// sha-256), with `created` and `keyid` parameters. Ed25519 itself is node:crypto's.
//
// No RFC 9421 library is installed in this project; this module implements only the profile above
// against the RFC (strict grammar: anything else is refused) and should give way to one
// (`http-message-signatures`) when it is added. ML-DSA-44 (C2SP httpsig-pq) is not accepted yet.
import { KeyObject, createHash, sign as nodeSign, verify as nodeVerify } from "node:crypto";

export const SIGNATURE_LABEL = "sig1";
export const COVERED_COMPONENTS = ["@method", "@target-uri", "content-digest"] as const;
/** How far (seconds) a signature's `created` may be from the verifier's clock. */
export const DEFAULT_SIGNATURE_WINDOW_SECONDS = 300;

export interface HttpRequestParts {
  method: string;
  /** The absolute URI the request was sent to. */
  targetUri: string;
  body: Uint8Array;
}

export interface HttpSigner {
  /** The key's id as the actor document publishes it, e.g. https://host/users/alice#main-key. */
  keyId: string;
  /** Ed25519 private key. */
  privateKey: KeyObject;
}

export interface ParsedSignature {
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

function paramsFor(keyId: string, created: number): string {
  if (!KEYID.test(keyId)) throw new HttpSignatureError("keyid has characters this profile does not allow");
  const covered = COVERED_COMPONENTS.map((c) => `"${c}"`).join(" ");
  return `(${covered});created=${created};keyid="${keyId}";alg="ed25519"`;
}

/** Headers that sign `parts` (Content-Digest, Signature-Input, Signature). */
export function signRequest(parts: HttpRequestParts, signer: HttpSigner, created: number = Math.floor(Date.now() / 1000)): Record<string, string> {
  const digest = contentDigest(parts.body);
  const params = paramsFor(signer.keyId, created);
  const signature = nodeSign(null, signatureBase(parts, digest, params), signer.privateKey);
  return {
    "content-digest": digest,
    "signature-input": `${SIGNATURE_LABEL}=${params}`,
    signature: `${SIGNATURE_LABEL}=:${signature.toString("base64")}:`,
  };
}

const INPUT = new RegExp(
  `^${SIGNATURE_LABEL}=(\\("@method" "@target-uri" "content-digest"\\);created=([0-9]{1,12});keyid="([^"\\\\]{1,2048})";alg="ed25519")$`,
);
const SIGNATURE = new RegExp(`^${SIGNATURE_LABEL}=:([A-Za-z0-9+/]{86}==):$`);

/** Parses the two signature headers; only the profile above is accepted. */
export function parseSignatureHeaders(headers: Record<string, string | string[] | undefined>): ParsedSignature {
  const one = (name: string): string => {
    const v = headers[name];
    if (typeof v !== "string" || v.length === 0) throw new HttpSignatureError(`missing ${name} header`);
    return v.trim();
  };
  const input = INPUT.exec(one("signature-input"));
  if (!input) {
    throw new HttpSignatureError(
      'signature-input must be sig1=("@method" "@target-uri" "content-digest");created=…;keyid="…";alg="ed25519"',
    );
  }
  const sig = SIGNATURE.exec(one("signature"));
  if (!sig) throw new HttpSignatureError("signature must be sig1=:<base64 of 64 bytes>:");
  return { params: input[1], created: Number(input[2]), keyId: input[3], signature: new Uint8Array(Buffer.from(sig[1], "base64")) };
}

/**
 * Checks the body's Content-Digest, the signature's age and the Ed25519 signature under
 * `publicKey`. Throws HttpSignatureError on any failure.
 */
export function verifyRequest(
  parts: HttpRequestParts,
  headers: Record<string, string | string[] | undefined>,
  parsed: ParsedSignature,
  publicKey: KeyObject,
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
  if (publicKey.asymmetricKeyType !== "ed25519") throw new HttpSignatureError("the published key is not an Ed25519 key");
  const ok = nodeVerify(null, signatureBase(parts, digest.trim(), parsed.params), publicKey, parsed.signature);
  if (!ok) throw new HttpSignatureError("HTTP message signature does not verify");
}
