// Wire encodings shared by the directory, its clients and the checkpoint publisher.
import { randomBytes } from "node:crypto";
import { EMPTY_TREE_HASH, HASH_SIZE, bytesEqual } from "./merkle";

export const MERKLE_ROOT_PREFIX = "pkd-mr-v1:";
/** Public keys of actors and directories: ML-DSA-44, `mldsa44:<base64url>` (spec "Public Key Encoding"). */
export const MLDSA44_PREFIX = "mldsa44:";
export const MLDSA44_PUBLIC_KEY_BYTES = 1312;
const ZERO_ROOT = new Uint8Array(HASH_SIZE);

export function toB64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** Strict unpadded base64url decoding: returns undefined for anything that does not round-trip. */
export function fromB64url(text: string): Uint8Array | undefined {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, "base64url"));
  return toB64url(bytes) === text ? bytes : undefined;
}

/** `pkd-mr-v1:` root string; the empty tree is written as the all-zero root, as the spec says. */
export function encodeMerkleRoot(root: Uint8Array): string {
  const shown = bytesEqual(root, EMPTY_TREE_HASH) ? ZERO_ROOT : root;
  return MERKLE_ROOT_PREFIX + toB64url(shown);
}

/** Inverse of encodeMerkleRoot; the all-zero root decodes to RFC 9162's empty-tree hash. */
export function decodeMerkleRoot(text: string): Uint8Array | undefined {
  if (typeof text !== "string" || !text.startsWith(MERKLE_ROOT_PREFIX)) return undefined;
  const bytes = fromB64url(text.slice(MERKLE_ROOT_PREFIX.length));
  if (!bytes || bytes.length !== HASH_SIZE) return undefined;
  return bytesEqual(bytes, ZERO_ROOT) ? EMPTY_TREE_HASH : bytes;
}

/** The root as checkpointed on chain: RFC 9162 hash, with zero for the empty tree. */
export function onChainRoot(root: Uint8Array, size: number): Uint8Array {
  return size === 0 ? ZERO_ROOT : root;
}

export function encodePublicKey(publicKey: Uint8Array): string {
  return MLDSA44_PREFIX + toB64url(publicKey);
}

/** `mldsa44:<base64url of 1312 bytes>` → the key; undefined for anything else. */
export function decodePublicKey(text: string): Uint8Array | undefined {
  if (typeof text !== "string" || !text.startsWith(MLDSA44_PREFIX)) return undefined;
  const bytes = fromB64url(text.slice(MLDSA44_PREFIX.length));
  return bytes && bytes.length === MLDSA44_PUBLIC_KEY_BYTES ? bytes : undefined;
}

/**
 * A fresh key id: 256 random bits, base64url (spec "Key Identifiers": the directory generates
 * one per accepted AddKey; never derived from the key).
 */
export function randomKeyId(): string {
  return toB64url(new Uint8Array(randomBytes(32)));
}

/** Key ids as this directory issues them: 43 base64url characters (32 bytes). */
export function isKeyId(text: unknown): text is string {
  return typeof text === "string" && fromB64url(text)?.length === 32;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** JSON with object keys sorted recursively and no whitespace: one byte string per value. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}
