// Fedi-E2EE Public Key Directory protocol messages: shapes, which attributes are encrypted,
// the signed bytes, the logged bytes, and builders that encrypt and sign on the client side.
import { randomBytes } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { encryptAttribute } from "./attribute-encryption";
import { canonicalJson, encodePublicKey, toB64url } from "./encoding";
import { MLDSA44_PUBLIC_KEY_BYTES, MLDSA44_SIGNATURE_BYTES, mlDsaKeyPair, mlDsaSign, mlDsaVerify, protocolSignaturePayload } from "./mldsa";
import { concatBytes, pae } from "./pae";

export const PKD_CONTEXT = "https://github.com/fedi-e2ee/public-key-directory/v1";
/** Wire format of a plaintext protocol message sent with the instance's HTTP signature. */
export const PLAINTEXT_CONTEXT = "fedi-e2ee:v1-plaintext-message";

export const ACTIONS = [
  "AddKey",
  "RevokeKey",
  "RevokeKeyThirdParty",
  "MoveIdentity",
  "BurnDown",
  "Fireproof",
  "UndoFireproof",
  "AddAuxData",
  "RevokeAuxData",
  "Checkpoint",
] as const;
export type Action = (typeof ACTIONS)[number];

interface FieldRules {
  required: readonly string[];
  optional: readonly string[];
  /** Fields stored as attribute ciphertexts (base64url), decryptable with `symmetric-keys`. */
  encrypted: readonly string[];
}

export const MESSAGE_FIELDS: Record<Action, FieldRules> = {
  AddKey: { required: ["actor", "time", "public-key"], optional: [], encrypted: ["actor", "public-key"] },
  RevokeKey: { required: ["actor", "time", "public-key"], optional: [], encrypted: ["actor", "public-key"] },
  RevokeKeyThirdParty: { required: ["revocation-token"], optional: [], encrypted: [] },
  MoveIdentity: { required: ["old-actor", "new-actor", "time"], optional: [], encrypted: ["old-actor", "new-actor"] },
  BurnDown: { required: ["actor", "operator", "time"], optional: ["otp"], encrypted: ["actor", "operator"] },
  Fireproof: { required: ["actor", "time"], optional: [], encrypted: ["actor"] },
  UndoFireproof: { required: ["actor", "time"], optional: [], encrypted: ["actor"] },
  AddAuxData: { required: ["actor", "aux-type", "aux-data", "time"], optional: ["aux-id"], encrypted: ["actor", "aux-data"] },
  RevokeAuxData: { required: ["actor", "aux-type", "time"], optional: ["aux-data", "aux-id"], encrypted: ["actor", "aux-data"] },
  Checkpoint: {
    required: ["time", "from-directory", "from-root", "from-public-key", "to-directory", "to-validated-root"],
    optional: [],
    encrypted: [],
  },
};

/** What goes into the log: the envelope without its symmetric keys. */
export interface SignedMessage {
  "!pkd-context": string;
  action: Action;
  message: Record<string, string>;
  "recent-merkle-root": string;
  signature: string;
}

/**
 * What a client submits: the per-attribute keys travel beside the message, never into the log;
 * `key-id` (optional, unsigned) names which of the signer's keys to verify with.
 */
export interface SubmittedMessage extends SignedMessage {
  "symmetric-keys": Record<string, string>;
  "key-id"?: string;
}

/**
 * The bytes an actor signs (spec "Protocol Signatures"): ML-DSA-44 over PAE of the field names
 * interleaved with the context, action, encrypted message and recent root.
 */
export function signaturePayload(msg: Omit<SignedMessage, "signature">): Uint8Array {
  return protocolSignaturePayload(msg);
}

/**
 * The protocol message the log commits to (spec "Tlog Integration"): canonical JSON of the
 * context, action, message, recent root and signature; `key-id` and `symmetric-keys` excluded.
 * Its SHA-256 is the first part of the log entry (see log-entry.ts).
 */
export function leafData(msg: SignedMessage): Uint8Array {
  return new TextEncoder().encode(
    canonicalJson({
      "!pkd-context": msg["!pkd-context"],
      action: msg.action,
      message: msg.message,
      "recent-merkle-root": msg["recent-merkle-root"],
      signature: msg.signature,
    }),
  );
}

export function unixTime(date: Date = new Date()): string {
  return String(Math.floor(date.getTime() / 1000));
}

/**
 * Encrypts the action's encrypted fields with fresh per-attribute keys, then signs the
 * encrypted message with `signingKey` (a 32-byte ML-DSA-44 seed). `keyId`, the directory's id of
 * the signing key, is sent as the spec's unsigned hint.
 */
export async function buildMessage(
  action: Action,
  fields: Record<string, string>,
  recentMerkleRoot: string,
  signingKey: Uint8Array,
  keyId?: string,
): Promise<SubmittedMessage> {
  const message: Record<string, string> = {};
  const keys: Record<string, string> = {};
  const encode = new TextEncoder();
  for (const [name, value] of Object.entries(fields)) {
    if (MESSAGE_FIELDS[action].encrypted.includes(name)) {
      const key = new Uint8Array(randomBytes(32));
      message[name] = toB64url(await encryptAttribute(name, encode.encode(value), key, recentMerkleRoot));
      keys[name] = toB64url(key);
    } else {
      message[name] = value;
    }
  }
  const unsigned = { "!pkd-context": PKD_CONTEXT, action, message, "recent-merkle-root": recentMerkleRoot };
  const signature = toB64url(mlDsaSign(signaturePayload(unsigned), signingKey));
  const submitted: SubmittedMessage = { ...unsigned, signature, "symmetric-keys": keys };
  if (keyId !== undefined) submitted["key-id"] = keyId;
  return submitted;
}

/** The ML-DSA-44 public key (1312 bytes) of a 32-byte seed. */
export function publicKeyOf(seed: Uint8Array): Uint8Array {
  return mlDsaKeyPair(seed).publicKey;
}

// `keyId` (optional, last): the directory's id of the signing key, sent as the unsigned hint.
export const buildAddKey = (actor: string, publicKey: Uint8Array, root: string, signer: Uint8Array, keyId?: string) =>
  buildMessage("AddKey", { actor, time: unixTime(), "public-key": encodePublicKey(publicKey) }, root, signer, keyId);

export const buildRevokeKey = (actor: string, publicKey: Uint8Array, root: string, signer: Uint8Array, keyId?: string) =>
  buildMessage("RevokeKey", { actor, time: unixTime(), "public-key": encodePublicKey(publicKey) }, root, signer, keyId);

export const buildMoveIdentity = (oldActor: string, newActor: string, root: string, signer: Uint8Array, keyId?: string) =>
  buildMessage("MoveIdentity", { "old-actor": oldActor, "new-actor": newActor, time: unixTime() }, root, signer, keyId);

export const buildBurnDown = (actor: string, operator: string, root: string, operatorKey: Uint8Array, keyId?: string) =>
  buildMessage("BurnDown", { actor, operator, time: unixTime() }, root, operatorKey, keyId);

export const buildFireproof = (actor: string, root: string, signer: Uint8Array, keyId?: string) =>
  buildMessage("Fireproof", { actor, time: unixTime() }, root, signer, keyId);

export const buildUndoFireproof = (actor: string, root: string, signer: Uint8Array, keyId?: string) =>
  buildMessage("UndoFireproof", { actor, time: unixTime() }, root, signer, keyId);

export function buildAddAuxData(actor: string, auxType: string, auxData: string, root: string, signer: Uint8Array, keyId?: string) {
  return buildMessage(
    "AddAuxData",
    { actor, "aux-type": auxType, "aux-data": auxData, "aux-id": auxDataId(auxType, auxData), time: unixTime() },
    root,
    signer,
    keyId,
  );
}

export const buildRevokeAuxData = (actor: string, auxType: string, auxId: string, root: string, signer: Uint8Array, keyId?: string) =>
  buildMessage("RevokeAuxData", { actor, "aux-type": auxType, "aux-id": auxId, time: unixTime() }, root, signer, keyId);

const AUX_ID_KEY = new TextEncoder().encode("FediPKD1-Auxiliary-Data-IDKeyGen");

/** aux-id = HMAC-SHA256("FediPKD1-Auxiliary-Data-IDKeyGen", PAE(["aux_type", t, "data", d])). */
export function auxDataId(auxType: string, auxData: string): string {
  return toB64url(hmac(sha256, AUX_ID_KEY, pae(["aux_type", auxType, "data", auxData])));
}

const REVOCATION_PREFIX = concatBytes(
  new TextEncoder().encode("FediPKD1"),
  new Uint8Array(32).fill(0xfe),
  new TextEncoder().encode("revoke-public-key"),
);

/**
 * tmp = "FediPKD1" ‖ 0xFE×32 ‖ "revoke-public-key" ‖ pk (1312 bytes);
 * token = b64url(tmp ‖ ML-DSA-44 Sign(tmp)) with the revoked key itself (`seed`).
 */
export function buildRevocationToken(seed: Uint8Array): string {
  const pair = mlDsaKeyPair(seed);
  const tmp = concatBytes(REVOCATION_PREFIX, pair.publicKey);
  return toB64url(concatBytes(tmp, mlDsaSign(tmp, pair)));
}

const REVOCATION_KEY_END = REVOCATION_PREFIX.length + MLDSA44_PUBLIC_KEY_BYTES;

/** The public key a revocation token names, if it is shaped like one; its signature is NOT checked. */
export function revocationTokenKey(token: Uint8Array): Uint8Array | undefined {
  if (token.length !== REVOCATION_KEY_END + MLDSA44_SIGNATURE_BYTES) return undefined;
  const prefix = token.subarray(0, REVOCATION_PREFIX.length);
  if (!prefix.every((b, i) => b === REVOCATION_PREFIX[i])) return undefined;
  return new Uint8Array(token.subarray(REVOCATION_PREFIX.length, REVOCATION_KEY_END));
}

/** Returns the public key a well-formed revocation token revokes, if the token is signed by that key. */
export function parseRevocationToken(token: Uint8Array): Uint8Array | undefined {
  const pk = revocationTokenKey(token);
  if (!pk) return undefined;
  return mlDsaVerify(token.subarray(REVOCATION_KEY_END), token.subarray(0, REVOCATION_KEY_END), pk) ? pk : undefined;
}

/** Envelope for a third-party revocation; the token is its own authentication. */
export function revocationMessage(token: string, recentMerkleRoot: string): SubmittedMessage {
  return {
    "!pkd-context": PKD_CONTEXT,
    action: "RevokeKeyThirdParty",
    message: { "revocation-token": token },
    "recent-merkle-root": recentMerkleRoot,
    signature: "",
    "symmetric-keys": {},
  };
}

/** Cross-directory witnessing: `from` vouches that it validated `to`'s root. */
export function buildCheckpoint(
  fields: { fromDirectory: string; fromRoot: string; toDirectory: string; toValidatedRoot: string },
  recentMerkleRoot: string,
  fromKey: Uint8Array,
): Promise<SubmittedMessage> {
  return buildMessage(
    "Checkpoint",
    {
      time: unixTime(),
      "from-directory": fields.fromDirectory,
      "from-root": fields.fromRoot,
      "from-public-key": encodePublicKey(publicKeyOf(fromKey)),
      "to-directory": fields.toDirectory,
      "to-validated-root": fields.toValidatedRoot,
    },
    recentMerkleRoot,
    fromKey,
  );
}

/** The bytes an actor signs to have the directory shred their attribute keys. */
export function erasurePayload(directory: string, actor: string, time: string): Uint8Array {
  return pae(["FediPKD1-Erase", directory, actor, time]);
}

export interface ErasureRequest {
  actor: string;
  time: string;
  signature: string;
}

export function buildErasureRequest(directory: string, actor: string, signer: Uint8Array): ErasureRequest {
  const time = unixTime();
  return { actor, time, signature: toB64url(mlDsaSign(erasurePayload(directory, actor, time), signer)) };
}
